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

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(absl::string_view data);
  std::string HexDigest();  // ends the computation

 private:
  void* ctx_;
};

}  // namespace dflow

#endif  // DFLOW_COMMON_CRYPTO_H_
