#include "common/loopback.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>

namespace dflow {
namespace {

// Ports handed out: below the kernel's ephemeral range, from which every
// outgoing connection takes its local port (a listener that restarts, like a
// killed agent, would otherwise find its port taken by some client in
// between), and outside LocalRuntime's instance range (20000-29999).
constexpr int kFirst = 10000;
constexpr int kLast = 19999;

bool EphemeralRangeIsAbove(int port) {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0, high = 0;
  return in >> low >> high && port < low;
}

// Binds 127.0.0.1:port (0: the kernel picks); returns the bound port or 0.
int BindAndRelease(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof addr;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  return ok ? ntohs(addr.sin_port) : 0;
}

}  // namespace

int FreeLoopbackPort() {
  static const bool below_ephemeral = EphemeralRangeIsAbove(kLast);
  if (below_ephemeral) {
    // Seeded at each call: a forked child must not repeat its parent's picks.
    std::mt19937 rng{std::random_device{}() ^ static_cast<unsigned>(getpid())};
    std::uniform_int_distribution<int> pick(kFirst, kLast);
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (int port = BindAndRelease(pick(rng)); port != 0) return port;
    }
  }
  return BindAndRelease(0);
}

}  // namespace dflow
