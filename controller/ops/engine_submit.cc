// Submitting and cancelling ops (the engine's running half is engine.cc).
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "controller/ops/engine.h"

namespace dflow::ops {

using json = nlohmann::json;

absl::StatusOr<OpRef> Engine::Submit(const std::string& app, const std::string& kind,
                                     const std::string& params,
                                     std::optional<store::Release> release,
                                     const std::string& description) {
  ASSIGN_OR_RETURN(int64_t id,
                   store_->CreateOp(app, kind, params, std::move(release), description));
  OpRef ref;
  ref.id = id;
  ASSIGN_OR_RETURN(store::Op created, store_->GetOp(id));
  ref.release = created.release;
  ASSIGN_OR_RETURN(auto active, store_->ActiveOps());
  for (const auto& op : active) {
    if (op.app == app && op.id < id) ref.queued_behind = op.id;
  }
  Notify();
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
  return ref;
}

absl::StatusOr<OpRef> Engine::Deploy(const std::string& app, const std::string& digest,
                                     const std::string& procfile, const std::string& description,
                                     const std::string& created_by, const std::string& commit_sha,
                                     const std::string& pushed_by) {
  store::Release r;
  r.kind = "deploy";
  r.description = description;
  r.source_digest = digest;
  r.procfile = procfile;
  r.created_by = created_by;
  r.commit_sha = commit_sha;
  r.pushed_by = pushed_by;
  ASSIGN_OR_RETURN(store::App a, store_->GetApp(app));
  r.config = a.config;  // provisional: the plan takes the config current by then
  std::lock_guard lock(submit_mu_);
  return Submit(
      app, "deploy", json{{"digest", digest}}.dump(), r,
      description.empty() ? "deploy a new release" : absl::StrCat("deploy: ", description));
}

absl::StatusOr<OpRef> Engine::DeployImage(const std::string& app, const std::string& image,
                                          const std::string& description,
                                          const std::string& created_by) {
  store::Release r;
  r.kind = "deploy";
  r.description = description.empty() ? absl::StrCat("image ", image)
                                      : absl::StrCat("image ", image, ": ", description);
  r.image = image;
  // The controller reads only names from a Procfile: an image runs as `web`.
  r.procfile = absl::StrCat("web: (the command of image ", image, ")\n");
  r.created_by = created_by;
  ASSIGN_OR_RETURN(store::App a, store_->GetApp(app));
  r.config = a.config;
  std::lock_guard lock(submit_mu_);
  return Submit(app, "deploy", json{{"image", image}}.dump(), r,
                absl::StrCat("deploy image ", image));
}

absl::StatusOr<OpRef> Engine::ChangeDokku(const std::string& app, const std::string& params_json,
                                          const std::string& description) {
  ASSIGN_OR_RETURN(store::App a, store_->GetApp(app));
  std::lock_guard lock(submit_mu_);
  return Submit(a.name, "dokku", params_json, std::nullopt, description);
}

absl::StatusOr<OpRef> Engine::CreateService(const std::string& kind, const std::string& name,
                                            const std::string& server, bool expose) {
  std::lock_guard lock(submit_mu_);
  return Submit(ServiceOpKey(name), "service",
                json{{"action", "create"},
                     {"service_kind", kind},
                     {"service", name},
                     {"server", server},
                     {"expose", expose}}
                    .dump(),
                std::nullopt, absl::StrCat("create ", kind, " service ", name, " on ", server));
}

absl::StatusOr<OpRef> Engine::DestroyService(const std::string& name) {
  ASSIGN_OR_RETURN(store::Service s, store_->GetService(name));
  std::lock_guard lock(submit_mu_);
  return Submit(ServiceOpKey(name), "service",
                json{{"action", "destroy"}, {"service", name}}.dump(), std::nullopt,
                absl::StrCat("destroy ", s.kind, " service ", name, " on ", s.server));
}

absl::StatusOr<OpRef> Engine::Scale(const std::string& app,
                                    const std::map<std::string, int>& scale) {
  std::vector<std::string> parts;
  for (const auto& [type, n] : scale) parts.push_back(absl::StrCat(type, "=", n));
  std::lock_guard lock(submit_mu_);
  return Submit(app, "scale", json{{"scale", scale}}.dump(), std::nullopt,
                absl::StrCat("scale ", absl::StrJoin(parts, " ")));
}

absl::StatusOr<OpRef> Engine::ChangeConfig(const std::string& app,
                                           const std::map<std::string, std::string>& set,
                                           const std::vector<std::string>& unset) {
  std::vector<std::string> what;
  for (const auto& [k, v] : set) what.push_back(absl::StrCat("set ", k));
  for (const auto& k : unset) what.push_back(absl::StrCat("unset ", k));
  std::lock_guard lock(submit_mu_);
  ASSIGN_OR_RETURN(store::App a, store_->GetApp(app));
  ASSIGN_OR_RETURN(auto active, store_->ActiveOps());
  bool queued = false;
  for (const auto& op : active) queued = queued || op.app == app;
  // A new release only when there is (or may be, once the queue ahead has run)
  // something to roll out; before the first deploy the config is just saved.
  std::optional<store::Release> release;
  if (a.current_release > 0 || queued) {
    store::Release r;
    r.kind = "config";
    r.description = absl::StrJoin(what, ", ");
    r.created_by = "config";
    release = r;
  }
  return Submit(app, "config", json{{"set", set}, {"unset", unset}}.dump(), release,
                absl::StrJoin(what, ", "));
}

absl::StatusOr<OpRef> Engine::Rollback(const std::string& app, int64_t version) {
  store::Release r;
  r.kind = "rollback";
  r.description = version > 0 ? absl::StrCat("rollback to v", version) : "rollback";
  std::lock_guard lock(submit_mu_);
  return Submit(
      app, "rollback", json{{"target", version}}.dump(), r,
      version > 0 ? absl::StrCat("roll back to v", version) : "roll back to the previous release");
}

absl::StatusOr<OpRef> Engine::Restart(const std::string& app) {
  std::lock_guard lock(submit_mu_);
  return Submit(app, "restart", "{}", std::nullopt, "restart every instance");
}

absl::StatusOr<OpRef> Engine::Pin(const std::string& app, const std::string& server) {
  if (!server.empty()) {
    auto s = store_->GetServer(server);
    if (!s.ok()) {
      return absl::NotFoundError(absl::StrCat("cannot pin app ", app, " to server \"", server,
                                              "\": no such server; `dflow servers ls` lists them"));
    }
  }
  std::lock_guard lock(submit_mu_);
  return Submit(app, "pin", json{{"server", server}}.dump(), std::nullopt,
                server.empty() ? "unpin" : absl::StrCat("pin to ", server));
}

absl::StatusOr<OpRef> Engine::Destroy(const std::string& app) {
  std::lock_guard lock(submit_mu_);
  return Submit(app, "destroy", "{}", std::nullopt, "destroy the app");
}

absl::StatusOr<OpRef> Engine::Reschedule(const std::string& app, const std::string& reason) {
  std::lock_guard lock(submit_mu_);
  return Submit(app, "reschedule", json{{"reason", reason}}.dump(), std::nullopt,
                absl::StrCat("replace instances: ", reason));
}

absl::StatusOr<store::Op> Engine::Cancel(int64_t id) {
  {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(store::Op op, store_->GetOp(id));
    if (store::OpEnded(op.state)) {
      return absl::FailedPreconditionError(absl::StrCat("operation ", id, " (", op.kind, " of ",
                                                        op.app, ") already ended: ", op.state));
    }
    auto running = running_.find(op.app);
    bool being_run = running != running_.end() && running->second == id;
    bool cancelled = false;
    if (op.state == "pending" && !being_run) {
      ASSIGN_OR_RETURN(cancelled, store_->CancelQueuedOp(id));
    }
    if (!cancelled) RETURN_IF_ERROR(store_->RequestCancel(id));
  }
  Notify();
  return store_->GetOp(id);
}

}  // namespace dflow::ops
