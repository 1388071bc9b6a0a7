// The base of the e2e fixtures on the Dokku test double (tests/fakes/
// fake_dokku): a controller, the double's state directory ($FAKE_DOKKU_STATE)
// and agent dokku-1 run with `--runtime dokku --dokku-bin fake_dokku`. Needs
// FAKE_DOKKU_BIN defined to the double's path.
#ifndef DFLOW_TESTS_E2E_DOKKU_FIXTURE_H_
#define DFLOW_TESTS_E2E_DOKKU_FIXTURE_H_

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "tests/e2e/controller_fixture.h"
#include "tests/e2e/harness.h"

namespace dflow::testing {

template <typename Base = ::testing::Test>
class DokkuE2EBase : public ControllerE2E<Base> {
 protected:
  // Makes the double's state directory, with `vhost` as Dokku's global VHOST
  // when it is not empty, and starts the controller.
  void StartControllerAndDouble(const std::string& vhost = "") {
    state_ = this->tmp_.path() + "/dokku";
    std::filesystem::create_directories(state_);
    if (!vhost.empty()) std::ofstream(state_ + "/VHOST") << vhost << "\n";
    this->StartController();
  }

  // The environment of the double (and of the agent that runs it) as Dokku `version`.
  std::map<std::string, std::string> DokkuEnv(const std::string& version) const {
    return {{"FAKE_DOKKU_STATE", state_}, {"FAKE_DOKKU_VERSION", version}};
  }

  // Joins and starts agent dokku-1 on the double as Dokku `version`; fails
  // the test unless it turns healthy.
  void StartDokkuAgent(const std::string& version) {
    agent_ = Proc(this->fleet_->JoinDokkuAgent("dokku-1", FAKE_DOKKU_BIN),
                  this->tmp_.path() + "/agent.log", DokkuEnv(version));
    ASSERT_TRUE(this->fleet_->WaitStatus("dokku-1", "healthy", std::chrono::seconds(20)))
        << agent_.Log();
  }

  std::string FailureLogs() override {
    return "\nagent log:\n" + agent_.Log() + ControllerE2E<Base>::FailureLogs();
  }

  std::string state_;
  Proc agent_;
};

}  // namespace dflow::testing

#endif  // DFLOW_TESTS_E2E_DOKKU_FIXTURE_H_
