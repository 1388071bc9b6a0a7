// The plan of each kind of op (the building blocks are in plan.cc).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "controller/ops/planner.h"
#include "controller/ops/procfile.h"

namespace dflow::ops {

using json = nlohmann::json;

namespace {

std::string ScaleText(const std::map<std::string, int>& scale) {
  std::vector<std::string> parts;
  for (const auto& [type, n] : scale) parts.push_back(absl::StrCat(type, "=", n));
  return parts.empty() ? "nothing" : absl::StrJoin(parts, " ");
}

// Which instance goes first when a server loses some: not running, then newest.
bool RemoveFirst(const store::Instance& a, const store::Instance& b) {
  bool a_up = a.state == store::kInstanceRunning, b_up = b.state == store::kInstanceRunning;
  if (a_up != b_up) return !a_up;
  if (a.started_at_ms != b.started_at_ms) return a.started_at_ms > b.started_at_ms;
  return a.id > b.id;
}

}  // namespace

absl::StatusOr<Plan> Planner::Run() {
  const std::string& kind = in_.op.kind;
  // What the op rolls out decides where it may go: an image, or an app using
  // what Dokku adds, needs Dokku servers.
  const store::Release* rolled = nullptr;
  if (kind == "deploy" && in_.release) {
    rolled = &*in_.release;
  } else if (in_.current) {
    rolled = &*in_.current;
  }
  needs_dokku_ = in_.extras.NeedsDokku() || (rolled != nullptr && !rolled->image.empty());
  absl::Status s;
  if (kind == "dokku") {
    s = PlanDokku();
  } else if (kind == "deploy") {
    s = PlanDeploy();
  } else if (kind == "config") {
    s = PlanConfig();
  } else if (kind == "rollback") {
    s = PlanRollback();
  } else if (kind == "restart") {
    s = PlanRestart();
  } else if (kind == "scale") {
    s = PlanScale();
  } else if (kind == "reschedule") {
    s = PlanReschedule();
  } else if (kind == "destroy") {
    s = PlanDestroy();
  } else if (kind == "pin") {
    s = PlanPin();
  } else {
    s = absl::InternalError(absl::StrCat("op ", in_.op.id, " has unknown kind \"", kind, "\""));
  }
  RETURN_IF_ERROR(s);
  if (plan_.summary.empty()) {
    plan_.summary =
        plan_.steps.empty() ? "nothing to do" : absl::StrCat(plan_.steps.size(), " steps");
  }
  return std::move(plan_);
}

absl::Status Planner::PlanDeploy() {
  if (!in_.release) return absl::InternalError("deploy op has no release");
  RolloutSpec spec{in_.release->version, in_.release->source_digest, in_.release->procfile,
                   in_.app.config, in_.release->image};
  store::ReleaseUpdate u{
      spec.version, in_.release->description, spec.digest, spec.procfile, spec.config, spec.image};
  u.commit_sha = in_.release->commit_sha;
  u.pushed_by = in_.release->pushed_by;
  plan_.effects.release_update = u;
  return Rollout(spec);
}

absl::Status Planner::PlanConfig() {
  json params = json::parse(in_.op.params, nullptr, false);
  std::map<std::string, std::string> config = in_.current ? in_.current->config : in_.app.config;
  std::vector<std::string> changed;
  if (params.contains("set")) {
    for (const auto& [k, v] : params["set"].items()) {
      config[k] = v.get<std::string>();
      changed.push_back(absl::StrCat("set ", k));
    }
  }
  if (params.contains("unset")) {
    for (const auto& k : params["unset"]) {
      config.erase(k.get<std::string>());
      changed.push_back(absl::StrCat("unset ", k.get<std::string>()));
    }
  }
  std::string what = absl::StrJoin(changed, ", ");
  if (!in_.current) {
    // Nothing runs yet: the config is saved and the first deploy takes it.
    plan_.effects.config = config;
    if (in_.release) {
      plan_.effects.release_update =
          store::ReleaseUpdate{in_.release->version,
                               absl::StrCat(what, " (not rolled out: nothing deployed yet)"),
                               "",
                               "",
                               config,
                               ""};
      plan_.effects.release_status[in_.release->version] = "failed";
    }
    plan_.summary = "config saved; it applies at the first deploy";
    return absl::OkStatus();
  }
  if (!in_.release) return absl::InternalError("config op has no release");
  RolloutSpec spec{in_.release->version, in_.current->source_digest, in_.current->procfile, config,
                   in_.current->image};
  // The same code runs: the release carries the commit it was built from.
  store::ReleaseUpdate u{spec.version, what, spec.digest, spec.procfile, config, spec.image};
  u.commit_sha = in_.current->commit_sha;
  u.pushed_by = in_.current->pushed_by;
  plan_.effects.release_update = u;
  return Rollout(spec);
}

absl::Status Planner::PlanRollback() {
  if (!in_.release) return absl::InternalError("rollback op has no release");
  if (!in_.current) {
    return absl::FailedPreconditionError(
        absl::StrCat("app ", in_.app.name, " has no current release to roll back from"));
  }
  json params = json::parse(in_.op.params, nullptr, false);
  int64_t target = params.value("target", int64_t{0});
  const store::Release* from = nullptr;
  for (const auto& r : in_.releases) {
    if (target > 0 ? r.version == target
                   : (r.version < in_.current->version &&
                      (r.status == "previous" || r.status == "current"))) {
      from = &r;  // ascending order: the last match is the newest
    }
  }
  if (from == nullptr) {
    return absl::FailedPreconditionError(
        target > 0 ? absl::StrCat("app ", in_.app.name, " has no release v", target,
                                  "; `dflow releases ", in_.app.name, "` lists them")
                   : absl::StrCat("app ", in_.app.name, " has no release before v",
                                  in_.current->version, " that served; nothing to roll back to"));
  }
  if (from->version == in_.current->version) {
    return absl::FailedPreconditionError(
        absl::StrCat("v", from->version, " is already the current release of ", in_.app.name));
  }
  if (from->status == "pending" || (from->source_digest.empty() && from->image.empty())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "v", from->version, " of ", in_.app.name, " was never rolled out; choose another release"));
  }
  RolloutSpec spec{in_.release->version, from->source_digest, from->procfile, from->config,
                   from->image};
  needs_dokku_ = in_.extras.NeedsDokku() || !from->image.empty();
  store::ReleaseUpdate u{spec.version, absl::StrCat("rollback to v", from->version),
                         spec.digest,  spec.procfile,
                         spec.config,  spec.image};
  u.commit_sha = from->commit_sha;  // the rolled-back-to code's commit and pusher
  u.pushed_by = from->pushed_by;
  plan_.effects.release_update = u;
  return Rollout(spec);
}

