// Store methods for durable operations and their steps.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/store/json_columns.h"
#include "controller/store/store.h"

namespace dflow::store {
namespace {

constexpr const char* kOpColumns =
    "id, app, kind, state, params, release, description, error, cancel_requested, "
    "created_at_ms, started_at_ms, ended_at_ms";

Op OpFromRow(const Stmt& st) {
  Op o;
  o.id = st.Int(0);
  o.app = st.Text(1);
  o.kind = st.Text(2);
  o.state = st.Text(3);
  o.params = st.Text(4);
  o.release = st.Int(5);
  o.description = st.Text(6);
  o.error = st.Text(7);
  o.cancel_requested = st.Int(8) != 0;
  o.created_at_ms = st.Int(9);
  o.started_at_ms = st.Int(10);
  o.ended_at_ms = st.Int(11);
  return o;
}

absl::Status NoSuchOp(int64_t id) {
  return absl::NotFoundError(
      absl::StrCat("operation ", id, " does not exist; `dflow ops ls` lists them"));
}

}  // namespace

bool OpEnded(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled" ||
         state == "rolled_back";
}

absl::StatusOr<int64_t> Store::CreateOp(const std::string& app, const std::string& kind,
                                        const std::string& params_json,
                                        std::optional<Release> release,
                                        const std::string& description) {
  std::lock_guard lock(mu_);
  int64_t op_id = 0;
  RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
    // A service's ops queue under "service:NAME" (ops::ServiceOpKey), no app.
    const bool service_op = app.rfind("service:", 0) == 0 && !release;
    if (!service_op) RETURN_IF_ERROR(GetAppLocked(app).status());
    int64_t version = 0;
    if (release) {
      ASSIGN_OR_RETURN(
          Stmt max, db_->Prepare("SELECT COALESCE(MAX(version), 0) FROM releases WHERE app = ?"));
      max.Bind(1, app);
      RETURN_IF_ERROR(max.Step().status());
      version = max.Int(0) + 1;
      ASSIGN_OR_RETURN(Stmt ins,
                       db_->Prepare("INSERT INTO releases(app, version, kind, description, "
                                    "source_digest, procfile, config, status, created_by, "
                                    "created_at_ms, image, commit_sha, pushed_by) "
                                    "VALUES(?,?,?,?,?,?,?,'pending',?,?,?,?,?)"));
      RETURN_IF_ERROR(ins.Bind(1, app)
                          .Bind(2, version)
                          .Bind(3, release->kind)
                          .Bind(4, release->description)
                          .Bind(5, release->source_digest)
                          .Bind(6, release->procfile)
                          .Bind(7, MapToJson(release->config))
                          .Bind(8, release->created_by)
                          .Bind(9, clock_->NowMs())
                          .Bind(10, release->image)
                          .Bind(11, release->commit_sha)
                          .Bind(12, release->pushed_by)
                          .Exec());
    }
    ASSIGN_OR_RETURN(Stmt op,
                     db_->Prepare("INSERT INTO ops(app, kind, params, release, description, "
                                  "created_at_ms) VALUES(?,?,?,?,?,?)"));
    RETURN_IF_ERROR(op.Bind(1, app)
                        .Bind(2, kind)
                        .Bind(3, params_json)
                        .Bind(4, version)
                        .Bind(5, description)
                        .Bind(6, clock_->NowMs())
                        .Exec());
    op_id = db_->LastInsertId();
    ASSIGN_OR_RETURN(Stmt step, db_->Prepare("INSERT INTO op_steps(op_id, idx, kind, description) "
                                             "VALUES(?, 0, 'plan', 'plan the operation')"));
    RETURN_IF_ERROR(step.Bind(1, op_id).Exec());
    return AppendEventLocked("op.created", "", app,
                             absl::StrCat("op ", op_id, " (", kind, ") queued: ", description));
  }));
  return op_id;
}

absl::StatusOr<std::vector<OpStep>> Store::StepsLocked(int64_t op_id) {
  ASSIGN_OR_RETURN(Stmt st,
                   db_->Prepare("SELECT op_id, idx, kind, description, params, state, result, "
                                "output, error, started_at_ms, ended_at_ms FROM op_steps "
                                "WHERE op_id = ? ORDER BY idx"));
  st.Bind(1, op_id);
  std::vector<OpStep> steps;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    OpStep s;
    s.op_id = st.Int(0);
    s.index = static_cast<int>(st.Int(1));
    s.kind = st.Text(2);
    s.description = st.Text(3);
    s.params = st.Text(4);
    s.state = st.Text(5);
    s.result = st.Text(6);
    s.output = st.Text(7);
    s.error = st.Text(8);
    s.started_at_ms = st.Int(9);
    s.ended_at_ms = st.Int(10);
    steps.push_back(std::move(s));
  }
  return steps;
}

absl::StatusOr<Op> Store::GetOp(int64_t id) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st,
                   db_->Prepare(absl::StrCat("SELECT ", kOpColumns, " FROM ops WHERE id = ?")));
  st.Bind(1, id);
  ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return NoSuchOp(id);
  Op op = OpFromRow(st);
  ASSIGN_OR_RETURN(op.steps, StepsLocked(id));
  return op;
}

