// Plans of what Dokku adds: a `dokku` op (ports, storage, checks, links,
// domains changed through the API), and the "apply" step every rollout puts on
// a Dokku server before its instances start there, so a server an app lands on
// gets the app's settings first.
//
// The API saves the desired state in the store before it submits the op; the
// op's first step is a `commit` (with the pin, when the change pins the app),
// so a failure after it ends the op `failed`, never "rolled back": the setting
// stays saved and every later rollout applies it again.
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/ops/planner.h"

namespace dflow::ops {

using json = nlohmann::json;

void Planner::ApplyDokkuExtras(const std::vector<std::string>& servers) {
  if (!in_.extras.NeedsDokku() && in_.domains.empty() && !in_.has_cert) return;
  for (const auto& server : servers) {
    auto snap = std::find_if(servers_.begin(), servers_.end(),
                             [&](const placement::ServerSnapshot& s) { return s.name == server; });
    if (snap == servers_.end() || snap->runtime != "dokku") continue;
    AddStep(kStepDokku,
            absl::StrCat("apply the ports, storage, checks, services and domains of ", in_.app.name,
                         " on ", server),
            {{"server", server}, {"action", "apply"}});
  }
}

absl::Status Planner::PlanDokku() {
  json params = json::parse(in_.op.params, nullptr, false);
  if (!params.is_object()) return absl::InternalError("dokku op has no parameters");
  const std::string action = params.value("action", "apply");
  const std::string only = params.value("only_server", "");
  json commit = json::object();
  if (params.contains("pin")) commit["pinned_server"] = params["pin"];
  AddStep(kStepCommit,
          params.contains("pin") ? absl::StrCat("save the change and pin ", in_.app.name, " to ",
                                                params["pin"].get<std::string>())
                                 : "save the change",
          commit);
  // Every Dokku server the app runs on now (live instances). A removal also
  // goes to every healthy Dokku server, and is recorded for each unreachable
  // one (below): the app may still exist, stopped, where it ran before, and
  // rollouts only add the stored settings. The agent finds nothing to remove
  // where the app is not.
  // A removal a server missed (the reconciler's retry, "pending_removal") goes
  // to that server even when a certificate was added since: the step then
  // sends the stored one, which is what the server should hold.
  const bool retry = params.contains("pending_removal");
  const bool removal = action == "remove_domain" || action == "unmount" || action == "unlink" ||
                       action == "unset_check" || (action == "cert" && (!in_.has_cert || retry));
  std::set<std::string> on;
  for (const auto& i : in_.instances) {
    if (IsLive(i)) on.insert(i.server);
  }
  // An unreachable Dokku server misses a removal: it is recorded (committed
  // with this plan) and the reconciler sends it there on return, as an op of
  // this kind with "only_server" and "pending_removal" (the record it finishes).
  std::vector<std::string> targets, away;
  for (const auto& s : servers_) {
    if (s.runtime != "dokku" || (!only.empty() && s.name != only)) continue;
    if (removal && !s.healthy && !retry) away.push_back(s.name);
    if (on.count(s.name) == 0 && !(removal && s.healthy)) continue;
    targets.push_back(s.name);
  }
  json step = params;
  step.erase("pin");
  step.erase("only_server");
  for (const auto& server : targets) {
    step["server"] = server;
    AddStep(kStepDokku, absl::StrCat(params.value("what", action), " on ", server), step);
  }
  json missed = step;
  missed.erase("server");
  for (const auto& server : away) {
    store::PendingRemoval r;
    r.server = server;
    r.app = in_.app.name;
    r.kind = "dokku";
    r.params = missed.dump();
    r.what = params.value("what", absl::StrCat(action, " of ", in_.app.name));
    r.reason = absl::StrCat("removed while ", server, " was unreachable");
    r.step_index = 0;  // the plan step
    plan_.effects.add_removals.push_back(r);
  }
  plan_.summary = targets.empty()
                      ? absl::StrCat("saved; ", in_.app.name,
                                     removal ? " is on no healthy Dokku server, nothing to remove "
                                               "now"
                                             : " runs on no Dokku server yet, so its next deploy "
                                               "applies it")
                      : absl::StrCat("saved; applying on ", absl::StrJoin(targets, ", "));
  if (!away.empty()) {
    absl::StrAppend(&plan_.summary, "; ", absl::StrJoin(away, ", "),
                    away.size() == 1 ? " is" : " are",
                    " unreachable: it is removed there when it is reachable again");
  }
  return absl::OkStatus();
}

}  // namespace dflow::ops
