#include "common/x509.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <ctime>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/openssl_ptr.h"
#include "common/status_macros.h"
#include "common/tls.h"

namespace dflow::tls {
namespace {

using KeyCtx = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX_free>>;
using Extension = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION_free>>;

absl::StatusOr<Cert> ParseLeaf(const std::string& pem) {
  if (!absl::StrContains(pem, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(
        "the certificate file holds no PEM certificate (no \"-----BEGIN CERTIFICATE-----\" line)");
  }
  ERR_clear_error();
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot parse the certificate PEM: ", OpenSslErrors()));
  }
  return cert;
}

absl::StatusOr<Key> ParsePrivateKey(const std::string& pem) {
  if (!absl::StrContains(pem, "PRIVATE KEY-----")) {
    return absl::InvalidArgumentError(
        "the key file holds no PEM private key (no \"-----BEGIN … PRIVATE KEY-----\" line)");
  }
  if (absl::StrContains(pem, "ENCRYPTED")) {
    return absl::InvalidArgumentError(
        "the private key is encrypted with a passphrase; the routers need it unencrypted "
        "(e.g. `openssl pkey -in KEY -out plain.key`)");
  }
  ERR_clear_error();
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  auto no_passphrase = [](char*, int, int, void*) { return -1; };
  Key key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
  if (!key) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot parse the private key PEM: ", OpenSslErrors()));
  }
  return key;
}

std::string EntryText(X509_NAME* name, int nid) {
  int i = X509_NAME_get_index_by_NID(name, nid, -1);
  if (i < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

int64_t TimeMs(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

}  // namespace

absl::StatusOr<CertificateInfo> InspectCertificate(const std::string& cert_pem) {
  ASSIGN_OR_RETURN(Cert cert, ParseLeaf(cert_pem));
  CertificateInfo info;
  info.subject_cn = EntryText(X509_get_subject_name(cert.get()), NID_commonName);
  info.issuer_cn = EntryText(X509_get_issuer_name(cert.get()), NID_commonName);
  info.not_before_ms = TimeMs(X509_get0_notBefore(cert.get()));
  info.not_after_ms = TimeMs(X509_get0_notAfter(cert.get()));
  GeneralNames names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_DNS) continue;
    const ASN1_IA5STRING* s = gn->d.dNSName;
    info.dns_names.push_back(absl::AsciiStrToLower(std::string(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s))));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (X509_digest(cert.get(), EVP_sha256(), digest, &size) == 1) {
    info.fingerprint =
        absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), size));
  }
  info.chain_length = static_cast<int>(SplitPemCertificates(cert_pem).size());
  ERR_clear_error();
  return info;
}

std::vector<std::string> CertificateNames(const CertificateInfo& info) {
  if (!info.dns_names.empty()) return info.dns_names;
  if (info.subject_cn.empty()) return {};
  return {absl::AsciiStrToLower(info.subject_cn)};
}

bool NameCoversHost(absl::string_view pattern_in, absl::string_view host_in) {
  std::string pattern = absl::AsciiStrToLower(pattern_in);
  std::string host = absl::AsciiStrToLower(host_in);
  if (pattern.empty() || host.empty()) return false;
  if (!absl::StartsWith(pattern, "*.")) return pattern == host;
  const std::string suffix = pattern.substr(1);  // ".example.com"
  if (host.size() <= suffix.size() || !absl::EndsWith(host, suffix)) return false;
  const std::string label = host.substr(0, host.size() - suffix.size());
  return label.find('.') == std::string::npos;
}

bool CertificateCoversHost(const CertificateInfo& info, absl::string_view host) {
  for (const auto& name : CertificateNames(info)) {
    if (NameCoversHost(name, host)) return true;
  }
  return false;
}

absl::Status CheckKeyMatchesCertificate(const std::string& key_pem, const std::string& cert_pem) {
  ASSIGN_OR_RETURN(Cert cert, ParseLeaf(cert_pem));
  ASSIGN_OR_RETURN(Key key, ParsePrivateKey(key_pem));
  if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key.get()) == 1) return absl::OkStatus();
  ERR_clear_error();
  std::string cn = EntryText(X509_get_subject_name(cert.get()), NID_commonName);
  return absl::InvalidArgumentError(
      absl::StrCat("the private key does not match the certificate", cn.empty() ? "" : " for \"",
                   cn, cn.empty() ? "" : "\"", ": it is the key of another certificate (",
                   EVP_PKEY_get0_type_name(key.get()) ? EVP_PKEY_get0_type_name(key.get()) : "?",
                   " key; the certificate's is ",
                   EVP_PKEY_get0_type_name(X509_get0_pubkey(cert.get()))
                       ? EVP_PKEY_get0_type_name(X509_get0_pubkey(cert.get()))
                       : "?",
                   ")"));
}

absl::StatusOr<SelfSigned> MakeSelfSignedCertificate(const SelfSignedRequest& request) {
  if (request.hosts.empty()) return absl::InvalidArgumentError("a certificate needs a hostname");
  ERR_clear_error();
  Key key(request.rsa_bits > 0 ? EVP_RSA_gen(static_cast<unsigned>(request.rsa_bits))
                               : EVP_EC_gen("P-256"));
  Cert cert(X509_new());
  if (!key || !cert) return absl::InternalError("cannot create a key: " + OpenSslErrors());
  X509_set_version(cert.get(), 2);
  uint64_t serial = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial) != 1) {
    return absl::InternalError("cannot draw a serial number: " + OpenSslErrors());
  }
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), (serial >> 1) | 1);
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(request.not_before_ms / 1000));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(request.not_after_ms / 1000));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(request.hosts[0].c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  std::string san;
  for (const auto& h : request.hosts) absl::StrAppend(&san, san.empty() ? "" : ",", "DNS:", h);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  Extension ext(X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str()));
  if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1 ||
      X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    return absl::InternalError("cannot sign the certificate: " + OpenSslErrors());
  }
  SelfSigned out;
  Bio kb(BIO_new(BIO_s_mem())), cb(BIO_new(BIO_s_mem()));
  if (!kb || !cb ||
      PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_X509(cb.get(), cert.get()) != 1) {
    return absl::InternalError("cannot encode the certificate: " + OpenSslErrors());
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(kb.get(), &data);
  out.key_pem.assign(data, static_cast<size_t>(n));
  n = BIO_get_mem_data(cb.get(), &data);
  out.cert_pem.assign(data, static_cast<size_t>(n));
  return out;
}

}  // namespace dflow::tls
