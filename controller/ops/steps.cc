#include "controller/ops/steps.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/blob_store.h"
#include "controller/ops/plan.h"

namespace dflow::ops {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// Calls `fn` again while it fails with Unavailable (a server briefly away),
// up to max_attempts and within the step's timeout.
template <typename Fn>
auto Retry(StepEnv& env, milliseconds timeout, StepOutcome* out, Fn fn) -> decltype(fn()) {
  int64_t start = env.clock->MonotonicMs();
  for (int attempt = 1;; ++attempt) {
    auto r = fn();
    if (StatusOf(r).code() != absl::StatusCode::kUnavailable ||
        attempt >= env.options->max_attempts ||
        env.clock->MonotonicMs() - start >= timeout.count()) {
      return r;
    }
    if (!env.pause(env.options->retry_backoff * attempt)) {
      out->abandoned = true;
      return r;
    }
  }
}

absl::Status With(const absl::Status& s, const std::string& prefix, const std::string& suffix) {
  return absl::Status(s.code(), absl::StrCat(prefix, s.message(), suffix));
}

void RunPlan(StepEnv& env, const store::Op& op, StepOutcome& out) {
  if (op.kind == "service") return PlanServiceOp(env, op, out);
  auto in = LoadPlanInput(env.store, op);
  if (!in.ok()) {
    out.status = in.status();
    return;
  }
  auto plan = MakePlan(*in, *env.options);
  if (!plan.ok()) {
    out.status = plan.status();
    return;
  }
  out.effects = std::move(plan->effects);
  out.effects.append_steps = std::move(plan->steps);
  out.output = plan->summary;
}

void RunStart(StepEnv& env, const store::Op& op, const json& p, const std::string& key,
              milliseconds timeout, StepOutcome& out) {
  agents::StartSpec spec;
  spec.id = p.value("instance", "");
  spec.app = op.app;
  spec.process = p.value("process", "");
  spec.release = p.value("version", int64_t{0});
  spec.health_timeout = timeout;
  spec.progress = env.live;
  std::string server = p.value("server", "");
  auto r = Retry(env, timeout, &out, [&] { return env.agents->StartInstance(server, key, spec); });
  if (!r.ok()) {
    out.status = With(r.status(),
                      absl::StrCat(spec.process, " instance ", spec.id, " of ", op.app, " v",
                                   spec.release, " did not start on ", server, ": "),
                      "");
    return;
  }
  out.effects.instance_states[spec.id] = store::kInstanceRunning;
  out.effects.instance_ports[spec.id] = r->port;
  out.result = json{{"port", r->port}}.dump();
  out.output = absl::StrCat("healthy on port ", r->port);
  // A Dokku build's output: shown under the step by `dflow deploy` and `ops show`.
  if (!r->output.empty()) {
    absl::StrAppend(&out.output, "\n", absl::StripTrailingAsciiWhitespace(r->output));
  }
}

// A running instance leaves the routers, then finishes its requests for the
// wait-to-retire period before it is stopped. Marked draining first (committed
// at once), so a retried step or a restarted controller never routes to it again.
void Drain(StepEnv& env, const store::Op& op, const std::string& id) {
  auto instances = env.store->ListInstances(op.app);
  if (!instances.ok()) return;
  auto it = std::find_if(instances->begin(), instances->end(),
                         [&](const store::Instance& i) { return i.id == id; });
  if (it == instances->end() || it->state != store::kInstanceRunning) return;
  if (!env.store->SetInstanceState(id, store::kInstanceDraining).ok()) return;
  if (env.options->routes_changed) env.options->routes_changed();
  if (env.options->wait_to_retire.count() > 0) env.pause(env.options->wait_to_retire);
}

void RunStop(StepEnv& env, const store::Op& op, const json& p, const std::string& key,
             milliseconds timeout, StepOutcome& out) {
  std::string id = p.value("instance", ""), server = p.value("server", "");
  if (!p.value("started", true)) {
    out.effects.delete_instances.push_back(id);
    out.output = "never started";
    return;
  }
  Drain(env, op, id);
  absl::Status s = env.agents->StopInstance(server, key, id, timeout);
  if (s.ok() || absl::IsNotFound(s)) {
    out.effects.delete_instances.push_back(id);
    out.output = s.ok() ? "stopped" : absl::StrCat("gone: ", s.message());
    return;
  }
  // The server is away: remember the intent; the reconciler stops it on return.
  out.effects.instance_states[id] = store::kInstanceStopping;
  out.output = absl::StrCat("not stopped yet (", s.message(), "); it is stopped when ", server,
                            " is reachable again");
}

}  // namespace

