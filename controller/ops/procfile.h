// The process types a release's Procfile declares, as the controller needs
// them: to validate `dflow scale`, to default a first deploy to web=1, and to
// know whether a release has a `release:` command to run before it switches.
// (The agent parses the same format to run the commands; the controller only
// reads names and command text and never runs anything.)
#ifndef DFLOW_CONTROLLER_OPS_PROCFILE_H_
#define DFLOW_CONTROLLER_OPS_PROCFILE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dflow::ops {

// The release-phase type: run once per release, never scaled.
inline constexpr const char* kReleaseProcess = "release";

// `type: command` per line; blank lines and '#' comments are skipped. Types are
// [A-Za-z0-9_-]+ and appear once. InvalidArgument names the line.
absl::StatusOr<std::map<std::string, std::string>> ParseProcfileTypes(absl::string_view text);

// The types that run as instances (all but `release`), sorted.
std::vector<std::string> ScalableTypes(const std::map<std::string, std::string>& types);

bool IsValidProcessType(absl::string_view type);

}  // namespace dflow::ops

#endif  // DFLOW_CONTROLLER_OPS_PROCFILE_H_
