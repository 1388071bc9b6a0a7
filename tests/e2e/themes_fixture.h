// The fixture of the LocalRuntime theme e2e tests (themes_e2e_test.cc,
// themes_crash_e2e_test.cc): two LocalRuntime agents, and helpers for the
// catalog, revealed secrets and an app's port.
#ifndef DFLOW_TESTS_E2E_THEMES_FIXTURE_H_
#define DFLOW_TESTS_E2E_THEMES_FIXTURE_H_

#include <string>

#include "tests/e2e/apps_fixture.h"

namespace dflow::testing {

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
