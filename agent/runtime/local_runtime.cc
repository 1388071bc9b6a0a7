// LocalRuntime: construction, re-adoption, and starting an instance (with its
// health wait). Stopping and destroying are in local_runtime_stop.cc,
// supervision in supervisor.cc, releases, commands and logs in
// local_runtime_commands.cc.
#include "agent/runtime/local_runtime.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "agent/runtime/health_check.h"
#include "agent/runtime/proc_info.h"
#include "agent/runtime/process_env.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/names.h"
#include "common/process.h"
#include "common/status_macros.h"

namespace dflow::agent {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr milliseconds kFailGrace{2000};  // grace when stopping an instance that failed to start
constexpr milliseconds kProbeTimeout{1000};
constexpr milliseconds kMinProbe{100};  // less left than this: no new probe

// Never kill(0) or kill(-1): those are our own group and everyone.
void KillGroup(int pgid, int sig) {
  if (pgid > 1) kill(-pgid, sig);
}

// Where the search for a free port starts: a point of the range fixed by the
// server's name and data dir, so that agents on one host (the quickstart runs
// two; parallel test fleets run several with the same names) rarely race for
// the same port while their instances start.
int FirstPort(const LocalRuntimeOptions& o) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : o.server_name + "\n" + o.data_dir) h = (h ^ c) * 16777619u;
  return o.port_min + static_cast<int>(h % static_cast<uint32_t>(o.port_max - o.port_min + 1));
}

bool IsLive(InstanceState s) {
  return s == InstanceState::kStarting || s == InstanceState::kRunning ||
         s == InstanceState::kBackoff || s == InstanceState::kStopping;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalRuntime>> LocalRuntime::Open(LocalRuntimeOptions options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("LocalRuntime needs a data dir");
  if (options.port_min < 1 || options.port_max > 65535 || options.port_min > options.port_max) {
    return absl::InvalidArgumentError(absl::StrCat("instance port range ", options.port_min, "-",
                                                   options.port_max, " is not valid"));
  }
  options.data_dir = AbsolutePath(options.data_dir);
  for (const char* sub : {"releases", "instances", "logs"}) {
    RETURN_IF_ERROR(EnsureDir(absl::StrCat(options.data_dir, "/", sub), 0700));
  }
  std::unique_ptr<LocalRuntime> rt(new LocalRuntime(std::move(options)));
  rt->Adopt();
  rt->supervisor_ = std::thread([r = rt.get()] { r->SupervisorLoop(); });
  return rt;
}

LocalRuntime::LocalRuntime(LocalRuntimeOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : SystemClock::Get()),
      owned_runner_(options_.runner == nullptr ? std::make_unique<PosixProcessRunner>() : nullptr),
      runner_(options_.runner != nullptr ? options_.runner : owned_runner_.get()),
      releases_(options_.data_dir + "/releases", runner_, clock_, options_.server_name),
      pidfiles_(options_.data_dir + "/instances"),
      logs_(options_.data_dir + "/logs", options_.log_max_bytes, options_.log_keep),
      next_port_(FirstPort(options_)) {}

LocalRuntime::~LocalRuntime() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
}

void LocalRuntime::SupervisorLoop() {
  Lock lock(stop_mu_);
  while (!stopping_) {
    lock.unlock();
    SuperviseOnce();
    lock.lock();
    stop_cv_.wait_for(lock, options_.supervise_interval, [this] { return stopping_; });
  }
}

