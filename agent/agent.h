// The dflow-agent process: `Join` enrols this host with a controller, `Run`
// serves the agent API with mTLS and heartbeats to the controller.
//
// Data directory layout (0700):
//   lock         flock held while an agent runs
//   agent.json   name, controller address, own address, labels, runtime
//   key.pem      private key (0600)
//   cert.pem     certificate issued by the controller's CA (0600)
//   ca.pem       the CA certificate, trusted because its fingerprint matched the token
//   archives/    release source archives by SHA-256 (common/blob_store.h)
//   releases/ instances/ logs/   the LocalRuntime's (agent/runtime/local_runtime.h)
//   router/      the router's nginx prefix (agent/router/router.h)
//
// App instances run in their own sessions and outlive the agent: the systemd
// unit must use KillMode=process so that stopping the agent does not kill them.
#ifndef DFLOW_AGENT_AGENT_H_
#define DFLOW_AGENT_AGENT_H_

#include <map>
#include <string>

#include "absl/status/status.h"

namespace dflow::agent {

struct JoinOptions {
  std::string token;
  std::string name;
  std::string listen;
  std::string advertise;  // empty: same as listen
  std::string data_dir;
  std::map<std::string, std::string> labels;
  std::string runtime = "local";
};

absl::Status Join(const JoinOptions& options);

struct RunOptions {
  std::string data_dir;
  // Saved in agent.json when given, so later runs keep them; "off" removes.
  std::string router_listen;
  std::string router_tls_listen;
  // Also saved in agent.json when given: "local" or "dokku", and the dokku program.
  std::string runtime;
  std::string dokku_bin;
};

// Serves until SIGTERM/SIGINT. Returns PermissionDenied when the controller
// refuses this agent's certificate (it was removed).
absl::Status Run(const RunOptions& options);

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_AGENT_H_
