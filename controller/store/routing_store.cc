// The store's routing records: settings, custom domains, app certificates.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/store/store.h"

namespace dflow::store {

absl::StatusOr<std::string> Store::GetSetting(const std::string& key, const std::string& fallback) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT value FROM settings WHERE key = ?"));
  st.Bind(1, key);
  ASSIGN_OR_RETURN(bool found, st.Step());
  return found ? st.Text(0) : fallback;
}

absl::Status Store::SetSetting(const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare("INSERT INTO settings (key, value) VALUES (?, ?) "
                                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  return st.Bind(1, key).Bind(2, value).Exec();
}

absl::Status Store::AddDomain(const std::string& app, const std::string& host) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    RETURN_IF_ERROR(GetAppLocked(app).status());
    ASSIGN_OR_RETURN(Stmt get, db_->Prepare("SELECT app FROM domains WHERE host = ?"));
    get.Bind(1, host);
    ASSIGN_OR_RETURN(bool found, get.Step());
    if (found) {
      std::string owner = get.Text(0);
      if (owner == app) return absl::OkStatus();
      return absl::AlreadyExistsError(
          absl::StrCat("domain ", host, " is already used by app ", owner,
                       "; remove it there first (`dflow domains rm ", owner, " ", host, "`)"));
    }
    ASSIGN_OR_RETURN(
        Stmt put, db_->Prepare("INSERT INTO domains (host, app, created_at_ms) VALUES (?, ?, ?)"));
    RETURN_IF_ERROR(put.Bind(1, host).Bind(2, app).Bind(3, clock_->NowMs()).Exec());
    return AppendEventLocked("domain.added", "", app,
                             absl::StrCat("domain ", host, " now routes to ", app));
  });
}

absl::Status Store::RemoveDomain(const std::string& app, const std::string& host) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt get, db_->Prepare("SELECT app FROM domains WHERE host = ? AND app = ?"));
    get.Bind(1, host).Bind(2, app);
    ASSIGN_OR_RETURN(bool found, get.Step());
    if (!found) {
      return absl::NotFoundError(
          absl::StrCat("app ", app, " has no domain ", host, "; see `dflow domains ls ", app, "`"));
    }
    ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM domains WHERE host = ?"));
    RETURN_IF_ERROR(del.Bind(1, host).Exec());
    return AppendEventLocked("domain.removed", "", app,
                             absl::StrCat("domain ", host, " no longer routes to ", app));
  });
}

absl::StatusOr<std::map<std::string, std::string>> Store::ListDomains() {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT host, app FROM domains ORDER BY host"));
  std::map<std::string, std::string> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out[st.Text(0)] = st.Text(1);
  }
  return out;
}

absl::Status Store::SetAppCert(const AppCert& cert, const std::string& message) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    RETURN_IF_ERROR(GetAppLocked(cert.app).status());
    ASSIGN_OR_RETURN(Stmt put,
                     db_->Prepare("INSERT INTO app_certs (app, cert_pem, key_pem, not_after_ms, "
                                  "added_at_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT(app) DO UPDATE "
                                  "SET cert_pem = excluded.cert_pem, key_pem = excluded.key_pem, "
                                  "not_after_ms = excluded.not_after_ms, "
                                  "added_at_ms = excluded.added_at_ms"));
    RETURN_IF_ERROR(put.Bind(1, cert.app)
                        .Bind(2, cert.cert_pem)
                        .Bind(3, cert.key_pem)
                        .Bind(4, cert.not_after_ms)
                        .Bind(5, clock_->NowMs())
                        .Exec());
    return AppendEventLocked("cert.added", "", cert.app, message);
  });
}

absl::Status Store::RemoveAppCert(const std::string& app) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt get, db_->Prepare("SELECT 1 FROM app_certs WHERE app = ?"));
    get.Bind(1, app);
    ASSIGN_OR_RETURN(bool found, get.Step());
    if (!found) {
      return absl::NotFoundError(
          absl::StrCat("app ", app, " has no certificate; see `dflow certs ls`"));
    }
    ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM app_certs WHERE app = ?"));
    RETURN_IF_ERROR(del.Bind(1, app).Exec());
    return AppendEventLocked(
        "cert.removed", "", app,
        absl::StrCat("the certificate of ", app, " was removed; it is served over HTTP only"));
  });
}

absl::StatusOr<std::vector<AppCert>> Store::ListAppCerts() {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT app, cert_pem, key_pem, not_after_ms, "
                                         "added_at_ms FROM app_certs ORDER BY app"));
  std::vector<AppCert> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.Text(0), st.Text(1), st.Text(2), st.Int(3), st.Int(4)});
  }
  return out;
}

absl::Status Store::ForgetAppRoutingLocked(const std::string& app) {
  for (const char* sql :
       {"DELETE FROM domains WHERE app = ?", "DELETE FROM app_certs WHERE app = ?"}) {
    ASSIGN_OR_RETURN(Stmt st, db_->Prepare(sql));
    RETURN_IF_ERROR(st.Bind(1, app).Exec());
  }
  return absl::OkStatus();
}

}  // namespace dflow::store