void LocalRuntime::Adopt() {
  std::vector<std::string> problems;
  std::vector<InstanceRecord> records = pidfiles_.LoadAll(&problems);
  for (const std::string& p : problems) spdlog::warn("ignoring a pidfile: {}", p);
  Lock lock(mu_);
  const int64_t now = clock_->MonotonicMs();
  for (InstanceRecord& rec : records) {
    auto inst = std::make_shared<Instance>();
    inst->rec = std::move(rec);
    InstanceRecord& r = inst->rec;
    if (auto release = releases_.Load(r.spec.app, r.spec.release); release.ok()) {
      inst->health_path = release->health_path;
    }
    const bool same = r.pid > 0 && IsSameProcessAlive(r.pid, r.start_ticks, r.boot_id);
    inst->alive = same;
    if (!r.desired_running) {
      // Stopped (or failed) for good. A process still there was being stopped
      // when the agent went away: finish that.
      if (same) {
        SignalGroupLocked(*inst, SIGKILL);
        inst->alive = false;
      }
      if (r.state != InstanceState::kFailed) r.state = InstanceState::kStopped;
    } else if (same) {
      r.state = r.healthy_once ? InstanceState::kRunning : InstanceState::kStarting;
      inst->running_since_ms = now;
      inst->health_deadline_ms = now + options_.restart_health_timeout.count();
      spdlog::info("adopted instance {} of app {} (pid {}, port {})", r.spec.id, r.spec.app, r.pid,
                   r.spec.port);
    } else {
      r.state = InstanceState::kBackoff;
      inst->next_restart_ms = now;
      inst->exit_reason = "was gone when the agent started";
      r.last_error = absl::StrCat("pid ", r.pid, " ", inst->exit_reason, "; restarting");
      spdlog::info("instance {} of app {} {}; restarting it", r.spec.id, r.spec.app,
                   inst->exit_reason);
    }
    SaveLocked(*inst);
    instances_[r.spec.id] = std::move(inst);
  }
}

