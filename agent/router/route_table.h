// The routing table the controller sends every agent, and its rendering as an
// nginx configuration (no gRPC in here).
//
// Every app gets one upstream with all its healthy instances on every server,
// and one server block matching its hostnames. A request for a host no app
// owns gets 404; an app without healthy instances answers 503. An app with a
// certificate also gets an HTTPS server block (tls_listen) for the hostnames
// its certificate covers (common/x509.h); on that listener a name no
// certificate covers is refused at the TLS handshake.
#ifndef DFLOW_AGENT_ROUTER_ROUTE_TABLE_H_
#define DFLOW_AGENT_ROUTER_ROUTE_TABLE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace dflow::agent {

struct RouteBackend {
  std::string host{};  // IP address or hostname the instance listens on
  int port = 0;
  std::string instance{};  // for messages only
  std::string server{};
};

struct AppRoute {
  std::string app{};
  std::vector<std::string> hosts;  // app.BASE first, then custom domains
  std::vector<RouteBackend> backends{};
  std::string cert_pem{};  // empty: HTTP only
  std::string key_pem{};
};

struct RouteTable {
  int64_t version = 0;
  std::vector<AppRoute> apps{};
};

// Checks names, hostnames (unique across apps) and ports; the message says
// which app/host is wrong.
absl::Status ValidateRouteTable(const RouteTable& table);

struct RenderOptions {
  std::string prefix{};      // absolute router directory (pid, logs, temp paths)
  std::string listen{};      // HOST:PORT for HTTP
  std::string tls_listen{};  // HOST:PORT for HTTPS; empty: no TLS server blocks
  int worker_processes = 1;
  // Served at /.dflow/config for Host "dflow-router": tells when a reload took effect.
  std::string marker{};
  // Path of each app's certificate/key files, by app name (written by the router).
  std::function<std::string(const AppRoute&, bool key)> cert_path{};
};

// The whole nginx.conf for `table`.
std::string RenderNginxConfig(const RouteTable& table, const RenderOptions& options);

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_ROUTER_ROUTE_TABLE_H_
