// Store methods for theme installs and their generated secrets.
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/store/json_columns.h"
#include "controller/store/store.h"

namespace dflow::store {
namespace {

constexpr const char* kInstallColumns =
    "app, theme, version, inputs, state, op_id, keep_on_failure, created_app, error, "
    "created_at_ms, updated_at_ms, secrets_generated, previous, domains";

nlohmann::json PreviousToJson(const ThemeInstall& t) {
  if (!t.has_previous) return nullptr;
  nlohmann::json storage = nlohmann::json::array(), links = nlohmann::json::array();
  for (const auto& m : t.previous_storage) storage.push_back({m.source, m.container_dir});
  for (const auto& l : t.previous_links) links.push_back({l.service, l.split_prefix});
  return {{"health_path", t.previous_health_path},
          {"health_timeout_ms", t.previous_health_timeout_ms},
          {"ports", t.previous_ports},
          {"storage", storage},
          {"checks", t.previous_checks},
          {"domains", t.previous_domains},
          {"links", links},
          {"theme_domains", t.previous_theme_domains}};
}

void PreviousFromJson(const nlohmann::json& p, ThemeInstall* t) {
  t->has_previous = true;
  t->previous_health_path = p.value("health_path", "");
  t->previous_health_timeout_ms = p.value("health_timeout_ms", int64_t{0});
  // A record an older controller wrote has the health check only.
  t->has_previous_settings = p.contains("ports");
  t->previous_ports = p.value("ports", std::vector<std::string>{});
  for (const auto& m : p.value("storage", nlohmann::json::array())) {
    if (m.is_array() && m.size() == 2)
      t->previous_storage.push_back({m[0].get<std::string>(), m[1].get<std::string>()});
  }
  t->previous_checks = p.value("checks", std::map<std::string, std::string>{});
  t->previous_domains = p.value("domains", std::vector<std::string>{});
  t->previous_theme_domains = p.value("theme_domains", std::vector<std::string>{});
  for (const auto& l : p.value("links", nlohmann::json::array())) {
    if (l.is_array() && l.size() == 2)
      t->previous_links.push_back({l[0].get<std::string>(), t->app, l[1].get<std::string>()});
  }
}

ThemeInstall InstallFromRow(const Stmt& st) {
  ThemeInstall t;
  t.app = st.Text(0);
  t.theme = st.Text(1);
  t.version = st.Text(2);
  t.inputs = MapFromJson<std::string>(st.Text(3));
  t.state = st.Text(4);
  t.op_id = st.Int(5);
  t.keep_on_failure = st.Int(6) != 0;
  t.created_app = st.Int(7) != 0;
  t.error = st.Text(8);
  t.created_at_ms = st.Int(9);
  t.updated_at_ms = st.Int(10);
  t.secrets_generated = st.Int(11) != 0;
  auto previous = nlohmann::json::parse(st.Text(12), nullptr, false);
  if (previous.is_object()) PreviousFromJson(previous, &t);
  auto domains = nlohmann::json::parse(st.Text(13), nullptr, false);
  if (domains.is_array()) t.domains = domains.get<std::vector<std::string>>();
  return t;
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> Store::GetThemeSecrets(const std::string& app) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare("SELECT name, value FROM theme_secrets WHERE app = ?"));
  st.Bind(1, app);
  std::map<std::string, std::string> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out[st.Text(0)] = st.Text(1);
  }
  return out;
}

absl::Status Store::AddThemeSecrets(const std::string& app,
                                    const std::map<std::string, std::string>& secrets) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    for (const auto& [name, value] : secrets) {
      // Never replaces a value: a secret, once generated, stays.
      ASSIGN_OR_RETURN(Stmt put, db_->Prepare("INSERT OR IGNORE INTO theme_secrets (app, name, "
                                              "value, created_at_ms) VALUES (?, ?, ?, ?)"));
      RETURN_IF_ERROR(
          put.Bind(1, app).Bind(2, name).Bind(3, value).Bind(4, clock_->NowMs()).Exec());
    }
    return absl::OkStatus();
  });
}

absl::Status Store::DeleteThemeSecrets(const std::string& app) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM theme_secrets WHERE app = ?"));
    RETURN_IF_ERROR(del.Bind(1, app).Exec());
    return AppendEventLocked("theme.secrets_deleted", "", app,
                             absl::StrCat("the generated secrets of ", app, " were deleted"));
  });
}

absl::Status Store::SaveThemeInstall(const ThemeInstall& t) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Stmt put, db_->Prepare(absl::StrCat(
                                   "INSERT OR REPLACE INTO theme_installs (", kInstallColumns,
                                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")));
    put.Bind(1, t.app)
        .Bind(2, t.theme)
        .Bind(3, t.version)
        .Bind(4, MapToJson(t.inputs))
        .Bind(5, t.state)
        .Bind(6, t.op_id)
        .Bind(7, t.keep_on_failure ? 1 : 0)
        .Bind(8, t.created_app ? 1 : 0)
        .Bind(9, t.error)
        .Bind(10, t.created_at_ms)
        .Bind(11, clock_->NowMs())
        .Bind(12, t.secrets_generated ? 1 : 0)
        .Bind(13, t.has_previous ? PreviousToJson(t).dump() : std::string())
        .Bind(14, nlohmann::json(t.domains).dump());
    RETURN_IF_ERROR(put.Exec());
    std::string msg = absl::StrCat("theme ", t.theme, " ", t.version, " on ", t.app, ": ", t.state);
    if (!t.error.empty()) absl::StrAppend(&msg, " (", t.error, ")");
    return AppendEventLocked("theme." + t.state, "", t.app, msg);
  });
}

absl::StatusOr<ThemeInstall> Store::GetThemeInstall(const std::string& app) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare(absl::StrCat("SELECT ", kInstallColumns,
                                                      " FROM theme_installs WHERE app = ?")));
  st.Bind(1, app);
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) {
    return absl::NotFoundError(
        absl::StrCat("app ", app, " was not installed from a theme (`dflow themes install`)"));
  }
  return InstallFromRow(st);
}

absl::StatusOr<std::vector<ThemeInstall>> Store::ListThemeInstalls() {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt st, db_->Prepare(absl::StrCat("SELECT ", kInstallColumns,
                                                      " FROM theme_installs ORDER BY app")));
  std::vector<ThemeInstall> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(InstallFromRow(st));
  }
  return out;
}

absl::Status Store::DeleteThemeInstall(const std::string& app) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Stmt del, db_->Prepare("DELETE FROM theme_installs WHERE app = ?"));
  return del.Bind(1, app).Exec();
}

}  // namespace dflow::store
