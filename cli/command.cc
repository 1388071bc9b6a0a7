#include "cli/command.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/names.h"

namespace dflow::cli {

namespace {
constexpr absl::string_view kUsagePrefix = "usage: ";
}  // namespace

absl::Status UsageError(absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(kUsagePrefix, message));
}

bool IsUsageError(const absl::Status& s) {
  return s.code() == absl::StatusCode::kInvalidArgument &&
         absl::StartsWith(s.message(), kUsagePrefix);
}

absl::string_view UsageMessage(const absl::Status& s) {
  absl::string_view m = s.message();
  if (IsUsageError(s)) m.remove_prefix(kUsagePrefix.size());
  return m;
}

absl::Status CheckAppArg(absl::string_view name) {
  if (auto s = ValidateAppName(name); !s.ok()) {
    return UsageError(
        absl::StrCat(s.message(), "; the rule is ^[a-z0-9]([a-z0-9-]{0,46}[a-z0-9])?$"));
  }
  return absl::OkStatus();
}

}  // namespace dflow::cli
