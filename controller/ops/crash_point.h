// Fault injection for the end-to-end crash tests: makes the controller die at
// an exact point of an operation, so a test can check that the restarted
// controller finishes or rolls the operation back.
//
//   DFLOW_TEST_CRASH_AT="<op kind>:<step index>:<before|after-rpc|after-commit>"
//
// e.g. "deploy:4:after-rpc" exits (status 137, no cleanup: `_exit`) when step 4
// of a deploy has done its agent RPC but its result is not committed yet.
//   before        the step is marked running; nothing of it has been done
//   after-rpc     the step's work (agent RPC) is done; its result is not committed
//   after-commit  the step's result and effects are committed
// `*` as the kind matches every kind. Harmless when unset. Each point fires
// once per data directory: before exiting it writes the point to
// DATA/test-crash-fired and stays silent while that file holds the same
// point, so a controller restarted with the same environment resumes instead
// of crashing again; another point fires as usual. The theme installer uses
// the kind "theme-install" for its own writes (controller/themes/installer.h).
#ifndef DFLOW_CONTROLLER_OPS_CRASH_POINT_H_
#define DFLOW_CONTROLLER_OPS_CRASH_POINT_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dflow::ops {

enum class CrashPhase { kBefore, kAfterRpc, kAfterCommit };

struct CrashPoint {
  std::string text;     // as given, e.g. "deploy:3:after-rpc"
  std::string op_kind;  // "*" for any
  int step = 0;
  CrashPhase phase = CrashPhase::kBefore;

  bool Matches(const std::string& kind, int index, CrashPhase at) const {
    return (op_kind == "*" || op_kind == kind) && step == index && phase == at;
  }
};

// Empty text gives nullopt; malformed text InvalidArgument.
absl::StatusOr<std::optional<CrashPoint>> ParseCrashPoint(absl::string_view spec);

// Reads DFLOW_TEST_CRASH_AT.
absl::StatusOr<std::optional<CrashPoint>> CrashPointFromEnv();

}  // namespace dflow::ops

#endif  // DFLOW_CONTROLLER_OPS_CRASH_POINT_H_
