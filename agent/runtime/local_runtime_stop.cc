// LocalRuntime: stopping instances, listing them, forgetting old ones and
// destroying apps.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/runtime/local_runtime.h"
#include "common/names.h"
#include "common/status_macros.h"

namespace dflow::agent {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr milliseconds kKillWait{5000};  // after SIGKILL, how long we wait for the end
constexpr milliseconds kPoll{20};

}  // namespace

absl::Status LocalRuntime::StopInstance(const std::string& id, milliseconds grace) {
  RETURN_IF_ERROR(ValidateInstanceId(id));
  Lock lock(mu_);
  auto it = instances_.find(id);
  if (it == instances_.end()) return absl::OkStatus();
  InstancePtr inst = it->second;
  if (!inst->rec.desired_running && !AliveLocked(*inst)) return absl::OkStatus();
  StopLocked(lock, {inst}, grace, InstanceState::kStopped);
  PruneLocked(inst->rec.spec.app);
  return absl::OkStatus();
}

void LocalRuntime::StopLocked(Lock& lock, const std::vector<InstancePtr>& insts, milliseconds grace,
                              InstanceState final_state) {
  for (const InstancePtr& inst : insts) {
    inst->rec.desired_running = false;  // saved first: a crash now never restarts it
    if (AliveLocked(*inst)) {
      inst->rec.state = InstanceState::kStopping;
      SaveLocked(*inst);
      SignalGroupLocked(*inst, SIGTERM);
    }
  }
  cv_.notify_all();
  auto wait_all = [&](SteadyClock::time_point until) {
    while (true) {
      bool any = false;
      for (const InstancePtr& inst : insts) any = AliveLocked(*inst) || any;
      if (!any || SteadyClock::now() >= until) return;
      cv_.wait_for(lock, kPoll);
    }
  };
  wait_all(SteadyClock::now() + grace);
  for (const InstancePtr& inst : insts) {
    if (AliveLocked(*inst)) SignalGroupLocked(*inst, SIGKILL);
  }
  wait_all(SteadyClock::now() + kKillWait);
  for (const InstancePtr& inst : insts) {
    if (AliveLocked(*inst)) {
      spdlog::error("instance {} (pid {}) survived SIGKILL", inst->rec.spec.id, inst->rec.pid);
    }
    inst->rec.state = final_state;
    SaveLocked(*inst);
  }
  cv_.notify_all();
}

void LocalRuntime::PruneLocked(const std::string& app) {
  std::vector<InstancePtr> done;
  for (const auto& [id, inst] : instances_) {
    if (inst->rec.spec.app == app && !inst->rec.desired_running && !inst->alive &&
        inst->waiters == 0) {
      done.push_back(inst);
    }
  }
  if (static_cast<int>(done.size()) <= options_.keep_stopped_per_app) return;
  std::sort(done.begin(), done.end(), [](const InstancePtr& a, const InstancePtr& b) {
    return a->rec.started_at_ms < b->rec.started_at_ms;
  });
  done.resize(done.size() - options_.keep_stopped_per_app);
  for (const InstancePtr& inst : done) {
    pidfiles_.Remove(inst->rec.spec.id).IgnoreError();
    logs_.Remove(app, inst->rec.spec.id);
    instances_.erase(inst->rec.spec.id);
  }
}

std::vector<InstanceStatus> LocalRuntime::ListInstances() {
  Lock lock(mu_);
  std::vector<InstanceStatus> out;
  for (const auto& [id, inst] : instances_) out.push_back(StatusLocked(*inst));
  return out;
}

int LocalRuntime::LiveInstanceCount() {
  Lock lock(mu_);
  int n = 0;
  for (const auto& [id, inst] : instances_) n += inst->alive ? 1 : 0;
  return n;
}

absl::Status LocalRuntime::DestroyApp(const std::string& app) {
  RETURN_IF_ERROR(ValidateAppName(app));
  {
    Lock lock(mu_);
    std::vector<InstancePtr> insts;
    for (const auto& [id, inst] : instances_) {
      if (inst->rec.spec.app == app) insts.push_back(inst);
    }
    StopLocked(lock, insts, options_.destroy_grace, InstanceState::kStopped);
    for (const InstancePtr& inst : insts) {
      RETURN_IF_ERROR(pidfiles_.Remove(inst->rec.spec.id));
      instances_.erase(inst->rec.spec.id);
    }
  }
  {
    std::lock_guard lock(release_command_mu_);
    for (auto it = release_command_locks_.begin(); it != release_command_locks_.end();) {
      it = it->first.rfind(app + "/", 0) == 0 ? release_command_locks_.erase(it) : std::next(it);
    }
  }
  RETURN_IF_ERROR(logs_.RemoveApp(app));
  return releases_.RemoveApp(app);
}
}  // namespace dflow::agent
