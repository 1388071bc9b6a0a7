#include "agent/runtime/dokku_state.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/files.h"

namespace dflow::agent {
namespace {

using json = nlohmann::json;

json ToJson(const DokkuApp& a) {
  json releases = json::array(), instances = json::array();
  for (const auto& [v, r] : a.releases) {
    releases.push_back({{"version", r.version},
                        {"digest", r.digest},
                        {"tree", r.tree},
                        {"env", r.env},
                        {"processes", r.processes},
                        {"app_json", r.app_json},
                        {"health_path", r.health_path},
                        {"image", r.image},
                        {"memory_bytes", r.memory_bytes},
                        {"cpus", r.cpus}});
  }
  for (const auto& [id, i] : a.instances) {
    instances.push_back({{"id", i.id},
                         {"process", i.process},
                         {"release", i.release},
                         {"started_at_ms", i.started_at_ms}});
  }
  return {{"releases", releases},
          {"instances", instances},
          {"deployed_release", a.deployed_release},
          {"formation", a.formation},
          {"deployed_tree", a.deployed_tree},
          {"deployed_env", a.deployed_env},
          {"managed_keys", a.managed_keys},
          {"resources", a.resources},
          {"checks", a.checks},
          {"port", a.port}};
}

DokkuApp FromJson(const json& j) {
  DokkuApp a;
  for (const auto& r : j.value("releases", json::array())) {
    DokkuRelease rel;
    rel.version = r.value("version", int64_t{0});
    rel.digest = r.value("digest", "");
    rel.tree = r.value("tree", "");
    rel.env = r.value("env", std::map<std::string, std::string>{});
    rel.processes = r.value("processes", std::map<std::string, std::string>{});
    rel.app_json = r.value("app_json", "");
    rel.health_path = r.value("health_path", "");
    rel.image = r.value("image", "");
    rel.memory_bytes = r.value("memory_bytes", int64_t{0});
    rel.cpus = r.value("cpus", 0.0);
    a.releases[rel.version] = rel;
  }
  for (const auto& i : j.value("instances", json::array())) {
    DokkuInstance inst{i.value("id", ""), i.value("process", ""), i.value("release", int64_t{0}),
                       i.value("started_at_ms", int64_t{0})};
    a.instances[inst.id] = inst;
  }
  a.deployed_release = j.value("deployed_release", int64_t{0});
  a.formation = j.value("formation", std::map<std::string, int>{});
  a.deployed_tree = j.value("deployed_tree", "");
  a.deployed_env = j.value("deployed_env", std::map<std::string, std::string>{});
  a.managed_keys = j.value("managed_keys", std::set<std::string>{});
  a.resources = j.value("resources", "");
  a.checks = j.value("checks", std::map<std::string, std::string>{});
  a.port = j.value("port", 0);
  return a;
}

}  // namespace

absl::StatusOr<DokkuState> DokkuState::Load(const std::string& path) {
  DokkuState s;
  s.path_ = path;
  if (!FileExists(path)) return s;
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object()) {
    return absl::DataLossError(absl::StrCat(path,
                                            " is not valid JSON; move it aside to start "
                                            "afresh (Dokku keeps running what it runs)"));
  }
  // Named: ranging over items() of the temporary value() returns would read
  // it after it died (an agent restarted on a saved state crashed here).
  const json apps = j.value("apps", json::object());
  for (const auto& [app, a] : apps.items()) s.apps_[app] = FromJson(a);
  return s;
}

absl::Status DokkuState::Save() const {
  json apps = json::object();
  for (const auto& [name, a] : apps_) apps[name] = ToJson(a);
  return WriteFileAtomic(path_, json{{"apps", apps}}.dump(1) + "\n", 0600);
}

int64_t NewestInstanceRelease(const DokkuApp& a) {
  int64_t newest = 0;
  for (const auto& [id, i] : a.instances) newest = std::max(newest, i.release);
  return newest;
}

}  // namespace dflow::agent
