// Validation of the names users type: every check returns InvalidArgument with a
// message that says what is allowed.
#ifndef DFLOW_COMMON_NAMES_H_
#define DFLOW_COMMON_NAMES_H_

#include <map>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dflow {

// App names: ^[a-z0-9]([a-z0-9-]{0,46}[a-z0-9])?$ (a DNS label Dokku accepts).
absl::Status ValidateAppName(absl::string_view name);
// Server names follow the same rule as app names.
absl::Status ValidateServerName(absl::string_view name);
// Env keys: ^[A-Za-z_][A-Za-z0-9_]*$
absl::Status ValidateEnvKey(absl::string_view key);
// Label keys: 1-63 of [a-z0-9._/-], starting with a letter or digit; values
// up to 63 of [A-Za-z0-9._-] (may be empty).
absl::Status ValidateLabel(absl::string_view key, absl::string_view value);
// Parses "k=v" pairs (labels) into a map, validating each.
absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    const std::vector<std::string>& pairs);
// host:port with a numeric port 1-65535; host may be [v6].
absl::Status ValidateHostPort(absl::string_view host_port);
// Splits host:port (strips [] around IPv6).
bool SplitHostPort(absl::string_view host_port, std::string* host, int* port);

}  // namespace dflow

#endif  // DFLOW_COMMON_NAMES_H_
