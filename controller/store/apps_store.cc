// Store methods for apps, releases and instances.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/store/json_columns.h"
#include "controller/store/store.h"

namespace dflow::store {
namespace {

constexpr const char* kAppColumns =
    "name, constraints, memory_bytes, cpus, health_path, strategy, scale, config, "
    "current_release, pinned_server, created_at_ms, health_timeout_ms";

App AppFromRow(const Stmt& st) {
  App a;
  a.name = st.Text(0);
  a.constraints = MapFromJson<std::string>(st.Text(1));
  a.memory_bytes = st.Int(2);
  a.cpus = st.Double(3);
  a.health_path = st.Text(4);
  a.strategy = st.Text(5);
  a.scale = MapFromJson<int>(st.Text(6));
  a.config = MapFromJson<std::string>(st.Text(7));
  a.current_release = st.Int(8);
  a.pinned_server = st.Text(9);
  a.created_at_ms = st.Int(10);
  a.health_timeout_ms = st.Int(11);
  return a;
}

constexpr const char* kReleaseColumns =
    "app, version, kind, description, source_digest, procfile, config, status, created_by, "
    "created_at_ms, image, commit_sha, pushed_by";

Release ReleaseFromRow(const Stmt& st) {
  Release r;
  r.app = st.Text(0);
  r.version = st.Int(1);
  r.kind = st.Text(2);
  r.description = st.Text(3);
  r.source_digest = st.Text(4);
  r.procfile = st.Text(5);
  r.config = MapFromJson<std::string>(st.Text(6));
  r.status = st.Text(7);
  r.created_by = st.Text(8);
  r.created_at_ms = st.Int(9);
  r.image = st.Text(10);
  r.commit_sha = st.Text(11);
  r.pushed_by = st.Text(12);
  return r;
}

constexpr const char* kInstanceColumns =
    "id, app, process, release, server, port, state, started_at_ms, op_id";

Instance InstanceFromRow(const Stmt& st) {
  Instance i;
  i.id = st.Text(0);
  i.app = st.Text(1);
  i.process = st.Text(2);
  i.release = st.Int(3);
  i.server = st.Text(4);
  i.port = static_cast<int>(st.Int(5));
  i.state = st.Text(6);
  i.started_at_ms = st.Int(7);
  i.op_id = st.Int(8);
  return i;
}

template <typename T, typename RowFn>
absl::StatusOr<std::vector<T>> Collect(Stmt& st, RowFn fn) {
  std::vector<T> out;
  while (true) {
    auto row = st.Step();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(fn(st));
  }
}

}  // namespace

absl::Status NoSuchApp(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("app \"", name,
                                          "\" does not exist; `dflow apps ls` lists the apps, "
                                          "`dflow apps create ",
                                          name, "` creates it"));
}

absl::Status Store::CreateApp(const App& app) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    if (GetAppLocked(app.name).ok()) {
      return absl::AlreadyExistsError(absl::StrCat("app \"", app.name, "\" already exists"));
    }
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare(absl::StrCat("INSERT INTO apps(", kAppColumns,
                                                        ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?)")));
    RETURN_IF_ERROR(st.Bind(1, app.name)
                        .Bind(2, MapToJson(app.constraints))
                        .Bind(3, app.memory_bytes)
                        .Bind(4, app.cpus)
                        .Bind(5, app.health_path)
                        .Bind(6, app.strategy)
                        .Bind(7, MapToJson(app.scale))
                        .Bind(8, MapToJson(app.config))
                        .Bind(9, int64_t{0})
                        .Bind(10, app.pinned_server)
                        .Bind(11, clock_->NowMs())
                        .Bind(12, app.health_timeout_ms)
                        .Exec());
    return AppendEventLocked("app.created", "", app.name,
                             absl::StrCat("app ", app.name, " created"));
  });
}

absl::StatusOr<App> Store::GetAppLocked(const std::string& name) {
  ASSIGN_OR_RETURN(Stmt st,
                   db_->Prepare(absl::StrCat("SELECT ", kAppColumns, " FROM apps WHERE name = ?")));
  st.Bind(1, name);
  ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return NoSuchApp(name);
  return AppFromRow(st);
}

absl::StatusOr<App> Store::GetApp(const std::string& name) {
  std::lock_guard lock(mu_);
  return GetAppLocked(name);
}

absl::StatusOr<std::vector<App>> Store::ListApps() {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st,
                   db_->Prepare(absl::StrCat("SELECT ", kAppColumns, " FROM apps ORDER BY name")));
  return Collect<App>(st, AppFromRow);
}

absl::Status Store::SetAppConfig(const std::string& app,
                                 const std::map<std::string, std::string>& config) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    RETURN_IF_ERROR(GetAppLocked(app).status());
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare("UPDATE apps SET config = ? WHERE name = ?"));
    RETURN_IF_ERROR(st.Bind(1, MapToJson(config)).Bind(2, app).Exec());
    return AppendEventLocked(
        "app.config", "", app,
        absl::StrCat("config of ", app, " saved; it applies at the first deploy"));
  });
}

