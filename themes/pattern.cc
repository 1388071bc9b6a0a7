#include "themes/pattern.h"

#include <re2/re2.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace dflow::themes {
namespace {

// Enough for any sensible check of one value; a pattern whose automaton needs
// more (a{1000}{1000}, huge alternations) is refused instead of compiled.
constexpr int64_t kMaxPatternMemory = int64_t{1} << 20;

absl::StatusOr<std::unique_ptr<RE2>> Compile(absl::string_view pattern) {
  if (pattern.size() > kMaxPatternLength) {
    return absl::InvalidArgumentError(absl::StrCat("is ", pattern.size(), " characters; at most ",
                                                   kMaxPatternLength, " are allowed"));
  }
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kMaxPatternMemory);
  auto re = std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("is not a valid regular expression (RE2 syntax: no backreferences or "
                     "lookaround): ",
                     re->error()));
  }
  return re;
}

}  // namespace

absl::Status CheckPattern(absl::string_view pattern) { return Compile(pattern).status(); }

absl::StatusOr<bool> MatchesPattern(absl::string_view pattern, absl::string_view value) {
  absl::StatusOr<std::unique_ptr<RE2>> re = Compile(pattern);
  if (!re.ok()) return re.status();
  return RE2::FullMatch(re2::StringPiece(value.data(), value.size()), **re);
}

}  // namespace dflow::themes
