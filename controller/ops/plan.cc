// Loading a plan's input, the fleet snapshot, and the building blocks every
// kind of plan uses (plan_kinds.cc has the kinds).
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "controller/ops/plan.h"
#include "controller/ops/planner.h"
#include "controller/ops/procfile.h"

namespace dflow::ops {

using json = nlohmann::json;

bool IsLive(const store::Instance& i) {
  return i.state == store::kInstancePending || i.state == store::kInstanceRunning ||
         i.state == store::kInstanceCrashed;
}

std::vector<placement::ServerSnapshot> Snapshot(const std::vector<store::Server>& servers,
                                                const std::vector<store::Instance>& instances,
                                                const std::vector<store::App>& apps) {
  std::map<std::string, const store::App*> by_name;
  for (const auto& a : apps) by_name[a.name] = &a;
  std::map<std::string, placement::ServerSnapshot> out;
  for (const auto& s : servers) {
    placement::ServerSnapshot snap;
    snap.name = s.name;
    snap.healthy = s.health == store::Health::kHealthy;
    snap.draining = s.draining;
    snap.runtime = s.runtime;
    snap.labels = s.labels;
    snap.memory_total_bytes = s.facts.memory_total_bytes;
    snap.cpus = s.facts.cpus;
    out[s.name] = std::move(snap);
  }
  for (const auto& i : instances) {
    auto server = out.find(i.server);
    auto app = by_name.find(i.app);
    if (server == out.end() || app == by_name.end() || i.state == store::kInstanceLost) continue;
    server->second.memory_allocated_bytes += app->second->memory_bytes;
    server->second.cpus_allocated += app->second->cpus;
  }
  std::vector<placement::ServerSnapshot> list;
  for (auto& [name, snap] : out) list.push_back(std::move(snap));
  return list;
}

absl::StatusOr<PlanInput> LoadPlanInput(store::Store* store, const store::Op& op) {
  PlanInput in;
  in.op = op;
  ASSIGN_OR_RETURN(in.app, store->GetApp(op.app));
  if (in.app.current_release > 0) {
    ASSIGN_OR_RETURN(in.current, store->GetRelease(op.app, in.app.current_release));
  }
  if (op.release > 0) {
    ASSIGN_OR_RETURN(in.release, store->GetRelease(op.app, op.release));
  }
  ASSIGN_OR_RETURN(in.releases, store->ListReleases(op.app));
  ASSIGN_OR_RETURN(in.instances, store->ListInstances(op.app));
  ASSIGN_OR_RETURN(auto servers, store->ListServers());
  ASSIGN_OR_RETURN(auto all, store->ListAllInstances());
  ASSIGN_OR_RETURN(auto apps, store->ListApps());
  in.servers = Snapshot(servers, all, apps);
  ASSIGN_OR_RETURN(in.extras, store->GetAppExtras(op.app));
  ASSIGN_OR_RETURN(auto domains, store->ListDomains());
  for (const auto& [host, app] : domains) {
    if (app == op.app) in.domains.push_back(host);
  }
  ASSIGN_OR_RETURN(auto certs, store->ListAppCerts());
  for (const auto& c : certs) in.has_cert = in.has_cert || c.app == op.app;
  return in;
}

absl::StatusOr<Plan> MakePlan(const PlanInput& in, const EngineOptions& options) {
  return Planner(in, options).Run();
}

void Planner::AddStep(const char* kind, std::string description, json params) {
  store::OpStep step;
  step.kind = kind;
  step.description = std::move(description);
  step.params = params.dump();
  plan_.steps.push_back(std::move(step));
}

placement::PlacementRequest Planner::Request(const std::string& process, int count) const {
  placement::PlacementRequest r;
  r.app = in_.app.name;
  r.count = count;
  r.constraints = in_.app.constraints;
  if (!pin_override_.empty()) {
    r.pinned_server = pin_override_;
  } else if (!in_.app.pinned_server.empty()) {
    r.pinned_server = in_.app.pinned_server;
  }
  // Ports, storage, checks, services and images exist on Dokku servers only.
  if (needs_dokku_) r.runtime = "dokku";
  r.memory_bytes = in_.app.memory_bytes;
  r.cpus = in_.app.cpus;
  r.strategy = placement::ParseStrategy(in_.app.strategy).value_or(placement::Strategy::kSpread);
  return r;
}

std::map<std::string, std::vector<store::Instance>> Planner::LiveByProcess() const {
  std::map<std::string, std::vector<store::Instance>> out;
  for (const auto& i : in_.instances) {
    if (IsLive(i)) out[i.process].push_back(i);
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> Planner::CurrentTypes() const {
  if (!in_.current) {
    return absl::FailedPreconditionError(absl::StrCat(
        "app ", in_.app.name, " has not been deployed yet; deploy it first with `dflow deploy ",
        in_.app.name, " --path DIR`"));
  }
  return ParseProcfileTypes(in_.current->procfile);
}

// The scale a release runs at: the app's desired counts for the types its
// Procfile declares; a `web` type never scaled before starts with one instance.
std::map<std::string, int> Planner::Desired(const std::map<std::string, std::string>& types) const {
  std::map<std::string, int> out;
  for (const auto& type : ScalableTypes(types)) {
    auto it = in_.app.scale.find(type);
    out[type] = it != in_.app.scale.end() ? it->second : (type == "web" ? 1 : 0);
  }
  return out;
}

absl::StatusOr<std::vector<store::Instance>> Planner::PlaceNew(
    const std::map<std::string, int>& counts, int64_t version, bool fresh) {
  std::vector<store::Instance> out;
  auto live = LiveByProcess();
  for (const auto& [process, count] : counts) {
    if (count <= 0) continue;
    placement::PlacementRequest req = Request(process, count);
    if (!fresh) {
      for (const auto& i : live[process]) req.instances_by_server[i.server]++;
    }
    auto assignment = placement::Place(servers_, req);
    if (!assignment.ok()) {
      return absl::Status(
          assignment.status().code(),
          absl::StrCat("cannot place ", count, " ", process, " instance", count == 1 ? "" : "s",
                       " of app ", in_.app.name, ": ", assignment.status().message(),
                       "; add servers, free capacity or relax the app's "
                       "constraints"));
    }
    for (const auto& server : assignment->servers) {
      store::Instance i;
      i.id = absl::StrCat(in_.app.name, "-", process, "-", in_.op.id, "-", ++next_instance_);
      i.app = in_.app.name;
      i.process = process;
      i.release = version;
      i.server = server;
      i.state = store::kInstancePending;
      i.op_id = in_.op.id;
      out.push_back(i);
      for (auto& snap : servers_) {
        if (snap.name != server) continue;
        snap.memory_allocated_bytes += in_.app.memory_bytes;
        snap.cpus_allocated += in_.app.cpus;
      }
    }
  }
  return out;
}

absl::Status Planner::BringUp(const RolloutSpec& spec, const std::vector<store::Instance>& fresh,
                              bool release_command) {
  std::vector<std::string> targets;
  for (const auto& i : fresh) {
    if (std::find(targets.begin(), targets.end(), i.server) == targets.end()) {
      targets.push_back(i.server);
    }
  }
  std::sort(targets.begin(), targets.end());
  std::string release_server;
  if (release_command) {
    ASSIGN_OR_RETURN(auto types, ParseProcfileTypes(spec.procfile));
    if (types.count(kReleaseProcess) > 0) {
      if (!targets.empty()) {
        release_server = targets.front();
      } else {
        // Scaled to zero: the release command still runs, on a server that fits.
        auto one = placement::Place(servers_, Request(kReleaseProcess, 1));
        if (!one.ok()) {
          return absl::Status(
              one.status().code(),
              absl::StrCat("no server can run the release command of ", in_.app.name, " v",
                           spec.version, ": ", one.status().message()));
        }
        release_server = one->servers.front();
        targets.push_back(release_server);
      }
    }
  }
  int64_t v = spec.version;
  for (const auto& s : targets) {
    if (!spec.image.empty()) break;  // an image has no archive to copy
    AddStep(kStepEnsureArchive, absl::StrCat("copy the source of v", v, " to ", s),
            {{"server", s}, {"digest", spec.digest}});
  }
  for (const auto& s : targets) {
    AddStep(kStepPrepare, absl::StrCat("prepare v", v, " on ", s),
            {{"server", s}, {"version", v}, {"timeout_ms", options_.prepare_timeout.count()}});
  }
  ApplyDokkuExtras(targets);
  if (!release_server.empty()) {
    AddStep(kStepReleaseCommand,
            absl::StrCat("run the release command of v", v, " on ", release_server),
            {{"server", release_server},
             {"version", v},
             {"timeout_ms", options_.release_command_timeout.count()}});
  }
  for (const auto& i : fresh) {
    AddStep(kStepStart,
            absl::StrCat("start ", i.process, " instance ", i.id, " (v", v, ") on ", i.server),
            {{"instance", i.id},
             {"server", i.server},
             {"process", i.process},
             {"version", v},
             {"timeout_ms", in_.app.health_timeout_ms > 0 ? in_.app.health_timeout_ms
                                                          : options_.health_timeout.count()}});
  }
  plan_.effects.put_instances.insert(plan_.effects.put_instances.end(), fresh.begin(), fresh.end());
  return absl::OkStatus();
}

void Planner::StopAll(const std::vector<store::Instance>& instances) {
  for (const auto& i : instances) {
    AddStep(
        kStepStop,
        absl::StrCat("stop ", i.process, " instance ", i.id, " (v", i.release, ") on ", i.server),
        {{"instance", i.id},
         {"server", i.server},
         {"started", true},
         {"timeout_ms", options_.stop_grace.count()}});
  }
}

absl::Status Planner::Rollout(const RolloutSpec& spec) {
  ASSIGN_OR_RETURN(auto types, ParseProcfileTypes(spec.procfile));
  std::map<std::string, int> desired = Desired(types);
  std::vector<store::Instance> old;
  for (const auto& i : in_.instances) {
    if (IsLive(i) || i.state == store::kInstanceFailed) old.push_back(i);
  }
  ASSIGN_OR_RETURN(auto fresh, PlaceNew(desired, spec.version, /*fresh=*/true));
  RETURN_IF_ERROR(BringUp(spec, fresh, /*release_command=*/true));
  AddStep(kStepActivate, absl::StrCat("make v", spec.version, " the current release"),
          {{"version", spec.version},
           {"previous", in_.app.current_release},
           {"scale", desired},
           {"config", spec.config}});
  StopAll(old);
  std::vector<std::string> placed;
  for (const auto& i : fresh) placed.push_back(absl::StrCat(i.process, " on ", i.server));
  plan_.summary = absl::StrCat("v", spec.version, ": ",
                               fresh.empty() ? "no instances" : absl::StrJoin(placed, ", "),
                               old.empty() ? ""
                                           : absl::StrCat("; then ", old.size(), " old instance",
                                                          old.size() == 1 ? "" : "s", " stop"));
  return absl::OkStatus();
}

}  // namespace dflow::ops
