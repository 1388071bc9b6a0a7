// Random secrets and digests (OpenSSL's CSPRNG and SHA-256).
#ifndef DFLOW_COMMON_CRYPTO_H_
#define DFLOW_COMMON_CRYPTO_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace dflow {

// `n` bytes from the CSPRNG; fails only if the CSPRNG does.
absl::StatusOr<std::string> RandomBytes(size_t n);
// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);
std::string HexEncode(absl::string_view data);

}  // namespace dflow

#endif  // DFLOW_COMMON_CRYPTO_H_
