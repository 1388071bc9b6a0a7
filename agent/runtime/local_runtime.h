// LocalRuntime: runs releases as native supervised processes on this host, no
// containers. Everything lives under one data directory:
//   releases/<app>/v<N>/     unpacked tree + release.json (see release_store.h)
//   instances/<id>.json      pidfiles (see instance_store.h)
//   logs/<app>/<id>.log      instance output (see instance_logs.h)
//
// Instances. Each is one process started with posix_spawn in its own session
// (so its own process group, and it outlives the agent), cwd = the release
// tree, argv from the Procfile command (procfile.h: no shell), env = a few
// variables of the agent's own (PATH, HOME, LANG, LC_ALL, TZ, USER, LOGNAME,
// TMPDIR) + the release env + PORT + DFLOW_APP, DFLOW_RELEASE ("v3"),
// DFLOW_PROCESS, DFLOW_INSTANCE_ID, and HOST = instance_host (the server's
// address) unless the release's config sets HOST. PORT is the spec's, or when it is 0 the
// next port of [port_min, port_max] that no other instance holds and that is
// free to bind (the search starts at a point fixed by the server name, so two
// agents on one host rarely pick the same port at once); an instance keeps its
// port across restarts. stdout/stderr go straight to its
// log file. A release's memory_bytes becomes the process's RLIMIT_DATA (set
// with prlimit(2) right after the spawn; heap and other private writable
// memory, per process, not summed over its children); cpus is recorded only.
//
// Supervision. A background thread passes every `supervise_interval`: it
// reaps/polls processes, probes starting ones, restarts crashed ones and
// stamps/rotates logs. An instance that dies after having passed its health
// check is restarted after a backoff (backoff_initial, doubling up to
// backoff_max; reset after it has stayed up backoff_reset_after), in state
// kBackoff meanwhile, counting restarts. One that dies before it ever passed is
// kFailed and stays down. A restarted instance that does not pass its health
// check within restart_health_timeout is killed and backs off again.
//
// Re-adoption. Open() reads the pidfiles: an instance whose pid is alive with
// the recorded /proc start time and boot id is adopted (watched through /proc,
// since it is not our child), never started twice; a desired instance that is
// gone is restarted at once; a stopped one stays stopped. The destructor stops
// supervising and leaves every instance running.
//
// Time: backoff and restart deadlines use the injected Clock (tests advance a
// FakeClock and call SuperviseOnce()); waits on real processes (health
// deadlines, stop grace, command deadlines) use the steady clock.
//
// Thread-safe.
#ifndef DFLOW_AGENT_RUNTIME_LOCAL_RUNTIME_H_
#define DFLOW_AGENT_RUNTIME_LOCAL_RUNTIME_H_

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/runtime/instance_logs.h"
#include "agent/runtime/instance_store.h"
#include "agent/runtime/release_store.h"
#include "agent/runtime/runtime.h"

namespace dflow {
class Clock;
class ProcessRunner;
}  // namespace dflow

namespace dflow::agent {

struct LocalRuntimeOptions {
  std::string data_dir;
  std::string server_name = "local";  // names this host in error messages
  const Clock* clock = nullptr;       // default: the system clock
  ProcessRunner* runner = nullptr;    // for tar, release commands, one-offs; default: posix
  std::string probe_host = "127.0.0.1";
  // Given to instances as HOST (the address to listen on) unless their config
  // sets HOST; empty: not set. The agent sets it (and probe_host) to the
  // server's address so the routers of other servers reach the instances.
  std::string instance_host{};
  int port_min = 20000;
  int port_max = 29999;
  std::chrono::milliseconds supervise_interval{250};
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds backoff_reset_after{60000};
  std::chrono::milliseconds restart_health_timeout{60000};
  std::chrono::milliseconds destroy_grace{10000};
  int64_t log_max_bytes = 10 << 20;
  int log_keep = 3;               // rotated files kept per instance
  int keep_stopped_per_app = 20;  // older stopped/failed instances are forgotten, logs too
};

class LocalRuntime final : public Runtime {
 public:
  // Creates the directories, re-adopts instances and starts supervising.
  static absl::StatusOr<std::unique_ptr<LocalRuntime>> Open(LocalRuntimeOptions options);
  ~LocalRuntime() override;
  LocalRuntime(const LocalRuntime&) = delete;
  LocalRuntime& operator=(const LocalRuntime&) = delete;