bool LocalRuntime::AliveLocked(Instance& inst) {
  if (!inst.alive) return false;
  const InstanceRecord& r = inst.rec;
  auto st = ReadProcStat(r.pid);
  if (!st.has_value() || st->start_ticks != r.start_ticks ||
      (!r.boot_id.empty() && r.boot_id != BootId())) {
    inst.alive = false;
    inst.exit_reason = "exited";  // reaped elsewhere: the status is not ours to know
    return false;
  }
  if (st->state != 'Z' && st->state != 'X') return true;
  int status = 0;
  pid_t w;
  while ((w = waitpid(r.pid, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  inst.alive = false;
  inst.exit_reason = w == r.pid ? DescribeWaitStatus(status) : "exited";
  // Whatever the leader left behind in its group would hold the port.
  KillGroup(r.pgid, SIGKILL);
  return false;
}

void LocalRuntime::SignalGroupLocked(Instance& inst, int sig) {
  if (inst.rec.pid <= 1) return;
  if (!IsSameProcessAlive(inst.rec.pid, inst.rec.start_ticks, inst.rec.boot_id)) {
    // A zombie child still owns its group; anything else may be a recycled pid.
    auto st = ReadProcStat(inst.rec.pid);
    if (!st.has_value() || st->start_ticks != inst.rec.start_ticks) return;
  }
  if (inst.rec.pgid <= 1 || kill(-inst.rec.pgid, sig) != 0) kill(inst.rec.pid, sig);
}

void LocalRuntime::SaveLocked(const Instance& inst) {
  if (auto s = pidfiles_.Save(inst.rec); !s.ok()) {
    spdlog::error("cannot save the pidfile of instance {}: {}", inst.rec.spec.id, s.ToString());
  }
}

std::string LocalRuntime::Describe(const InstanceSpec& spec) const {
  return absl::StrCat("instance ", spec.id, " of app ", spec.app, " (", spec.process, ", release v",
                      spec.release, ") on server ", options_.server_name);
}

std::string LocalRuntime::LastLogLines(const std::string& app, const std::string& id, int n) const {
  std::string out;
  for (const TimedLine& line : logs_.Tail(app, id, n)) absl::StrAppend(&out, "  ", line.text, "\n");
  return out.empty() ? "  (no output)\n" : out;
}

InstanceStatus LocalRuntime::StatusLocked(const Instance& inst) const {
  const InstanceRecord& r = inst.rec;
  return InstanceStatus{.id = r.spec.id,
                        .app = r.spec.app,
                        .process = r.spec.process,
                        .release = r.spec.release,
                        .port = r.spec.port,
                        .pid = inst.alive ? r.pid : 0,
                        .state = r.state,
                        .started_at_ms = r.started_at_ms,
                        .restarts = r.restarts,
                        .last_error = r.last_error};
}

absl::StatusOr<InstanceStatus> LocalRuntime::StartInstance(const InstanceSpec& spec,
                                                           milliseconds health_deadline) {
  RETURN_IF_ERROR(ValidateInstanceId(spec.id));
  RETURN_IF_ERROR(ValidateAppName(spec.app));
  if (!IsValidProcessType(spec.process) || spec.process == "release") {
    return absl::InvalidArgumentError(absl::StrCat(
        "process type \"", spec.process, "\" of instance ", spec.id,
        " is not allowed: use a Procfile type other than `release` (letters, digits, '_', '-')"));
  }
  if (spec.port < 0 || spec.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("port ", spec.port, " of instance ", spec.id,
                                                   " is not valid (0 lets the agent choose)"));
  }
  const auto deadline = SteadyClock::now() + health_deadline;
  Lock lock(mu_);
  InstancePtr& slot = instances_[spec.id];
  if (slot != nullptr) {
    const InstanceSpec& have = slot->rec.spec;
    if (have.app != spec.app || have.process != spec.process || have.release != spec.release ||
        (spec.port != 0 && spec.port != have.port)) {
      return absl::AlreadyExistsError(
          absl::StrCat("instance id ", spec.id, " is already used on server ", options_.server_name,
                       " by app ", have.app, " (", have.process, ", release v", have.release,
                       ", port ", have.port, "); instance ids must be unique"));
    }
    if (slot->rec.state == InstanceState::kStopping) {
      return absl::FailedPreconditionError(
          absl::StrCat(Describe(spec), " is being stopped; start it again once it has stopped"));
    }
  }
  if (slot == nullptr || !IsLive(slot->rec.state)) {
    auto release = releases_.Load(spec.app, spec.release);
    if (!release.ok()) {
      if (slot == nullptr) instances_.erase(spec.id);
      return release.status();
    }
    if (release->Find(spec.process) == nullptr) {
      if (slot == nullptr) instances_.erase(spec.id);
      return absl::NotFoundError(
          absl::StrCat("release v", spec.release, " of app ", spec.app, " has no process type \"",
                       spec.process, "\" in its Procfile (it has: ", release->TypeList(), ")"));
    }
    const bool fresh = slot == nullptr;
    if (fresh) slot = std::make_shared<Instance>();
    InstancePtr inst = slot;  // `slot` may dangle once the map changes
    int port = spec.port != 0 ? spec.port : inst->rec.spec.port;
    for (const auto& [id, other] : instances_) {
      if (port != 0 && id != spec.id && other->rec.spec.port == port && IsLive(other->rec.state)) {
        if (spec.port != 0) {
          if (fresh) instances_.erase(spec.id);
          return absl::FailedPreconditionError(absl::StrCat(
              "port ", port, " on server ", options_.server_name, " is held by instance ", id,
              " of app ", other->rec.spec.app, "; pick another or let the agent choose (0)"));
        }
        port = 0;
      }
    }
    if (port == 0) {
      auto picked = PickPortLocked(spec.id);
      if (!picked.ok()) {
        if (fresh) instances_.erase(spec.id);
        return picked.status();
      }
      port = *picked;
    }
    inst->rec = InstanceRecord{};
    inst->rec.spec = spec;
    inst->rec.spec.port = port;
    inst->health_path = release->health_path;
    inst->consecutive_crashes = 0;
    inst->last_probe_error.clear();
    if (absl::Status s = SpawnLocked(*inst, *release); !s.ok()) {
      inst->rec.desired_running = false;
      inst->rec.state = InstanceState::kFailed;
      inst->rec.last_error = std::string(s.message());
      SaveLocked(*inst);
      return absl::FailedPreconditionError(
          absl::StrCat("cannot start ", Describe(spec), ": ", s.message()));
    }
  }
  InstancePtr inst = instances_[spec.id];
  ++inst->waiters;
  absl::Status s = WaitHealthyLocked(lock, inst, deadline, health_deadline);
  --inst->waiters;
  if (!s.ok()) return s;
  return StatusLocked(*inst);
}

absl::Status LocalRuntime::WaitHealthyLocked(Lock& lock, const InstancePtr& inst,
                                             SteadyClock::time_point deadline,
                                             milliseconds timeout) {
  std::string reason;
  // Probes start quick (most apps listen within tens of milliseconds, and the
  // wait is most of a deploy) and slow down, so a slow starter's log is not all
  // probes: 0, 20, 50, 95, 160, 260 ms, …
  milliseconds pause{20};
  while (true) {
    const InstanceState state = inst->rec.state;
    if (state == InstanceState::kRunning) return absl::OkStatus();
    if (state == InstanceState::kStopping || state == InstanceState::kStopped) {
      return absl::FailedPreconditionError(
          absl::StrCat(Describe(inst->rec.spec), " was stopped before it became healthy"));
    }
    if (state == InstanceState::kFailed) {
      reason = inst->rec.last_error;
      break;
    }
    if (state == InstanceState::kStarting && !AliveLocked(*inst)) {
      reason = absl::StrCat("the process ", inst->exit_reason, " before its health check passed");
      break;
    }
    const auto now = SteadyClock::now();
    if (now >= deadline) {
      reason = inst->last_probe_error.empty() ? "it never answered" : inst->last_probe_error;
      break;
    }
    // A probe with only a few ms left would time out and hide what the app
    // last said (its HTTP 500, say) behind "no answer within 7ms": once one
    // has failed, the last kMinProbe before the deadline are not probed.
    const bool too_late = deadline - now < kMinProbe && !inst->last_probe_error.empty();
    if (state == InstanceState::kStarting && !too_late) {
      const uint64_t probed = inst->generation;
      const int port = inst->rec.spec.port;
      const std::string path = inst->health_path;
      const auto probe_timeout =
          std::min(kProbeTimeout, std::chrono::ceil<milliseconds>(deadline - now));
      lock.unlock();
      absl::Status probe = ProbeHealth(options_.probe_host, port, path, probe_timeout);
      lock.lock();
      if (inst->generation == probed && inst->rec.state == InstanceState::kStarting) {
        if (probe.ok()) {
          MarkHealthyLocked(*inst);
          continue;
        }
        inst->last_probe_error = std::string(probe.message());
      }
    }
    const uint64_t generation = inst->generation;
    const auto left = std::chrono::ceil<milliseconds>(deadline - SteadyClock::now());
    cv_.wait_for(lock, std::max(milliseconds(1), std::min(pause, left)), [&] {
      return inst->rec.state != state || inst->generation != generation ||
             (state == InstanceState::kStarting && !inst->alive);
    });
    pause = std::min(pause * 3 / 2, kProbeTimeout);
  }
  const InstanceSpec spec = inst->rec.spec;
  if (inst->rec.state != InstanceState::kFailed) {
    StopLocked(lock, {inst}, kFailGrace, InstanceState::kFailed);
    inst->rec.last_error = reason;
    SaveLocked(*inst);
  }
  const std::string check =
      inst->health_path.empty()
          ? absl::StrCat("TCP connect to port ", spec.port)
          : absl::StrCat("HTTP GET ", inst->health_path, " on port ", spec.port);
  lock.unlock();
  std::string tail = LastLogLines(spec.app, spec.id, 20);
  lock.lock();
  return absl::FailedPreconditionError(absl::StrCat(
      Describe(spec), " did not pass its health check (", check, ") within ",
      HumanDuration(timeout), ": ", reason, "; it was stopped. Last log lines:\n", tail));
}

}  // namespace dflow::agent
