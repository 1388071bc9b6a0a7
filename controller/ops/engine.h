// The operation engine: deploy, scale, config change, rollback, restart,
// destroy and reschedule as durable operations.
//
// Contract:
// - An op is a list of steps in the store. Submitting writes the op with one
//   `plan` step (and, for ops that make a release, that release, numbered in
//   queue order); running the plan appends the concrete steps in the same
//   transaction that commits it. Nothing is done that is not written first.
// - Each step is idempotent, has a deadline, and its agent RPC carries the key
//   "op<ID>-step<N>". A step's result is committed together with its effects
//   (Store::FinishStep). A controller killed anywhere resumes on restart: the
//   step that was running is run again, which is safe because every step asks
//   for a state ("instance X runs", "instance X is stopped"), not an action.
// - One op per app at a time, in submission order; ops of different apps run
//   in parallel. Planning (placement) is serialized so that two plans never
//   hand out the same capacity.
// - Failure, cancel or the op's deadline before its point of no return (the step that makes a
//   release current or commits a scale; for destroy, its plan) appends
//   compensating steps: new instances are stopped, the op's release is marked
//   failed; the op ends `rolled_back` (failure) or `cancelled`. A failure past
//   that point, or of a compensating step, ends it `failed`. Stop steps never
//   fail: an instance on an unreachable server is marked `stopping` and the
//   reconciler stops it when the server returns.
// - A rollback (`dflow rollback`) is a new release vN+1 of kind "rollback" that
//   copies vT's source, Procfile and config, so history stays linear.
// - Knows nothing of gRPC: it talks to agents through AgentApi.
//
// Thread-safe.
#ifndef DFLOW_CONTROLLER_OPS_ENGINE_H_
#define DFLOW_CONTROLLER_OPS_ENGINE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controller/agents/agent_api.h"
#include "controller/ops/crash_point.h"
#include "controller/store/store.h"

