#include "common/tls.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <initializer_list>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/openssl_ptr.h"
#include "common/status_macros.h"

namespace dflow::tls {
namespace {

using Bignum = std::unique_ptr<BIGNUM, Free<BN_free>>;
using Csr = std::unique_ptr<X509_REQ, Free<X509_REQ_free>>;
using Store = std::unique_ptr<X509_STORE, Free<X509_STORE_free>>;
using StoreCtx = std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX_free>>;

// The first object that `read` finds in `pem`, or an error naming `what`.
template <typename Ptr, typename ReadFn>
absl::StatusOr<Ptr> ParsePem(const std::string& pem, absl::string_view what, ReadFn read) {
  if (!absl::StrContains(pem, "-----BEGIN ")) {
    return absl::InvalidArgumentError(absl::StrCat("cannot parse ", what, " PEM: no BEGIN line"));
  }
  ERR_clear_error();  // Stale errors from an earlier call must not show up in ours.
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Ptr object(bio ? read(bio.get()) : nullptr);
  if (!object) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot parse ", what, " PEM: ", OpenSslErrors()));
  }
  return object;
}

absl::StatusOr<Key> ParseKey(const std::string& pem, absl::string_view what = "private key") {
  absl::StatusOr<Key> key = ParsePem<Key>(pem, what, [](BIO* bio) {
    // Without a callback OpenSSL would prompt on the terminal for a passphrase.
    auto no_passphrase = [](char*, int, int, void*) { return -1; };
    return PEM_read_bio_PrivateKey(bio, nullptr, no_passphrase, nullptr);
  });
  if (key.ok() && !EVP_PKEY_is_a(key->get(), "EC")) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not an ECDSA key (dflow uses P-256)"));
  }
  return key;
}

absl::StatusOr<Cert> ParseCert(const std::string& pem, absl::string_view what = "certificate") {
  return ParsePem<Cert>(pem, what,
                        [](BIO* bio) { return PEM_read_bio_X509(bio, nullptr, nullptr, nullptr); });
}

absl::StatusOr<Csr> ParseVerifiedCsr(const std::string& pem) {
  absl::StatusOr<Csr> csr = ParsePem<Csr>(pem, "certificate request", [](BIO* bio) {
    return PEM_read_bio_X509_REQ(bio, nullptr, nullptr, nullptr);
  });
  if (!csr.ok()) return csr;
  EVP_PKEY* key = X509_REQ_get0_pubkey(csr->get());
  if (key == nullptr || X509_REQ_verify(csr->get(), key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("certificate request signature is invalid");
  }
  return csr;
}

absl::StatusOr<std::string> NameCommonName(const X509_NAME* name, absl::string_view what) {
  int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return absl::NotFoundError(absl::StrCat(what, " has no common name (CN)"));
  unsigned char* utf8 = nullptr;
  int size = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
  if (size < 0) return OpenSslFailed(absl::StrCat("cannot decode the common name of the ", what));
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<size_t>(size));
  OPENSSL_free(utf8);
  return cn;
}

absl::Status SetCommonName(X509_NAME* name, absl::string_view cn) {
  if (cn.empty() || cn.size() > 64) {  // RFC 5280 ub-common-name.
    return absl::InvalidArgumentError(
        absl::StrCat("common name must be 1 to 64 characters, got ", cn.size()));
  }
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0) != 1) {
    return OpenSslFailed("cannot set the common name");
  }
  return absl::OkStatus();
}

// A version 3 certificate with everything but issuer, extensions and signature.
absl::StatusOr<Cert> NewCertificate(absl::string_view cn, EVP_PKEY* public_key, int days) {
  if (days < 1 || days > 36500) {
    return absl::InvalidArgumentError(absl::StrCat("validity must be 1 to 36500 days, got ", days));
  }
  ERR_clear_error();
  Cert cert(X509_new());
  Bignum serial(BN_new());
  // 128 random bits with the top one set: positive, never zero, fixed length.
  if (!cert || !serial || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      BN_rand(serial.get(), 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_set_pubkey(cert.get(), public_key) != 1 ||
      // Five minutes back so a peer whose clock lags a little still accepts it.
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -5 * 60) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr) == nullptr) {
    return OpenSslFailed("cannot build the certificate");
  }
  RETURN_IF_ERROR(SetCommonName(X509_get_subject_name(cert.get()), cn));
  return cert;
}

