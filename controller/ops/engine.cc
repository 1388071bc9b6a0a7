#include "controller/ops/engine.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "controller/ops/plan.h"
#include "controller/ops/steps.h"

namespace dflow::ops {

using json = nlohmann::json;
using std::chrono::milliseconds;

Engine::Engine(store::Store* store, agents::AgentApi* agents, Clock* clock, EngineOptions options)
    : store_(store), agents_(agents), clock_(clock), options_(std::move(options)) {}

Engine::~Engine() { Stop(); }

// ---- running ----

void Engine::AppendLive(int64_t op_id, int step, const std::string& text) {
  {
    std::lock_guard lock(live_mu_);
    auto& lines = live_[{op_id, step}];
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
      if (lines.size() < 5000) lines.emplace_back(absl::StripTrailingAsciiWhitespace(line));
    }
    while (live_.size() > 64) live_.erase(live_.begin());  // the oldest ops' steps
  }
  Notify();
}

std::vector<std::string> Engine::LiveOutput(int64_t op_id, int step, size_t from) const {
  std::lock_guard lock(live_mu_);
  auto it = live_.find({op_id, step});
  if (it == live_.end() || from >= it->second.size()) return {};
  return {it->second.begin() + static_cast<std::ptrdiff_t>(from), it->second.end()};
}

void Engine::Notify() {
  {
    std::lock_guard lock(change_mu_);
    generation_++;
  }
  change_cv_.notify_all();
}

uint64_t Engine::WaitForChange(uint64_t seen, milliseconds timeout) {
  std::unique_lock lock(change_mu_);
  change_cv_.wait_for(lock, timeout, [&] { return generation_.load() != seen; });
  return generation_.load();
}

bool Engine::Pause(milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return Halted(); });
  return !Halted();
}

void Engine::Start() {
  std::lock_guard lock(mu_);
  if (dispatcher_.joinable()) return;
  stopping_ = false;
  dispatcher_ = std::thread([this] { DispatchLoop(); });
}

void Engine::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  std::map<std::string, std::thread> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (auto& [app, t] : workers) t.join();
}

std::optional<int64_t> Engine::NextOpLocked(const std::string& app) {
  auto active = store_->ActiveOps();
  if (!active.ok()) {
    spdlog::error("cannot read the op queue: {}", active.status().ToString());
    return std::nullopt;
  }
  for (const auto& op : *active) {
    if (op.app == app) return op.id;
  }
  return std::nullopt;
}

void Engine::DispatchLoop() {
  std::unique_lock lock(mu_);
  while (!Halted()) {
    for (const auto& app : finished_) {
      auto it = workers_.find(app);
      if (it != workers_.end() && running_.count(app) == 0) {
        it->second.join();
        workers_.erase(it);
      }
    }
    finished_.clear();
    auto active = store_->ActiveOps();
    if (active.ok()) {
      for (const auto& op : *active) {
        if (workers_.count(op.app) > 0) continue;
        if (static_cast<int>(workers_.size()) >= options_.max_parallel_ops) break;
        std::string app = op.app;
        running_[app] = 0;
        workers_.emplace(app, std::thread([this, app] { WorkApp(app); }));
      }
    } else {
      spdlog::error("cannot read the op queue: {}", active.status().ToString());
    }
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return wake_ || Halted(); });
    wake_ = false;
  }
}

void Engine::WorkApp(const std::string& app) {
  while (true) {
    int64_t id = 0;
    {
      std::lock_guard lock(mu_);
      auto next = Halted() ? std::nullopt : NextOpLocked(app);
      if (!next) {
        running_.erase(app);
        finished_.push_back(app);
        wake_ = true;
        break;
      }
      id = *next;
      running_[app] = id;
    }
    RunOp(id);
  }
  cv_.notify_all();
}

void Engine::RunUntilIdle() {
  while (!Halted()) {
    auto active = store_->ActiveOps();
    if (!active.ok() || active->empty()) return;
    const store::Op& head = active->front();
    {
      std::lock_guard lock(mu_);
      running_[head.app] = head.id;
    }
    RunOp(head.id);
    std::lock_guard lock(mu_);
    running_.erase(head.app);
  }
}

bool Engine::Crash(const store::Op& op, int index, CrashPhase phase) {
  if (!options_.crash || !options_.crash->Matches(op.kind, index, phase)) return false;
  if (!options_.crash_marker.empty()) {
    auto fired = ReadFile(options_.crash_marker);
    if (fired.ok() && *fired == options_.crash->text) return false;  // fired before
    if (auto s = WriteFileAtomic(options_.crash_marker, options_.crash->text, 0600); !s.ok()) {
      spdlog::error("DFLOW_TEST_CRASH_AT: {}", s.ToString());
    }
  }
  spdlog::warn("DFLOW_TEST_CRASH_AT: dying at op {} ({}) step {}", op.id, op.kind, index);
  if (options_.crash_action) {
    options_.crash_action();
  } else {
    _exit(137);
  }
  crashed_ = true;
  cv_.notify_all();
  return true;
}

