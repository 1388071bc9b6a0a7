#include "agent/agent_config.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/names.h"

namespace dflow::agent {

absl::StatusOr<AgentConfig> LoadConfig(const std::string& data_dir) {
  std::string path = data_dir + "/agent.json";
  auto text = ReadFile(path);
  if (!text.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("data dir ", data_dir,
                     " holds no agent.json: this host has not joined a controller; "
                     "run `dflow-agent join --token T --name NAME --listen HOST:PORT --data-dir ",
                     data_dir, "`"));
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object()) return absl::DataLossError(absl::StrCat(path, " is not valid JSON"));
  AgentConfig c;
  c.name = j.value("name", "");
  c.controller = j.value("controller", "");
  c.listen = j.value("listen", "");
  c.advertise = j.value("advertise", c.listen);
  c.runtime = j.value("runtime", "local");
  c.dokku_bin = j.value("dokku_bin", "");
  c.router_listen = j.value("router_listen", "");
  c.router_tls_listen = j.value("router_tls_listen", "");
  if (j.contains("labels") && j["labels"].is_object()) {
    c.labels = j["labels"].get<std::map<std::string, std::string>>();
  }
  if (c.name.empty() || c.controller.empty() || c.listen.empty()) {
    return absl::DataLossError(absl::StrCat(path, " lacks name, controller or listen"));
  }
  return c;
}

absl::Status SaveConfig(const std::string& data_dir, const AgentConfig& c) {
  nlohmann::json j{{"name", c.name},           {"controller", c.controller}, {"listen", c.listen},
                   {"advertise", c.advertise}, {"runtime", c.runtime},       {"labels", c.labels}};
  if (!c.dokku_bin.empty()) j["dokku_bin"] = c.dokku_bin;
  if (!c.router_listen.empty()) j["router_listen"] = c.router_listen;
  if (!c.router_tls_listen.empty()) j["router_tls_listen"] = c.router_tls_listen;
  return WriteFileAtomic(data_dir + "/agent.json", j.dump(2) + "\n", 0600);
}

std::string InstanceHost(const AgentConfig& config) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(config.advertise.empty() ? config.listen : config.advertise, &host, &port)) {
    return "";
  }
  if (host == "localhost") return "127.0.0.1";
  if (host == "0.0.0.0" || host == "::" || host.empty()) return "";
  return host;
}

}  // namespace dflow::agent
