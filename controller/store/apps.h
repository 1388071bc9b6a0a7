// The store's records for apps, releases, instances and durable operations.
#ifndef DFLOW_CONTROLLER_STORE_APPS_H_
#define DFLOW_CONTROLLER_STORE_APPS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dflow::store {

struct App {
  std::string name;
  std::map<std::string, std::string> constraints;
  int64_t memory_bytes = 0;
  double cpus = 0;
  std::string health_path;
  // How long a new instance may take to pass its health check; 0: the
  // controller's --health-timeout. A theme's healthcheck.timeout sets it.
  int64_t health_timeout_ms = 0;
  std::string strategy = "spread";
  std::map<std::string, int> scale;           // desired instances per process type
  std::map<std::string, std::string> config;  // desired config (the next release's)
  int64_t current_release = 0;                // 0: never deployed
  std::string pinned_server;
  int64_t created_at_ms = 0;
};

struct Release {
  std::string app;
  int64_t version = 0;
  std::string kind;  // deploy | config | rollback
  std::string description;
  std::string source_digest;
  std::string procfile;
  std::map<std::string, std::string> config;
  std::string status = "pending";  // pending | current | previous | failed
  std::string created_by;
  int64_t created_at_ms = 0;
  std::string image{};  // a pinned image ("repo:tag") deployed instead of a source archive
  // The git commit the source is (full SHA) and who pushed it ("key NAME",
  // "user NAME" for a local push, "github delivery ID"); empty when the source
  // did not come from git. Config and rollback releases carry their source's.
  std::string commit_sha{};
  std::string pushed_by{};
};

// Instance states as the controller records them.
inline constexpr const char* kInstancePending = "pending";    // placed, not started yet
inline constexpr const char* kInstanceRunning = "running";    // healthy on its server
inline constexpr const char* kInstanceCrashed = "crashed";    // its server reports it restarting
inline constexpr const char* kInstanceStopping = "stopping";  // to be stopped
// Out of the routers, finishing its requests before its op stops it (the
// reconciler leaves it to the op).
inline constexpr const char* kInstanceDraining = "draining";
inline constexpr const char* kInstanceLost = "lost";      // its server was gone past the grace
inline constexpr const char* kInstanceFailed = "failed";  // its server gave up restarting it

struct Instance {
  std::string id;
  std::string app;
  std::string process;
  int64_t release = 0;
  std::string server;
  int port = 0;
  std::string state = kInstancePending;
  int64_t started_at_ms = 0;
  int64_t op_id = 0;
};

struct OpStep {
  int64_t op_id = 0;
  int index = 0;
  std::string kind;
  std::string description;
  std::string params = "{}";      // JSON
  std::string state = "pending";  // pending | running | done | failed | skipped | compensated
  std::string result = "{}";      // JSON
  std::string output;
  std::string error;
  int64_t started_at_ms = 0;
  int64_t ended_at_ms = 0;
};

struct Op {
  int64_t id = 0;
  std::string app;
  std::string kind;  // deploy | scale | config | rollback | restart | destroy | reschedule
  std::string state =
      "pending";  // pending | running | succeeded | failed | cancelled | rolled_back
  std::string params = "{}";
  int64_t release = 0;
  std::string description;
  std::string error;
  bool cancel_requested = false;
  int64_t created_at_ms = 0;
  int64_t started_at_ms = 0;
  int64_t ended_at_ms = 0;
  std::vector<OpStep> steps;
};

bool OpEnded(const std::string& state);

// Fills in a release reserved by CreateOp once its op is planned (a config
// change or a rollback takes its source from whatever is current by then).
struct ReleaseUpdate {
  int64_t version = 0;
  std::string description;
  std::string source_digest;
  std::string procfile;
  std::map<std::string, std::string> config;
  std::string image{};
  std::string commit_sha{};
  std::string pushed_by{};
};

// A removal a server missed because it was unreachable (the app's destroy, or
// a Dokku setting removed from the app), finished by the reconciler when the
// server is reachable again (controller/ops/reconciler_removals.cc).
struct PendingRemoval {
  int64_t id = 0;
  std::string server;
  std::string app;
  std::string kind;           // "destroy" | "dokku"
  std::string params = "{}";  // dokku: the removal step's parameters (action, host, …)
  std::string what;           // words for people: "remove app shop", "remove domain x of shop"
  std::string reason;         // "destroyed while local-2 was unreachable"
  int64_t created_at_ms = 0;
  int64_t op_id = 0;  // the op that missed it, and its step (one record per step and server)
  int step_index = 0;
};

// What finishing a step changes, committed in the same transaction as the step.
struct StepEffects {
  std::vector<Instance> put_instances;                 // insert or replace
  std::map<std::string, std::string> instance_states;  // id -> state
  std::map<std::string, int> instance_ports;           // id -> port
  std::vector<std::string> delete_instances;
  std::optional<int64_t> current_release;
  std::optional<std::map<std::string, int>> scale;
  std::optional<std::map<std::string, std::string>> config;
  std::map<int64_t, std::string> release_status;  // version -> status
  std::optional<std::string> pinned_server;
  std::optional<ReleaseUpdate> release_update;
  bool delete_app = false;
  std::vector<OpStep> append_steps;  // indexes assigned by the store
  // Removals a server missed (op_id and created_at_ms are set by the store; a
  // step committed twice records one), each with an "app.cleanup_pending" event.
  std::vector<PendingRemoval> add_removals;
  // Removals finished by this step: record id -> the "app.cleanup_done" event's message.
  std::map<int64_t, std::string> finish_removals;
  std::string event_kind;  // optional event to append
  std::string event_message;
};

}  // namespace dflow::store

#endif  // DFLOW_CONTROLLER_STORE_APPS_H_