absl::Status AddExtensions(X509* cert, X509* issuer,
                           std::initializer_list<std::pair<int, const char*>> extensions) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    bool added = ext != nullptr && X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    if (!added)
      return OpenSslFailed(absl::StrCat("cannot add the ", OBJ_nid2sn(nid), " extension"));
  }
  return absl::OkStatus();
}

bool IsDnsName(absl::string_view host) {
  return !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}

// Built from typed GENERAL_NAMEs, not a config string, so that a host such as
// "a.com,IP:10.0.0.1" cannot smuggle in extra names.
absl::Status AddSubjectAltName(X509* cert, absl::string_view san_host) {
  if (san_host.size() > 2 && san_host.front() == '[' && san_host.back() == ']') {
    san_host = san_host.substr(1, san_host.size() - 2);
  }
  const std::string host(san_host);
  const bool is_ip = IsIpAddress(host);
  if (!is_ip && !IsDnsName(host)) {
    return absl::InvalidArgumentError(absl::StrCat("subjectAltName host \"", absl::CHexEscape(host),
                                                   "\" is neither an IP address nor a DNS name"));
  }
  GeneralNames names(GENERAL_NAMES_new());
  auto add = [&](int type, const std::string& value) {
    GENERAL_NAME* name = a2i_GENERAL_NAME(nullptr, nullptr, nullptr, type, value.c_str(), 0);
    if (name != nullptr && sk_GENERAL_NAME_push(names.get(), name) > 0) return true;
    GENERAL_NAME_free(name);
    return false;
  };
  bool ok = names &&
            (absl::EqualsIgnoreCase(host, "localhost") || add(is_ip ? GEN_IPADD : GEN_DNS, host)) &&
            add(GEN_DNS, "localhost") &&
            X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) == 1;
  return ok ? absl::OkStatus() : OpenSslFailed("cannot add the subjectAltName extension");
}

absl::Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) return OpenSslFailed("cannot sign the certificate");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> GenerateKey() {
  ERR_clear_error();
  Key key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslFailed("cannot generate an ECDSA P-256 key");
  return ToPem("private key", [&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
}

absl::StatusOr<std::string> SelfSignedCa(const std::string& key_pem, absl::string_view common_name,
                                         int days) {
  ASSIGN_OR_RETURN(Key key, ParseKey(key_pem));
  ASSIGN_OR_RETURN(Cert ca, NewCertificate(common_name, key.get(), days));
  if (X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get())) != 1) {
    return OpenSslFailed("cannot set the CA issuer name");
  }
  RETURN_IF_ERROR(AddExtensions(ca.get(), ca.get(),
                                {{NID_basic_constraints, "critical,CA:TRUE"},
                                 {NID_key_usage, "critical,keyCertSign,cRLSign"},
                                 {NID_subject_key_identifier, "hash"}}));
  RETURN_IF_ERROR(Sign(ca.get(), key.get()));
  return CertPem(ca.get());
}

absl::StatusOr<std::string> CreateCsr(const std::string& key_pem, absl::string_view common_name) {
  ASSIGN_OR_RETURN(Key key, ParseKey(key_pem));
  Csr csr(X509_REQ_new());
  if (!csr || X509_REQ_set_version(csr.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_pubkey(csr.get(), key.get()) != 1) {
    return OpenSslFailed("cannot build the certificate request");
  }
  RETURN_IF_ERROR(SetCommonName(X509_REQ_get_subject_name(csr.get()), common_name));
  if (X509_REQ_sign(csr.get(), key.get(), EVP_sha256()) <= 0) {
    return OpenSslFailed("cannot sign the certificate request");
  }
  return ToPem("certificate request",
               [&](BIO* bio) { return PEM_write_bio_X509_REQ(bio, csr.get()); });
}

absl::StatusOr<std::string> CsrCommonName(const std::string& csr_pem) {
  ASSIGN_OR_RETURN(Csr csr, ParseVerifiedCsr(csr_pem));
  return NameCommonName(X509_REQ_get_subject_name(csr.get()), "certificate request");
}

absl::StatusOr<std::string> IssueCertificate(const KeyAndCert& ca, const std::string& csr_pem,
                                             absl::string_view common_name,
                                             absl::string_view san_host, int days) {
  ASSIGN_OR_RETURN(Key ca_key, ParseKey(ca.key_pem, "CA private key"));
  ASSIGN_OR_RETURN(Cert ca_cert, ParseCert(ca.cert_pem, "CA certificate"));
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the CA private key does not match the CA certificate");
  }
  ASSIGN_OR_RETURN(Csr csr, ParseVerifiedCsr(csr_pem));
  ASSIGN_OR_RETURN(Cert leaf, NewCertificate(common_name, X509_REQ_get0_pubkey(csr.get()), days));
  if (X509_set_issuer_name(leaf.get(), X509_get_subject_name(ca_cert.get())) != 1) {
    return OpenSslFailed("cannot set the certificate issuer name");
  }
  RETURN_IF_ERROR(AddExtensions(leaf.get(), ca_cert.get(),
                                {{NID_basic_constraints, "CA:FALSE"},
                                 {NID_key_usage, "critical,digitalSignature"},
                                 {NID_ext_key_usage, "serverAuth,clientAuth"},
                                 {NID_subject_key_identifier, "hash"},
                                 {NID_authority_key_identifier, "keyid:always"}}));
  RETURN_IF_ERROR(AddSubjectAltName(leaf.get(), san_host));
  RETURN_IF_ERROR(Sign(leaf.get(), ca_key.get()));
  return CertPem(leaf.get());
}

