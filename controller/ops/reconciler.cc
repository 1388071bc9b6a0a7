#include "controller/ops/reconciler.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/ops/plan.h"
#include "controller/ops/procfile.h"

namespace dflow::ops {
namespace {

// The store state an agent's report means for an instance the store has as
// running, crashed or failed; "" when nothing changes.
std::string SyncedState(const store::Instance& i, const agents::AgentInstance* a) {
  if (a == nullptr || a->state == "stopped" || a->state == "stopping") return store::kInstanceLost;
  if (a->state == "running") return store::kInstanceRunning;
  if (a->state == "backoff") return store::kInstanceCrashed;
  if (a->state == "failed") return store::kInstanceFailed;
  if (a->state == "starting" && a->restarts > 0) return store::kInstanceCrashed;
  return i.state;
}

}  // namespace

Reconciler::Reconciler(store::Store* store, agents::AgentApi* agents, agents::Fleet* fleet,
                       Engine* engine, Clock* clock, ReconcilerOptions options)
    : store_(store),
      agents_(agents),
      fleet_(fleet),
      engine_(engine),
      clock_(clock),
      options_(options) {}

Reconciler::~Reconciler() { Stop(); }

void Reconciler::Start() {
  std::lock_guard lock(loop_mu_);
  if (loop_.joinable()) return;
  stopping_ = false;
  loop_ = std::thread([this] {
    std::unique_lock lock(loop_mu_);
    while (!stopping_) {
      loop_cv_.wait_for(lock, options_.interval, [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      Tick();
      lock.lock();
    }
  });
}

void Reconciler::Stop() {
  {
    std::lock_guard lock(loop_mu_);
    stopping_ = true;
  }
  loop_cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  WaitForRemovals();
}

void Reconciler::Tick() {
  std::lock_guard lock(tick_mu_);
  auto servers = store_->ListServers();
  auto app_list = store_->ListApps();
  auto active = store_->ActiveOps();
  auto instances = store_->ListAllInstances();
  if (!servers.ok() || !app_list.ok() || !active.ok() || !instances.ok()) {
    spdlog::error("reconciler cannot read the store");
    return;
  }
  std::map<std::string, store::App> apps;
  for (auto& a : *app_list) apps[a.name] = a;
  std::set<std::string> busy;
  for (const auto& op : *active) busy.insert(op.app);
  std::map<std::string, std::vector<store::Instance>> by_server;
  for (const auto& i : *instances) by_server[i.server].push_back(i);
  for (const auto& server : *servers) {
    bool reachable = fleet_->Reachable(server.name) && server.health == store::Health::kHealthy;
    if (!reachable) {
      if (fleet_->UnreachableForMs(server.name) >= options_.grace.count()) {
        MarkLost(server, by_server[server.name], apps);
      }
      continue;
    }
    Sync(server, by_server[server.name], apps, busy);
  }
  FinishRemovals(*servers, apps, busy);
  Converge(apps, busy);
}

void Reconciler::MarkLost(const store::Server& server,
                          const std::vector<store::Instance>& on_server,
                          const std::map<std::string, store::App>& apps) {
  std::vector<std::string> ids;
  for (const auto& i : on_server) {
    if (i.state != store::kInstanceRunning && i.state != store::kInstanceCrashed) continue;
    auto app = apps.find(i.app);
    // A pinned app's data is on this server: never move it onto an empty volume.
    if (app != apps.end() && app->second.pinned_server == server.name) continue;
    ids.push_back(i.id);
  }
  if (ids.empty()) return;
  spdlog::warn("server {} unreachable past the grace: {} instances lost", server.name, ids.size());
  auto s = store_->MarkInstancesLost(
      ids, absl::StrCat("server ", server.name, " has been unreachable for more than ",
                        options_.grace.count() / 1000.0, " s; it is replaced elsewhere"));
  if (!s.ok()) spdlog::error("cannot mark instances lost: {}", s.ToString());
}

void Reconciler::Sync(const store::Server& server, const std::vector<store::Instance>& on_server,
                      const std::map<std::string, store::App>& apps,
                      const std::set<std::string>& busy) {
  auto listed = agents_->ListInstances(server.name);
  if (!listed.ok()) {
    spdlog::debug("reconciler: {}", listed.status().ToString());
    return;
  }
  std::map<std::string, const agents::AgentInstance*> by_id;
  for (const auto& a : *listed) by_id[a.id] = &a;
  for (const auto& i : on_server) {
    if (i.state == store::kInstanceLost || i.state == store::kInstanceStopping) {
      absl::Status s = agents_->StopInstance(
          server.name, absl::StrCat("reconcile-", clock_->NowMs(), "-stop-", i.id), i.id,
          options_.stop_grace);
      if (!s.ok() && !absl::IsNotFound(s)) continue;  // next pass
      std::string why = i.state == store::kInstanceLost
                            ? absl::StrCat(server.name, " is back, and the instance was replaced")
                            : absl::StrCat(server.name, " is reachable again");
      if (auto d = store_->DeleteInstance(i.id, why); !d.ok()) {
        spdlog::error("cannot forget instance {}: {}", i.id, d.ToString());
      }
      continue;
    }
    if (busy.count(i.app) > 0 || i.state == store::kInstancePending) continue;
    auto it = by_id.find(i.id);
    std::string state = SyncedState(i, it == by_id.end() ? nullptr : it->second);
    if (state == store::kInstanceLost && missing_once_.insert(i.id).second) continue;
    if (state != store::kInstanceLost) missing_once_.erase(i.id);
    if (state == i.state) continue;
    absl::Status s =
        state == store::kInstanceLost
            ? store_->MarkInstancesLost({i.id}, absl::StrCat(server.name, " no longer runs it"))
            : store_->SetInstanceState(i.id, state);
    if (!s.ok()) spdlog::error("cannot record the state of {}: {}", i.id, s.ToString());
  }
  // Orphans: read the records after the agent's list, so that an instance
  // planned and started in between is never taken for one.
  auto now_known = store_->ListAllInstances();
  if (!now_known.ok()) return;
  std::set<std::string> known;
  for (const auto& i : *now_known) known.insert(i.id);
  for (const auto& a : *listed) {
    if (known.count(a.id) > 0 || busy.count(a.app) > 0) continue;
    if (a.state == "stopped" || a.state == "stopping") continue;
    absl::Status s = agents_->StopInstance(
        server.name, absl::StrCat("reconcile-", clock_->NowMs(), "-orphan-", a.id), a.id,
        options_.stop_grace);
    if (!s.ok()) continue;
    (void)store_->AppendEvent("instance.stopped", server.name, a.app,
                              absl::StrCat("stopped instance ", a.id, " on ", server.name,
                                           ": the controller has no record of it",
                                           apps.count(a.app) == 0 ? " (its app is gone)" : ""));
  }
}

void Reconciler::Converge(const std::map<std::string, store::App>& apps,
                          const std::set<std::string>& busy) {
  auto instances = store_->ListAllInstances();
  if (!instances.ok()) return;
  std::map<std::string, std::vector<store::Instance>> by_app;
  for (const auto& i : *instances) by_app[i.app].push_back(i);
  int64_t now = clock_->MonotonicMs();
  for (const auto& [name, app] : apps) {
    if (app.current_release == 0 || busy.count(name) > 0) continue;
    if (!app.pinned_server.empty() && !fleet_->Reachable(app.pinned_server)) continue;
    auto next = next_reschedule_ms_.find(name);
    if (next != next_reschedule_ms_.end() && next->second > now) continue;
    std::map<std::string, int> live;
    int failed = 0;
    for (const auto& i : by_app[name]) {
      if (IsLive(i)) live[i.process]++;
      if (i.state == store::kInstanceFailed) failed++;
    }
    std::vector<std::string> short_of;
    for (const auto& [type, n] : app.scale) {
      if (live[type] < n) short_of.push_back(absl::StrCat(type, " ", live[type], " of ", n));
    }
    if (short_of.empty() && failed == 0) continue;
    std::string reason = short_of.empty() ? absl::StrCat(failed, " failed")
                                          : absl::StrCat(absl::StrJoin(short_of, ", "), " live");
    auto ref = engine_->Reschedule(name, reason);
    if (!ref.ok()) {
      spdlog::error("cannot reschedule {}: {}", name, ref.status().ToString());
      continue;
    }
    spdlog::info("app {}: {}; op {} replaces instances", name, reason, ref->id);
    next_reschedule_ms_[name] = now + options_.reschedule_backoff.count();
  }
}

std::string AppStatus(const store::App& app, const std::vector<store::Instance>& instances,
                      const std::function<bool(const std::string&)>& reachable,
                      const store::Op* active_op) {
  std::string op_note = active_op == nullptr
                            ? ""
                            : absl::StrCat("; ", active_op->kind, " ",
                                           active_op->state == "pending" ? "queued" : "in progress",
                                           " (op ", active_op->id, ")");
  if (app.current_release == 0) return absl::StrCat("not deployed", op_note);
  if (!app.pinned_server.empty() && !reachable(app.pinned_server)) {
    return absl::StrCat("down: its data is on ", app.pinned_server,
                        ", which is unreachable; it is not moved onto an empty volume and runs "
                        "again when ",
                        app.pinned_server, " returns", op_note);
  }
  std::map<std::string, int> running;
  int lost = 0, crashed = 0, failed = 0;
  for (const auto& i : instances) {
    if (i.state == store::kInstanceRunning && i.release == app.current_release)
      running[i.process]++;
    lost += i.state == store::kInstanceLost;
    crashed += i.state == store::kInstanceCrashed;
    failed += i.state == store::kInstanceFailed;
  }
  std::vector<std::string> parts;
  for (const auto& [type, n] : app.scale) {
    if (n > 0 || running[type] > 0)
      parts.push_back(absl::StrCat(running[type], " of ", n, " ", type, " running"));
  }
  std::string out = parts.empty() ? "scaled to zero" : absl::StrJoin(parts, ", ");
  if (crashed > 0) absl::StrAppend(&out, "; ", crashed, " crashed (restarting)");
  if (failed > 0) absl::StrAppend(&out, "; ", failed, " failed");
  if (lost > 0) absl::StrAppend(&out, "; ", lost, " lost on unreachable servers");
  return absl::StrCat(out, op_note);
}

}  // namespace dflow::ops