std::string IdempotencyKey(int64_t op_id, int index) {
  return absl::StrCat("op", op_id, "-step", index);
}

StepOutcome RunStepWork(StepEnv& env, const store::Op& op, const store::OpStep& step) {
  StepOutcome out;
  json p = json::parse(step.params, nullptr, false);
  if (!p.is_object()) p = json::object();
  const std::string key = IdempotencyKey(op.id, step.index);
  const std::string server = p.value("server", "");
  const milliseconds timeout(p.value("timeout_ms", int64_t{60000}));
  const int64_t version = p.value("version", int64_t{0});
  const std::string& kind = step.kind;

  if (kind == kStepPlan) {
    RunPlan(env, op, out);
  } else if (kind == kStepEnsureArchive) {
    std::string digest = p.value("digest", "");
    std::string path = BlobStore(env.options->archive_dir).Path(digest);
    out.status =
        Retry(env, timeout, &out, [&] { return env.agents->EnsureArchive(server, digest, path); });
    if (out.status.ok()) out.output = absl::StrCat(server, " holds ", digest.substr(0, 12));
  } else if (kind == kStepPrepare) {
    auto app = env.store->GetApp(op.app);
    auto release = app.ok() ? env.store->GetRelease(op.app, version)
                            : absl::StatusOr<store::Release>(app.status());
    if (!release.ok()) {
      out.status = release.status();
    } else {
      agents::PrepareSpec spec{op.app,          version,          release->source_digest,
                               release->config, app->health_path, app->memory_bytes,
                               app->cpus,       release->image};
      auto r =
          Retry(env, timeout, &out, [&] { return env.agents->PrepareRelease(server, key, spec); });
      out.status = r.status();
      if (r.ok()) {
        std::vector<std::string> types;
        for (const auto& [type, command] : *r) types.push_back(type);
        out.output = absl::StrCat("process types: ", absl::StrJoin(types, ", "));
      } else {
        out.status =
            With(r.status(), absl::StrCat("preparing ", op.app, " v", version, " failed: "), "");
      }
    }
  } else if (kind == kStepReleaseCommand) {
    auto r = Retry(env, timeout, &out, [&] {
      return env.agents->RunReleaseCommand(server, key, op.app, version, timeout);
    });
    if (r.ok()) {
      out.output = *r;
    } else {
      out.status = With(r.status(),
                        absl::StrCat("the release command of ", op.app, " v", version,
                                     " failed on ", server, ": "),
                        "");
    }
  } else if (kind == kStepStart) {
    RunStart(env, op, p, key, timeout, out);
  } else if (kind == kStepActivate) {
    int64_t previous = p.value("previous", int64_t{0});
    out.effects.current_release = version;
    out.effects.release_status[version] = "current";
    if (previous > 0 && previous != version) out.effects.release_status[previous] = "previous";
    if (p.contains("scale")) out.effects.scale = p["scale"].get<std::map<std::string, int>>();
    if (p.contains("config")) {
      out.effects.config = p["config"].get<std::map<std::string, std::string>>();
    }
    out.effects.event_kind = "release.current";
    out.effects.event_message = absl::StrCat(op.app, " v", version, " is the current release");
    out.output = absl::StrCat("v", version, " serves");
  } else if (kind == kStepCommit) {
    if (p.contains("scale")) out.effects.scale = p["scale"].get<std::map<std::string, int>>();
    if (p.contains("config")) {
      out.effects.config = p["config"].get<std::map<std::string, std::string>>();
    }
    if (p.contains("pinned_server")) {
      out.effects.pinned_server = p["pinned_server"].get<std::string>();
    }
  } else if (kind == kStepStop) {
    RunStop(env, op, p, key, timeout, out);
  } else if (kind == kStepDokku) {
    RunDokkuStep(env, op, p, key, out);
    for (auto& r : out.effects.add_removals) r.step_index = step.index;
  } else if (kind == kStepService) {
    RunServiceStep(env, op, p, key, out);
  } else if (kind == kStepDestroyOn) {
    absl::Status s = env.agents->DestroyApp(server, key, op.app);
    if (absl::IsUnavailable(s)) {
      // Recorded with the step, so a crash either reruns the step or keeps the record.
      store::PendingRemoval r;
      r.server = server;
      r.app = op.app;
      r.kind = "destroy";
      r.what = absl::StrCat("remove app ", op.app);
      r.reason = absl::StrCat("destroyed while ", server, " was unreachable");
      r.step_index = step.index;
      out.effects.add_removals.push_back(r);
      out.output = absl::StrCat("skipped: ", s.message(), "; ", op.app, " is removed from ", server,
                                " when it is reachable again (`dflow status` lists it)");
    } else if (absl::IsNotFound(s)) {
      out.output = absl::StrCat("skipped: ", s.message());  // the server left the inventory
    } else {
      out.status = s;
    }
  } else if (kind == kStepDeleteApp) {
    out.effects.delete_app = true;
    out.effects.event_kind = "app.destroyed";
    out.effects.event_message = absl::StrCat("app ", op.app, " destroyed");
  } else if (kind == kStepRollback) {
    out.output = p.value("error", "");
  } else if (kind == kStepAbandonRelease) {
    out.effects.release_status[version] = "failed";
    out.effects.event_kind = "release.failed";
    out.effects.event_message = absl::StrCat(op.app, " v", version, " was not rolled out");
  } else {
    out.status = absl::InternalError(
        absl::StrCat("step ", step.index, " of op ", op.id, " has unknown kind \"", kind, "\""));
  }
  return out;
}

