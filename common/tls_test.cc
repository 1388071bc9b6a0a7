#include "common/tls.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/openssl_ptr.h"

namespace dflow::tls {
namespace {

using SslCtx = std::unique_ptr<SSL_CTX, Free<SSL_CTX_free>>;
using Ssl = std::unique_ptr<SSL, Free<SSL_free>>;

// The value, or a test failure naming the status (value() then throws, ending the test).
template <typename T>
T Ok(absl::StatusOr<T> result) {
  if (!result.ok()) ADD_FAILURE() << result.status();
  return std::move(result).value();
}

bool Contains(const absl::Status& status, const char* text) {
  return absl::StrContains(status.message(), text);
}

Cert ParseCert(const std::string& pem) {
  std::unique_ptr<BIO, Free<BIO_free>> bio(BIO_new_mem_buf(pem.data(), pem.size()));
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

Key ParseKey(const std::string& pem) {
  std::unique_ptr<BIO, Free<BIO_free>> bio(BIO_new_mem_buf(pem.data(), pem.size()));
  return Key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

KeyAndCert MakeCa(absl::string_view cn) {
  KeyAndCert ca;
  ca.key_pem = Ok(GenerateKey());
  ca.cert_pem = Ok(SelfSignedCa(ca.key_pem, cn, 365));
  return ca;
}

KeyAndCert Issue(const KeyAndCert& ca, absl::string_view cn, absl::string_view host) {
  KeyAndCert leaf;
  leaf.key_pem = Ok(GenerateKey());
  leaf.cert_pem =
      Ok(IssueCertificate(ca, Ok(CreateCsr(leaf.key_pem, "ignored-by-ca")), cn, host, 30));
  return leaf;
}

// The subjectAltName entries as "IP:1.2.3.4" / "DNS:name".
std::vector<std::string> SubjectAltNames(const std::string& cert_pem) {
  Cert cert = ParseCert(cert_pem);
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_DNS) {
      const ASN1_STRING* dns = name->d.dNSName;
      out.push_back(absl::StrCat(
          "DNS:", std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                              ASN1_STRING_length(dns))));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      inet_ntop(ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), text,
                sizeof(text));
      out.push_back(absl::StrCat("IP:", text));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_ = new KeyAndCert(MakeCa("dflow-ca"));
    foreign_ca_ = new KeyAndCert(MakeCa("dflow-ca"));  // Same name, different key.
  }
  static void TearDownTestSuite() {
    delete ca_;
    delete foreign_ca_;
  }
  static inline const KeyAndCert* ca_ = nullptr;
  static inline const KeyAndCert* foreign_ca_ = nullptr;
};

TEST_F(TlsTest, GeneratedKeyIsPkcs8P256) {
  EXPECT_TRUE(absl::StartsWith(ca_->key_pem, "-----BEGIN PRIVATE KEY-----"));
  Key key = ParseKey(ca_->key_pem);
  ASSERT_TRUE(key);
  char group[64] = {};
  ASSERT_EQ(EVP_PKEY_get_group_name(key.get(), group, sizeof(group), nullptr), 1);
  EXPECT_STREQ(group, "prime256v1");
}

TEST_F(TlsTest, SelfSignedCaIsACaWithTheRequestedName) {
  EXPECT_EQ(Ok(CommonName(ca_->cert_pem)), "dflow-ca");
  EXPECT_TRUE(VerifyIssuedBy(ca_->cert_pem, ca_->cert_pem).ok());
  EXPECT_TRUE(KeyMatchesCertificate(ca_->key_pem, ca_->cert_pem).ok());
  Cert cert = ParseCert(ca_->cert_pem);
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EXPECT_NE(X509_get_key_usage(cert.get()) & KU_KEY_CERT_SIGN, 0u);
  EXPECT_NE(X509_get_key_usage(cert.get()) & KU_CRL_SIGN, 0u);
  EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
  int constraints = X509_get_ext_by_NID(cert.get(), NID_basic_constraints, -1);
  ASSERT_GE(constraints, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(cert.get(), constraints)), 1);
}

