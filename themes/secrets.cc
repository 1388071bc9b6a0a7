#include "themes/secrets.h"

#include "absl/strings/str_cat.h"
#include "common/crypto.h"

namespace dflow::themes {

std::string AlphabetChars(const std::string& alphabet) {
  static const std::string kLower = "abcdefghijklmnopqrstuvwxyz0123456789";
  static const std::string kAlnum =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  if (alphabet == "alnum") return kAlnum;
  if (alphabet == "hex") return "0123456789abcdef";
  if (alphabet == "base64url") return kAlnum + "-_";
  if (alphabet == "lower") return kLower;
  return "";
}

absl::StatusOr<std::string> GenerateSecret(const Secret& spec) {
  std::string chars = AlphabetChars(spec.alphabet);
  if (chars.empty() || spec.length <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret \"", spec.name, "\" has an unknown alphabet ", spec.alphabet));
  }
  // Accept bytes below the largest multiple of the alphabet size, so the
  // modulo is uniform.
  const unsigned limit = 256 - (256 % chars.size());
  std::string out;
  while (out.size() < static_cast<size_t>(spec.length)) {
    auto bytes = RandomBytes(static_cast<size_t>(spec.length) * 2);
    if (!bytes.ok()) return bytes.status();
    for (unsigned char b : *bytes) {
      if (b >= limit) continue;
      out += chars[b % chars.size()];
      if (out.size() == static_cast<size_t>(spec.length)) break;
    }
  }
  return out;
}

std::string MaskSecret(const std::string& value) {
  return absl::StrCat("******** (", value.size(), " characters)");
}

}  // namespace dflow::themes
