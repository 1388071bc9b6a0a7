#include "controller/ops/crash_point.h"

#include <cstdlib>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dflow::ops {

absl::StatusOr<std::optional<CrashPoint>> ParseCrashPoint(absl::string_view spec) {
  if (spec.empty()) return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  CrashPoint p;
  bool ok =
      parts.size() == 3 && !parts[0].empty() && absl::SimpleAtoi(parts[1], &p.step) && p.step >= 0;
  if (ok) {
    p.text = std::string(spec);
    p.op_kind = parts[0];
    if (parts[2] == "before") {
      p.phase = CrashPhase::kBefore;
    } else if (parts[2] == "after-rpc") {
      p.phase = CrashPhase::kAfterRpc;
    } else if (parts[2] == "after-commit") {
      p.phase = CrashPhase::kAfterCommit;
    } else {
      ok = false;
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("DFLOW_TEST_CRASH_AT=\"", spec,
                     "\" is not <op kind>:<step index>:<before|after-rpc|after-commit>, e.g. "
                     "deploy:3:after-rpc"));
  }
  return p;
}

absl::StatusOr<std::optional<CrashPoint>> CrashPointFromEnv() {
  const char* spec = std::getenv("DFLOW_TEST_CRASH_AT");
  return ParseCrashPoint(spec == nullptr ? "" : spec);
}

}  // namespace dflow::ops
