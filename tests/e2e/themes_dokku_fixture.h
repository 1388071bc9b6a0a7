// The fixture of the theme e2e tests on the Dokku test double
// (tests/fakes/fake_dokku, which logs every argv): a controller, one agent
// running the DokkuRuntime against the double, one LocalRuntime agent, and
// the double's log read back as the exact sequence of Dokku commands.
#ifndef DFLOW_TESTS_E2E_THEMES_DOKKU_FIXTURE_H_
#define DFLOW_TESTS_E2E_THEMES_DOKKU_FIXTURE_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "tests/e2e/dokku_fixture.h"
#include "tests/e2e/harness.h"

namespace dflow::testing {

inline bool Has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class ThemesDokkuE2E : public DokkuE2EBase<> {
 protected:
  void SetUp() override {
    StartControllerAndDouble("dokku.me");
    ASSERT_NO_FATAL_FAILURE(StartDokkuAgent("0.38.27"));
    fleet_->AddAgent("local-1");
    ASSERT_TRUE(fleet_->WaitStatus("local-1", "healthy", std::chrono::seconds(20)));
  }

  std::map<std::string, std::string> Env() { return DokkuEnv("0.38.27"); }
  std::map<std::string, std::string> Secrets(const std::string& app) {
    auto j = Json({"themes", "secrets", app, "--reveal", "--json"});
    if (!j.is_object()) return {};
    return j["secrets"].get<std::map<std::string, std::string>>();
  }
  nlohmann::json DokkuConfig(const std::string& app) {
    auto r = RunProgram({FAKE_DOKKU_BIN, "config:export", "--format", "json", app}, Env());
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  // Every Dokku command the double ran, its argv without the program.
  std::vector<std::vector<std::string>> RawArgv() {
    std::vector<std::vector<std::string>> out;
    std::ifstream in(state_ + "/argv.log");
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
      std::vector<std::string> argv;
      for (size_t i = 1; i < j["argv"].size(); ++i) argv.push_back(j["argv"][i].get<std::string>());
      out.push_back(argv);
    }
    return out;
  }
  // Every Dokku command the double ran, as "cmd arg arg…".
  std::vector<std::string> Argv() {
    std::vector<std::string> out;
    std::ifstream in(state_ + "/argv.log");
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
      std::string cmd;
      for (size_t i = 1; i < j["argv"].size(); ++i) {
        cmd += (i > 1 ? " " : "") + j["argv"][i].get<std::string>();
      }
      out.push_back(cmd);
    }
    return out;
  }
  // The index of the first command at or after `from` that starts with `prefix`.
  static size_t Find(const std::vector<std::string>& argv, const std::string& prefix,
                     size_t from = 0) {
    for (size_t i = from; i < argv.size(); ++i) {
      if (argv[i].rfind(prefix, 0) == 0) return i;
    }
    return std::string::npos;
  }
  static std::string Dump(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) out += a + "\n";
    return out;
  }

  // Dokku commands that only read: reports, lists, exists/info queries,
  // config:export/get, version. They are left out of the sequences the tests
  // assert, and only they: the agent asks them before a change and to read
  // one back, and the heartbeats' ps:report of every app interleave with an
  // install at times that vary from run to run.
  static bool ReadOnly(const std::vector<std::string>& argv) {
    if (argv.empty()) return true;
    const std::string& cmd = argv[0];
    auto ends = [&](const std::string& suffix) {
      return cmd.size() >= suffix.size() &&
             cmd.compare(cmd.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    return cmd == "version" || cmd == "--version" || cmd == "config:export" ||
           cmd == "config:get" || cmd == "config:show" || ends(":report") || ends(":list") ||
           ends(":exists") || ends(":info");
  }
  size_t LogSize() { return RawArgv().size(); }
  // The commands that change something, from entry `from` of the log on, as
  // "cmd arg…". config:set's values (base64, --encoded) are decoded; those of
  // the `generated` keys (secrets and service passwords, whose values the
  // tests check in the app's config) read KEY=<generated>.
  std::vector<std::string> Writes(size_t from, const std::set<std::string>& generated = {}) {
    std::vector<std::string> out;
    auto all = RawArgv();
    for (size_t i = from; i < all.size(); ++i) {
      const auto& argv = all[i];
      if (ReadOnly(argv)) continue;
      const bool encoded =
          argv[0] == "config:set" && std::find(argv.begin(), argv.end(), "--encoded") != argv.end();
      std::string cmd;
      for (size_t j = 0; j < argv.size(); ++j) {
        std::string word = argv[j];
        size_t eq = word.find('=');
        if (encoded && j > 0 && word.rfind("--", 0) != 0 && eq != std::string::npos) {
          std::string key = word.substr(0, eq), value;
          if (!absl::Base64Unescape(word.substr(eq + 1), &value)) value = "<not base64>";
          word = key + "=" + (generated.count(key) ? "<generated>" : value);
        }
        cmd += (j > 0 ? " " : "") + word;
      }
      out.push_back(cmd);
    }
    return out;
  }
  static std::string Diff(const std::vector<std::string>& want,
                          const std::vector<std::string>& got) {
    std::string out = "want:\n" + Dump(want) + "got:\n" + Dump(got);
    return out;
  }
};

}  // namespace dflow::testing

#endif  // DFLOW_TESTS_E2E_THEMES_DOKKU_FIXTURE_H_