absl::StatusOr<std::string> Fingerprint(const std::string& cert_pem) {
  ASSIGN_OR_RETURN(Cert cert, ParseCert(cert_pem));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (X509_digest(cert.get(), EVP_sha256(), digest, &size) != 1) {
    return OpenSslFailed("cannot hash the certificate");
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), size));
}

absl::StatusOr<std::string> CommonName(const std::string& cert_pem) {
  ASSIGN_OR_RETURN(Cert cert, ParseCert(cert_pem));
  return NameCommonName(X509_get_subject_name(cert.get()), "certificate");
}

absl::Status VerifyIssuedBy(const std::string& cert_pem, const std::string& ca_pem) {
  ASSIGN_OR_RETURN(Cert cert, ParseCert(cert_pem));
  ASSIGN_OR_RETURN(Cert ca, ParseCert(ca_pem, "CA certificate"));
  Store store(X509_STORE_new());
  StoreCtx ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
    return OpenSslFailed("cannot set up certificate verification");
  }
  if (X509_verify_cert(ctx.get()) == 1) return absl::OkStatus();
  const int error = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  const bool foreign = error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                       error == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
                       error == X509_V_ERR_CERT_SIGNATURE_FAILURE ||
                       error == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
  auto cert_cn = NameCommonName(X509_get_subject_name(cert.get()), "certificate");
  auto ca_cn = NameCommonName(X509_get_subject_name(ca.get()), "CA");
  return absl::InvalidArgumentError(
      absl::StrCat("certificate \"", cert_cn.value_or("?"),
                   foreign ? "\" was not issued by CA \"" : "\" is not valid under CA \"",
                   ca_cn.value_or("?"), "\": ", X509_verify_cert_error_string(error)));
}

absl::Status KeyMatchesCertificate(const std::string& key_pem, const std::string& cert_pem) {
  ASSIGN_OR_RETURN(Key key, ParseKey(key_pem));
  ASSIGN_OR_RETURN(Cert cert, ParseCert(cert_pem));
  if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key.get()) == 1) return absl::OkStatus();
  ERR_clear_error();
  auto cn = NameCommonName(X509_get_subject_name(cert.get()), "certificate");
  return absl::InvalidArgumentError(absl::StrCat(
      "the private key does not match the public key of certificate \"", cn.value_or("?"), "\""));
}

std::vector<std::string> SplitPemCertificates(const std::string& pem_bundle) {
  static constexpr absl::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  static constexpr absl::string_view kEnd = "-----END CERTIFICATE-----";
  absl::string_view bundle = pem_bundle;
  std::vector<std::string> certs;
  for (size_t begin = bundle.find(kBegin); begin != absl::string_view::npos;) {
    size_t end = bundle.find(kEnd, begin + kBegin.size());
    if (end == absl::string_view::npos) break;  // A truncated block is no certificate.
    end += kEnd.size();
    certs.push_back(absl::StrCat(bundle.substr(begin, end - begin), "\n"));
    begin = bundle.find(kBegin, end);
  }
  return certs;
}

}  // namespace dflow::tls
