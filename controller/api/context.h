// What the controller's RPC services share: the store, the fleet, the CA and
// how the controller presents itself. Owned by the Controller; services hold a
// pointer.
#ifndef DFLOW_CONTROLLER_API_CONTEXT_H_
#define DFLOW_CONTROLLER_API_CONTEXT_H_

#include <cstdint>
#include <string>

#include "common/tls.h"
#include "controller/agents/fleet.h"
#include "controller/store/store.h"

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
};

}  // namespace dflow::api

#endif  // DFLOW_CONTROLLER_API_CONTEXT_H_
