// `dflow themes package APP`: a theme manifest written from a running app, so
// that `themes add` of it and `themes install` elsewhere reproduce the app.
// Pure: the caller reads the app, its release and its settings from the store.
//
// What goes in: the source (below), process types and counts, the port, the
// health check (path, and Dokku's timeout and attempts), resources, custom
// domains (as inputs defaulting to today's names), linked services, storage
// mounts as volumes, and every config key as an input (its current value as
// the default) or — when LooksSecret() says its name holds a credential, its
// value is a URL with credentials in it or a PEM private key, or it was filled
// from a generated theme secret — as a secret of the same length, never its
// value.
//
// The source: the release's image when it was deployed from one; the app's
// git URL at the release's commit when another controller can fetch exactly
// that (ReproducibleGitSource); else `source: release` with the release's
// stored archive beside the manifest.
#ifndef DFLOW_CONTROLLER_THEMES_PACKAGE_H_
#define DFLOW_CONTROLLER_THEMES_PACKAGE_H_

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/store/apps.h"
#include "controller/store/extras.h"

namespace dflow::store {
class Store;
}  // namespace dflow::store

namespace dflow::controller_themes {

inline constexpr char kReleaseArchiveName[] = "release.tar.gz";

struct PackagedTheme {
  std::string manifest;        // theme.yaml, validated
  bool needs_archive = false;  // source: release (write the release archive beside it)
};

// What else the store knows of the app that a theme can carry.
struct AppOrigin {
  std::string git_url{};               // store::AppGit::git_url; "" when unset
  bool runs_on_dokku = false;          // placed on a Dokku server
  std::vector<std::string> domains{};  // custom domains (not APP.BASE)
};

// The store's AppOrigin for `app`: its git URL (apps set --git-url), its
// custom domains, and whether it runs on Dokku (its pinned server, or a
// server holding one of its instances, has runtime "dokku").
absl::StatusOr<AppOrigin> ReadAppOrigin(store::Store& store, const store::App& app);

struct GitSource {
  std::string url;
  std::string ref;  // the full commit SHA
};

// The git source `release` can be rebuilt from on another controller, or
// nullopt with the reason in `why_not`. Reproducible means: the release came
// from a forge webhook (pushed_by "github|gitlab delivery ID"), so the
// controller fetched its commit_sha from the app's git URL, which is a
// network URL (https, ssh, git or user@host:path; not file://) without
// credentials in it; and the app runs on Dokku, where a git theme installs. A
// push to the controller's own repository (ssh key or local user) is not:
// that commit may exist nowhere else, so the stored archive travels instead.
std::optional<GitSource> ReproducibleGitSource(const store::Release& release,
                                               const AppOrigin& origin,
                                               const store::AppExtras& extras,
                                               std::string* why_not);

// `secret_keys`: config keys known to hold generated secrets (a theme install).
// `extras` (Dokku): the first http port map becomes `port`, storage mounts
// become volumes, linked services become services, and the config keys a link
// set (the URL, PREFIX_HOST …) become their {{ services.NAME.* }} references.
absl::StatusOr<PackagedTheme> PackageApp(const store::App& app, const store::Release& release,
                                         const std::set<std::string>& secret_keys,
                                         const store::AppExtras& extras = {},
                                         const AppOrigin& origin = {});

// Whether a config key's name says it holds a credential. The key is split
// into words at `_`, `-` and `.` (case-insensitive). It is a credential when
// a word is SECRET(S), PASSWORD(S), PASSWD, PASS, PWD, PASSPHRASE, TOKEN(S),
// SALT, KEY(S), APIKEY, CREDENTIAL(S) or COOKIE — unless the last word says
// the value is about a credential rather than one (URL, URI, PATH, FILE,
// DIR, NAME, ID, HOST, PORT, DOMAIN, USER, USERNAME, EMAIL, TYPE, KIND, MODE,
// ALGORITHM, LENGTH, SIZE, TTL, EXPIRY, EXPIRES, EXPIRATION, TIMEOUT, HEADER,
// PREFIX, ENABLED, DISABLED, REQUIRED, SECURE, VERSION, FORMAT, FIELD,
// ISSUER, AUDIENCE, ENDPOINT, REGION, COUNT, LIMIT), or a
// KEY/KEYS word follows PUBLIC or PUBLISHABLE. So N8N_ENCRYPTION_KEY,
// SECRET_KEY_BASE and database__connection__password are; TOKEN_URL,
// PUBLIC_KEY_PATH, SECRET_NAME, AWS_ACCESS_KEY_ID, KEYCLOAK_URL and
// PASSENGER_APP_ENV are not.
bool LooksSecret(const std::string& key);

}  // namespace dflow::controller_themes

#endif  // DFLOW_CONTROLLER_THEMES_PACKAGE_H_