TEST_F(TlsTest, CsrRoundTripKeepsCommonName) {
  std::string key = Ok(GenerateKey());
  std::string csr = Ok(CreateCsr(key, "agent:web1"));
  EXPECT_TRUE(absl::StartsWith(csr, "-----BEGIN CERTIFICATE REQUEST-----")) << csr;
  EXPECT_EQ(Ok(CsrCommonName(csr)), "agent:web1");
}

TEST_F(TlsTest, IssuedCertificateVerifiesAndCarriesTheCaChosenName) {
  KeyAndCert leaf = Issue(*ca_, kControllerCommonName, "10.0.0.7");
  EXPECT_TRUE(VerifyIssuedBy(leaf.cert_pem, ca_->cert_pem).ok());
  EXPECT_EQ(Ok(CommonName(leaf.cert_pem)), kControllerCommonName);  // Not the CSR's CN.
  EXPECT_TRUE(KeyMatchesCertificate(leaf.key_pem, leaf.cert_pem).ok());

  Cert cert = ParseCert(leaf.cert_pem);
  Cert ca = ParseCert(ca_->cert_pem);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), uint32_t{XKU_SSL_SERVER | XKU_SSL_CLIENT});
  ASSERT_NE(X509_get0_authority_key_id(cert.get()), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert.get()),
                                  X509_get0_subject_key_id(ca.get())),
            0);
  std::unique_ptr<BIGNUM, Free<BN_free>> serial(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
  EXPECT_EQ(BN_num_bits(serial.get()), 128);
  // notBefore is backdated by five minutes; notAfter is 30 days out.
  int days = 0, seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notBefore(cert.get())), 1);
  EXPECT_EQ(days, 0);
  EXPECT_LE(seconds, -299);
  EXPECT_GE(seconds, -360);
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert.get())), 1);
  EXPECT_LE(days * 86400 + seconds, 30 * 86400);
  EXPECT_GE(days * 86400 + seconds, 30 * 86400 - 60);
}

TEST_F(TlsTest, CertificateFromForeignCaFailsVerification) {
  KeyAndCert leaf = Issue(*foreign_ca_, "agent:web1", "web1.internal");
  absl::Status status = VerifyIssuedBy(leaf.cert_pem, ca_->cert_pem);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      std::string(status.message()),
      "certificate \"agent:web1\" was not issued by CA \"dflow-ca\": unable to get local issuer "
      "certificate");
  status = VerifyIssuedBy(foreign_ca_->cert_pem, ca_->cert_pem);
  EXPECT_TRUE(Contains(status, "\"dflow-ca\" was not issued by CA \"dflow-ca\"")) << status;
}

TEST_F(TlsTest, FingerprintIsStableLowercaseSha256OfDer) {
  std::string fingerprint = Ok(Fingerprint(ca_->cert_pem));
  ASSERT_EQ(fingerprint.size(), 64u);
  EXPECT_EQ(fingerprint.find_first_not_of("0123456789abcdef"), std::string::npos) << fingerprint;
  EXPECT_EQ(Ok(Fingerprint(ca_->cert_pem)), fingerprint);
  EXPECT_NE(Ok(Fingerprint(foreign_ca_->cert_pem)), fingerprint);

  Cert cert = ParseCert(ca_->cert_pem);
  unsigned char* der = nullptr;
  int der_size = i2d_X509(cert.get(), &der);
  unsigned char digest[32];
  ASSERT_EQ(EVP_Digest(der, der_size, digest, nullptr, EVP_sha256(), nullptr), 1);
  OPENSSL_free(der);
  std::string expected;
  for (unsigned char byte : digest) expected += absl::StrCat(absl::Hex(byte, absl::kZeroPad2));
  EXPECT_EQ(fingerprint, expected);
}

