// Regular expressions in the theme subsystem, on RE2.
//
// Input patterns (SCHEMA.md: inputs[].pattern) are written by theme authors
// and matched against values users type: with a backtracking engine a pattern
// like (a+)+$ takes exponential time on a short value, and long values nest
// its recursion past the stack. RE2 matches in time linear in the value and
// without recursion, so neither can happen; what it gives up (backreferences,
// lookaround) a value check does not need. Patterns are also bounded in
// length and in the memory their compiled form may take.
#ifndef DFLOW_THEMES_PATTERN_H_
#define DFLOW_THEMES_PATTERN_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dflow::themes {

inline constexpr size_t kMaxPatternLength = 512;

// OK, or why `pattern` cannot be an input pattern (too long, not RE2 syntax,
// too large once compiled), in words that can follow "pattern "X" ".
absl::Status CheckPattern(absl::string_view pattern);

// Whether the whole of `value` matches `pattern`; an error when the pattern
// fails CheckPattern.
absl::StatusOr<bool> MatchesPattern(absl::string_view pattern, absl::string_view value);

}  // namespace dflow::themes

#endif  // DFLOW_THEMES_PATTERN_H_