absl::Status Store::SetAppHealthCheck(const std::string& app, const std::string& path,
                                      int64_t timeout_ms) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    RETURN_IF_ERROR(GetAppLocked(app).status());
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare("UPDATE apps SET health_path = ?, health_timeout_ms = ? "
                                           "WHERE name = ?"));
    RETURN_IF_ERROR(st.Bind(1, path).Bind(2, timeout_ms).Bind(3, app).Exec());
    return AppendEventLocked(
        "app.health_check", "", app,
        absl::StrCat("health check of ", app, ": ", path.empty() ? "TCP connect" : "GET " + path,
                     timeout_ms > 0 ? absl::StrCat(", ", timeout_ms / 1000, " s") : ""));
  });
}

absl::StatusOr<std::vector<Release>> Store::ListReleases(const std::string& app) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st,
                   db_->Prepare(absl::StrCat("SELECT ", kReleaseColumns,
                                             " FROM releases WHERE app = ? ORDER BY version")));
  st.Bind(1, app);
  return Collect<Release>(st, ReleaseFromRow);
}

absl::StatusOr<Release> Store::GetRelease(const std::string& app, int64_t version) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st,
                   db_->Prepare(absl::StrCat("SELECT ", kReleaseColumns,
                                             " FROM releases WHERE app = ? AND version = ?")));
  st.Bind(1, app).Bind(2, version);
  ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) {
    return absl::NotFoundError(absl::StrCat("app \"", app, "\" has no release v", version,
                                            "; `dflow releases ", app, "` lists them"));
  }
  return ReleaseFromRow(st);
}

absl::StatusOr<std::vector<Instance>> Store::ListInstances(const std::string& app) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st,
                   db_->Prepare(absl::StrCat("SELECT ", kInstanceColumns,
                                             " FROM instances WHERE app = ? ORDER BY id")));
  st.Bind(1, app);
  return Collect<Instance>(st, InstanceFromRow);
}

absl::StatusOr<std::vector<Instance>> Store::ListAllInstances() {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare(absl::StrCat("SELECT ", kInstanceColumns,
                                                      " FROM instances ORDER BY id")));
  return Collect<Instance>(st, InstanceFromRow);
}

absl::Status Store::SetInstanceState(const std::string& id, const std::string& state) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare("UPDATE instances SET state = ? WHERE id = ?"));
  return st.Bind(1, state).Bind(2, id).Exec();
}

absl::StatusOr<int> Store::CountInstancesOnServer(const std::string& server) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT COUNT(*) FROM instances WHERE server = ?"));
  st.Bind(1, server);
  RETURN_IF_ERROR(st.Step().status());
  return static_cast<int>(st.Int(0));
}

absl::Status Store::MarkInstancesLost(const std::vector<std::string>& ids,
                                      const std::string& reason) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    for (const auto& id : ids) {
      ASSIGN_OR_RETURN(Stmt get,
                       db_->Prepare("SELECT app, server, state FROM instances WHERE id = ?"));
      get.Bind(1, id);
      ASSIGN_OR_RETURN(bool found, get.Step());
      if (!found) continue;
      std::string app = get.Text(0), server = get.Text(1), state = get.Text(2);
      if (state == kInstanceLost || state == kInstanceStopping) continue;
      ASSIGN_OR_RETURN(Stmt st, db_->Prepare("UPDATE instances SET state = 'lost' WHERE id = ?"));
      RETURN_IF_ERROR(st.Bind(1, id).Exec());
      RETURN_IF_ERROR(AppendEventLocked(
          "instance.lost", server, app,
          absl::StrCat("instance ", id, " of ", app, " on ", server, " is lost: ", reason)));
    }
    return absl::OkStatus();
  });
}

absl::Status Store::DeleteInstance(const std::string& id, const std::string& reason) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt get, db_->Prepare("SELECT app, server FROM instances WHERE id = ?"));
    get.Bind(1, id);
    ASSIGN_OR_RETURN(bool found, get.Step());
    if (!found) return absl::OkStatus();
    std::string app = get.Text(0), server = get.Text(1);
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare("DELETE FROM instances WHERE id = ?"));
    RETURN_IF_ERROR(st.Bind(1, id).Exec());
    return AppendEventLocked(
        "instance.stopped", server, app,
        absl::StrCat("instance ", id, " of ", app, " on ", server, " stopped: ", reason));
  });
}

