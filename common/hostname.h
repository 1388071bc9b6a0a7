// DNS hostnames as routers accept them (app domains, custom domains).
#ifndef DFLOW_COMMON_HOSTNAME_H_
#define DFLOW_COMMON_HOSTNAME_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace dflow {

// OK for a lowercase DNS name: dot-separated labels of 1 to 63 letters, digits
// and hyphens (not at a label's ends), at most 253 characters, at least one dot
// unless `allow_single_label` (e.g. a base domain "localhost"). A leading "*."
// (wildcard) is not allowed. `what` names the value in the message ("domain").
absl::Status ValidateHostname(absl::string_view what, absl::string_view host,
                              bool allow_single_label = false);

// Lowercased copy (hostnames compare case-insensitively).
std::string LowerHostname(absl::string_view host);

}  // namespace dflow

#endif  // DFLOW_COMMON_HOSTNAME_H_
