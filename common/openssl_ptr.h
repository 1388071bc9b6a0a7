// Owning pointers for the OpenSSL objects common/tls*.cc and common/x509.cc use,
// the reasons OpenSSL queued for a failure, and PEM encoding. Include only from
// .cc files.
#pragma once

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace dflow::tls {

template <auto kFree>
struct Free {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};
using Bio = std::unique_ptr<BIO, Free<BIO_free_all>>;
using Key = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Free<X509_free>>;
using GeneralNames = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES_free>>;

// The reasons queued by OpenSSL, then cleared. They name what failed, never key bytes.
inline std::string OpenSslErrors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    absl::StrAppend(&out, out.empty() ? "" : "; ",
                    reason != nullptr ? reason : absl::StrCat("error ", code));
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

// An internal error naming `what` and OpenSSL's reasons.
inline absl::Status OpenSslFailed(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", OpenSslErrors()));
}

// The PEM text `write` puts into a memory BIO; `what` names it in the error.
template <typename WriteFn>
absl::StatusOr<std::string> ToPem(absl::string_view what, WriteFn write) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return OpenSslFailed(absl::StrCat("cannot encode ", what));
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

inline absl::StatusOr<std::string> CertPem(X509* cert) {
  return ToPem("certificate", [&](BIO* bio) { return PEM_write_bio_X509(bio, cert); });
}

inline bool IsIpAddress(const std::string& host) {
  unsigned char bytes[16];
  return inet_pton(AF_INET, host.c_str(), bytes) == 1 ||
         inet_pton(AF_INET6, host.c_str(), bytes) == 1;
}

}  // namespace dflow::tls
