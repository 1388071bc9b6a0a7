// The fixture of the LocalRuntime theme e2e tests (themes_e2e_test.cc,
// themes_crash_e2e_test.cc): two LocalRuntime agents, and helpers for the
// catalog, revealed secrets and an app's port; a custom theme to upgrade.
#ifndef DFLOW_TESTS_E2E_THEMES_FIXTURE_H_
#define DFLOW_TESTS_E2E_THEMES_FIXTURE_H_

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/e2e/apps_fixture.h"

namespace dflow::testing {

// A custom bundle theme "shelf" at `version` from examples/EXAMPLE, with a
// domain, a secret and a 5 s healthcheck.timeout at `health_path`; `env`
// holds its env lines.
inline void WriteShelf(const std::string& dir, const std::string& version,
                       const std::string& example, const std::string& env,
                       const std::string& health_path = "/health") {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::copy(std::string(DFLOW_EXAMPLES_DIR) + "/" + example, dir + "/app");
  std::ofstream(dir + "/theme.yaml")
      << "apiVersion: dflow/v1\nkind: Theme\nname: shelf\nversion: " << version
      << "\ndescription: d\nsource:\n  bundle: app\ndomains:\n  - shelf.example.test\n"
         "secrets:\n  - name: key\nenv:\n"
      << env << "healthcheck:\n  path: " << health_path << "\n  timeout: 5s\n";
}

class ThemesE2E : public AppsE2E {
 protected:
  static std::string Catalog(const std::string& name) {
    return std::string(DFLOW_THEMES_DIR) + "/catalog/" + name;
  }

  std::string Reveal(const std::string& app, const std::string& secret) {
    auto j = Json({"themes", "secrets", app, "--reveal", "--json"});
    if (!j.is_object()) return "";
    return j["secrets"].value(secret, "");
  }

  int StatusPort(const std::string& app) {
    auto ps = Ps(app);
    if (!ps.is_array() || ps.empty()) return 0;
    return ps[0].value("port", 0);
  }

  bool AppGone(const std::string& app) {
    return WaitFor(
        [&] {
          return Cli({"apps", "show", app}).exit_code != 0;
        },
        std::chrono::seconds(30));
  }
};

}  // namespace dflow::testing

#endif  // DFLOW_TESTS_E2E_THEMES_FIXTURE_H_
