// What the controller's RPC services share: the store, the fleet, the CA, the
// op engine and the agents, and how the controller presents itself. Owned by the Controller;
// services hold a pointer.
#ifndef DFLOW_CONTROLLER_API_CONTEXT_H_
#define DFLOW_CONTROLLER_API_CONTEXT_H_

#include <cstdint>
#include <string>

#include "common/tls.h"
#include "controller/agents/agent_api.h"
#include "controller/agents/fleet.h"
#include "controller/store/store.h"

namespace dflow::ops {
class Engine;
}
namespace dflow::git {
class Repos;
}
namespace dflow::routing {
class RoutePusher;
}

namespace dflow::api {

struct ControllerContext {
  store::Store* store = nullptr;
  agents::Fleet* fleet = nullptr;
  Clock* clock = nullptr;
  tls::KeyAndCert ca;
  std::string ca_fingerprint;
  std::string advertise_address;  // host:port agents dial
  std::string data_dir;
  int64_t started_at_ms = 0;
  // Apps (set when the Apps service runs).
  ops::Engine* engine = nullptr;
  agents::AgentApi* agents = nullptr;
  std::string archive_dir;                        // release archives (BlobStore)
  int64_t max_upload_bytes = int64_t{200} << 20;  // --max-upload
  git::Repos* repos = nullptr;                    // the apps' git repositories
  routing::RoutePusher* routes = nullptr;         // the routing table (app URLs, domains)
};

}  // namespace dflow::api

#endif  // DFLOW_CONTROLLER_API_CONTEXT_H_
