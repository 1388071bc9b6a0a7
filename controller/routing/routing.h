// The routing table: every app's hostnames (APP.<base domain> and its custom
// domains) and its healthy web instances on every reachable server, pushed to
// the router of every server (agent SetRoutes) on each change and again every
// `resend`, so a restarted agent converges.
//
// An instance is routed while its record is `running` and its server's lease
// is alive: a stopping (draining) instance, or one on an unreachable server,
// leaves every router at the next push (within `poll`).
//
// A router whose nginx refuses an app's certificate (nginx -t names the file)
// keeps its old config, a "router.refused" event says why, and from then on
// it is sent the table with the certificate it last accepted for that app
// instead (none: the app is HTTP only there) until the certificate changes,
// so the rest of the routing still converges.
//
// Thread-safe.
#ifndef DFLOW_CONTROLLER_ROUTING_ROUTING_H_
#define DFLOW_CONTROLLER_ROUTING_ROUTING_H_

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/agents/agent_api.h"
#include "controller/agents/fleet.h"
#include "controller/store/store.h"

namespace dflow::routing {

inline constexpr const char* kBaseDomainSetting = "base_domain";
inline constexpr const char* kDefaultBaseDomain = "localhost";

struct RoutingOptions {
  std::chrono::milliseconds poll{200};     // the table is rebuilt this often
  std::chrono::milliseconds resend{2000};  // and sent to every router at least this often
};

class RoutePusher {
 public:
  RoutePusher(store::Store* store, agents::Fleet* fleet, agents::AgentApi* agents,
              RoutingOptions options);
  ~RoutePusher();

  void Start();
  void Stop();

  // Builds the table now and sends it to every reachable server, returning
  // when each has answered (used before an instance is stopped: drain).
  // Returns the routers that refused it: server -> why (nginx's message).
  // `retest_app`: the certificates of that app that routers refused before
  // are sent to them again rather than left out, so their answer is fresh
  // (`certs add`: the background push may have been first with the new one).
  std::map<std::string, std::string> PushNow(const std::string& retest_app = "");

  absl::StatusOr<agents::RoutesSpec> Build();

  // `http://APP.BASE[:PORT]`, the port of the routers when it is not 80 (the
  // first server's router when they differ).
  std::string AppUrl(const std::string& app);

  // One URL per hostname of the app (APP.BASE first, then its custom domains):
  // `https://HOST[:PORT]` (the routers' --router-tls-listen port when not 443)
  // for a hostname the app's stored certificate covers while a router serves
  // HTTPS, `http://HOST[:PORT]` for the others.
  std::vector<std::string> AppUrls(const std::string& app);

  // "SERVER HOST:PORT" of every router that serves HTTPS (--router-tls-listen),
  // as they last answered.
  std::vector<std::string> HttpsRouters();

 private:
  void Loop();
  std::map<std::string, std::string> Push(bool force, const std::string& retest_app = "");

  store::Store* store_;
  agents::Fleet* fleet_;
  agents::AgentApi* agents_;
  RoutingOptions options_;

  std::mutex push_mu_;  // one push at a time
  std::string last_key_;
  int64_t last_push_ms_ = 0;
  int64_t version_ = 0;

  std::mutex mu_;
  std::map<std::string, agents::RoutesResult> routers_;  // by server, last answer
  std::map<std::string, std::string> errors_;            // by server, last error
  // By server: certificates its nginx refused (push_mu_), left out of its table.
  std::map<std::string, std::set<std::string>> dropped_certs_;
  // By server and app: the certificate its router last accepted (push_mu_).
  std::map<std::string, std::map<std::string, agents::AppRouteSpec>> accepted_certs_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread loop_;
};

// True when a router's error names one of `app`'s certificate files
// (ROUTER/certs/<app>-<16 hex>.crt|.key, agent/router/router.cc).
bool ErrorNamesCertOf(const std::string& message, const std::string& app);

// The app's hostnames: APP.BASE first, then its custom domains.
absl::StatusOr<std::vector<std::string>> AppHostnames(store::Store* store, const std::string& app);

// Validates and stores the base domain (`dflow-controller init --domain`).
absl::Status SaveBaseDomain(store::Store* store, const std::string& domain);
// The same on the store of a controller data dir (after Init).
absl::Status SaveBaseDomainIn(const std::string& data_dir, const std::string& domain);

}  // namespace dflow::routing

#endif  // DFLOW_CONTROLLER_ROUTING_ROUTING_H_