bool PastPointOfNoReturn(const store::Op& op) {
  for (const auto& s : op.steps) {
    if (s.state != "done") continue;
    if (s.kind == kStepActivate || s.kind == kStepCommit) return true;
    if ((op.kind == "destroy" || op.kind == "service") && s.kind == kStepPlan) return true;
  }
  return false;
}

int RollbackIndex(const store::Op& op) {
  for (const auto& s : op.steps) {
    if (s.kind == kStepRollback) return s.index;
  }
  return -1;
}

std::vector<store::OpStep> Compensation(const store::Op& op, const std::string& cause,
                                        const std::string& error) {
  bool undo = !PastPointOfNoReturn(op);
  std::vector<store::OpStep> steps;
  store::OpStep marker;
  marker.kind = kStepRollback;
  marker.description = !undo               ? "stop: past the point of no return, nothing is undone"
                       : cause == "cancel" ? "cancelled: undo what this op did"
                                           : "undo what this op did";
  marker.params = json{{"cause", cause}, {"error", error}, {"undo", undo}}.dump();
  steps.push_back(marker);
  if (!undo) return steps;
  for (const auto& s : op.steps) {
    if (s.kind != kStepStart) continue;
    json p = json::parse(s.params, nullptr, false);
    if (!p.is_object()) continue;
    store::OpStep stop;
    stop.kind = kStepStop;
    stop.description =
        absl::StrCat("stop new instance ", p.value("instance", ""), " on ", p.value("server", ""));
    stop.params = json{
        {"instance", p.value("instance", "")},
        {"server", p.value("server", "")},
        {"started", s.state != "pending"},
        {"timeout_ms",
         10000}}.dump();
    steps.push_back(stop);
  }
  if (op.release > 0) {
    store::OpStep abandon;
    abandon.kind = kStepAbandonRelease;
    abandon.description = absl::StrCat("mark v", op.release, " failed");
    abandon.params = json{{"version", op.release}}.dump();
    steps.push_back(abandon);
  }
  return steps;
}

}  // namespace dflow::ops
