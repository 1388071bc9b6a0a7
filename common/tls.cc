#include "common/tls.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <initializer_list>
#include <memory>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/openssl_ptr.h"
#include "common/status_macros.h"

namespace dflow::tls {
namespace {

using Bignum = std::unique_ptr<BIGNUM, Free<BN_free>>;
using Csr = std::unique_ptr<X509_REQ, Free<X509_REQ_free>>;
using Store = std::unique_ptr<X509_STORE, Free<X509_STORE_free>>;
using StoreCtx = std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX_free>>;
using SslCtx = std::unique_ptr<SSL_CTX, Free<SSL_CTX_free>>;
using Ssl = std::unique_ptr<SSL, Free<SSL_free>>;
using AddrInfo = std::unique_ptr<addrinfo, Free<freeaddrinfo>>;
using Clock = std::chrono::steady_clock;

absl::Status Failed(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", OpenSslErrors()));
}

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

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

template <typename WriteFn>
absl::StatusOr<std::string> ToPem(absl::string_view what, WriteFn write) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return Failed(absl::StrCat("cannot encode ", what));
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  return ToPem("certificate", [&](BIO* bio) { return PEM_write_bio_X509(bio, cert); });
}

absl::StatusOr<std::string> NameCommonName(const X509_NAME* name, absl::string_view what) {
  int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return absl::NotFoundError(absl::StrCat(what, " has no common name (CN)"));
  unsigned char* utf8 = nullptr;
  int size = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
  if (size < 0) return Failed(absl::StrCat("cannot decode the common name of the ", what));
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
    return Failed("cannot set the common name");
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
    return Failed("cannot build the certificate");
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
    if (!added) return Failed(absl::StrCat("cannot add the ", OBJ_nid2sn(nid), " extension"));
  }
  return absl::OkStatus();
}

bool IsIpAddress(const std::string& host) {
  unsigned char bytes[16];
  return inet_pton(AF_INET, host.c_str(), bytes) == 1 ||
         inet_pton(AF_INET6, host.c_str(), bytes) == 1;
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
  return ok ? absl::OkStatus() : Failed("cannot add the subjectAltName extension");
}

absl::Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) return Failed("cannot sign the certificate");
  return absl::OkStatus();
}

struct HostPort {
  std::string host;
  std::string port;
};

absl::StatusOr<HostPort> SplitHostPort(absl::string_view host_port) {
  HostPort out;
  absl::string_view rest;
  const bool bracketed = absl::StartsWith(host_port, "[");
  if (bracketed) {
    size_t close = host_port.find(']');
    if (close != absl::string_view::npos) {
      out.host = std::string(host_port.substr(1, close - 1));
      rest = host_port.substr(close + 1);
    }
  } else if (size_t colon = host_port.rfind(':'); colon != absl::string_view::npos) {
    out.host = std::string(host_port.substr(0, colon));
    rest = host_port.substr(colon);
  }
  int port = 0;
  if (out.host.empty() || (!bracketed && absl::StrContains(out.host, ':')) ||
      !absl::ConsumePrefix(&rest, ":") || rest.empty() ||
      !std::all_of(rest.begin(), rest.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(rest, &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", absl::CHexEscape(host_port),
                     "\" is not host:port (IPv6 goes in brackets: [::1]:7443)"));
  }
  out.port = std::string(rest);
  return out;
}

// poll(2) for `events` until `deadline`: 1 when ready, 0 on timeout, -1 on error.
int WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd entry{fd, events, 0};
    int ready = poll(&entry, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (ready >= 0 || errno != EINTR) return ready;
  }
}

class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ScopedFd& operator=(ScopedFd&&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::StatusOr<ScopedFd> ConnectTcp(const HostPort& target, absl::string_view label, int timeout_ms,
                                    Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(target.host.c_str(), target.port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", label, ": cannot resolve host: ", gai_strerror(rc)));
  }
  AddrInfo addresses(found);
  std::string last_error = "no address to try";
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    ScopedFd fd(
        socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    int err = fd.get() < 0 || connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 ? errno : 0;
    if (err == EINPROGRESS) {
      int ready = WaitFor(fd.get(), POLLOUT, deadline);
      socklen_t size = sizeof(err);
      if (ready == 0) {
        return absl::DeadlineExceededError(
            absl::StrCat("cannot connect to ", label, ": no answer within ", timeout_ms, " ms"));
      }
      if (ready < 0 || getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &size) != 0) err = errno;
    }
    if (err == 0) return fd;
    last_error = ErrnoText(err);
  }
  return absl::UnavailableError(absl::StrCat("cannot connect to ", label, ": ", last_error));
}

// OpenSSL writes to the socket with write(2), so a peer that hangs up would raise
// SIGPIPE and kill the process. Block it on this thread and drop any that arrive.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&sigpipe_);
    sigaddset(&sigpipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &sigpipe_, &old_mask_);
  }
  ~SigpipeGuard() {
    timespec no_wait{};
    while (!was_pending_ && sigtimedwait(&sigpipe_, nullptr, &no_wait) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }

 private:
  sigset_t sigpipe_;
  sigset_t old_mask_;
  bool was_pending_ = false;
};

