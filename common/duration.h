// Parses durations as users write them on the command line: "500ms", "5s", "1m", "1h", "2h30m".
#ifndef DFLOW_COMMON_DURATION_H_
#define DFLOW_COMMON_DURATION_H_

#include <chrono>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace dflow {

absl::StatusOr<std::chrono::milliseconds> ParseDuration(absl::string_view text);

}  // namespace dflow

#endif  // DFLOW_COMMON_DURATION_H_