  std::string Kind() const override { return "local"; }
  absl::Status PrepareRelease(const ReleaseSpec& spec, const OutputFn& out) override;
  absl::StatusOr<std::map<std::string, std::string>> Processes(const std::string& app,
                                                               int64_t version) override;
  absl::Status RunReleaseCommand(const std::string& app, int64_t version,
                                 std::chrono::milliseconds deadline, const OutputFn& out) override;
  absl::StatusOr<InstanceStatus> StartInstance(const InstanceSpec& spec,
                                               std::chrono::milliseconds health_deadline) override;
  absl::Status StopInstance(const std::string& id, std::chrono::milliseconds grace) override;
  std::vector<InstanceStatus> ListInstances() override;
  absl::StatusOr<std::vector<LogLine>> Logs(const std::string& app, const std::string& process,
                                            int n) override;
  absl::StatusOr<int> RunOneOff(const std::string& app, int64_t version,
                                const std::vector<std::string>& argv,
                                std::chrono::milliseconds deadline, const OutputFn& out) override;
  absl::Status DestroyApp(const std::string& app) override;

  // One supervision pass, now (the background thread runs them too).
  void SuperviseOnce();
  // Instances whose process is alive.
  int LiveInstanceCount();

 private:
  struct Instance {
    InstanceRecord rec;
    std::string health_path;
    bool alive = false;              // its process existed at the last check
    std::string exit_reason;         // how it ended, once !alive
    uint64_t generation = 0;         // bumped at every spawn
    int waiters = 0;                 // StartInstance calls waiting for its health
    int64_t next_restart_ms = 0;     // monotonic, clock_
    int64_t health_deadline_ms = 0;  // monotonic, clock_; for supervisor restarts
    int64_t running_since_ms = 0;
    int consecutive_crashes = 0;
    std::string last_probe_error;
  };
  using InstancePtr = std::shared_ptr<Instance>;
  using Lock = std::unique_lock<std::mutex>;

  explicit LocalRuntime(LocalRuntimeOptions options);
  void Adopt();
  void SupervisorLoop();

  // The rest run with mu_ held.
  bool AliveLocked(Instance& inst);
  void SignalGroupLocked(Instance& inst, int sig);
  void SaveLocked(const Instance& inst);
  absl::Status SpawnLocked(Instance& inst, const Release& release);
  void CrashedLocked(Instance& inst, int64_t now_ms);
  void RestartLocked(Instance& inst, int64_t now_ms);
  void MarkHealthyLocked(Instance& inst);
  absl::StatusOr<int> PickPortLocked(const std::string& id);
  // Stops them together (SIGTERM, SIGKILL after `grace`); they end in `final_state`.
  void StopLocked(Lock& lock, const std::vector<InstancePtr>& insts,
                  std::chrono::milliseconds grace, InstanceState final_state);
  absl::Status WaitHealthyLocked(Lock& lock, const InstancePtr& inst,
                                 std::chrono::steady_clock::time_point deadline,
                                 std::chrono::milliseconds timeout);
  void PruneLocked(const std::string& app);
  InstanceStatus StatusLocked(const Instance& inst) const;

  std::map<std::string, std::string> CommandEnv(const Release& release) const;
  std::string LastLogLines(const std::string& app, const std::string& id, int n) const;
  std::string Describe(const InstanceSpec& spec) const;

  LocalRuntimeOptions options_;
  const Clock* clock_;
  std::unique_ptr<ProcessRunner> owned_runner_;
  ProcessRunner* runner_;
  ReleaseStore releases_;
  InstanceStore pidfiles_;
  InstanceLogs logs_;

  std::mutex mu_;
  std::condition_variable cv_;  // any instance changed state
  std::map<std::string, InstancePtr> instances_;
  int next_port_;

  std::mutex supervise_mu_;  // one pass at a time; guards log_watches_
  std::map<std::string, InstanceLogs::Watch> log_watches_;

  std::mutex release_command_mu_;
  std::map<std::string, std::shared_ptr<std::mutex>> release_command_locks_;

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread supervisor_;
};

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_RUNTIME_LOCAL_RUNTIME_H_
