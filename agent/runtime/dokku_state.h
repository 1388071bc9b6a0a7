// What the DokkuRuntime remembers about each app on its host, in one JSON file
// (DATA/dokku/state.json, written atomically after every change): the
// releases prepared here, the instances the controller started here, and what
// was last deployed to Dokku (release, tree, config, resources). Dokku itself
// stays the authority on what runs; this is how the agent maps it back to the
// controller's instances and knows what it set.
//
// Not thread-safe: DokkuRuntime serializes access.
#ifndef DFLOW_AGENT_RUNTIME_DOKKU_STATE_H_
#define DFLOW_AGENT_RUNTIME_DOKKU_STATE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"

namespace dflow::agent {

struct DokkuRelease {
  int64_t version = 0;
  std::string digest;  // SHA-256 of the source archive
  std::string tree;    // the unpacked source, DATA/dokku/releases/APP/vN
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> processes;  // the Procfile
  std::string app_json;                          // the archive's own app.json ("" if none)
  std::string health_path;
  std::string image{};  // a pinned image deployed with git:from-image ("": the archive)
  int64_t memory_bytes = 0;
  double cpus = 0;
};

struct DokkuInstance {
  std::string id;
  std::string process;
  int64_t release = 0;
  int64_t started_at_ms = 0;
};

struct DokkuApp {
  std::map<int64_t, DokkuRelease> releases;
  std::map<std::string, DokkuInstance> instances;
  int64_t deployed_release = 0;          // 0: nothing deployed through this agent
  std::map<std::string, int> formation;  // the scale last applied to Dokku
  std::string deployed_tree;             // identity of the tree last sent to Dokku
  std::map<std::string, std::string> deployed_env;
  std::set<std::string> managed_keys;  // config keys dflow set (others are Dokku's or a service's)
  std::string resources;               // the resource settings last applied
  std::map<std::string, std::string> checks;  // wait, timeout, attempts, wait-to-retire
  int port = 0;                               // the proxy's http host port
};

// The newest release any instance of `a` belongs to (0: none).
int64_t NewestInstanceRelease(const DokkuApp& a);

class DokkuState {
 public:
  // Reads `path` (a missing file is an empty state).
  static absl::StatusOr<DokkuState> Load(const std::string& path);
  absl::Status Save() const;

  std::map<std::string, DokkuApp>& apps() { return apps_; }
  const std::map<std::string, DokkuApp>& apps() const { return apps_; }

 private:
  std::string path_;
  std::map<std::string, DokkuApp> apps_;
};

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_RUNTIME_DOKKU_STATE_H_