namespace dflow::ops {

struct EngineOptions {
  std::string archive_dir;  // the BlobStore directory of release archives
  std::chrono::milliseconds health_timeout{60000};
  std::chrono::milliseconds prepare_timeout{300000};
  std::chrono::milliseconds release_command_timeout{600000};
  std::chrono::milliseconds stop_grace{10000};
  // Drain: a running instance about to stop first leaves the routers
  // (`routes_changed` pushes the table without it and returns once the routers
  // answered), then keeps serving its in-flight requests this long.
  std::chrono::milliseconds wait_to_retire{0};
  std::function<void()> routes_changed;
  // Called once the step deleting an app has committed, before its op ends
  // (the controller removes the app's git repository).
  std::function<void(const std::string& app)> app_deleted;
  // Transient agent errors (Unavailable) are retried within a step this often.
  int max_attempts = 4;
  std::chrono::milliseconds retry_backoff{1000};
  int max_parallel_ops = 8;
  // An op still short of its point of no return this long after it started
  // (wall clock, from the stored start, so it holds across restarts) is
  // undone at its next step boundary, as if cancelled, and ends rolled_back.
  std::chrono::milliseconds op_deadline{3600 * 1000};
  // Fault injection (see crash_point.h). `crash_marker` is the file that makes
  // each point fire once; `crash_action` defaults to _exit(137). A test passes an
  // action that returns: the engine then acts as if dead (does nothing more).
  std::optional<CrashPoint> crash;
  std::string crash_marker;
  std::function<void()> crash_action;
};

// The queue of a service's ops: "service:NAME" (':' is in no app name).
inline std::string ServiceOpKey(const std::string& service) { return "service:" + service; }

struct OpRef {
  int64_t id = 0;
  int64_t queued_behind = 0;  // the active op of the same app that runs before it
  int64_t release = 0;        // the release it rolls out, if any
};

class Engine {
 public:
  Engine(store::Store* store, agents::AgentApi* agents, Clock* clock, EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Submissions. The API validates what users typed; these check what needs
  // the store (the app exists) and queue the op. A git deploy passes the
  // commit and who pushed it, kept on the release.
  absl::StatusOr<OpRef> Deploy(const std::string& app, const std::string& digest,
                               const std::string& procfile, const std::string& description,
                               const std::string& created_by, const std::string& commit_sha = "",
                               const std::string& pushed_by = "");
  // Deploys a pinned image ("repo:tag") as the next release: Dokku servers
  // only (git:from-image), one `web` process running the image's own command.
  absl::StatusOr<OpRef> DeployImage(const std::string& app, const std::string& image,
                                    const std::string& description, const std::string& created_by);
  // A change of what Dokku adds, already saved in the store by the caller,
  // applied to the Dokku servers the app runs on (plan_dokku.cc). `params`: a
  // JSON object with "action" (apply | unmount | link | unlink | add_domain |
  // remove_domain), its fields, "what" (words for the steps), optionally
  // "pin" (the server to pin the app to) and "only_server".
  absl::StatusOr<OpRef> ChangeDokku(const std::string& app, const std::string& params_json,
                                    const std::string& description);
  // Services on Dokku servers, as ops of kind "service" queued per service
  // (op.app is ServiceOpKey(name), never an app name): create on `server`
  // (chosen by the caller), destroy where it lives (service_steps.cc).
  absl::StatusOr<OpRef> CreateService(const std::string& kind, const std::string& name,
                                      const std::string& server, bool expose);
  absl::StatusOr<OpRef> DestroyService(const std::string& name);
  // `scale`: only the types to change.
  absl::StatusOr<OpRef> Scale(const std::string& app, const std::map<std::string, int>& scale);
  absl::StatusOr<OpRef> ChangeConfig(const std::string& app,
                                     const std::map<std::string, std::string>& set,
                                     const std::vector<std::string>& unset);
  // `version` 0: the newest release before the current one that served.
  absl::StatusOr<OpRef> Rollback(const std::string& app, int64_t version);
  absl::StatusOr<OpRef> Restart(const std::string& app);
  // Pins the app to `server` (its data lives there): its instances move there
  // and are never placed elsewhere; an empty server unpins.
  absl::StatusOr<OpRef> Pin(const std::string& app, const std::string& server);
  absl::StatusOr<OpRef> Destroy(const std::string& app);
  // Replaces the app's lost or failed instances (the reconciler's op).
  absl::StatusOr<OpRef> Reschedule(const std::string& app, const std::string& reason);

  // Cancels a queued op at once; asks a running one to stop at its next step
  // boundary and roll back. FailedPrecondition when the op has ended.
  absl::StatusOr<store::Op> Cancel(int64_t id);

  // Runs ops on background threads (resuming those a previous controller left)
  // until Stop(), which returns once every op has reached a step boundary.
  void Start();
  void Stop();
  // Runs every queued op on the calling thread until none is left (tests;
  // not together with Start()).
  void RunUntilIdle();

  // A counter bumped at every step or op change; WaitForChange blocks until it
  // differs from `seen` or `timeout` passes, and returns it.
  uint64_t Generation() const { return generation_.load(); }
  uint64_t WaitForChange(uint64_t seen, std::chrono::milliseconds timeout);

  // Output a running step printed so far (a Dokku build, streamed by the
  // agent), from line `from` on; kept until the op ends.
  std::vector<std::string> LiveOutput(int64_t op_id, int step, size_t from) const;

  // True once a test crash point fired with a returning crash_action.
  bool crashed() const { return crashed_.load(); }

 private:
  absl::StatusOr<OpRef> Submit(const std::string& app, const std::string& kind,
                               const std::string& params, std::optional<store::Release> release,
                               const std::string& description);
  void DispatchLoop();
  void WorkApp(const std::string& app);
  std::optional<int64_t> NextOpLocked(const std::string& app);
  // Runs the op until it ends, or returns early when stopping or crashed.
  void RunOp(int64_t id);
  // Runs one step and commits it; false when the op must not go on now.
  bool RunStep(const store::Op& op, const store::OpStep& step, bool in_rollback);
  void FinishOp(const store::Op& op, int rollback_at);
  bool Crash(const store::Op& op, int index, CrashPhase phase);
  bool Overdue(const store::Op& op) const;
  bool Halted() const { return stopping_.load() || crashed_.load(); }
  // Waits up to `d`; false when the engine is stopping.
  bool Pause(std::chrono::milliseconds d);
  void Notify();

  store::Store* store_;
  agents::AgentApi* agents_;
  Clock* clock_;
  EngineOptions options_;

  std::mutex submit_mu_;  // makes "is anything queued for the app?" + CreateOp atomic
  std::mutex plan_mu_;    // one plan (placement + commit) at a time

  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  std::map<std::string, int64_t> running_;  // app -> op being run
  std::map<std::string, std::thread> workers_;
  std::vector<std::string> finished_;  // apps whose worker thread may be joined
  std::thread dispatcher_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> crashed_{false};

  void AppendLive(int64_t op_id, int step, const std::string& text);
  mutable std::mutex live_mu_;
  std::map<std::pair<int64_t, int>, std::vector<std::string>> live_;  // (op, step) -> lines

  std::mutex change_mu_;
  std::condition_variable change_cv_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace dflow::ops

#endif  // DFLOW_CONTROLLER_OPS_ENGINE_H_
