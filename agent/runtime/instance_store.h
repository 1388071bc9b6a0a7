// Pidfiles: one JSON file per instance, DIR/<instance id>.json, written
// atomically (temp file, fsync, rename). They are how a restarted agent finds
// the instances it started: the pid together with the process start time and
// boot id identifies the process, so a recycled PID is never mistaken for it.
// Thread-compatible: callers serialize writes to the same instance.
#ifndef DFLOW_AGENT_RUNTIME_INSTANCE_STORE_H_
#define DFLOW_AGENT_RUNTIME_INSTANCE_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "agent/runtime/runtime.h"

namespace dflow::agent {

struct InstanceRecord {
  InstanceSpec spec;  // spec.port is the port in use (chosen by the runtime when asked 0)
  int pid = 0;        // 0: no process (not started yet, or gone)
  int pgid = 0;
  uint64_t start_ticks = 0;  // /proc/<pid>/stat field 22
  std::string boot_id;
  int64_t started_at_ms = 0;
  bool desired_running = true;  // false once stopped: never restarted
  bool healthy_once = false;    // passed its health check at least once
  int restarts = 0;
  InstanceState state = InstanceState::kStarting;  // as last recorded
  std::string last_error;
};

// OK when `id` can name an instance (and so a file): 1-128 of [A-Za-z0-9_.-],
// starting with a letter or digit.
absl::Status ValidateInstanceId(absl::string_view id);

class InstanceStore {
 public:
  explicit InstanceStore(std::string dir) : dir_(std::move(dir)) {}

  absl::Status Save(const InstanceRecord& record) const;
  absl::Status Remove(const std::string& id) const;
  // Every readable pidfile; unreadable ones are described in `problems`.
  std::vector<InstanceRecord> LoadAll(std::vector<std::string>* problems) const;

 private:
  std::string dir_;
};

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_RUNTIME_INSTANCE_STORE_H_
