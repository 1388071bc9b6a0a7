// The store's git records: per-app git settings, push keys, webhook deliveries.
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/store/store.h"

namespace dflow::store {
namespace {

// Deliveries kept for replay detection and `apps show`; older ones are dropped.
constexpr int kKeptDeliveries = 10000;

constexpr const char* kDeliveryColumns =
    "forge, app, delivery, sha, state, op_id, release, message, received_at_ms, updated_at_ms";

WebhookDelivery DeliveryFromRow(const Stmt& st) {
  WebhookDelivery d;
  d.forge = st.Text(0);
  d.app = st.Text(1);
  d.id = st.Text(2);
  d.sha = st.Text(3);
  d.state = st.Text(4);
  d.op_id = st.Int(5);
  d.release = st.Int(6);
  d.message = st.Text(7);
  d.received_at_ms = st.Int(8);
  d.updated_at_ms = st.Int(9);
  return d;
}

std::vector<std::string> AppsFromJson(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& a : j) {
    if (a.is_string()) out.push_back(a.get<std::string>());
  }
  return out;
}

}  // namespace

absl::StatusOr<AppGit> Store::GetAppGit(const std::string& app) {
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(GetAppLocked(app).status());
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT branch, git_url, webhook_secret FROM app_git "
                                         "WHERE app = ?"));
  st.Bind(1, app);
  ASSIGN_OR_RETURN(bool found, st.Step());
  AppGit g;
  g.app = app;
  if (found) {
    g.branch = st.Text(0);
    g.git_url = st.Text(1);
    g.webhook_secret = st.Text(2);
  }
  return g;
}

absl::StatusOr<AppGit> Store::UpdateAppGit(const std::string& app, const AppGitUpdate& u) {
  std::lock_guard lock(mu_);
  AppGit g;
  RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
    RETURN_IF_ERROR(GetAppLocked(app).status());
    ASSIGN_OR_RETURN(Stmt ins, db_->Prepare("INSERT OR IGNORE INTO app_git (app) VALUES (?)"));
    RETURN_IF_ERROR(ins.Bind(1, app).Exec());
    std::vector<std::string> changed;
    for (const auto& [column, value] :
         {std::pair{"branch", &u.branch}, std::pair{"git_url", &u.git_url},
          std::pair{"webhook_secret", &u.webhook_secret}}) {
      if (!value->has_value()) continue;
      ASSIGN_OR_RETURN(
          Stmt st, db_->Prepare(absl::StrCat("UPDATE app_git SET ", column, " = ? WHERE app = ?")));
      RETURN_IF_ERROR(st.Bind(1, **value).Bind(2, app).Exec());
      changed.push_back(std::string(column) == "webhook_secret"
                            ? "a new webhook secret"
                            : absl::StrCat(column, " ", value->value()));
    }
    ASSIGN_OR_RETURN(Stmt get, db_->Prepare("SELECT branch, git_url, webhook_secret FROM app_git "
                                            "WHERE app = ?"));
    get.Bind(1, app);
    RETURN_IF_ERROR(get.Step().status());
    g.app = app;
    g.branch = get.Text(0);
    g.git_url = get.Text(1);
    g.webhook_secret = get.Text(2);
    if (changed.empty()) return absl::OkStatus();
    std::string what;
    for (const auto& c : changed) absl::StrAppend(&what, what.empty() ? "" : ", ", c);
    return AppendEventLocked("git.settings_changed", "", app,
                             absl::StrCat("git settings of ", app, ": ", what));
  }));
  return g;
}

absl::Status Store::AddPushKey(const PushKey& key) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt get, db_->Prepare("SELECT name, fingerprint, blob = ? FROM push_keys "
                                            "WHERE name = ? OR blob = ?"));
    get.Bind(1, key.blob).Bind(2, key.name).Bind(3, key.blob);
    ASSIGN_OR_RETURN(bool found, get.Step());
    if (found && get.Text(0) == key.name) {
      return absl::AlreadyExistsError(absl::StrCat("a key named ", key.name,
                                                   " exists; `dflow keys rm ", key.name,
                                                   "` first, or choose another name"));
    }
    if (found) {
      return absl::AlreadyExistsError(
          absl::StrCat("this key is already added as ", get.Text(0), " (", get.Text(1), ")"));
    }
    ASSIGN_OR_RETURN(Stmt put, db_->Prepare("INSERT INTO push_keys (name, type, blob, fingerprint, "
                                            "apps, all_apps, added_at_ms) VALUES (?,?,?,?,?,?,?)"));
    RETURN_IF_ERROR(put.Bind(1, key.name)
                        .Bind(2, key.type)
                        .Bind(3, key.blob)
                        .Bind(4, key.fingerprint)
                        .Bind(5, nlohmann::json(key.apps).dump())
                        .Bind(6, key.all_apps ? 1 : 0)
                        .Bind(7, key.added_at_ms)
                        .Exec());
    return AppendEventLocked(
        "git.key_added", "", "",
        absl::StrCat("push key ", key.name, " (", key.fingerprint, ") added for ",
                     key.all_apps ? std::string("every app") : nlohmann::json(key.apps).dump()));
  });
}

