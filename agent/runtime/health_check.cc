#include "agent/runtime/health_check.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dflow::agent {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr size_t kMaxBody = 1 << 20;
constexpr size_t kMaxHeader = 64 << 10;

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string Endpoint(const std::string& host, int port) {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", port)
                                             : absl::StrCat(host, ":", port);
}

std::string Seconds(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return absl::StrCat(d.count() / 1000, "s");
  return absl::StrCat(d.count(), "ms");
}

int RemainingMs(SteadyClock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  return static_cast<int>(std::max<int64_t>(0, left));
}

// Waits for `events` on `fd` until the deadline. False on timeout.
bool WaitFd(int fd, short events, SteadyClock::time_point deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    int rc = poll(&p, 1, RemainingMs(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return true;  // let the following call report the error
  }
}

// A connected, non-blocking socket to host:port, or Unavailable saying why not.
absl::StatusOr<int> Connect(const std::string& host, int port, SteadyClock::time_point deadline,
                            std::chrono::milliseconds timeout) {
  const std::string where = Endpoint(host, port);
  if (port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("port ", port, " is not a valid TCP port"));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string service = absl::StrCat(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", host, " for ", where, ": ", gai_strerror(rc)));
  }
  std::string last_error = absl::StrCat("no address for ", where);
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_error = absl::StrCat("cannot create a socket for ", where, ": ", std::strerror(errno));
      continue;
    }
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      if (!WaitFd(fd, POLLOUT, deadline)) {
        close(fd);
        freeaddrinfo(found);
        return absl::UnavailableError(
            absl::StrCat("no connection to ", where, " within ", Seconds(timeout)));
      }
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err == 0) {
      freeaddrinfo(found);
      return fd;
    }
    close(fd);
    last_error = err == ECONNREFUSED
                     ? absl::StrCat("connection to ", where, " refused (nothing listens there)")
                     : absl::StrCat("cannot connect to ", where, ": ", std::strerror(err));
  }
  freeaddrinfo(found);
  return absl::UnavailableError(last_error);
}

absl::Status SendAll(int fd, const std::string& data, SteadyClock::time_point deadline,
                     const std::string& where, std::chrono::milliseconds timeout) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n >= 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return absl::UnavailableError(
          absl::StrCat("cannot send the request to ", where, ": ", std::strerror(errno)));
    }
    if (!WaitFd(fd, POLLOUT, deadline)) {
      return absl::UnavailableError(
          absl::StrCat("cannot send the request to ", where, " within ", Seconds(timeout)));
    }
  }
  return absl::OkStatus();
}

// "HTTP/1.1 200 OK" -> 200; 0 when the line is not an HTTP status line.
int ParseStatusLine(absl::string_view line) {
  if (!absl::StartsWith(line, "HTTP/")) return 0;
  size_t space = line.find(' ');
  if (space == absl::string_view::npos || line.size() < space + 4) return 0;
  int code = 0;
  if (!absl::SimpleAtoi(line.substr(space + 1, 3), &code) || code < 100 || code > 999) return 0;
  return code;
}

std::string Printable(absl::string_view s) {
  std::string out;
  for (char c : s.substr(0, 60)) out += absl::ascii_isprint(c) ? c : '?';
  return out;
}

}  // namespace

absl::Status ProbeTcp(const std::string& host, int port, std::chrono::milliseconds timeout) {
  auto fd = Connect(host, port, SteadyClock::now() + timeout, timeout);
  if (!fd.ok()) return fd.status();
  close(*fd);
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> HttpGet(const std::string& host, int port, const std::string& path,
                                     std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  const std::string where = Endpoint(host, port);
  const std::string target = path.empty() || path[0] != '/' ? "/" + path : path;
  if (target.find_first_of("\r\n ") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("health path \"", Printable(path),
                                                   "\" may not contain spaces or line breaks"));
  }
  auto fd_or = Connect(host, port, deadline, timeout);
  if (!fd_or.ok()) return fd_or.status();
  Socket sock(*fd_or);
  const std::string request =
      absl::StrCat("GET ", target, " HTTP/1.0\r\nHost: ", where,
                   "\r\nUser-Agent: dflow-agent\r\nConnection: close\r\n\r\n");
  if (auto s = SendAll(sock.get(), request, deadline, where, timeout); !s.ok()) return s;

  std::string data;
  size_t header_end = std::string::npos;
  char buf[16384];
  while (true) {
    ssize_t n = recv(sock.get(), buf, sizeof buf, 0);
    if (n > 0) {
      data.append(buf, static_cast<size_t>(n));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end == std::string::npos && data.size() > kMaxHeader) break;
      }
      if (header_end != std::string::npos && data.size() > header_end + 4 + kMaxBody) break;
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (WaitFd(sock.get(), POLLIN, deadline)) continue;
      if (header_end != std::string::npos) break;  // headers arrived; keep what we have
      return absl::UnavailableError(
          absl::StrCat("no answer from ", where, " to GET ", target, " within ", Seconds(timeout)));
    }
    if (!data.empty()) break;  // a reset after the answer still counts as the answer
    return absl::UnavailableError(absl::StrCat("connection to ", where, " failed during GET ",
                                               target, ": ", std::strerror(errno)));
  }
  const size_t line_end = data.find("\r\n");
  const int code = ParseStatusLine(absl::string_view(data).substr(0, line_end));
  if (code == 0) {
    return absl::UnavailableError(
        data.empty() ? absl::StrCat(where, " closed the connection without answering GET ", target)
                     : absl::StrCat(where, " answered GET ", target,
                                    " with something that is not HTTP: \"", Printable(data), "\""));
  }
  HttpResponse response;
  response.status = code;
  if (header_end != std::string::npos) {
    response.body = data.substr(header_end + 4, kMaxBody);
  }
  return response;
}

absl::Status ProbeHealth(const std::string& host, int port, const std::string& health_path,
                         std::chrono::milliseconds timeout) {
  if (health_path.empty()) return ProbeTcp(host, port, timeout);
  auto response = HttpGet(host, port, health_path, timeout);
  if (!response.ok()) return response.status();
  if (response->status >= 200 && response->status < 400) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("GET ", health_path, " on ", Endpoint(host, port),
                                             " answered HTTP ", response->status,
                                             " (healthy means 2xx or 3xx)"));
}

}  // namespace dflow::agent
