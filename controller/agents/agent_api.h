// The controller's view of one agent's API, by server name. An interface so
// the operation engine can be tested with a fake; GrpcAgentApi is the real one
// (mTLS with the controller's certificate, a cached channel per server).
//
// Errors name the server: "server local-2 (127.0.0.1:7502) is unreachable: …".
#ifndef DFLOW_CONTROLLER_AGENTS_AGENT_API_H_
#define DFLOW_CONTROLLER_AGENTS_AGENT_API_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace dflow::agents {

struct AgentInstance {
  std::string id;
  std::string app;
  std::string process;
  int64_t release = 0;
  int port = 0;
  std::string state;  // starting | running | backoff | stopping | stopped | failed
  int64_t started_at_ms = 0;
  int restarts = 0;
  std::string last_error;
  std::string output{};  // StartInstance: what starting it printed (a Dokku build)
};

struct AgentLogLine {
  int64_t time_ms = 0;
  std::string instance;
  std::string process;
  std::string text;
};

struct PrepareSpec {
  std::string app;
  int64_t version = 0;
  std::string digest;
  std::map<std::string, std::string> env;
  std::string health_path;
  int64_t memory_bytes = 0;
  double cpus = 0;
  std::string image{};  // a pinned image instead of the archive (digest then empty)
};

// One of the changes Dokku adds (the agent's AddDomain … DestroyService RPCs).
struct DokkuChange {
  enum class Kind {
    kAddDomain,
    kRemoveDomain,
    kSetPorts,
    kMountStorage,
    kUnmountStorage,
    kSetCheck,
    kLinkService,
    kUnlinkService,
    kDestroyService,
    kAddCert,  // the app's TLS certificate on Dokku's proxy
    kRemoveCert,
    kUnsetCheck,  // key only
  };
  Kind kind = Kind::kSetPorts;
  std::string app{};
  std::string host{};                // domains
  std::vector<std::string> ports{};  // "http:80:5000"
  std::string source{};              // storage
  std::string container_dir{};
  std::string chown{};  // kMountStorage: a named storage's owner
  std::string key{};    // checks
  std::string value{};
  std::string service_kind{};  // postgres | redis
  std::string service{};
  std::string split_prefix{};
  std::string cert_pem{};  // kAddCert
  std::string key_pem{};   // kAddCert: a secret
};

struct ServiceResult {
  std::string dsn{};
  int exposed_port = 0;
  std::string output{};
};

struct StartSpec {
  std::string id;
  std::string app;
  std::string process;
  int64_t release = 0;
  std::chrono::milliseconds health_timeout{30000};
  // When set, what starting it prints (a Dokku build) as it happens.
  std::function<void(const std::string&)> progress{};
};

// The routing table pushed to every agent's router (agent/router/route_table.h).
struct RouteBackendSpec {
  std::string host;
  int port = 0;
  std::string instance;
  std::string server;
};

struct AppRouteSpec {
  std::string app;
  std::vector<std::string> hosts;
  std::vector<RouteBackendSpec> backends;
  std::string cert_pem;
  std::string key_pem;
};

struct RoutesSpec {
  int64_t version = 0;
  std::vector<AppRouteSpec> apps;
};

struct RoutesResult {
  int64_t version = 0;
  std::string listen;  // the router's HOST:PORT
  std::string tls_listen;
};

class AgentApi {
 public:
  virtual ~AgentApi() = default;
  // Makes sure the server holds the archive (streams it when missing).
  virtual absl::Status EnsureArchive(const std::string& server, const std::string& digest,
                                     const std::string& local_path) = 0;
  virtual absl::StatusOr<std::map<std::string, std::string>> PrepareRelease(
      const std::string& server, const std::string& key, const PrepareSpec& spec) = 0;
  virtual absl::StatusOr<std::string> RunReleaseCommand(const std::string& server,
                                                        const std::string& key,
                                                        const std::string& app, int64_t version,
                                                        std::chrono::milliseconds timeout) = 0;
  virtual absl::StatusOr<AgentInstance> StartInstance(const std::string& server,
                                                      const std::string& key,
                                                      const StartSpec& spec) = 0;
  virtual absl::Status StopInstance(const std::string& server, const std::string& key,
                                    const std::string& id, std::chrono::milliseconds grace) = 0;
  virtual absl::StatusOr<std::vector<AgentInstance>> ListInstances(const std::string& server) = 0;
  virtual absl::StatusOr<std::vector<AgentLogLine>> Logs(const std::string& server,
                                                         const std::string& app,
                                                         const std::string& process, int lines) = 0;
  // Streams output to `out`; returns the exit code.
  virtual absl::StatusOr<int> RunOneOff(const std::string& server, const std::string& app,
                                        int64_t version, const std::vector<std::string>& argv,
                                        std::chrono::milliseconds timeout,
                                        const std::function<void(const std::string&)>& out) = 0;
  virtual absl::Status DestroyApp(const std::string& server, const std::string& key,
                                  const std::string& app) = 0;
  // What Dokku adds; returns Dokku's output. FailedPrecondition from a server
  // on another runtime.
  virtual absl::StatusOr<std::string> ChangeDokku(const std::string& server, const std::string& key,
                                                  const DokkuChange& change) {
    return absl::UnimplementedError(absl::StrCat("no Dokku changes on server ", server));
  }
  virtual absl::StatusOr<ServiceResult> CreateService(const std::string& server,
                                                      const std::string& key,
                                                      const std::string& kind,
                                                      const std::string& name, bool expose) {
    return absl::UnimplementedError(absl::StrCat("no services on server ", server));
  }
  // An existing service's URL (with its password) and exposed port, read from
  // the server (the store keeps no password). NotFound: Dokku has no such service.
  virtual absl::StatusOr<ServiceResult> GetService(const std::string& server,
                                                   const std::string& kind,
                                                   const std::string& name) {
    return absl::UnimplementedError(absl::StrCat("no services on server ", server));
  }
  // Replaces the server's routing table. FailedPrecondition: it runs no router.
  virtual absl::StatusOr<RoutesResult> SetRoutes(const std::string& server,
                                                 const RoutesSpec& routes) {
    return absl::UnimplementedError(absl::StrCat("no routing to server ", server));
  }
};

}  // namespace dflow::agents

#endif  // DFLOW_CONTROLLER_AGENTS_AGENT_API_H_
