// Helpers for tests that run the Dokku test double: a state directory (removed
// at the end), the environment that points the double at it, its argv log,
// and one-shot runs of the binary. Header-only; the binary's path comes from
// the FAKE_DOKKU_BIN definition the test target sets.
#ifndef DFLOW_TESTS_FAKES_FAKE_DOKKU_TEST_SUPPORT_H_
#define DFLOW_TESTS_FAKES_FAKE_DOKKU_TEST_SUPPORT_H_

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/process.h"

namespace fake_dokku::testing {

using json = nlohmann::json;

class StateDir {
 public:
  StateDir() {
    char tmpl[] = "/tmp/fake-dokku-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~StateDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  StateDir(const StateDir&) = delete;
  StateDir& operator=(const StateDir&) = delete;

  const std::string& path() const { return path_; }

  // The host's global vhost (Dokku's /home/dokku/VHOST); "" removes it.
  void SetGlobalVhost(const std::string& vhost) const {
    if (vhost.empty()) {
      std::filesystem::remove(path_ + "/VHOST");
    } else {
      std::ofstream(path_ + "/VHOST") << vhost << "\n";
    }
  }

  // The double's test hook: the app's deploys fail their checks with `reason`
  // ("" lifts it).
  void FailChecks(const std::string& app, const std::string& reason) const {
    std::filesystem::create_directories(path_ + "/hooks");
    std::string file = path_ + "/hooks/" + app + ".fail-checks";
    if (reason.empty()) {
      std::filesystem::remove(file);
    } else {
      std::ofstream(file) << reason << "\n";
    }
  }

  std::map<std::string, std::string> Env(const std::string& version) const {
    std::map<std::string, std::string> env;
    const char* path = std::getenv("PATH");
    env["PATH"] = path != nullptr ? path : "/usr/bin:/bin";
    env["FAKE_DOKKU_STATE"] = path_;
    env["FAKE_DOKKU_VERSION"] = version;
    return env;
  }

  // One JSON object per command the double ran: {"argv": [...], "exit_code": N}.
  std::vector<json> ArgvLog() const {
    std::vector<json> out;
    std::ifstream in(path_ + "/argv.log");
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line));
    return out;
  }

  json State() const {
    std::ifstream in(path_ + "/state.json");
    return in ? json::parse(in) : json::object();
  }

 private:
  std::string path_;
};

inline dflow::ProcessResult RunDouble(const std::vector<std::string>& argv,
                                      const std::map<std::string, std::string>& env,
                                      const std::string& stdin_data = "") {
  dflow::PosixProcessRunner runner;
  dflow::ProcessSpec spec;
  spec.argv = argv;
  spec.env = env;
  spec.stdin_data = stdin_data;
  spec.deadline = std::chrono::seconds(30);
  auto r = runner.Run(spec);
  return r.ok() ? *r : dflow::ProcessResult{};
}

}  // namespace fake_dokku::testing

#endif  // DFLOW_TESTS_FAKES_FAKE_DOKKU_TEST_SUPPORT_H_
