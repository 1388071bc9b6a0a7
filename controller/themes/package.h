// `dflow themes package APP`: a theme manifest written from a running app, so
// that `themes add` of it and `themes install` elsewhere reproduce the app.
// Pure: the caller reads the app and its release from the store.
//
// What goes in: the source (the release's image when it was deployed from one,
// else `source: release` with the release's stored archive beside the manifest),
// process types and counts, the health check, resources, and every config key
// as an input (its current value as the default) or, when the key looks like
// a credential (…SECRET…, …PASSWORD…, …TOKEN…, …KEY…, …SALT…, …PASS…), its
// value is a URL with a password in it, or it was a generated theme secret, as
// a secret of the same length — never its value.
#ifndef DFLOW_CONTROLLER_THEMES_PACKAGE_H_
#define DFLOW_CONTROLLER_THEMES_PACKAGE_H_

#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "controller/store/apps.h"
#include "controller/store/extras.h"

namespace dflow::controller_themes {

inline constexpr char kReleaseArchiveName[] = "release.tar.gz";

struct PackagedTheme {
  std::string manifest;        // theme.yaml, validated
  bool needs_archive = false;  // source: release (write the release archive beside it)
};

// `secret_keys`: config keys known to hold generated secrets (a theme install).
// `extras` (Dokku): the first http port map becomes `port`, storage mounts
// become volumes, linked services become services, and the config keys a link
// set (the URL, PREFIX_HOST …) become their {{ services.NAME.* }} references.
absl::StatusOr<PackagedTheme> PackageApp(const store::App& app, const store::Release& release,
                                         const std::set<std::string>& secret_keys,
                                         const store::AppExtras& extras = {});

// Whether a config key's name says it holds a credential.
bool LooksSecret(const std::string& key);

}  // namespace dflow::controller_themes

#endif  // DFLOW_CONTROLLER_THEMES_PACKAGE_H_
