// The agent's router: nginx (Debian's package) run as a supervised child from
// its own prefix, DATA/router/:
//   nginx.conf   the config being served      nginx.pid  the master's pid
//   next.conf    a candidate being checked    logs/error.log
//   certs/       app certificates by content hash (0600)   tmp/  temp paths
//
// Apply() renders a table to next.conf, checks it with `nginx -t` (argv, no
// shell) and only then renames it over nginx.conf and reloads nginx (SIGHUP to
// the master, as `nginx -s reload` does: old workers finish their requests).
// A table or config that fails is never loaded: the old one keeps serving and
// the error is kept as last_error (and returned). A master that dies is started
// again with the current config; one left by an earlier agent is stopped first.
//
// Thread-safe.
#ifndef DFLOW_AGENT_ROUTER_ROUTER_H_
#define DFLOW_AGENT_ROUTER_ROUTER_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "agent/router/route_table.h"

namespace dflow::agent {

struct RouterOptions {
  std::string dir{};     // the prefix, created 0700
  std::string listen{};  // HOST:PORT
  std::string tls_listen{};
  std::string nginx = "nginx";  // looked up in PATH, then /usr/sbin
  int worker_processes = 1;
};

struct RouterState {
  int64_t version = 0;  // of the table being served (0: none yet)
  std::string last_error;
  int pid = 0;
  int restarts = 0;
};

class Router {
 public:
  // Starts nginx with an empty table and waits until it accepts connections.
  static absl::StatusOr<std::unique_ptr<Router>> Start(RouterOptions options);
  ~Router();  // stops nginx (SIGQUIT, then SIGKILL)

  absl::Status Apply(const RouteTable& table);
  RouterState state() const;
  const RouterOptions& options() const { return options_; }

 private:
  explicit Router(RouterOptions options) : options_(std::move(options)) {}
  // Writes the config (and certificate files); returns its marker.
  absl::StatusOr<std::string> Render(const RouteTable& table, const std::string& path);
  absl::Status Check(const std::string& conf);
  absl::Status Spawn();  // mu_ held
  void Supervise();
  std::string CertPath(const AppRoute& app, bool key) const;

  RouterOptions options_;
  std::string nginx_;
  mutable std::mutex mu_;
  std::mutex apply_mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  RouterState state_;
  std::string served_marker_;  // of the config nginx serves
  std::thread supervisor_;
};

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_ROUTER_ROUTER_H_
