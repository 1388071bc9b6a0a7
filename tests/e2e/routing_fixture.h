// The fleet of the routing suites: a controller (--wait-to-retire 1s) and two
// agents, each with a router (real nginx) on loopback for HTTP and HTTPS, and
// a raw HTTP client for request loops.
#ifndef DFLOW_TESTS_E2E_ROUTING_FIXTURE_H_
#define DFLOW_TESTS_E2E_ROUTING_FIXTURE_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>

#include "tests/e2e/apps_fixture.h"

namespace dflow::testing {

struct Reply {
  int code = 0;  // 0: no HTTP answer
  std::string body;
};

// One HTTP/1.0 GET to 127.0.0.1:port with a Host header (raw socket: a client
// loop of hundreds of requests without a process each).
inline Reply Get(int port, const std::string& host, const std::string& path = "/") {
  Reply r;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return r;
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string resp;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof buf, 0)) > 0) resp.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  if (resp.rfind("HTTP/1.", 0) != 0 || resp.size() < 12) return r;
  r.code = std::atoi(resp.substr(9, 3).c_str());
  auto body = resp.find("\r\n\r\n");
  if (body != std::string::npos) r.body = resp.substr(body + 4);
  return r;
}

class RoutingE2E : public AppsE2E {
 protected:
  void SetUp() override { StartRoutedFleet("127.0.0.1"); }

  // A controller (wait-to-retire 1s) and agents local-1 and local-2 (on
  // `local2_host`), each with a router, both healthy.
  void StartRoutedFleet(const std::string& local2_host) {
    StartController({"--wait-to-retire", "1s"});
    fleet_->set_routers(true);
    StartLocalAgents(local2_host);
  }

  int Router(const std::string& server) { return fleet_->router_port(server); }
  int TlsRouter(const std::string& server) { return fleet_->router_tls_port(server); }

  // The instance ids that answered through a router in `n` requests.
  std::set<std::string> Answering(const std::string& server, int n) {
    std::set<std::string> ids;
    for (int i = 0; i < n; ++i) {
      Reply r = Get(Router(server), "hello.localhost", "/?format=json");
      if (r.code != 200) continue;
      auto j = nlohmann::json::parse(r.body, nullptr, false);
      if (j.is_object()) ids.insert(j.value("instance", ""));
    }
    return ids;
  }

  std::set<std::string> RunningIds(const std::string& app) {
    std::set<std::string> ids;
    auto ps = Ps(app);
    if (!ps.is_array()) return ids;
    for (const auto& i : ps) {
      if (i.value("state", "") == "running") ids.insert(i.value("id", ""));
    }
    return ids;
  }
};

}  // namespace dflow::testing

#endif  // DFLOW_TESTS_E2E_ROUTING_FIXTURE_H_
