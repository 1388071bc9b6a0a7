// LocalRuntime's supervision: spawning instances, watching them, restarting
// crashed ones with backoff, promoting healthy ones, and the log passes.
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "agent/runtime/health_check.h"
#include "agent/runtime/local_runtime.h"
#include "agent/runtime/proc_info.h"
#include "agent/runtime/process_env.h"
#include "agent/runtime/procfile.h"
#include "common/clock.h"
#include "common/process.h"
#include "common/status_macros.h"

namespace dflow::agent {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kSupervisorProbeTimeout{500};

// True when nothing listens on 0.0.0.0:port (nor holds it in TIME_WAIT).
bool PortBindable(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

void LocalRuntime::SuperviseOnce() {
  std::lock_guard pass(supervise_mu_);
  struct Probe {
    InstancePtr inst;
    uint64_t generation;
    int port;
    std::string path;
  };
  std::vector<Probe> probes;
  std::vector<std::pair<std::string, std::string>> logs;  // app, id
  {
    Lock lock(mu_);
    const int64_t now = clock_->MonotonicMs();
    for (auto& [id, inst] : instances_) {
      Instance& i = *inst;
      logs.emplace_back(i.rec.spec.app, id);
      const bool alive = AliveLocked(i);  // reaps whatever has ended, in every state
      switch (i.rec.state) {
        case InstanceState::kRunning:
          if (!alive) {
            CrashedLocked(i, now);
          } else if (i.consecutive_crashes > 0 &&
                     now - i.running_since_ms >= options_.backoff_reset_after.count()) {
            i.consecutive_crashes = 0;
          }
          break;
        case InstanceState::kStarting:
          if (i.waiters > 0) break;  // StartInstance is watching it
          if (!alive) {
            CrashedLocked(i, now);
          } else if (now >= i.health_deadline_ms) {
            SignalGroupLocked(i, SIGKILL);
            i.exit_reason = absl::StrCat(
                "did not pass its health check within ",
                HumanDuration(options_.restart_health_timeout), " (",
                i.last_probe_error.empty() ? "no answer" : i.last_probe_error, ") and was killed");
            CrashedLocked(i, now);
          } else {
            probes.push_back({inst, i.generation, i.rec.spec.port, i.health_path});
          }
          break;
        case InstanceState::kBackoff:
          // A process still on its way out holds the port: restart after it is gone.
          if (!alive && i.rec.desired_running && now >= i.next_restart_ms) RestartLocked(i, now);
          break;
        default:
          break;
      }
    }
  }
  cv_.notify_all();

  for (Probe& p : probes) {
    absl::Status s = ProbeHealth(options_.probe_host, p.port, p.path, kSupervisorProbeTimeout);
    Lock lock(mu_);
    if (p.inst->generation != p.generation || p.inst->rec.state != InstanceState::kStarting) {
      continue;
    }
    if (s.ok()) {
      MarkHealthyLocked(*p.inst);
    } else {
      p.inst->last_probe_error = std::string(s.message());
    }
  }

  std::set<std::string> seen;
  for (const auto& [app, id] : logs) {
    logs_.Observe(app, id, &log_watches_[id]);
    seen.insert(id);
  }
  for (auto it = log_watches_.begin(); it != log_watches_.end();) {
    it = seen.count(it->first) ? std::next(it) : log_watches_.erase(it);
  }
}

void LocalRuntime::MarkHealthyLocked(Instance& inst) {
  inst.rec.state = InstanceState::kRunning;
  inst.rec.healthy_once = true;
  inst.running_since_ms = clock_->MonotonicMs();
  inst.last_probe_error.clear();
  SaveLocked(inst);
  cv_.notify_all();
}

void LocalRuntime::CrashedLocked(Instance& inst, int64_t now_ms) {
  InstanceRecord& r = inst.rec;
  const std::string reason = absl::StrCat("the process ", inst.exit_reason);
  if (!r.healthy_once) {
    r.state = InstanceState::kFailed;
    r.desired_running = false;
    r.last_error = absl::StrCat(reason, " before it ever passed its health check; not restarting");
  } else {
    ++inst.consecutive_crashes;
    int64_t delay = options_.backoff_initial.count();
    for (int k = 1; k < inst.consecutive_crashes && delay < options_.backoff_max.count(); ++k) {
      delay *= 2;
    }
    delay = std::min(delay, options_.backoff_max.count());
    inst.next_restart_ms = now_ms + delay;
    r.state = InstanceState::kBackoff;
    r.last_error = absl::StrCat(reason, "; restarting in ", HumanDuration(milliseconds(delay)));
  }
  logs_.Note(r.spec.app, r.spec.id, absl::StrCat("[dflow-agent] ", r.last_error));
  spdlog::warn("instance {} of app {}: {}", r.spec.id, r.spec.app, r.last_error);
  SaveLocked(inst);
  cv_.notify_all();
}

void LocalRuntime::RestartLocked(Instance& inst, int64_t now_ms) {
  InstanceRecord& r = inst.rec;
  absl::Status s = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Release release, releases_.Load(r.spec.app, r.spec.release));
    return SpawnLocked(inst, release);
  }();
  if (!s.ok()) {
    ++inst.consecutive_crashes;
    const int64_t delay = options_.backoff_max.count();
    inst.next_restart_ms = now_ms + delay;
    r.state = InstanceState::kBackoff;
    r.last_error = absl::StrCat("cannot restart: ", s.message(), "; trying again in ",
                                HumanDuration(milliseconds(delay)));
    spdlog::error("instance {} of app {}: {}", r.spec.id, r.spec.app, r.last_error);
    SaveLocked(inst);
    return;
  }
  ++r.restarts;
  inst.health_deadline_ms = now_ms + options_.restart_health_timeout.count();
  spdlog::info("restarted instance {} of app {} (pid {}, restart {})", r.spec.id, r.spec.app, r.pid,
               r.restarts);
  SaveLocked(inst);
}

