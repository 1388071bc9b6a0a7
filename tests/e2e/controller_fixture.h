// The base of the e2e fixtures: a controller on a fresh temp directory, the
// CLI pointed at it, and the CLI helpers every fixture shares. `Base` is the
// gtest fixture class: ::testing::Test, or TestWithParam<…> for a suite run
// once per parameter.
#ifndef DFLOW_TESTS_E2E_CONTROLLER_FIXTURE_H_
#define DFLOW_TESTS_E2E_CONTROLLER_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include "tests/e2e/harness.h"

namespace dflow::testing {

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

template <typename Base = ::testing::Test>
class ControllerE2E : public Base {
 protected:
  // `dflow-controller init`, then run with `flags` added, in tmp_; returns
  // once the CLI gets an answer.
  void StartController(const std::vector<std::string>& flags = {}) {
    fleet_ = std::make_unique<Fleet>(tmp_.path());
    fleet_->InitController();
    fleet_->set_controller_flags(flags);
    fleet_->StartController();
  }

  static std::string Example(const std::string& name) {
    return std::string(DFLOW_EXAMPLES_DIR) + "/" + name;
  }

  CliResult Cli(const std::vector<std::string>& args) { return fleet_->Cli(args); }

  // Runs the CLI and fails the test unless it exits 0; the failure shows the
  // command, its output and FailureLogs().
  CliResult ExpectCliOk(const std::vector<std::string>& args) {
    auto r = Cli(args);
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    EXPECT_EQ(r.exit_code, 0) << "dflow " << cmd << "\nstdout: " << r.out << "\nstderr: " << r.err
                              << FailureLogs();
    return r;
  }
  // ExpectCliOk's stdout.
  std::string CliOk(const std::vector<std::string>& args) { return ExpectCliOk(args).out; }

  // The CLI's stdout as JSON, or null when it did not exit 0.
  nlohmann::json Json(const std::vector<std::string>& args) {
    auto r = Cli(args);
    if (r.exit_code != 0) return nullptr;
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  // The logs a failed CliOk shows: the controller's; fixtures whose agents
  // log elsewhere add theirs.
  virtual std::string FailureLogs() { return "\ncontroller log:\n" + fleet_->controller().Log(); }

  TempDir tmp_;
  std::unique_ptr<Fleet> fleet_;
};

}  // namespace dflow::testing

#endif  // DFLOW_TESTS_E2E_CONTROLLER_FIXTURE_H_
