// Serving certificates that users bring for their apps (`dflow certs add`):
// parsing a PEM certificate (chain) and its key, and the hostname rules a TLS
// client applies (RFC 6125: subjectAltName DNS entries, else the subject CN; a
// wildcard "*.example.com" covers exactly one more label). RSA, ECDSA and
// Ed25519 keys are accepted. dflow's own mTLS material is in tls.h.
//
// Thread-safe (no shared state).
#ifndef DFLOW_COMMON_X509_H_
#define DFLOW_COMMON_X509_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dflow::tls {

struct CertificateInfo {
  std::string subject_cn;              // may be empty
  std::string issuer_cn;               // may be empty
  std::vector<std::string> dns_names;  // subjectAltName DNS entries, lowercase
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
  std::string fingerprint;  // SHA-256 hex of the leaf's DER
  int chain_length = 0;     // certificates in the PEM (leaf first)
};

// The leaf (first certificate) of a PEM bundle. InvalidArgument saying what
// is wrong when the text holds no parsable certificate.
absl::StatusOr<CertificateInfo> InspectCertificate(const std::string& cert_pem);

// The names a TLS client checks a hostname against: the SAN DNS entries, or
// the subject CN when the certificate has none.
std::vector<std::string> CertificateNames(const CertificateInfo& info);

// True when `pattern` (a certificate name, maybe "*.example.com") covers
// `host`; both compared case-insensitively. A wildcard covers one label only
// and never a bare suffix ("*.example.com" does not cover "example.com" nor
// "a.b.example.com").
bool NameCoversHost(absl::string_view pattern, absl::string_view host);
bool CertificateCoversHost(const CertificateInfo& info, absl::string_view host);

// OK when `key_pem` is the private key of the leaf certificate in `cert_pem`;
// InvalidArgument naming the certificate otherwise (never key bytes).
absl::Status CheckKeyMatchesCertificate(const std::string& key_pem, const std::string& cert_pem);

// A self-signed serving certificate for `hosts` (SAN DNS entries, the first is
// also the CN), valid from `not_before_ms` to `not_after_ms` (Unix ms). An
// ECDSA P-256 key, or RSA of `rsa_bits` when it is not 0. For tests and for
// trying TLS on a laptop.
struct SelfSignedRequest {
  std::vector<std::string> hosts;
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
  int rsa_bits = 0;
};
struct SelfSigned {
  std::string key_pem;
  std::string cert_pem;
};
absl::StatusOr<SelfSigned> MakeSelfSignedCertificate(const SelfSignedRequest& request);

}  // namespace dflow::tls

#endif  // DFLOW_COMMON_X509_H_
