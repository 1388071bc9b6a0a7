// Service ops (kind "service", one queue per service: op.app is
// ServiceOpKey(NAME)): `dflow services create|destroy` as durable operations.
//
//   create:  plan (the name is free, the server runs Dokku)
//            → service {action: create}: the agent's CreateService (it asks
//              KIND:exists first, so a re-run after a crash creates nothing
//              twice), then the store record (its URL without the password),
//              written unless an identical one is there.
//   destroy: plan (the record exists, nothing is linked)
//            → service {action: destroy}: links checked again, the agent's
//              DestroyService (KIND:exists first), then the record deleted
//              (NotFound is fine).
// A controller killed anywhere re-runs the step, which finishes the op. The
// plan is the point of no return: a failed step ends the op `failed`, never
// "rolled back" — dflow cannot tell a half-made service from one that was on
// the host before, and destroying data on a guess is worse; the message says
// how to finish (run the command again) or clean up.
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/dokku_names.h"
#include "controller/ops/plan.h"
#include "controller/ops/steps.h"

namespace dflow::ops {
namespace {

using json = nlohmann::json;

// Retries a server that is briefly away (Unavailable), like the other steps.
template <typename Fn>
auto Retried(StepEnv& env, StepOutcome& out, Fn fn) -> decltype(fn()) {
  for (int attempt = 1;; ++attempt) {
    auto r = fn();
    absl::Status s;
    if constexpr (std::is_same_v<decltype(r), absl::Status>) {
      s = r;
    } else {
      s = r.status();
    }
    if (!absl::IsUnavailable(s) || attempt >= env.options->max_attempts) return r;
    if (!env.pause(env.options->retry_backoff * attempt)) {
      out.abandoned = true;
      return r;
    }
  }
}

std::string Where(const json& p) {
  return absl::StrCat(p.value("service_kind", ""), " service ", p.value("service", ""), " on ",
                      p.value("server", ""));
}

absl::Status Failed(const absl::Status& s, const json& p, const std::string& doing,
                    const std::string& then) {
  return absl::Status(
      absl::IsUnavailable(s) ? absl::StatusCode::kFailedPrecondition : s.code(),
      absl::StrCat(doing, " ", Where(p), " failed: ", s.message(),
                   absl::IsUnavailable(s) ? "; the server is not reachable" : "", "; ", then));
}

void Create(StepEnv& env, const json& p, const std::string& key, StepOutcome& out) {
  const std::string kind = p.value("service_kind", ""), name = p.value("service", "");
  const std::string server = p.value("server", "");
  auto made = Retried(env, out, [&] {
    return env.agents->CreateService(server, key, kind, name, p.value("expose", false));
  });
  if (out.abandoned) return;
  if (!made.ok()) {
    out.status = Failed(
        made.status(), p, "creating",
        absl::StrCat("nothing is recorded; run `dflow services create ", kind, " ", name,
                     " --server ", server, "` again to finish it (each step asks Dokku first)"));
    return;
  }
  out.output = made->output;
  if (auto existing = env.store->GetService(name); existing.ok()) {
    // This step ran before (a controller killed after the record was written).
    if (existing->kind != kind || existing->server != server) {
      out.status = absl::AlreadyExistsError(absl::StrCat(
          "service ", name, " already exists (", existing->kind, " on ", existing->server, ")"));
    }
  } else {
    store::Service record{.name = name,
                          .kind = kind,
                          .server = server,
                          .exposed = made->exposed_port > 0,
                          .exposed_port = made->exposed_port,
                          .dsn = ServiceUrlWithoutPassword(made->dsn)};
    out.status = env.store->CreateService(record);
  }
  if (!out.status.ok()) return;
  out.result = json{{"exposed_port", made->exposed_port}}.dump();
  if (out.output.empty()) out.output = absl::StrCat(Where(p), ": created");
}

void Destroy(StepEnv& env, const json& p, const std::string& key, StepOutcome& out) {
  const std::string kind = p.value("service_kind", ""), name = p.value("service", "");
  const std::string server = p.value("server", "");
  auto record = env.store->GetService(name);
  if (record.ok() && !record->links.empty()) {
    std::vector<std::string> apps;
    for (const auto& l : record->links) apps.push_back(l.app);
    out.status = absl::FailedPreconditionError(
        absl::StrCat("service ", name, " was linked to ", absl::StrJoin(apps, ", "),
                     " meanwhile; unlink it first (`dflow services unlink ", name, " APP`)"));
    return;
  }
  agents::DokkuChange change{
      .kind = agents::DokkuChange::Kind::kDestroyService, .service_kind = kind, .service = name};
  auto done = Retried(env, out, [&] { return env.agents->ChangeDokku(server, key, change); });
  if (out.abandoned) return;
  if (!done.ok()) {
    out.status = Failed(
        done.status(), p, "destroying",
        absl::StrCat("the service stays recorded; run `dflow services destroy ", name, "` again"));
    return;
  }
  out.output = *done;
  if (absl::Status s = env.store->DeleteService(name); !s.ok() && !absl::IsNotFound(s)) {
    out.status = s;
    return;
  }
  if (out.output.empty()) out.output = absl::StrCat(Where(p), ": destroyed");
}

}  // namespace

void PlanServiceOp(StepEnv& env, const store::Op& op, StepOutcome& out) {
  json p = json::parse(op.params, nullptr, false);
  if (!p.is_object()) {
    out.status = absl::InternalError("service op has no parameters");
    return;
  }
  const std::string action = p.value("action", ""), name = p.value("service", "");
  auto existing = env.store->GetService(name);
  json step = p;
  if (action == "create") {
    if (existing.ok()) {
      out.status = absl::AlreadyExistsError(absl::StrCat(
          "service ", name, " already exists (", existing->kind, " on ", existing->server, ")"));
      return;
    }
    auto server = env.store->GetServer(p.value("server", ""));
    if (!server.ok()) {
      out.status = server.status();
      return;
    }
    if (server->runtime != "dokku") {
      out.status = absl::FailedPreconditionError(
          absl::StrCat("server ", server->name, " runs the ", server->runtime,
                       " runtime; services need a Dokku server"));
      return;
    }
  } else if (action == "destroy") {
    if (!existing.ok()) {
      out.status = existing.status();
      return;
    }
    step["service_kind"] = existing->kind;
    step["server"] = existing->server;
  } else {
    out.status = absl::InternalError(absl::StrCat("unknown service action \"", action, "\""));
    return;
  }
  store::OpStep s;
  s.kind = kStepService;
  s.description = absl::StrCat(action, " ", Where(step));
  s.params = step.dump();
  out.effects.append_steps.push_back(s);
  out.output = absl::StrCat(action, " ", Where(step));
}

void RunServiceStep(StepEnv& env, const store::Op& op, const json& p, const std::string& key,
                    StepOutcome& out) {
  const std::string action = p.value("action", "");
  if (action == "create") {
    Create(env, p, key, out);
  } else if (action == "destroy") {
    Destroy(env, p, key, out);
  } else {
    out.status = absl::InternalError(
        absl::StrCat("op ", op.id, ": unknown service action \"", action, "\""));
  }
}

}  // namespace dflow::ops
