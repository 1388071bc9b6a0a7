// Generation of a theme's secrets from OpenSSL's CSPRNG.
#ifndef DFLOW_THEMES_SECRETS_H_
#define DFLOW_THEMES_SECRETS_H_

#include <string>

#include "absl/status/statusor.h"
#include "themes/theme.h"

namespace dflow::themes {

// The characters of an alphabet name (alnum, hex, base64url, lower); empty if unknown.
std::string AlphabetChars(const std::string& alphabet);

// spec.length characters drawn uniformly from spec.alphabet (rejection
// sampling over RAND_bytes, so no character is more likely than another).
absl::StatusOr<std::string> GenerateSecret(const Secret& spec);

// What output shows instead of a secret: stars and its length, no character of it.
std::string MaskSecret(const std::string& value);

}  // namespace dflow::themes

#endif  // DFLOW_THEMES_SECRETS_H_
