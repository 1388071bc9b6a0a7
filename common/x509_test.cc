#include "common/x509.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace dflow::tls {
namespace {

constexpr int64_t kDay = 24LL * 3600 * 1000;
constexpr int64_t kNow = 1'780'000'000'000;  // 2026-05-28

SelfSigned Make(std::vector<std::string> hosts, int rsa_bits = 0) {
  auto c = MakeSelfSignedCertificate({hosts, kNow - kDay, kNow + 90 * kDay, rsa_bits});
  EXPECT_TRUE(c.ok()) << c.status();
  return c.value_or(SelfSigned{});
}

TEST(X509, InspectReadsNamesDatesAndFingerprint) {
  SelfSigned c = Make({"shop.localhost", "*.shop.example.com"});
  auto info = InspectCertificate(c.cert_pem + c.cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->subject_cn, "shop.localhost");
  EXPECT_EQ(info->issuer_cn, "shop.localhost");
  EXPECT_EQ(info->dns_names, (std::vector<std::string>{"shop.localhost", "*.shop.example.com"}));
  EXPECT_EQ(info->not_before_ms, kNow - kDay);
  EXPECT_EQ(info->not_after_ms, kNow + 90 * kDay);
  EXPECT_EQ(info->fingerprint.size(), 64u);
  EXPECT_EQ(info->chain_length, 2);
}

TEST(X509, WildcardsCoverOneLabel) {
  struct Case {
    const char* pattern;
    const char* host;
    bool covers;
  } cases[] = {
      {"shop.example.com", "shop.example.com", true},
      {"Shop.Example.com", "shop.EXAMPLE.com", true},
      {"shop.example.com", "www.shop.example.com", false},
      {"*.example.com", "shop.example.com", true},
      {"*.example.com", "example.com", false},
      {"*.example.com", "a.b.example.com", false},
      {"*.example.com", "shopexample.com", false},
      {"*.localhost", "hello.localhost", true},
      {"", "hello.localhost", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(NameCoversHost(c.pattern, c.host), c.covers) << c.pattern << " " << c.host;
  }
}

TEST(X509, TheCommonNameCountsOnlyWithoutSubjectAltNames) {
  CertificateInfo with_san;
  with_san.subject_cn = "a.example.com";
  with_san.dns_names = {"b.example.com"};
  EXPECT_FALSE(CertificateCoversHost(with_san, "a.example.com"));
  EXPECT_TRUE(CertificateCoversHost(with_san, "b.example.com"));
  CertificateInfo cn_only;
  cn_only.subject_cn = "A.example.com";
  EXPECT_TRUE(CertificateCoversHost(cn_only, "a.example.com"));
  EXPECT_EQ(CertificateNames(cn_only), std::vector<std::string>{"a.example.com"});
}

TEST(X509, KeyMustMatchTheCertificate) {
  SelfSigned a = Make({"a.localhost"});
  SelfSigned b = Make({"b.localhost"}, 2048);
  EXPECT_TRUE(CheckKeyMatchesCertificate(a.key_pem, a.cert_pem).ok());
  EXPECT_TRUE(CheckKeyMatchesCertificate(b.key_pem, b.cert_pem).ok());
  auto s = CheckKeyMatchesCertificate(b.key_pem, a.cert_pem);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(
      s.message(), "the private key does not match the certificate for \"a.localhost\""))
      << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "RSA key; the certificate's is EC")) << s;
}

TEST(X509, UnparsableInputSaysWhatIsWrong) {
  SelfSigned a = Make({"a.localhost"});
  auto no_cert = InspectCertificate(a.key_pem);
  EXPECT_TRUE(absl::StrContains(no_cert.status().message(), "holds no PEM certificate"))
      << no_cert.status();
  auto no_key = CheckKeyMatchesCertificate(a.cert_pem, a.cert_pem);
  EXPECT_TRUE(absl::StrContains(no_key.message(), "holds no PEM private key")) << no_key;
  auto garbled =
      InspectCertificate("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  EXPECT_TRUE(absl::StrContains(garbled.status().message(), "cannot parse the certificate PEM"))
      << garbled.status();
}

}  // namespace
}  // namespace dflow::tls
