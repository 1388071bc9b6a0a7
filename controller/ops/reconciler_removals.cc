// The reconciler's removals pass: what a server missed while it was
// unreachable (an app's destroy, a Dokku setting removed) is finished there
// once it is reachable again (reconciler.h).
#include <spdlog/spdlog.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "controller/ops/reconciler.h"

namespace dflow::ops {
namespace {

using json = nlohmann::json;

// Why a missed Dokku removal no longer applies: the app holds the setting
// again (the next rollout applies it there anyway). "" when it still applies.
std::string AddedBackSince(store::Store* store, const store::PendingRemoval& r, const json& p) {
  const std::string action = p.value("action", "");
  if (action == "remove_domain") {
    auto domains = store->ListDomains();
    auto it = domains.ok() ? domains->find(p.value("host", "")) : decltype(domains->end()){};
    if (domains.ok() && it != domains->end() && it->second == r.app) {
      return absl::StrCat("domain ", it->first, " was added to ", r.app, " again");
    }
    return "";
  }
  auto extras = store->GetAppExtras(r.app);
  if (!extras.ok()) return "";
  if (action == "unmount") {
    for (const auto& m : extras->storage) {
      if (m.container_dir == p.value("container_dir", "")) {
        return absl::StrCat(m.container_dir, " was mounted on ", r.app, " again");
      }
    }
  } else if (action == "unset_check") {
    if (auto it = extras->checks.find(p.value("key", "")); it != extras->checks.end()) {
      return absl::StrCat("check ", it->first, " of ", r.app, " was set again");
    }
  } else if (action == "unlink") {
    for (const auto& s : extras->services) {
      if (s.name == p.value("service", "")) {
        return absl::StrCat("service ", s.name, " was linked to ", r.app, " again");
      }
    }
  }
  return "";
}

}  // namespace

void Reconciler::FinishRemovals(const std::vector<store::Server>& servers,
                                const std::map<std::string, store::App>& apps,
                                const std::set<std::string>& busy) {
  auto pending = store_->ListPendingRemovals();
  if (!pending.ok()) {
    spdlog::error("reconciler cannot read the pending removals: {}", pending.status().ToString());
    return;
  }
  std::map<std::string, const store::Server*> by_name;
  for (const auto& s : servers) by_name[s.name] = &s;
  const int64_t now = clock_->MonotonicMs();
  auto drop = [&](const store::PendingRemoval& r, const std::string& why) {
    spdlog::info("pending removal {} on {} dropped: {}", r.id, r.server, why);
    auto s = store_->FinishPendingRemoval(
        r.id, "app.cleanup_dropped",
        absl::StrCat(r.server, ": not done: ", r.what, " (", r.reason, "): ", why));
    if (!s.ok()) spdlog::error("cannot drop pending removal {}: {}", r.id, s.ToString());
  };
  for (const auto& r : *pending) {
    auto server = by_name.find(r.server);
    if (server == by_name.end()) {
      drop(r, absl::StrCat("server ", r.server, " was removed from the inventory"));
      continue;
    }
    if (!fleet_->Reachable(r.server) || server->second->health != store::Health::kHealthy) {
      continue;
    }
    {
      std::lock_guard lock(removals_mu_);
      auto next = next_removal_ms_.find(r.id);
      if (next != next_removal_ms_.end() && next->second > now) continue;
      if (removing_on_.count(r.server) > 0) continue;  // one at a time per server
    }
    auto app = apps.find(r.app);
    // An app of that name created after the record is another app: its state
    // on the server is its own.
    if (app != apps.end() && app->second.created_at_ms > r.created_at_ms) {
      drop(r, absl::StrCat("an app named ", r.app, " was created after it"));
      continue;
    }
    if (r.kind == "destroy") {
      if (app != apps.end()) continue;  // the destroy has not deleted the app yet
      std::lock_guard lock(removals_mu_);
      // The server's previous removal has left removing_on_: it has returned, or is returning.
      auto& thread = removals_[r.server];
      if (thread.joinable()) thread.join();
      removing_on_.insert(r.server);
      thread = std::thread([this, r] { RemoveApp(r); });
      continue;
    }
    if (r.kind != "dokku") {
      drop(r, absl::StrCat("unknown kind \"", r.kind, "\""));
      continue;
    }
    if (app == apps.end()) {
      drop(r, absl::StrCat("app ", r.app,
                           " is gone: its destroy removed it there or finishes it there"));
      continue;
    }
    if (busy.count(r.app) > 0) continue;  // next pass
    json params = json::parse(r.params, nullptr, false);
    if (!params.is_object()) {
      drop(r, "its parameters cannot be read");
      continue;
    }
    if (std::string why = AddedBackSince(store_, r, params); !why.empty()) {
      drop(r, why);
      continue;
    }
    params["only_server"] = r.server;
    params["pending_removal"] = r.id;
    auto ref = engine_->ChangeDokku(r.app, params.dump(),
                                    absl::StrCat(r.what, " on ", r.server, " (", r.reason, ")"));
    // The op's step deletes the record when it succeeds; a failed op leaves it
    // for a later pass.
    {
      std::lock_guard lock(removals_mu_);
      next_removal_ms_[r.id] = now + options_.reschedule_backoff.count();
    }
    if (!ref.ok()) {
      spdlog::error("cannot resubmit removal {} on {}: {}", r.id, r.server,
                    ref.status().ToString());
      continue;
    }
    spdlog::info("{} is reachable again: op {} finishes: {}", r.server, ref->id, r.what);
  }
}

// On its own thread: the agent may take long (Dokku's apps:destroy), or hang
// until its deadline.
void Reconciler::RemoveApp(store::PendingRemoval r) {
  bool done = false;
  // Read again just before: an app of that name created since the pass began.
  if (store_->GetApp(r.app).ok()) {
    spdlog::info("app {} exists again; its pending removal on {} waits for the next pass", r.app,
                 r.server);
  } else if (absl::Status s = agents_->DestroyApp(r.server, absl::StrCat("cleanup-", r.id), r.app);
             !s.ok()) {
    spdlog::warn("cannot remove app {} from {} yet: {}", r.app, r.server, s.ToString());
  } else {
    auto d = store_->FinishPendingRemoval(
        r.id, "app.cleanup_done",
        absl::StrCat(r.server, " is reachable again: removed app ", r.app, " (", r.reason, ")"));
    if (!d.ok()) spdlog::error("cannot forget pending removal {}: {}", r.id, d.ToString());
    done = d.ok();
  }
  std::lock_guard lock(removals_mu_);
  removing_on_.erase(r.server);
  if (done) {
    next_removal_ms_.erase(r.id);
  } else {
    next_removal_ms_[r.id] = clock_->MonotonicMs() + options_.reschedule_backoff.count();
  }
}

void Reconciler::WaitForRemovals() {
  std::map<std::string, std::thread> running;
  {
    std::lock_guard lock(removals_mu_);
    running.swap(removals_);
  }
  for (auto& [server, t] : running) {
    if (t.joinable()) t.join();
  }
}

}  // namespace dflow::ops
