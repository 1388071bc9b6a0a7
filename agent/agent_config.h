// agent.json: what `dflow-agent join` learned and `run` needs.
#ifndef DFLOW_AGENT_AGENT_CONFIG_H_
#define DFLOW_AGENT_AGENT_CONFIG_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace dflow::agent {

struct AgentConfig {
  std::string name;
  std::string controller;  // host:port
  std::string listen;
  std::string advertise;
  std::string runtime;
  std::map<std::string, std::string> labels;
  std::string router_listen{};      // HOST:PORT of the router (nginx); empty: no router
  std::string router_tls_listen{};  // HOST:PORT for HTTPS; empty: none
  std::string dokku_bin{};          // the dokku program (runtime "dokku"); empty: "dokku"
  std::string dokku_version{};      // detected at start, reported in facts; not saved
};

// The address this server's instances listen on (HOST) and are announced at:
// the host of `advertise` (else `listen`), "localhost" as 127.0.0.1; empty
// when that is a wildcard (0.0.0.0, ::), leaving the app's own default.
std::string InstanceHost(const AgentConfig& config);

absl::StatusOr<AgentConfig> LoadConfig(const std::string& data_dir);
absl::Status SaveConfig(const std::string& data_dir, const AgentConfig& config);

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_AGENT_CONFIG_H_