absl::Status Store::ApplyEffectsLocked(const std::string& app, int64_t op_id,
                                       const StepEffects& e) {
  for (const auto& i : e.put_instances) {
    ASSIGN_OR_RETURN(
        Stmt st, db_->Prepare(absl::StrCat("INSERT OR REPLACE INTO instances(", kInstanceColumns,
                                           ") VALUES(?,?,?,?,?,?,?,?,?)")));
    RETURN_IF_ERROR(st.Bind(1, i.id)
                        .Bind(2, i.app)
                        .Bind(3, i.process)
                        .Bind(4, i.release)
                        .Bind(5, i.server)
                        .Bind(6, i.port)
                        .Bind(7, i.state)
                        .Bind(8, i.started_at_ms)
                        .Bind(9, i.op_id ? i.op_id : op_id)
                        .Exec());
  }
  for (const auto& [id, state] : e.instance_states) {
    ASSIGN_OR_RETURN(Stmt st,
                     db_->Prepare("UPDATE instances SET state = ?, started_at_ms = CASE WHEN ? = "
                                  "'running' THEN ? ELSE started_at_ms END WHERE id = ?"));
    RETURN_IF_ERROR(st.Bind(1, state).Bind(2, state).Bind(3, clock_->NowMs()).Bind(4, id).Exec());
  }
  for (const auto& [id, port] : e.instance_ports) {
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare("UPDATE instances SET port = ? WHERE id = ?"));
    RETURN_IF_ERROR(st.Bind(1, port).Bind(2, id).Exec());
  }
  for (const auto& id : e.delete_instances) {
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare("DELETE FROM instances WHERE id = ?"));
    RETURN_IF_ERROR(st.Bind(1, id).Exec());
  }
  auto update_app = [&](const char* column, auto value) -> absl::Status {
    ASSIGN_OR_RETURN(Stmt st,
                     db_->Prepare(absl::StrCat("UPDATE apps SET ", column, " = ? WHERE name = ?")));
    return st.Bind(1, value).Bind(2, app).Exec();
  };
  if (e.current_release) RETURN_IF_ERROR(update_app("current_release", *e.current_release));
  if (e.scale) RETURN_IF_ERROR(update_app("scale", MapToJson(*e.scale)));
  if (e.config) RETURN_IF_ERROR(update_app("config", MapToJson(*e.config)));
  if (e.pinned_server) RETURN_IF_ERROR(update_app("pinned_server", *e.pinned_server));
  if (e.release_update) {
    const ReleaseUpdate& u = *e.release_update;
    ASSIGN_OR_RETURN(Stmt st,
                     db_->Prepare("UPDATE releases SET description = ?, source_digest = ?, "
                                  "procfile = ?, config = ?, image = ?, commit_sha = ?, "
                                  "pushed_by = ? WHERE app = ? AND version = ?"));
    RETURN_IF_ERROR(st.Bind(1, u.description)
                        .Bind(2, u.source_digest)
                        .Bind(3, u.procfile)
                        .Bind(4, MapToJson(u.config))
                        .Bind(5, u.image)
                        .Bind(6, u.commit_sha)
                        .Bind(7, u.pushed_by)
                        .Bind(8, app)
                        .Bind(9, u.version)
                        .Exec());
  }
  for (const auto& [version, status] : e.release_status) {
    ASSIGN_OR_RETURN(Stmt st,
                     db_->Prepare("UPDATE releases SET status = ? WHERE app = ? AND version = ?"));
    RETURN_IF_ERROR(st.Bind(1, status).Bind(2, app).Bind(3, version).Exec());
  }
  if (e.delete_app) {
    for (const char* sql :
         {"DELETE FROM instances WHERE app = ?", "DELETE FROM releases WHERE app = ?",
          "DELETE FROM app_ports WHERE app = ?", "DELETE FROM app_storage WHERE app = ?",
          "DELETE FROM app_checks WHERE app = ?", "DELETE FROM service_links WHERE app = ?",
          "DELETE FROM app_git WHERE app = ?", "DELETE FROM webhook_deliveries WHERE app = ?",
          "DELETE FROM apps WHERE name = ?"}) {
      ASSIGN_OR_RETURN(Stmt st, db_->Prepare(sql));
      RETURN_IF_ERROR(st.Bind(1, app).Exec());
    }
  }
  if (!e.append_steps.empty()) {
    ASSIGN_OR_RETURN(Stmt max,
                     db_->Prepare("SELECT COALESCE(MAX(idx), -1) FROM op_steps WHERE op_id = ?"));
    max.Bind(1, op_id);
    RETURN_IF_ERROR(max.Step().status());
    int next = static_cast<int>(max.Int(0)) + 1;
    for (const auto& step : e.append_steps) {
      ASSIGN_OR_RETURN(Stmt st,
                       db_->Prepare("INSERT INTO op_steps(op_id, idx, kind, description, params) "
                                    "VALUES(?,?,?,?,?)"));
      RETURN_IF_ERROR(st.Bind(1, op_id)
                          .Bind(2, next++)
                          .Bind(3, step.kind)
                          .Bind(4, step.description)
                          .Bind(5, step.params)
                          .Exec());
    }
  }
  if (e.delete_app) RETURN_IF_ERROR(ForgetAppRoutingLocked(app));
  RETURN_IF_ERROR(AddRemovalsLocked(op_id, e.add_removals));
  for (const auto& [id, message] : e.finish_removals) {
    RETURN_IF_ERROR(FinishRemovalLocked(id, "app.cleanup_done", message));
  }
  if (!e.event_kind.empty()) {
    RETURN_IF_ERROR(AppendEventLocked(e.event_kind, "", app, e.event_message));
  }
  return absl::OkStatus();
}

}  // namespace dflow::store
