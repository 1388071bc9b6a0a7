// What the router (nginx as the agent runs it) costs a request, against the
// same instance reached directly, in the same run.
//
//   router_bench [--seconds 5] [--connections 8]
//
// The instance is a small keep-alive HTTP/1.1 server in this process (one
// thread per connection, a fixed 13-byte body), so that the figure is the
// router's cost rather than an app's. The router is agent/router's Router with
// a table of one app whose one backend is that instance. Each side runs
// `connections` client threads, each with one keep-alive connection sending
// GET / back to back for `seconds`; the sides alternate twice (direct,
// router, direct, router) so host load falls on both. Reports requests/s,
// the ratio router/direct, and p50/p99 latency per side and the difference.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "agent/router/router.h"
#include "common/files.h"

namespace {

using Clock = std::chrono::steady_clock;

int Listen(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 512) != 0) {
    perror("listen");
    exit(1);
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

int FreePort() {
  int port = 0;
  close(Listen(&port));
  return port;
}

// Reads one request head (until CRLFCRLF) from `fd` into `buf`; false at EOF.
bool ReadHead(int fd, std::string& buf) {
  char chunk[4096];
  while (buf.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
  }
  buf.erase(0, buf.find("\r\n\r\n") + 4);
  return true;
}

void Serve(int listener) {
  static const std::string kResponse =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, world\n";
  for (;;) {
    int c = accept(listener, nullptr, nullptr);
    if (c < 0) return;
    std::thread([c] {
      int one = 1;
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::string buf;
      while (ReadHead(c, buf)) {
        if (send(c, kResponse.data(), kResponse.size(), MSG_NOSIGNAL) < 0) break;
      }
      close(c);
    }).detach();
  }
}

struct Side {
  double seconds = 0;
  int64_t requests = 0;
  int64_t errors = 0;
  std::vector<double> latencies_us;
};

// One keep-alive client: GET / until the deadline; a response is read whole
// (head, then Content-Length bytes).
void Client(int port, const std::string& host, Clock::time_point until, Side* out) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ++out->errors;
    close(fd);
    return;
  }
  const std::string req = "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  std::string buf;
  char chunk[8192];
  while (Clock::now() < until) {
    auto t0 = Clock::now();
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) < 0) break;
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) goto done;
      buf.append(chunk, static_cast<size_t>(n));
    }
    {
      size_t len = 0;
      auto cl = buf.find("Content-Length: ");
      if (cl != std::string::npos && cl < head_end) len = std::stoul(buf.substr(cl + 16));
      while (buf.size() < head_end + 4 + len) {
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) goto done;
        buf.append(chunk, static_cast<size_t>(n));
      }
      bool ok = buf.compare(0, 12, "HTTP/1.1 200") == 0;
      buf.erase(0, head_end + 4 + len);
      if (!ok) {
        ++out->errors;
        continue;
      }
    }
    out->latencies_us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    ++out->requests;
  }
done:
  close(fd);
}

Side Run(int port, const std::string& host, int connections, double seconds) {
  std::vector<Side> parts(static_cast<size_t>(connections));
  std::vector<std::thread> threads;
  auto start = Clock::now();
  auto until =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (auto& p : parts) threads.emplace_back(Client, port, host, until, &p);
  for (auto& t : threads) t.join();
  Side all;
  all.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& p : parts) {
    all.requests += p.requests;
    all.errors += p.errors;
    all.latencies_us.insert(all.latencies_us.end(), p.latencies_us.begin(), p.latencies_us.end());
  }
  return all;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  int connections = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
    if (flag == "--connections") connections = std::atoi(argv[i + 1]);
  }
  int backend_port = 0;
  int listener = Listen(&backend_port);
  std::thread(Serve, listener).detach();

  char tmpl[] = "/tmp/dflow-router-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  int router_port = FreePort();
  auto router = dflow::agent::Router::Start(
      {.dir = dir + "/router", .listen = absl::StrFormat("127.0.0.1:%d", router_port)});
  if (!router.ok()) {
    std::cerr << router.status() << "\n";
    return 1;
  }
  dflow::agent::RouteTable table;
  table.version = 1;
  table.apps.push_back({.app = "hello",
                        .hosts = {"hello.localhost"},
                        .backends = {{"127.0.0.1", backend_port, "hello-web-1", "local-1"}}});
  if (auto s = (*router)->Apply(table); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  Run(backend_port, "hello.localhost", connections, 0.5);  // warm-up
  Run(router_port, "hello.localhost", connections, 0.5);
  Side direct, routed;
  for (int round = 0; round < 2; ++round) {
    for (int side = 0; side < 2; ++side) {
      Side s = side == 0 ? Run(backend_port, "hello.localhost", connections, seconds / 2)
                         : Run(router_port, "hello.localhost", connections, seconds / 2);
      Side& into = side == 0 ? direct : routed;
      into.seconds += s.seconds;
      into.requests += s.requests;
      into.errors += s.errors;
      into.latencies_us.insert(into.latencies_us.end(), s.latencies_us.begin(),
                               s.latencies_us.end());
    }
  }
  double direct_rps = static_cast<double>(direct.requests) / direct.seconds;
  double routed_rps = static_cast<double>(routed.requests) / routed.seconds;
  std::cout << "## bench/router_bench\n\n"
            << absl::StrFormat(
                   "%d keep-alive connections, %.0f s per side (two alternating rounds), nginx "
                   "worker_processes 1, GET / of a 13-byte body\n\n",
                   connections, seconds)
            << "| path | requests/s | p50 latency | p99 latency | errors |\n"
            << "|---|---:|---:|---:|---:|\n"
            << absl::StrFormat("| instance directly | %.0f | %.0f µs | %.0f µs | %d |\n",
                               direct_rps, Percentile(direct.latencies_us, 0.5),
                               Percentile(direct.latencies_us, 0.99), direct.errors)
            << absl::StrFormat("| through the router | %.0f | %.0f µs | %.0f µs | %d |\n",
                               routed_rps, Percentile(routed.latencies_us, 0.5),
                               Percentile(routed.latencies_us, 0.99), routed.errors)
            << absl::StrFormat(
                   "\nratio router/direct: %.2f; added latency p50 %.0f µs, p99 %.0f µs\n",
                   routed_rps / direct_rps,
                   Percentile(routed.latencies_us, 0.5) - Percentile(direct.latencies_us, 0.5),
                   Percentile(routed.latencies_us, 0.99) - Percentile(direct.latencies_us, 0.99));
  router->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