absl::Status Planner::PlanRestart() {
  ASSIGN_OR_RETURN(auto types, CurrentTypes());
  RolloutSpec spec{in_.current->version, in_.current->source_digest, in_.current->procfile,
                   in_.current->config, in_.current->image};
  std::vector<store::Instance> old;
  for (const auto& i : in_.instances) {
    if (IsLive(i) || i.state == store::kInstanceFailed) old.push_back(i);
  }
  ASSIGN_OR_RETURN(auto fresh, PlaceNew(Desired(types), spec.version, /*fresh=*/true));
  RETURN_IF_ERROR(BringUp(spec, fresh, /*release_command=*/false));
  AddStep(kStepCommit, "switch to the new instances", json::object());
  StopAll(old);
  plan_.summary = absl::StrCat(fresh.size(), " new instances of v", spec.version, ", then ",
                               old.size(), " old stop");
  return absl::OkStatus();
}

// Pinning says the app's data lives on one server: its instances move there
// (fresh ones start on it, then the pin is committed with the switch, then the
// others stop), and from then on placement uses nothing else. Unpinning only
// lifts the restriction.
absl::Status Planner::PlanPin() {
  json params = json::parse(in_.op.params, nullptr, false);
  std::string server = params.value("server", "");
  json pin = {{"pinned_server", server}};
  if (server.empty()) {
    AddStep(kStepCommit, "unpin: its instances may be placed on any server", pin);
    plan_.summary = "unpin";
    return absl::OkStatus();
  }
  if (!in_.current) {
    AddStep(kStepCommit, absl::StrCat("pin to ", server, " (it applies at the first deploy)"), pin);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(auto types, CurrentTypes());
  RolloutSpec spec{in_.current->version, in_.current->source_digest, in_.current->procfile,
                   in_.current->config, in_.current->image};
  std::vector<store::Instance> old;
  for (const auto& i : in_.instances) {
    if (i.server != server && (IsLive(i) || i.state == store::kInstanceFailed)) old.push_back(i);
  }
  std::map<std::string, int> missing = Desired(types);
  for (const auto& i : in_.instances) {
    if (i.server == server && IsLive(i) && missing[i.process] > 0) missing[i.process]--;
  }
  pin_override_ = server;
  ASSIGN_OR_RETURN(auto fresh, PlaceNew(missing, spec.version, /*fresh=*/false));
  RETURN_IF_ERROR(BringUp(spec, fresh, /*release_command=*/false));
  AddStep(kStepCommit, absl::StrCat("pin to ", server), pin);
  StopAll(old);
  plan_.summary = absl::StrCat("pin to ", server, ": ", fresh.size(), " new instances there, then ",
                               old.size(), " elsewhere stop");
  return absl::OkStatus();
}

absl::Status Planner::PlanScale() {
  json params = json::parse(in_.op.params, nullptr, false);
  std::map<std::string, int> asked;
  if (params.contains("scale")) asked = params["scale"].get<std::map<std::string, int>>();
  std::map<std::string, int> merged = in_.app.scale;
  for (const auto& [type, n] : asked) merged[type] = n;
  if (!in_.current) {
    AddStep(
        kStepCommit,
        absl::StrCat("record the scale ", ScaleText(merged), " (it applies at the first deploy)"),
        {{"scale", merged}});
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(auto types, CurrentTypes());
  auto scalable = ScalableTypes(types);
  for (const auto& [type, n] : asked) {
    if (std::find(scalable.begin(), scalable.end(), type) == scalable.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("app ", in_.app.name, " has no process type \"", type, "\"; its Procfile (v",
                       in_.current->version, ") declares: ", absl::StrJoin(scalable, ", ")));
    }
  }
  auto live = LiveByProcess();
  std::map<std::string, int> up;
  std::vector<store::Instance> removed;
  for (const auto& [type, n] : merged) {
    int have = static_cast<int>(live[type].size());
    if (n > have) up[type] = n - have;
    if (n >= have) continue;
    placement::ScaleDownRequest req;
    req.app = in_.app.name;
    req.count = have - n;
    req.memory_bytes = in_.app.memory_bytes;
    req.cpus = in_.app.cpus;
    for (const auto& i : live[type]) req.instances_by_server[i.server]++;
    ASSIGN_OR_RETURN(auto removals, placement::ChooseRemovals(servers_, req));
    for (const auto& [server, count] : removals.count_by_server) {
      std::vector<store::Instance> here;
      for (const auto& i : live[type]) {
        if (i.server == server) here.push_back(i);
      }
      std::sort(here.begin(), here.end(), RemoveFirst);
      removed.insert(removed.end(), here.begin(),
                     here.begin() + std::min<size_t>(count, here.size()));
    }
  }
  RolloutSpec spec{in_.current->version, in_.current->source_digest, in_.current->procfile,
                   in_.current->config, in_.current->image};
  ASSIGN_OR_RETURN(auto fresh, PlaceNew(up, spec.version, /*fresh=*/false));
  RETURN_IF_ERROR(BringUp(spec, fresh, /*release_command=*/false));
  AddStep(kStepCommit, absl::StrCat("record the scale ", ScaleText(merged)), {{"scale", merged}});
  StopAll(removed);
  plan_.summary = absl::StrCat(ScaleText(merged), ": ", fresh.size(), " to start, ", removed.size(),
                               " to stop");
  return absl::OkStatus();
}

absl::Status Planner::PlanReschedule() {
  if (!in_.current) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto types, CurrentTypes());
  auto live = LiveByProcess();
  std::map<std::string, int> gap;
  for (const auto& [type, n] : Desired(types)) {
    int have = static_cast<int>(live[type].size());
    if (n > have) gap[type] = n - have;
  }
  std::vector<store::Instance> failed;
  for (const auto& i : in_.instances) {
    if (i.state == store::kInstanceFailed) failed.push_back(i);
  }
  RolloutSpec spec{in_.current->version, in_.current->source_digest, in_.current->procfile,
                   in_.current->config, in_.current->image};
  ASSIGN_OR_RETURN(auto fresh, PlaceNew(gap, spec.version, /*fresh=*/false));
  RETURN_IF_ERROR(BringUp(spec, fresh, /*release_command=*/false));
  StopAll(failed);
  std::vector<std::string> placed;
  for (const auto& i : fresh) placed.push_back(absl::StrCat(i.process, " on ", i.server));
  plan_.summary =
      fresh.empty() && failed.empty()
          ? "nothing to replace"
          : absl::StrCat(
                "replacements: ", placed.empty() ? "none" : absl::StrJoin(placed, ", "),
                failed.empty() ? "" : absl::StrCat("; ", failed.size(), " failed to stop"));
  return absl::OkStatus();
}

absl::Status Planner::PlanDestroy() {
  std::vector<store::Instance> running;
  for (const auto& i : in_.instances) {
    if (i.state != store::kInstanceLost) running.push_back(i);
  }
  StopAll(running);
  // Every server, reachable or not: where the agent cannot be reached the
  // step records the removal and the reconciler finishes it on return.
  std::vector<std::string> away;
  for (const auto& s : servers_) {
    AddStep(kStepDestroyOn,
            absl::StrCat("remove ", in_.app.name, " from ", s.name,
                         s.healthy ? "" : " (unreachable now)"),
            {{"server", s.name}});
    if (!s.healthy) away.push_back(s.name);
  }
  if (!away.empty()) {
    plan_.summary = absl::StrCat(plan_.steps.size() + 1, " steps; ", absl::StrJoin(away, ", "),
                                 away.size() == 1 ? " is" : " are", " unreachable: ", in_.app.name,
                                 " is removed there when it is reachable again");
  }
  AddStep(kStepDeleteApp, absl::StrCat("delete ", in_.app.name, " and its releases"),
          json::object());
  return absl::OkStatus();
}

}  // namespace dflow::ops
