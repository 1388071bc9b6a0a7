// Store methods for removals a server missed while it was unreachable.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/store/store.h"

namespace dflow::store {

absl::Status Store::AddRemovalsLocked(int64_t op_id, const std::vector<PendingRemoval>& removals) {
  for (const auto& r : removals) {
    // A step committed again after a crash records nothing twice.
    ASSIGN_OR_RETURN(Stmt st,
                     db_->Prepare("INSERT OR IGNORE INTO pending_removals (server, app, kind, "
                                  "params, what, reason, created_at_ms, op_id, step_index) "
                                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    RETURN_IF_ERROR(st.Bind(1, r.server)
                        .Bind(2, r.app)
                        .Bind(3, r.kind)
                        .Bind(4, r.params)
                        .Bind(5, r.what)
                        .Bind(6, r.reason)
                        .Bind(7, clock_->NowMs())
                        .Bind(8, r.op_id ? r.op_id : op_id)
                        .Bind(9, r.step_index)
                        .Exec());
    if (db_->Changes() == 0) continue;
    RETURN_IF_ERROR(
        AppendEventLocked("app.cleanup_pending", r.server, r.app,
                          absl::StrCat(r.server, ": ", r.what, " (", r.reason,
                                       "); it is done when ", r.server, " is reachable again")));
  }
  return absl::OkStatus();
}

absl::Status Store::FinishRemovalLocked(int64_t id, const std::string& event_kind,
                                        const std::string& message) {
  ASSIGN_OR_RETURN(Stmt get, db_->Prepare("SELECT server, app FROM pending_removals WHERE id = ?"));
  get.Bind(1, id);
  ASSIGN_OR_RETURN(bool found, get.Step());
  if (!found) return absl::OkStatus();
  std::string server = get.Text(0), app = get.Text(1);
  ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM pending_removals WHERE id = ?"));
  RETURN_IF_ERROR(del.Bind(1, id).Exec());
  return AppendEventLocked(event_kind, server, app, message);
}

absl::StatusOr<std::vector<PendingRemoval>> Store::ListPendingRemovals() {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT id, server, app, kind, params, what, reason, "
                                         "created_at_ms, op_id, step_index FROM pending_removals "
                                         "ORDER BY id"));
  std::vector<PendingRemoval> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    PendingRemoval r;
    r.id = st.Int(0);
    r.server = st.Text(1);
    r.app = st.Text(2);
    r.kind = st.Text(3);
    r.params = st.Text(4);
    r.what = st.Text(5);
    r.reason = st.Text(6);
    r.created_at_ms = st.Int(7);
    r.op_id = st.Int(8);
    r.step_index = static_cast<int>(st.Int(9));
    out.push_back(std::move(r));
  }
  return out;
}

absl::Status Store::FinishPendingRemoval(int64_t id, const std::string& event_kind,
                                         const std::string& message) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&] { return FinishRemovalLocked(id, event_kind, message); });
}

}  // namespace dflow::store