absl::Status Store::RemovePushKey(const std::string& name) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM push_keys WHERE name = ?"));
    RETURN_IF_ERROR(del.Bind(1, name).Exec());
    if (db_->Changes() == 0) {
      return absl::NotFoundError(
          absl::StrCat("no key named \"", name, "\"; `dflow keys ls` lists them"));
    }
    return AppendEventLocked("git.key_removed", "", "",
                             absl::StrCat("push key ", name, " removed"));
  });
}

absl::StatusOr<std::vector<PushKey>> Store::ListPushKeys() {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT name, type, blob, fingerprint, apps, all_apps, "
                                         "added_at_ms FROM push_keys ORDER BY added_at_ms, name"));
  std::vector<PushKey> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    PushKey k;
    k.name = st.Text(0);
    k.type = st.Text(1);
    k.blob = st.Text(2);
    k.fingerprint = st.Text(3);
    k.apps = AppsFromJson(st.Text(4));
    k.all_apps = st.Int(5) != 0;
    k.added_at_ms = st.Int(6);
    out.push_back(std::move(k));
  }
  return out;
}

absl::StatusOr<bool> Store::ClaimDelivery(const WebhookDelivery& d) {
  std::lock_guard lock(mu_);
  bool claimed = false;
  RETURN_IF_ERROR(db_->Transaction([&]() -> absl::Status {
    int64_t now = clock_->NowMs();
    // A delivery that failed before it had an op (fetch, archive, Procfile)
    // may come again once its cause is fixed: the forge's "redeliver".
    ASSIGN_OR_RETURN(
        Stmt put,
        db_->Prepare(absl::StrCat(
            "INSERT INTO webhook_deliveries (", kDeliveryColumns,
            ") VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (forge, app, delivery) DO UPDATE SET "
            "sha = excluded.sha, state = excluded.state, message = excluded.message, "
            "updated_at_ms = excluded.updated_at_ms WHERE webhook_deliveries.state = 'failed' "
            "AND webhook_deliveries.op_id = 0")));
    RETURN_IF_ERROR(put.Bind(1, d.forge)
                        .Bind(2, d.app)
                        .Bind(3, d.id)
                        .Bind(4, d.sha)
                        .Bind(5, d.state.empty() ? std::string("received") : d.state)
                        .Bind(6, d.op_id)
                        .Bind(7, d.release)
                        .Bind(8, d.message)
                        .Bind(9, now)
                        .Bind(10, now)
                        .Exec());
    claimed = db_->Changes() > 0;
    if (!claimed) return absl::OkStatus();
    ASSIGN_OR_RETURN(Stmt trim, db_->Prepare("DELETE FROM webhook_deliveries WHERE seq <= "
                                             "(SELECT MAX(seq) FROM webhook_deliveries) - ?"));
    return trim.Bind(1, kKeptDeliveries).Exec();
  }));
  return claimed;
}

absl::Status Store::UpdateDelivery(const WebhookDelivery& d, const std::string& event_kind,
                                   const std::string& event_message) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare("UPDATE webhook_deliveries SET sha = ?, state = ?, "
                                           "op_id = ?, release = ?, message = ?, updated_at_ms = ? "
                                           "WHERE forge = ? AND app = ? AND delivery = ?"));
    RETURN_IF_ERROR(st.Bind(1, d.sha)
                        .Bind(2, d.state)
                        .Bind(3, d.op_id)
                        .Bind(4, d.release)
                        .Bind(5, d.message)
                        .Bind(6, clock_->NowMs())
                        .Bind(7, d.forge)
                        .Bind(8, d.app)
                        .Bind(9, d.id)
                        .Exec());
    if (event_kind.empty()) return absl::OkStatus();
    return AppendEventLocked(event_kind, "", d.app, event_message);
  });
}

absl::StatusOr<std::optional<WebhookDelivery>> Store::LastDelivery(const std::string& app) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare(absl::StrCat("SELECT ", kDeliveryColumns,
                                                      " FROM webhook_deliveries WHERE app = ? "
                                                      "ORDER BY seq DESC LIMIT 1")));
  st.Bind(1, app);
  ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return std::optional<WebhookDelivery>();
  return std::optional<WebhookDelivery>(DeliveryFromRow(st));
}

}  // namespace dflow::store
