// FetchPeerChain: a TCP connect and an unverified TLS handshake, with one
// deadline for both, to read the certificates a server presents.
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/openssl_ptr.h"
#include "common/status_macros.h"
#include "common/tls.h"

namespace dflow::tls {
namespace {

using SslCtx = std::unique_ptr<SSL_CTX, Free<SSL_CTX_free>>;
using Ssl = std::unique_ptr<SSL, Free<SSL_free>>;
using AddrInfo = std::unique_ptr<addrinfo, Free<freeaddrinfo>>;
using Clock = std::chrono::steady_clock;

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

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
    return OpenSslFailed("cannot set up the TLS client");
  }
  SSL_set_verify(ssl.get(), SSL_VERIFY_NONE, nullptr);
  if (!IsIpAddress(target.host) && SSL_set_tlsext_host_name(ssl.get(), target.host.c_str()) != 1) {
    return OpenSslFailed("cannot set the TLS server name");
  }
  SigpipeGuard sigpipe_guard;
  RETURN_IF_ERROR(Handshake(ssl.get(), fd.get(), host_port, timeout_ms, deadline));
  absl::StatusOr<std::string> chain = PeerChainPem(ssl.get(), host_port);
  SSL_shutdown(ssl.get());  // Best effort close_notify; the answer is already in hand.
  ERR_clear_error();
  return chain;
}

}  // namespace dflow::tls
