// Installer: the supervisor that finishes installs, uninstall, upgrade and
// the secrets an app was given.
#include <spdlog/spdlog.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/blob_store.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "controller/api/source_archive.h"
#include "controller/themes/installer.h"

namespace dflow::controller_themes {
bool Installer::RecoverWithoutOp(store::ThemeInstall& in) {
  // The op submitted for this record is the first deploy of the app created
  // at or after it (the record is written before anything else).
  const bool upgrade = in.state == "upgrading";
  const int64_t since = upgrade ? in.updated_at_ms : in.created_at_ms;
  auto ops = ctx_->store->ListOps(in.app, 50);
  if (!ops.ok()) return false;
  for (const auto& op : *ops) {  // newest first: the last match is the first deploy
    if (op.kind == "deploy" && op.created_at_ms >= since) in.op_id = op.id;
  }
  if (in.op_id != 0) {
    spdlog::info("theme install of {}: op {} adopted (the controller stopped before saving it)",
                 in.app, in.op_id);
    return true;
  }
  const std::string why = "the controller stopped before its deploy was submitted";
  if (upgrade) {
    RestorePrevious(in);
    in.has_previous = false;
    in.state = "installed";
    in.error = absl::StrCat("the upgrade did not start (", why, "); `dflow themes upgrade ", in.app,
                            "` runs it again");
    return true;
  }
  const bool app_exists = ctx_->store->GetApp(in.app).ok();
  if (in.keep_on_failure && app_exists) {
    in.state = "failed";
    in.error = absl::StrCat("the install did not finish (", why,
                            "); kept (--keep-on-failure): `dflow themes uninstall ", in.app,
                            "` removes it");
    return true;
  }
  in.error = absl::StrCat("the install did not finish (", why, "); undone");
  if (app_exists) {
    auto d = ctx_->engine->Destroy(in.app);
    if (!d.ok()) {
      spdlog::warn("undoing the install of {}: {}", in.app, std::string(d.status().message()));
      return false;  // tried again at the next pass
    }
    in.state = "undoing";  // services next, once the app is gone
    in.op_id = d->id;
  } else {
    in.state = "rolled_back";
    if (auto c = catalog_->Get(in.theme); c.ok() && in.secrets_generated) {
      for (const auto& l : DestroyOwnedServices(c->theme, in.app))
        absl::StrAppend(&in.error, "; ", l);
    }
  }
  if (in.secrets_generated) (void)ctx_->store->DeleteThemeSecrets(in.app);
  return true;
}

void Installer::FinishRemoval(store::ThemeInstall& in, const std::vector<std::string>& left) {
  if (left.empty()) {
    (void)ctx_->store->DeleteThemeInstall(in.app);
    spdlog::info("app {} (theme {}) is destroyed: its install record and secrets are removed",
                 in.app, in.theme);
    return;
  }
  // Kept, with what is left, for `dflow themes secrets APP` and the CLI that
  // destroyed the app to say (ReportLeftovers).
  in.state = "uninstalling";
  in.op_id = 0;
  in.error = absl::StrCat("app ", in.app, " is destroyed, but ", absl::StrJoin(left, "; "));
  if (auto s = ctx_->store->SaveThemeInstall(in); !s.ok()) {
    spdlog::warn("{}", std::string(s.message()));
  }
  spdlog::warn("theme install of {}: {}", in.app, in.error);
}

void Installer::SuperviseOnce() {
  std::lock_guard lock(mu_);  // one pass at a time, never beside an install decision
  auto installs = ctx_->store->ListThemeInstalls();
  if (!installs.ok()) {
    spdlog::warn("theme installs: {}", std::string(installs.status().message()));
    return;
  }
  for (store::ThemeInstall in : *installs) {
    static const std::set<std::string> kWatched = {"installing", "upgrading", "undoing",
                                                   "uninstalling"};
    if ((in.state == "installed" || in.state == "failed") &&
        absl::IsNotFound(ctx_->store->GetApp(in.app).status())) {
      // Destroyed with `dflow apps destroy`: the install is gone, and with it
      // its secrets and services, as an uninstall without --keep-data.
      std::vector<std::string> left;
      if (auto c = catalog_->Get(in.theme); c.ok()) left = DestroyOwnedServices(c->theme, in.app);
      (void)ctx_->store->DeleteThemeSecrets(in.app);
      FinishRemoval(in, left);
      continue;
    }
    if (in.state == "uninstalling" && in.op_id == 0) {
      // Services a removal could not destroy: the record goes once they are
      // gone (`dflow services destroy NAME`).
      auto c = catalog_->Get(in.theme);
      bool any = false;
      for (const auto& s : c.ok() ? c->theme.services : std::vector<themes::Service>{}) {
        any = any || ctx_->store->GetService(ServiceNameFor(in.app, s.name)).ok();
      }
      if (!any) FinishRemoval(in, {});
      continue;
    }
    if (!kWatched.count(in.state)) continue;
    if (in.op_id == 0 && (in.state == "installing" || in.state == "upgrading")) {
      // A crash between the record and its op id.
      if (!RecoverWithoutOp(in)) continue;
      if (auto s = ctx_->store->SaveThemeInstall(in); !s.ok())
        spdlog::warn("{}", std::string(s.message()));
      continue;  // the adopted op is followed at the next pass
    }
    if (in.op_id == 0) continue;
    auto op = ctx_->store->GetOp(in.op_id);
    if (!op.ok() || !store::OpEnded(op->state)) continue;
    if (in.state == "undoing" || in.state == "uninstalling") {
      // The app's destroy op ended: the services it created (and, for an
      // uninstall without --keep-data, every service it owns) go now.
      auto c = catalog_->Get(in.theme);
      std::vector<std::string> left;
      if (c.ok() && (in.state == "uninstalling" || in.secrets_generated)) {
        left = DestroyOwnedServices(c->theme, in.app);
      }
      if (in.state == "uninstalling") {
        FinishRemoval(in, left);
        continue;
      }
      in.state = "rolled_back";
      for (const auto& l : left) absl::StrAppend(&in.error, "; ", l);
    } else if (op->state == "succeeded") {
      if (in.state == "upgrading") {
        if (auto c = catalog_->Get(in.theme); c.ok()) {
          in.version = c->theme.version;
          in.inputs = InputsFor(c->theme, in.inputs);
        }
      }
      in.has_previous = false;
      in.state = "installed";
      in.error.clear();
    } else if (in.state == "upgrading") {
      auto a = ctx_->store->GetApp(in.app);
      auto c = catalog_->Get(in.theme);
      const std::string target = c.ok() ? c->theme.version : "the new version";
      in.state = "installed";
      if (a.ok() && op->release != 0 && a->current_release == op->release && c.ok()) {
        // Failed past its point of no return: the new release serves.
        in.version = c->theme.version;
        in.inputs = InputsFor(c->theme, in.inputs);
        in.error = absl::StrCat("the upgrade to ", target, " (op ", op->id, ") ended ", op->state,
                                " after v", op->release, " became current: ", op->error);
      } else {
        // The deploy rolled back: the previous release keeps serving, with the
        // config it had (the upgrade wrote the new version's before the deploy).
        RestorePrevious(in);
        in.error =
            absl::StrCat("the upgrade to ", target, " (op ", op->id, ") ended ", op->state, ": ",
                         op->error, "; ", in.version, " keeps running with its config");
      }
      in.has_previous = false;
    } else if (in.keep_on_failure) {
      in.state = "failed";
      in.error = absl::StrCat("op ", op->id, " ended ", op->state, ": ", op->error,
                              "; kept (--keep-on-failure): `dflow themes uninstall ", in.app,
                              "` removes it");
    } else {
      in.state = "rolled_back";
      in.error = absl::StrCat("op ", op->id, " ended ", op->state, ": ", op->error);
      if (in.created_app) {
        auto d = ctx_->engine->Destroy(in.app);
        if (!d.ok()) {
          spdlog::warn("undoing the install of {}: {}", in.app, std::string(d.status().message()));
          continue;  // tried again at the next pass
        }
        in.state = "undoing";  // services next, once the app is gone
        in.op_id = d->id;
      }
      if (in.secrets_generated) (void)ctx_->store->DeleteThemeSecrets(in.app);
    }
    if (auto s = ctx_->store->SaveThemeInstall(in); !s.ok())
      spdlog::warn("{}", std::string(s.message()));
    spdlog::info("theme install of {}: {}{}", in.app, in.state,
                 in.error.empty() ? "" : " (" + in.error + ")");
  }
}

void Installer::Start() {
  thread_ = std::thread([this] {
    uint64_t seen = 0;
    while (!stopping_.load()) {
      SuperviseOnce();
      seen = ctx_->engine->WaitForChange(seen, std::chrono::milliseconds(500));
    }
  });
}

void Installer::Stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<ops::OpRef> Installer::Uninstall(const std::string& app, bool keep_data) {
  RETURN_IF_ERROR(ValidateAppName(app));
  SuperviseOnce();  // an install whose op just ended is settled first
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(store::ThemeInstall in, ctx_->store->GetThemeInstall(app));
  if (!ctx_->store->GetApp(app).ok()) {
    return absl::NotFoundError(absl::StrCat("app ", app, " (theme ", in.theme, ", ", in.state,
                                            ") no longer exists; nothing to uninstall"));
  }
  ASSIGN_OR_RETURN(ops::OpRef op, ctx_->engine->Destroy(app));
  if (keep_data) {
    // Secrets (and, on Dokku, volumes and services) stay for a reinstall.
    in.state = "uninstalled";
    in.op_id = op.id;
    RETURN_IF_ERROR(ctx_->store->SaveThemeInstall(in));
  } else {
    RETURN_IF_ERROR(ctx_->store->DeleteThemeSecrets(app));
    auto c = catalog_->Get(in.theme);
    if (c.ok() && !c->theme.services.empty()) {
      // Its services go once the app is destroyed (the supervisor).
      in.state = "uninstalling";
      in.op_id = op.id;
      RETURN_IF_ERROR(ctx_->store->SaveThemeInstall(in));
    } else {
      RETURN_IF_ERROR(ctx_->store->DeleteThemeInstall(app));
    }
  }
  return op;
}

absl::StatusOr<std::vector<SecretValue>> Installer::Secrets(const std::string& app) {
  RETURN_IF_ERROR(ValidateAppName(app));
  SuperviseOnce();
  ASSIGN_OR_RETURN(store::ThemeInstall in, ctx_->store->GetThemeInstall(app));
  if (in.state == "uninstalling" && in.error.empty()) {
    return absl::NotFoundError(absl::StrCat("app ", app, " is being uninstalled"));
  }
  ASSIGN_OR_RETURN(auto values, ctx_->store->GetThemeSecrets(app));
  std::vector<SecretValue> out;
  auto c = catalog_->Get(in.theme);
  if (c.ok()) {  // in the theme's order
    for (const auto& s : c->theme.secrets) {
      auto it = values.find(s.name);
      if (it != values.end()) out.push_back({it->first, it->second});
      values.erase(s.name);
    }
  }
  for (const auto& [k, v] : values) out.push_back({k, v});
  return out;
}

}  // namespace dflow::controller_themes
