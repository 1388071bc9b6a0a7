// Theme installs as durable work: an install records itself in the store
// (theme_installs) before anything is created, generates the theme's missing
// secrets (kept in the store; an existing secret is never regenerated), creates
// the app with the rendered env as its config, and hands the source to the op
// engine as a deploy op (durable: planned, resumed after a crash, rolled back on
// failure). The Supervisor (a background thread, and once at start for what a
// previous controller left) finishes each install when its deploy op ends:
// `installed`, or — unless --keep-on-failure — undone: the app it created is
// destroyed by a destroy op and secrets it generated are deleted.
//
// The theme's domains are added as the app's custom domains (routed by the
// LocalRuntime routers, domains:add by the rollout on Dokku) and its
// healthcheck.timeout becomes the app's health check timeout.
//
// An upgrade whose deploy does not make the new release current puts the
// previous release's config back, with the health check, Dokku settings,
// domains and links it had (and keeps the record at the old version); see
// installer_upgrade.cc. An app destroyed with `dflow apps destroy` takes its
// install record, its secrets and the services the install created with it
// (a service that cannot be destroyed keeps the record, naming it).
//
// Crash safety: the supervisor finishes an install or upgrade a crash left
// without its op id (it adopts the op submitted after the record, or undoes
// what was created). DFLOW_TEST_CRASH_AT=theme-install:N:after-commit makes
// the controller die after write N of an install (0: the record, 1: the app,
// 2: the deploy op, before its id is saved) or an upgrade (3: the record and
// the new config, 4: the deploy op, before its id is saved).
//
// Runtimes: a bundle or release theme runs on every runtime; an image or git
// theme needs a Dokku server and is refused for a LocalRuntime server with a
// message naming the Dokku runtime. Themes with services or volumes need
// Dokku too (the LocalRuntime keeps no container paths). Thread-safe.
#ifndef DFLOW_CONTROLLER_THEMES_INSTALLER_H_
#define DFLOW_CONTROLLER_THEMES_INSTALLER_H_

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/statusor.h"
#include "controller/api/context.h"
#include "controller/ops/engine.h"
#include "controller/themes/catalog.h"
#include "themes/render.h"

namespace dflow::controller_themes {

struct InstallRequest {
  std::string theme;
  std::string app;
  std::string server;                         // --server: pin the app there
  std::map<std::string, std::string> inputs;  // --set k=v
  bool keep_on_failure = false;
};

struct SecretValue {
  std::string name;
  std::string value;
};

// The stored inputs the theme still has, with the defaults of those it adds.
std::map<std::string, std::string> InputsFor(const themes::Theme& theme,
                                             const std::map<std::string, std::string>& stored);
// Whether a theme runs on Dokku servers only (an image or git source,
// services or volumes).
bool NeedsDokkuServer(const themes::Theme& theme);
// The Dokku service a theme's service `name` becomes for `app` (APP_NAME, '-' as '_').
std::string ServiceNameFor(const std::string& app, const std::string& name);

class Installer {
 public:
  Installer(api::ControllerContext* ctx, ThemeCatalog* catalog) : ctx_(ctx), catalog_(catalog) {}
  ~Installer() { Stop(); }

  // Returns the deploy op that rolls the app out.
  absl::StatusOr<ops::OpRef> Install(const InstallRequest& request);
  // Destroys the app; without keep_data its secrets and install record go too.
  absl::StatusOr<ops::OpRef> Uninstall(const std::string& app, bool keep_data);
  // Deploys the catalog's version of the app's theme (which must be `version`
  // when given) with the stored inputs and secrets (new secrets generated).
  // `notes` gets what the user should know: a domain removed, a service
  // unlinked and kept (installer_upgrade.cc).
  absl::StatusOr<ops::OpRef> Upgrade(const std::string& app, const std::string& version,
                                     std::vector<std::string>* notes = nullptr);
  // The app's generated secrets, by name.
  absl::StatusOr<std::vector<SecretValue>> Secrets(const std::string& app);

  // Finishes installs whose deploy op ended; Start() runs it on a thread.
  void SuperviseOnce();
  void Start();
  void Stop();

