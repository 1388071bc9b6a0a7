// Parsing of what users type about apps: byte sizes, CPU shares, constraints,
// scale pairs, config pairs, release versions and operation ids. Pure functions;
// every error is InvalidArgument whose message says what is allowed.
#ifndef DFLOW_CLI_PARSE_H_
#define DFLOW_CLI_PARSE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dflow::cli {

// "256M", "1.5g", "512KiB", "2GB": a positive number and a binary unit K, M or G
// (case-insensitive, optionally followed by 'i' and/or 'B'). `flag` names the
// option in messages ("--memory").
absl::StatusOr<int64_t> ParseByteSize(absl::string_view flag, absl::string_view text);
// "100 MiB" when the size is a whole number of a unit, else "100.5 MiB".
std::string FormatByteSize(int64_t bytes);

// A CPU share greater than 0 and at most 1024 ("0.5", "2").
absl::StatusOr<double> ParseCpus(absl::string_view text);
// An HTTP path starting with '/', without spaces or control characters.
absl::Status ValidateHealthPath(absl::string_view path);
// spread | binpack
absl::Status ValidateStrategy(absl::string_view strategy);

// --constraint key=value pairs; keys and values follow the server label rules.
absl::StatusOr<std::map<std::string, std::string>> ParseConstraints(
    const std::vector<std::string>& pairs);
// A Procfile process type: 1-63 of [A-Za-z0-9_-].
absl::Status ValidateProcessType(absl::string_view type);
// TYPE=COUNT pairs: TYPE follows ValidateProcessType (and is not
// `release`), COUNT a whole number 0..1000, each TYPE once.
absl::StatusOr<std::map<std::string, int32_t>> ParseScale(const std::vector<std::string>& pairs);
// KEY=VALUE pairs split at the first '='; the value may hold anything
// (spaces, '=', newlines). Keys follow ValidateEnvKey.
absl::StatusOr<std::map<std::string, std::string>> ParseConfigPairs(
    const std::vector<std::string>& pairs);
absl::Status ValidateConfigKeys(const std::vector<std::string>& keys);

// "v3" or "3" (N >= 1).
absl::StatusOr<int64_t> ParseVersion(absl::string_view text);
// An operation id: a whole number >= 1.
absl::StatusOr<int64_t> ParseOpId(absl::string_view text);

}  // namespace dflow::cli

#endif  // DFLOW_CLI_PARSE_H_
