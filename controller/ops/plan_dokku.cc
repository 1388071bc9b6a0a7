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
  // goes to every healthy Dokku server (the ones `apps destroy` cleans): the app
  // may still exist, stopped, where it ran before, and rollouts only add the
  // stored settings. The agent finds nothing to remove where the app is not.
  const bool removal = action == "remove_domain" || action == "unmount" || action == "unlink" ||
                       (action == "cert" && !in_.has_cert);
  std::set<std::string> on;
  for (const auto& i : in_.instances) {
    if (IsLive(i)) on.insert(i.server);
  }
  std::vector<std::string> targets;
  for (const auto& s : servers_) {
    if (s.runtime != "dokku" || (on.count(s.name) == 0 && !(removal && s.healthy))) continue;
    if (!only.empty() && s.name != only) continue;
    targets.push_back(s.name);
  }
  json step = params;
  step.erase("pin");
  step.erase("only_server");
  for (const auto& server : targets) {
    step["server"] = server;
    AddStep(kStepDokku, absl::StrCat(params.value("what", action), " on ", server), step);
  }
  plan_.summary = targets.empty()
                      ? absl::StrCat("saved; ", in_.app.name,
                                     removal ? " is on no healthy Dokku server, nothing to remove"
                                             : " runs on no Dokku server yet, so its next deploy "
                                               "applies it")
                      : absl::StrCat("saved; applying on ", absl::StrJoin(targets, ", "));
  return absl::OkStatus();
}

}  // namespace dflow::ops