 private:
  // The config an install of `theme` on `app` gets, generating missing secrets.
  absl::StatusOr<std::map<std::string, std::string>> RenderConfig(
      const CatalogTheme& theme, const std::string& app,
      const std::map<std::string, std::string>& inputs,
      const std::map<std::string, themes::ServiceConnection>& services,
      std::map<std::string, std::string>* merged, bool* generated_all,
      std::vector<std::string>* domains = nullptr);
  // Refuses inputs the theme does not accept, before anything is created.
  absl::Status CheckInputs(const themes::Theme& theme, const std::string& app,
                           const std::map<std::string, std::string>& inputs);
  // The theme's rendered domains as the app's custom domains (validated as
  // `dflow domains add` does), pushed to the routers. `theme_domains` gets
  // those that are the theme's: added now, or the app's already and in
  // `theme_before` (a domain the user added stays the user's).
  absl::Status AddThemeDomains(const std::string& app, const std::vector<std::string>& domains,
                               const std::vector<std::string>& theme_before,
                               std::vector<std::string>* theme_domains);
  // installer_lifecycle.cc. An install or upgrade a crash left without its op:
  // adopts the op submitted after the record or settles it. False when the
  // record is left as it is for the next pass.
  bool RecoverWithoutOp(store::ThemeInstall& in);
  // After a failed upgrade: the config of the release that still serves, and
  // the health check, Dokku settings, domains and links from before the
  // upgrade (installer_upgrade.cc).
  void RestorePrevious(store::ThemeInstall& in);
  void RestorePreviousSettings(store::ThemeInstall& in);
  // Whether the app is pinned to a Dokku server.
  bool OnDokku(const std::string& app);
  // The app's links to services the install created (named APP_NAME).
  std::vector<store::ServiceLink> InstallLinks(const std::string& app,
                                               const store::AppExtras& extras);
  // A dokku op (ops::Engine::ChangeDokku) on the app; params["what"] names it.
  absl::Status SubmitDokkuChange(const std::string& app, nlohmann::json params);
  // Upgrade: unlinks (and keeps) the install's services the new version drops.
  absl::Status UnlinkDroppedServices(const CatalogTheme& c, const std::string& app,
                                     const store::AppExtras& before,
                                     std::vector<std::string>* notes);
  // Upgrade: removes the theme's domains (`before`) that are not in `after`.
  absl::Status RemoveDroppedDomains(const CatalogTheme& c, const std::string& app,
                                    const std::vector<std::string>& before,
                                    const std::vector<std::string>& after,
                                    std::vector<std::string>* notes);
  // An uninstall or `apps destroy` whose app is gone: the record is deleted,
  // or kept as uninstalling (op 0) with `left` (services not destroyed) as its error.
  void FinishRemoval(store::ThemeInstall& in, const std::vector<std::string>& left);
  // The test crash point theme-install:N:after-commit (crash_point.h).
  void CrashPoint(int n);
  // The source archive's digest in the blob store (packing a built-in bundle).
  absl::StatusOr<std::string> SourceDigest(const CatalogTheme& theme);
  // installer_dokku.cc. The server the app is pinned to ("" for a bundle or
  // release theme without --server); refuses what the server cannot run.
  absl::StatusOr<std::string> PlaceInstall(const themes::Theme& theme, const std::string& server);
  // The theme's services on `server` (named APP_NAME), created when missing.
  absl::StatusOr<std::map<std::string, themes::ServiceConnection>> EnsureServices(
      const themes::Theme& theme, const std::string& app, const std::string& server);
  // Links, named storage for volumes, the port map and check settings. On an
  // upgrade, the theme's storage (named APP-VOLUME) that the new version no
  // longer declares is unmounted by a dokku op submitted before the deploy
  // (the data stays on the server).
  absl::Status SaveDokkuSettings(const themes::Theme& theme, const std::string& app,
                                 bool upgrade = false);
  // The release's Procfile (a git source may come without one).
  absl::StatusOr<std::string> ProcfileOf(const themes::Theme& theme, const std::string& digest);
  // The digest of the archive of a git source's commit at its ref.
  absl::StatusOr<std::string> FetchGitSource(const themes::Theme& theme);
  // Destroys the services an install created (APP_NAME) once nothing links
  // them. Returns one message per service that was not destroyed (its record
  // stays): which service on which server, why, and the command that finishes it.
  std::vector<std::string> DestroyOwnedServices(const themes::Theme& theme, const std::string& app);

  api::ControllerContext* ctx_;
  ThemeCatalog* catalog_;
  std::mutex mu_;  // one install/upgrade/uninstall decision at a time
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace dflow::controller_themes

#endif  // DFLOW_CONTROLLER_THEMES_INSTALLER_H_