TEST_F(TlsTest, KeyMatchesOnlyItsOwnCertificate) {
  KeyAndCert leaf = Issue(*ca_, "agent:web1", "web1");
  EXPECT_TRUE(KeyMatchesCertificate(leaf.key_pem, leaf.cert_pem).ok());
  absl::Status status = KeyMatchesCertificate(ca_->key_pem, leaf.cert_pem);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(status, "does not match")) << status;
  EXPECT_TRUE(Contains(status, "agent:web1")) << status;
  // An error must never echo key material.
  EXPECT_FALSE(Contains(status, "PRIVATE KEY")) << status;
  EXPECT_FALSE(Contains(status, ca_->key_pem.substr(40, 20).c_str())) << status;
}

TEST_F(TlsTest, SubjectAltNameIsIpOrDnsAndAlwaysLocalhost) {
  struct Case {
    std::string host;
    std::vector<std::string> want;
  };
  for (const Case& c : std::vector<Case>{
           {"10.0.0.7", {"IP:10.0.0.7", "DNS:localhost"}},
           {"::1", {"IP:::1", "DNS:localhost"}},
           {"[fd00::5]", {"IP:fd00::5", "DNS:localhost"}},
           {"node1.example.com", {"DNS:node1.example.com", "DNS:localhost"}},
           {"localhost", {"DNS:localhost"}},
       }) {
    KeyAndCert leaf = Issue(*ca_, "agent:n", c.host);
    EXPECT_EQ(SubjectAltNames(leaf.cert_pem), c.want) << c.host;
  }
}

TEST_F(TlsTest, SubjectAltNameRejectsInjectedNames) {
  std::string csr = Ok(CreateCsr(Ok(GenerateKey()), "x"));
  for (std::string host : {"a.com,IP:1.2.3.4", "", "bad host", "a.com\nDNS:evil"}) {
    auto cert = IssueCertificate(*ca_, csr, "agent:n", host, 30);
    EXPECT_EQ(cert.status().code(), absl::StatusCode::kInvalidArgument) << host;
  }
}

TEST_F(TlsTest, TamperedCsrIsRejected) {
  std::string csr_pem = Ok(CreateCsr(Ok(GenerateKey()), "agent:web1"));
  // Rename the subject in the DER without re-signing, as an attacker in the middle would.
  std::unique_ptr<BIO, Free<BIO_free>> in(BIO_new_mem_buf(csr_pem.data(), csr_pem.size()));
  std::unique_ptr<X509_REQ, Free<X509_REQ_free>> csr(
      PEM_read_bio_X509_REQ(in.get(), nullptr, nullptr, nullptr));
  unsigned char* der = nullptr;
  int size = i2d_X509_REQ(csr.get(), &der);
  std::string bytes(reinterpret_cast<char*>(der), size);
  OPENSSL_free(der);
  size_t at = bytes.find("agent:web1");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 9] = '2';
  const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
  csr.reset(d2i_X509_REQ(nullptr, &p, bytes.size()));
  ASSERT_TRUE(csr);
  std::unique_ptr<BIO, Free<BIO_free>> out(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_X509_REQ(out.get(), csr.get()), 1);
  char* data = nullptr;
  long pem_size = BIO_get_mem_data(out.get(), &data);
  std::string tampered(data, pem_size);

  absl::Status status = CsrCommonName(tampered).status();
  EXPECT_EQ(std::string(status.message()), "certificate request signature is invalid");
  status = IssueCertificate(*ca_, tampered, "agent:web2", "web2", 30).status();
  EXPECT_EQ(std::string(status.message()), "certificate request signature is invalid");
}