absl::Status LocalRuntime::SpawnLocked(Instance& inst, const Release& release) {
  InstanceRecord& r = inst.rec;
  const ProcfileEntry* entry = release.Find(r.spec.process);
  if (entry == nullptr) {
    return absl::NotFoundError(absl::StrCat("release v", release.version, " of app ", release.app,
                                            " has no process type \"", r.spec.process, "\""));
  }
  std::map<std::string, std::string> env = CommandEnv(release);
  env["PORT"] = absl::StrCat(r.spec.port);
  if (!options_.instance_host.empty() && !release.env.count("HOST")) {
    env["HOST"] = options_.instance_host;
  }
  env["DFLOW_PROCESS"] = r.spec.process;
  env["DFLOW_INSTANCE_ID"] = r.spec.id;
  ASSIGN_OR_RETURN(CommandLine command, ExpandCommand(entry->command, env));
  for (auto& [key, value] : command.assignments) env[key] = value;
  RETURN_IF_ERROR(logs_.EnsureAppDir(r.spec.app));

  // The record exists before the process does, so an agent that dies in between
  // finds a desired instance to restart rather than nothing.
  r.pid = 0;
  r.desired_running = true;
  r.state = InstanceState::kStarting;
  inst.alive = false;
  SaveLocked(inst);
  logs_.Note(r.spec.app, r.spec.id,
             absl::StrCat("[dflow-agent] starting ", r.spec.process, " of release v",
                          r.spec.release, " on port ", r.spec.port, ": ", entry->command));
  ASSIGN_OR_RETURN(int pid, SpawnDetached({.argv = command.argv,
                                           .env = env,
                                           .cwd = release.tree,
                                           .log_path = logs_.Path(r.spec.app, r.spec.id),
                                           .new_session = true}));
  if (release.memory_bytes > 0) {
    const rlimit limit{static_cast<rlim_t>(release.memory_bytes),
                       static_cast<rlim_t>(release.memory_bytes)};
    if (prlimit(pid, RLIMIT_DATA, &limit, nullptr) != 0) {
      spdlog::warn("cannot limit the memory of instance {} (pid {}): {}", r.spec.id, pid,
                   strerror(errno));
    }
  }
  const auto stat = ReadProcStat(pid);
  r.pid = pid;
  r.pgid = pid;  // a new session: the leader's pid names its group
  r.start_ticks = stat.has_value() ? stat->start_ticks : 0;
  r.boot_id = BootId();
  r.started_at_ms = clock_->NowMs();
  inst.alive = true;
  inst.exit_reason.clear();
  inst.last_probe_error.clear();
  ++inst.generation;
  SaveLocked(inst);
  cv_.notify_all();
  return absl::OkStatus();
}

absl::StatusOr<int> LocalRuntime::PickPortLocked(const std::string& id) {
  const int span = options_.port_max - options_.port_min + 1;
  for (int k = 0; k < span; ++k) {
    const int port = options_.port_min + (next_port_ - options_.port_min + k) % span;
    bool held = false;
    for (const auto& [other_id, other] : instances_) {
      held = held || (other_id != id && other->rec.spec.port == port &&
                      (other->rec.desired_running || other->alive));
    }
    if (held || !PortBindable(port)) continue;
    next_port_ = port == options_.port_max ? options_.port_min : port + 1;
    return port;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("no free port in ", options_.port_min, "-", options_.port_max, " on server ",
                   options_.server_name, " for instance ", id, "; stop some instances"));
}

}  // namespace dflow::agent
