// TLS material for dflow's private CA: keys, certificate requests, issuance,
// fingerprints. Everything is PEM text; keys are ECDSA P-256.
//
// The controller creates the CA at `init` and issues:
//   - its own serving certificate (CN "dflow-controller", SAN = advertised host),
//   - one certificate per agent (CN "agent:<name>", SAN = the agent's host),
// Peers check the CN after the handshake, so an agent certificate can never
// pass for the controller.
//
// All functions are thread-safe (no shared state).
#ifndef DFLOW_COMMON_TLS_H_
#define DFLOW_COMMON_TLS_H_

#include <cstdint>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace dflow::tls {

inline constexpr absl::string_view kControllerCommonName = "dflow-controller";
inline constexpr absl::string_view kAgentCommonNamePrefix = "agent:";

struct KeyAndCert {
  std::string key_pem;
  std::string cert_pem;
};

// A new ECDSA P-256 private key, PEM (PKCS#8).
absl::StatusOr<std::string> GenerateKey();

// A self-signed CA certificate for `key_pem`, valid for `days`.
absl::StatusOr<std::string> SelfSignedCa(const std::string& key_pem, absl::string_view common_name,
                                         int days);

// A certificate signing request for `key_pem` with subject CN = `common_name`.
absl::StatusOr<std::string> CreateCsr(const std::string& key_pem, absl::string_view common_name);

// The CN of a CSR, after checking the CSR's signature.
absl::StatusOr<std::string> CsrCommonName(const std::string& csr_pem);

// Issues a certificate for the CSR's public key, signed by the CA. The subject CN
// is `common_name` (the CSR's own subject is ignored: the CA decides names), and
// `san_host` becomes a subjectAltName (an IP entry when it parses as an IPv4/IPv6
// address, a DNS entry otherwise; "localhost" is always added as DNS too).
// Usable for both TLS server and client auth. The serial is random (128 bits).
absl::StatusOr<std::string> IssueCertificate(const KeyAndCert& ca, const std::string& csr_pem,
                                             absl::string_view common_name,
                                             absl::string_view san_host, int days);

// Lowercase hex SHA-256 of the first certificate's DER encoding (64 characters).
absl::StatusOr<std::string> Fingerprint(const std::string& cert_pem);

// The subject CN of the first certificate in `cert_pem`.
absl::StatusOr<std::string> CommonName(const std::string& cert_pem);

// OK when `cert_pem` was signed by `ca_pem` and is within its validity period.
absl::Status VerifyIssuedBy(const std::string& cert_pem, const std::string& ca_pem);

// Checks that the private key matches the certificate's public key.
absl::Status KeyMatchesCertificate(const std::string& key_pem, const std::string& cert_pem);

// Connects to host:port over TCP, performs a TLS handshake without verifying
// anything (ALPN "h2", as gRPC servers expect), and returns every certificate
// the server presented, PEM, leaf first. Used once at join time: the caller then
// trusts the chain's CA only if its fingerprint matches the join token.
absl::StatusOr<std::string> FetchPeerChain(const std::string& host_port, int timeout_ms);

// Splits a PEM bundle into its certificates (leaf first, as in the input).
std::vector<std::string> SplitPemCertificates(const std::string& pem_bundle);

}  // namespace dflow::tls

#endif  // DFLOW_COMMON_TLS_H_