TEST_F(TlsTest, GarbageInputGivesErrorsNotCrashes) {
  const std::string cert_header = "-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n";
  std::string csr = Ok(CreateCsr(ca_->key_pem, "x"));
  for (const std::string& garbage : {std::string(), std::string("garbage"), cert_header}) {
    SCOPED_TRACE(garbage);
    EXPECT_TRUE(Contains(Fingerprint(garbage).status(), "cannot parse certificate PEM"));
    EXPECT_TRUE(Contains(CommonName(garbage).status(), "cannot parse certificate PEM"));
    EXPECT_FALSE(VerifyIssuedBy(garbage, ca_->cert_pem).ok());
    EXPECT_TRUE(Contains(VerifyIssuedBy(ca_->cert_pem, garbage), "cannot parse CA certificate"));
    EXPECT_TRUE(Contains(SelfSignedCa(garbage, "ca", 1).status(), "cannot parse private key PEM"));
    EXPECT_TRUE(Contains(CreateCsr(garbage, "x").status(), "cannot parse private key PEM"));
    EXPECT_FALSE(KeyMatchesCertificate(garbage, ca_->cert_pem).ok());
    EXPECT_FALSE(KeyMatchesCertificate(ca_->key_pem, garbage).ok());
    EXPECT_TRUE(Contains(CsrCommonName(garbage).status(), "cannot parse certificate request"));
    EXPECT_FALSE(IssueCertificate(*ca_, garbage, "x", "h", 1).ok());
    EXPECT_TRUE(Contains(IssueCertificate({garbage, ca_->cert_pem}, csr, "x", "h", 1).status(),
                         "cannot parse CA private key PEM"));
    EXPECT_TRUE(SplitPemCertificates(garbage).empty() || garbage == cert_header);
  }
  EXPECT_TRUE(Contains(IssueCertificate(*ca_, csr, "x", "h", 0).status(), "validity"));
  EXPECT_TRUE(
      Contains(IssueCertificate({foreign_ca_->key_pem, ca_->cert_pem}, csr, "x", "h", 1).status(),
               "CA private key does not match"));
}

TEST_F(TlsTest, SplitPemCertificatesKeepsOrder) {
  KeyAndCert leaf = Issue(*ca_, "agent:a", "a");
  std::vector<std::string> certs = SplitPemCertificates("junk\n" + leaf.cert_pem + ca_->cert_pem +
                                                        "-----BEGIN CERTIFICATE-----");
  ASSERT_EQ(certs.size(), 2u);
  EXPECT_EQ(certs[0], leaf.cert_pem);
  EXPECT_EQ(certs[1], ca_->cert_pem);
}

// Accepts one connection on `listen_fd` and completes a TLS handshake presenting
// leaf + CA. Reports the SNI and ALPN list the client sent, or what went wrong.
struct Handshake {
  std::string error, sni, alpn;
};
std::future<Handshake> ServeOneHandshake(int listen_fd, KeyAndCert leaf, std::string ca_pem) {
  return std::async(std::launch::async, [=] {
    Handshake seen;
    SslCtx ctx(SSL_CTX_new(TLS_server_method()));
    Cert cert = ParseCert(leaf.cert_pem), ca = ParseCert(ca_pem);
    Key key = ParseKey(leaf.key_pem);
    SSL_CTX_set_num_tickets(ctx.get(), 0);  // Nothing to write after the handshake.
    if (SSL_CTX_use_certificate(ctx.get(), cert.get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1 ||
        SSL_CTX_add1_chain_cert(ctx.get(), ca.get()) != 1) {
      seen.error = "server setup failed";
      return seen;
    }
    SSL_CTX_set_alpn_select_cb(
        ctx.get(),
        [](SSL*, const unsigned char** out, unsigned char* out_size, const unsigned char* in,
           unsigned in_size, void* arg) {
          static_cast<std::string*>(arg)->assign(reinterpret_cast<const char*>(in), in_size);
          *out = in + 1;
          *out_size = in[0];
          return SSL_TLSEXT_ERR_OK;
        },
        &seen.alpn);
    pollfd ready{listen_fd, POLLIN, 0};
    if (poll(&ready, 1, 10000) != 1) {  // A bound on a broken test, not a sleep.
      seen.error = "no connection";
      return seen;
    }
    int fd = accept(listen_fd, nullptr, nullptr);
    Ssl ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd);
    if (SSL_accept(ssl.get()) != 1) seen.error = "handshake failed";
    const char* sni = SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name);
    seen.sni = sni != nullptr ? sni : "";
    ssl.reset();
    close(fd);
    return seen;
  });
}