absl::StatusOr<std::vector<Op>> Store::ListOps(const std::string& app, int limit) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare(absl::StrCat("SELECT ", kOpColumns,
                                                      " FROM ops WHERE (? = '' OR app = ?) ",
                                                      "ORDER BY id DESC LIMIT ?")));
  st.Bind(1, app).Bind(2, app).Bind(3, limit);
  std::vector<Op> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(OpFromRow(st));
  }
  return out;
}

absl::StatusOr<std::vector<Op>> Store::ActiveOps() {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare(absl::StrCat(
                                "SELECT ", kOpColumns,
                                " FROM ops WHERE state IN ('pending', 'running') ORDER BY id")));
  std::vector<Op> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(OpFromRow(st));
  }
  return out;
}

absl::Status Store::MarkOpRunning(int64_t id) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare("UPDATE ops SET state = 'running', started_at_ms = ? "
                                           "WHERE id = ? AND state = 'pending'"));
    return st.Bind(1, clock_->NowMs()).Bind(2, id).Exec();
  });
}

absl::Status Store::MarkStepRunning(int64_t op_id, int index) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt st,
                     db_->Prepare("UPDATE op_steps SET state = 'running', started_at_ms = ? "
                                  "WHERE op_id = ? AND idx = ?"));
    return st.Bind(1, clock_->NowMs()).Bind(2, op_id).Bind(3, index).Exec();
  });
}

absl::Status Store::FinishStep(int64_t op_id, int index, const std::string& state,
                               const std::string& result_json, const std::string& output,
                               const std::string& error, const StepEffects& effects) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt app, db_->Prepare("SELECT app FROM ops WHERE id = ?"));
    app.Bind(1, op_id);
    ASSIGN_OR_RETURN(bool found, app.Step());
    if (!found) return NoSuchOp(op_id);
    std::string app_name = app.Text(0);
    ASSIGN_OR_RETURN(
        Stmt st, db_->Prepare("UPDATE op_steps SET state = ?, result = ?, output = ?, error = ?, "
                              "ended_at_ms = ? WHERE op_id = ? AND idx = ?"));
    RETURN_IF_ERROR(st.Bind(1, state)
                        .Bind(2, result_json)
                        .Bind(3, output)
                        .Bind(4, error)
                        .Bind(5, clock_->NowMs())
                        .Bind(6, op_id)
                        .Bind(7, index)
                        .Exec());
    return ApplyEffectsLocked(app_name, op_id, effects);
  });
}

absl::Status Store::FinishOp(int64_t id, const std::string& state, const std::string& error,
                             const StepEffects& effects) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt get, db_->Prepare("SELECT app, kind FROM ops WHERE id = ?"));
    get.Bind(1, id);
    ASSIGN_OR_RETURN(bool found, get.Step());
    if (!found) return NoSuchOp(id);
    std::string app = get.Text(0), kind = get.Text(1);
    ASSIGN_OR_RETURN(
        Stmt st, db_->Prepare("UPDATE ops SET state = ?, error = ?, ended_at_ms = ? WHERE id = ?"));
    RETURN_IF_ERROR(st.Bind(1, state).Bind(2, error).Bind(3, clock_->NowMs()).Bind(4, id).Exec());
    RETURN_IF_ERROR(ApplyEffectsLocked(app, id, effects));
    return AppendEventLocked(
        absl::StrCat("op.", state), "", app,
        absl::StrCat("op ", id, " (", kind, ") ", state, error.empty() ? "" : ": ", error));
  });
}

absl::Status Store::RequestCancel(int64_t id) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare("UPDATE ops SET cancel_requested = 1 WHERE id = ?"));
    return st.Bind(1, id).Exec();
  });
}

absl::StatusOr<bool> Store::CancelQueuedOp(int64_t id) {
  std::lock_guard lock(mu_);
  bool cancelled = false;
  RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt get, db_->Prepare("SELECT app, kind, state FROM ops WHERE id = ?"));
    get.Bind(1, id);
    ASSIGN_OR_RETURN(bool found, get.Step());
    if (!found) return NoSuchOp(id);
    if (get.Text(2) != "pending") return absl::OkStatus();
    std::string app = get.Text(0), kind = get.Text(1);
    int64_t now = clock_->NowMs();
    ASSIGN_OR_RETURN(Stmt op,
                     db_->Prepare("UPDATE ops SET state = 'cancelled', cancel_requested = 1, "
                                  "error = 'cancelled before it started', ended_at_ms = ? "
                                  "WHERE id = ?"));
    RETURN_IF_ERROR(op.Bind(1, now).Bind(2, id).Exec());
    ASSIGN_OR_RETURN(Stmt steps,
                     db_->Prepare("UPDATE op_steps SET state = 'skipped', ended_at_ms = ? "
                                  "WHERE op_id = ? AND state = 'pending'"));
    RETURN_IF_ERROR(steps.Bind(1, now).Bind(2, id).Exec());
    ASSIGN_OR_RETURN(Stmt rel,
                     db_->Prepare("UPDATE releases SET status = 'failed' WHERE app = ? AND "
                                  "version = (SELECT release FROM ops WHERE id = ?) AND "
                                  "status = 'pending'"));
    RETURN_IF_ERROR(rel.Bind(1, app).Bind(2, id).Exec());
    cancelled = true;
    return AppendEventLocked("op.cancelled", "", app,
                             absl::StrCat("op ", id, " (", kind, ") cancelled before it started"));
  }));
  return cancelled;
}

}  // namespace dflow::store
