#include "common/duration.h"

#include <cctype>

#include "absl/strings/str_cat.h"

namespace dflow {

absl::StatusOr<std::chrono::milliseconds> ParseDuration(absl::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "duration \"", text,
        "\" is not valid: write a number with a unit, for example 500ms, 5s, 1m, 1h or 1h30m"));
  };
  if (text.empty()) return bad();
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!isdigit(static_cast<unsigned char>(text[i]))) return bad();
    int64_t n = 0;
    while (i < text.size() && isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > 10'000'000'000LL) return bad();
      ++i;
    }
    absl::string_view rest = text.substr(i);
    if (rest.substr(0, 2) == "ms") {
      total += n;
      i += 2;
    } else if (!rest.empty() && rest[0] == 's') {
      total += n * 1000;
      ++i;
    } else if (!rest.empty() && rest[0] == 'm') {
      total += n * 60'000;
      ++i;
    } else if (!rest.empty() && rest[0] == 'h') {
      total += n * 3'600'000;
      ++i;
    } else if (!rest.empty() && rest[0] == 'd') {
      total += n * 86'400'000;
      ++i;
    } else {
      return bad();
    }
  }
  return std::chrono::milliseconds(total);
}

}  // namespace dflow