void Engine::RunOp(int64_t id) {
  auto first = store_->GetOp(id);
  if (!first.ok()) {
    spdlog::error("cannot load op {}: {}", id, first.status().ToString());
    Pause(milliseconds(1000));
    return;
  }
  if (first->state == "pending") {
    if (auto s = store_->MarkOpRunning(id); !s.ok()) {
      spdlog::error("cannot start op {}: {}", id, s.ToString());
      Pause(milliseconds(1000));
      return;
    }
    Notify();
  }
  while (!Halted()) {
    auto op = store_->GetOp(id);
    if (!op.ok()) {
      spdlog::error("cannot load op {}: {}", id, op.status().ToString());
      Pause(milliseconds(1000));
      return;
    }
    if (store::OpEnded(op->state)) return;
    int rollback_at = RollbackIndex(*op);
    const store::OpStep* next = nullptr;
    for (const auto& s : op->steps) {
      if (s.state == "pending" || s.state == "running") {
        next = &s;
        break;
      }
    }
    if (next == nullptr) {
      FinishOp(*op, rollback_at);
      return;
    }
    absl::Status s;
    if (rollback_at >= 0 && next->index < rollback_at) {
      // Forward steps left behind by a failure or cancel are not run.
      s = store_->FinishStep(id, next->index, "skipped", "{}", "", "", {});
    } else if (rollback_at < 0 && (op->cancel_requested || Overdue(*op)) &&
               !PastPointOfNoReturn(*op)) {
      store::StepEffects e;
      if (op->cancel_requested) {
        e.append_steps = Compensation(*op, "cancel", "cancelled by request");
      } else {
        e.append_steps = Compensation(
            *op, "failure",
            absl::StrCat("op ", id, " (", op->kind, " of ", op->app, ") ran past its deadline of ",
                         options_.op_deadline.count() / 60000, " min; what it did is undone"));
      }
      s = store_->FinishStep(id, next->index, "skipped", "{}",
                             op->cancel_requested ? "cancel requested" : "deadline passed", "", e);
    } else {
      if (!RunStep(*op, *next, rollback_at >= 0)) return;
      continue;
    }
    if (!s.ok()) {
      spdlog::error("cannot commit op {} step {}: {}", id, next->index, s.ToString());
      Pause(milliseconds(1000));
      return;
    }
    Notify();
  }
}

bool Engine::Overdue(const store::Op& op) const {
  return op.started_at_ms > 0 && clock_->NowMs() - op.started_at_ms > options_.op_deadline.count();
}

bool Engine::RunStep(const store::Op& op, const store::OpStep& step, bool in_rollback) {
  if (auto s = store_->MarkStepRunning(op.id, step.index); !s.ok()) {
    spdlog::error("cannot start op {} step {}: {}", op.id, step.index, s.ToString());
    Pause(milliseconds(1000));
    return false;
  }
  Notify();
  if (Crash(op, step.index, CrashPhase::kBefore)) return false;
  StepEnv env{store_,
              agents_,
              &options_,
              clock_,
              [this](milliseconds d) { return Pause(d); },
              [this, id = op.id, index = step.index](const std::string& text) {
                AppendLive(id, index, text);
              }};
  std::unique_lock plan_lock(plan_mu_, std::defer_lock);
  if (step.kind == kStepPlan) plan_lock.lock();
  StepOutcome out = RunStepWork(env, op, step);
  if (out.abandoned) return false;
  if (Crash(op, step.index, CrashPhase::kAfterRpc)) return false;
  absl::Status s;
  if (out.status.ok()) {
    s = store_->FinishStep(op.id, step.index, "done", out.result, out.output, "", out.effects);
  } else {
    std::string error(out.status.message());
    spdlog::warn("op {} ({} of {}) step {} failed: {}", op.id, op.kind, op.app, step.index, error);
    if (!in_rollback) {
      store::Op failed = op;
      for (auto& st : failed.steps) {
        if (st.index == step.index) st.state = "failed";
      }
      auto comp = Compensation(failed, "failure", error);
      out.effects.append_steps.insert(out.effects.append_steps.end(), comp.begin(), comp.end());
    }
    s = store_->FinishStep(op.id, step.index, "failed", out.result, out.output, error, out.effects);
  }
  if (plan_lock.owns_lock()) plan_lock.unlock();
  if (!s.ok()) {
    spdlog::error("cannot commit op {} step {}: {}", op.id, step.index, s.ToString());
    Pause(milliseconds(1000));
    return false;
  }
  if (out.status.ok() && out.effects.delete_app && options_.app_deleted) {
    options_.app_deleted(op.app);
  }
  Notify();
  return !Crash(op, step.index, CrashPhase::kAfterCommit);
}

void Engine::FinishOp(const store::Op& op, int rollback_at) {
  std::string state = "succeeded", error;
  if (rollback_at >= 0) {
    const store::OpStep& marker = op.steps[rollback_at];
    json p = json::parse(marker.params, nullptr, false);
    if (!p.is_object()) p = json::object();
    bool undo = p.value("undo", false);
    error = p.value("error", "");
    std::string incomplete;
    for (const auto& s : op.steps) {
      if (s.index > rollback_at && s.state == "failed" && incomplete.empty()) incomplete = s.error;
    }
    if (p.value("cause", "") == "cancel") {
      state = incomplete.empty() ? "cancelled" : "failed";
    } else {
      state = undo && incomplete.empty() ? "rolled_back" : "failed";
    }
    if (!incomplete.empty()) absl::StrAppend(&error, "; undoing it failed too: ", incomplete);
  }
  if (auto s = store_->FinishOp(op.id, state, error, {}); !s.ok()) {
    spdlog::error("cannot finish op {}: {}", op.id, s.ToString());
    Pause(milliseconds(1000));
    return;
  }
  spdlog::info("op {} ({} of {}) {}{}{}", op.id, op.kind, op.app, state, error.empty() ? "" : ": ",
               error);
  Notify();
}

}  // namespace dflow::ops
