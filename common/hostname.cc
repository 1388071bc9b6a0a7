#include "common/hostname.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dflow {

absl::Status ValidateHostname(absl::string_view what, absl::string_view host,
                              bool allow_single_label) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " \"", host, "\" is not a valid DNS name (", why,
        "): use dot-separated labels of lowercase letters, digits and hyphens, each 1 to 63 "
        "characters and not starting or ending with a hyphen, for example \"shop.example.com\""));
  };
  if (host.empty()) return bad("it is empty");
  if (host.size() > 253) return bad("longer than 253 characters");
  std::vector<absl::string_view> labels = absl::StrSplit(host, '.');
  if (labels.size() < 2 && !allow_single_label) return bad("it needs at least one dot");
  for (absl::string_view label : labels) {
    if (label.empty()) return bad("an empty label");
    if (label.size() > 63) return bad("a label longer than 63 characters");
    if (label.front() == '-' || label.back() == '-') return bad("a label starts or ends with '-'");
    for (char c : label) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) {
        return bad(absl::StrCat("character '", std::string(1, c), "' is not allowed"));
      }
    }
  }
  return absl::OkStatus();
}

std::string LowerHostname(absl::string_view host) { return absl::AsciiStrToLower(host); }

}  // namespace dflow