// A TCP socket bound to 127.0.0.1 on a free port, listening when asked.
int BindLoopback(bool listening, int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(addr);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), size), 0);
  if (listening) {
    EXPECT_EQ(listen(fd, 4), 0);
  }
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size), 0);
  *port = ntohs(addr.sin_port);
  return fd;
}

TEST_F(TlsTest, FetchPeerChainReturnsLeafThenCa) {
  KeyAndCert leaf = Issue(*ca_, kControllerCommonName, "127.0.0.1");
  for (const char* host : {"127.0.0.1", "localhost"}) {
    SCOPED_TRACE(host);
    int port = 0;
    int listen_fd = BindLoopback(/*listening=*/true, &port);
    std::future<Handshake> server = ServeOneHandshake(listen_fd, leaf, ca_->cert_pem);
    absl::StatusOr<std::string> chain = FetchPeerChain(absl::StrCat(host, ":", port), 5000);
    Handshake seen = server.get();
    close(listen_fd);
    ASSERT_TRUE(chain.ok()) << chain.status();
    EXPECT_EQ(seen.error, "");
    EXPECT_EQ(seen.alpn, std::string("\x02h2", 3));
    EXPECT_EQ(seen.sni, std::string(host) == "localhost" ? "localhost" : "");
    std::vector<std::string> certs = SplitPemCertificates(*chain);
    ASSERT_EQ(certs.size(), 2u);
    EXPECT_EQ(Ok(Fingerprint(certs[0])), Ok(Fingerprint(leaf.cert_pem)));
    EXPECT_EQ(Ok(Fingerprint(certs[1])), Ok(Fingerprint(ca_->cert_pem)));
  }
}

TEST(FetchPeerChainTest, ClosedPortNamesTheAddress) {
  int port = 0;
  int fd = BindLoopback(/*listening=*/false, &port);  // Bound, never listening: refused.
  std::string target = absl::StrCat("127.0.0.1:", port);
  absl::Status status = FetchPeerChain(target, 2000).status();
  close(fd);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(std::string(status.message()),
            absl::StrCat("cannot connect to ", target, ": Connection refused"));
}

TEST(FetchPeerChainTest, SilentServerTimesOut) {
  int port = 0;
  int fd = BindLoopback(/*listening=*/true, &port);  // The kernel accepts; nobody speaks TLS.
  absl::Status status = FetchPeerChain(absl::StrCat("127.0.0.1:", port), 200).status();
  close(fd);
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_TRUE(Contains(status, "did not finish within 200 ms")) << status;
}

TEST(FetchPeerChainTest, ServerHangingUpFailsTheHandshake) {
  int port = 0;
  int listen_fd = BindLoopback(/*listening=*/true, &port);
  std::future<void> server = std::async(std::launch::async, [listen_fd] {
    pollfd ready{listen_fd, POLLIN, 0};
    if (poll(&ready, 1, 10000) == 1) close(accept(listen_fd, nullptr, nullptr));
  });
  std::string target = absl::StrCat("127.0.0.1:", port);
  absl::Status status = FetchPeerChain(target, 5000).status();
  server.get();
  close(listen_fd);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_TRUE(
      absl::StartsWith(status.message(), absl::StrCat("TLS handshake with ", target, " failed: ")))
      << status;
}

TEST(FetchPeerChainTest, ParsesBracketedIpv6AndRejectsMalformedTargets) {
  absl::Status status = FetchPeerChain("[::1]:1", 1000).status();
  EXPECT_TRUE(absl::StartsWith(status.message(), "cannot connect to [::1]:1: ")) << status;
  for (const char* bad : {"", "host", "host:", "host:0", "host:65536", "host:x1", "::1:80", "[::1]",
                          "[::1]80", ":80"}) {
    EXPECT_EQ(FetchPeerChain(bad, 1000).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace dflow::tls
