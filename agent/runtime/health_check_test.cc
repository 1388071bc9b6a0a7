#include "agent/runtime/health_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/loopback.h"

namespace dflow::agent {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

// A loopback server that answers every connection with `reply` after reading
// the request head (or, with answer=false, accepts and stays silent).
class TinyServer {
 public:
  explicit TinyServer(std::string reply, bool answer = true)
      : reply_(std::move(reply)), answer_(answer) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(fd_, 8), 0);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~TinyServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  std::string request() {
    std::lock_guard lock(mu_);
    return request_;
  }

 private:
  void Loop() {
    std::vector<int> held;
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      if (!answer_) {
        held.push_back(c);
        continue;
      }
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, n);
      }
      {
        std::lock_guard lock(mu_);
        request_ = req;
      }
      ssize_t w = write(c, reply_.data(), reply_.size());
      (void)w;
      close(c);
    }
    for (int c : held) close(c);
  }

  std::string reply_;
  bool answer_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::string request_;
};

TEST(HealthCheckTest, TcpConnectsOrSaysRefused) {
  TinyServer server("HTTP/1.0 200 OK\r\n\r\n");
  EXPECT_TRUE(ProbeTcp("127.0.0.1", server.port(), milliseconds(1000)).ok());
  EXPECT_TRUE(ProbeHealth("127.0.0.1", server.port(), "", milliseconds(1000)).ok());

  const int closed = FreeLoopbackPort();  // nothing listens there
  absl::Status s = ProbeTcp("127.0.0.1", closed, milliseconds(1000));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(),
            absl::StrCat("connection to 127.0.0.1:", closed, " refused (nothing listens there)"));
}

TEST(HealthCheckTest, HttpGetSendsAPlainRequestAndReadsTheAnswer) {
  TinyServer server("HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope");
  auto r = HttpGet("127.0.0.1", server.port(), "/healthz", milliseconds(2000));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "nope");
  const std::string req = server.request();
  EXPECT_TRUE(absl::StartsWith(req, "GET /healthz HTTP/1.0\r\n")) << req;
  EXPECT_THAT(req, HasSubstr(absl::StrCat("\r\nHost: 127.0.0.1:", server.port(), "\r\n")));
  EXPECT_THAT(req, HasSubstr("\r\nConnection: close\r\n"));

  absl::Status s = ProbeHealth("127.0.0.1", server.port(), "/healthz", milliseconds(2000));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), absl::StrCat("GET /healthz on 127.0.0.1:", server.port(),
                                      " answered HTTP 404 (healthy means 2xx or 3xx)"));
}

TEST(HealthCheckTest, TwoAndThreeHundredsAreHealthy) {
  for (const char* reply : {"HTTP/1.1 200 OK\r\n\r\nok", "HTTP/1.0 204 No Content\r\n\r\n",
                            "HTTP/1.1 302 Found\r\nLocation: /login\r\n\r\n"}) {
    TinyServer server(reply);
    EXPECT_TRUE(ProbeHealth("127.0.0.1", server.port(), "/up", milliseconds(2000)).ok()) << reply;
  }
  TinyServer error("HTTP/1.1 503 Service Unavailable\r\n\r\n");
  EXPECT_FALSE(ProbeHealth("127.0.0.1", error.port(), "/up", milliseconds(2000)).ok());
}

TEST(HealthCheckTest, SomethingThatIsNotHttp) {
  TinyServer server("hello there\n");
  absl::Status s = ProbeHealth("127.0.0.1", server.port(), "/", milliseconds(2000));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), HasSubstr("with something that is not HTTP: \"hello"));
}

TEST(HealthCheckTest, ASilentServerTimesOut) {
  TinyServer server("", /*answer=*/false);
  const auto began = std::chrono::steady_clock::now();
  absl::Status s = ProbeHealth("127.0.0.1", server.port(), "/health", milliseconds(300));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), absl::StrCat("no answer from 127.0.0.1:", server.port(),
                                      " to GET /health within 300ms"));
  EXPECT_LT(std::chrono::steady_clock::now() - began, milliseconds(3000));
}

TEST(HealthCheckTest, RefusesABadPathOrPort) {
  EXPECT_EQ(HttpGet("127.0.0.1", 80, "/a b", milliseconds(100)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ProbeTcp("127.0.0.1", 0, milliseconds(100)).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dflow::agent