absl::Status Handshake(SSL* ssl, int fd, absl::string_view label, int timeout_ms,
                       Clock::time_point deadline) {
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int rc = SSL_connect(ssl);
    int err = errno;
    if (rc == 1) return absl::OkStatus();
    const int ssl_error = SSL_get_error(ssl, rc);
    if (ssl_error != SSL_ERROR_WANT_READ && ssl_error != SSL_ERROR_WANT_WRITE) {
      // SYSCALL with nothing queued: the reason is in errno, or the peer hung up.
      std::string why;
      if (ssl_error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        why = err != 0 ? ErrnoText(err) : "the server closed the connection";
      } else {
        why = OpenSslErrors();
      }
      return absl::UnavailableError(absl::StrCat("TLS handshake with ", label, " failed: ", why));
    }
    int ready = WaitFor(fd, ssl_error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
    if (ready == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("TLS handshake with ", label, " did not finish within ", timeout_ms, " ms"));
    }
    if (ready < 0) {
      return absl::UnavailableError(
          absl::StrCat("TLS handshake with ", label, " failed: ", ErrnoText(errno)));
    }
  }
}

absl::StatusOr<std::string> PeerChainPem(SSL* ssl, absl::string_view label) {
  Cert leaf(SSL_get1_peer_certificate(ssl));
  if (!leaf) return absl::UnavailableError(absl::StrCat(label, " presented no certificate"));
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  bool has_leaf = false;
  std::string out;
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    X509* cert = sk_X509_value(chain, i);
    has_leaf = has_leaf || X509_cmp(cert, leaf.get()) == 0;
    ASSIGN_OR_RETURN(std::string pem, CertPem(cert));
    out += pem;
  }
  if (!has_leaf) {
    ASSIGN_OR_RETURN(std::string pem, CertPem(leaf.get()));
    out.insert(0, pem);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> GenerateKey() {
  ERR_clear_error();
  Key key(EVP_EC_gen("P-256"));
  if (!key) return Failed("cannot generate an ECDSA P-256 key");
  return ToPem("private key", [&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
}

absl::StatusOr<std::string> SelfSignedCa(const std::string& key_pem, absl::string_view common_name,
                                         int days) {
  ASSIGN_OR_RETURN(Key key, ParseKey(key_pem));
  ASSIGN_OR_RETURN(Cert ca, NewCertificate(common_name, key.get(), days));
  if (X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get())) != 1) {
    return Failed("cannot set the CA issuer name");
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
    return Failed("cannot build the certificate request");
  }
  RETURN_IF_ERROR(SetCommonName(X509_REQ_get_subject_name(csr.get()), common_name));
  if (X509_REQ_sign(csr.get(), key.get(), EVP_sha256()) <= 0) {
    return Failed("cannot sign the certificate request");
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
    return Failed("cannot set the certificate issuer name");
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
    return Failed("cannot hash the certificate");
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
    return Failed("cannot set up certificate verification");
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

absl::StatusOr<std::string> FetchPeerChain(const std::string& host_port, int timeout_ms) {
  if (timeout_ms < 1) {
    return absl::InvalidArgumentError(absl::StrCat("timeout must be positive, got ", timeout_ms));
  }
  ASSIGN_OR_RETURN(const HostPort target, SplitHostPort(host_port));
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  ASSIGN_OR_RETURN(const ScopedFd fd, ConnectTcp(target, host_port, timeout_ms, deadline));

  ERR_clear_error();
  static constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};
  SslCtx ctx(SSL_CTX_new(TLS_client_method()));
  Ssl ssl(ctx ? SSL_new(ctx.get()) : nullptr);
  // Nothing is verified here: the caller pins the CA by fingerprint afterwards.
  // SSL_set_alpn_protos returns 0 on success, unlike the rest of the API.
  if (!ssl || SSL_set_min_proto_version(ssl.get(), TLS1_2_VERSION) != 1 ||
      SSL_set_alpn_protos(ssl.get(), kAlpnH2, sizeof(kAlpnH2)) != 0 ||
      SSL_set_fd(ssl.get(), fd.get()) != 1) {
    return Failed("cannot set up the TLS client");
  }
  SSL_set_verify(ssl.get(), SSL_VERIFY_NONE, nullptr);
  if (!IsIpAddress(target.host) && SSL_set_tlsext_host_name(ssl.get(), target.host.c_str()) != 1) {
    return Failed("cannot set the TLS server name");
  }
  SigpipeGuard sigpipe_guard;
  RETURN_IF_ERROR(Handshake(ssl.get(), fd.get(), host_port, timeout_ms, deadline));
  absl::StatusOr<std::string> chain = PeerChainPem(ssl.get(), host_port);
  SSL_shutdown(ssl.get());  // Best effort close_notify; the answer is already in hand.
  ERR_clear_error();
  return chain;
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
