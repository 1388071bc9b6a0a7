// End to end on Dokku: `domains rm` while one of the app's Dokku servers is
// down is recorded, listed by `dflow status`, and done on that server when its
// agent returns (two agents on the test double, each with its own state).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "tests/e2e/controller_fixture.h"
#include "tests/e2e/harness.h"

namespace dflow::testing {
namespace {

using std::chrono::seconds;

bool Has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

class DokkuRemovalsE2E : public ControllerE2E<> {
 protected:
  void SetUp() override { StartController(); }

  std::map<std::string, std::string> DokkuEnv(const std::string& server) {
    return {{"FAKE_DOKKU_STATE", tmp_.path() + "/dokku-state-" + server},
            {"FAKE_DOKKU_VERSION", "0.38.27"}};
  }

  // What the double of `server` holds, through its own CLI.
  std::string Vhosts(const std::string& server) {
    return RunProgram({FAKE_DOKKU_BIN, "domains:report", "shop", "--domains-app-vhosts"},
                      DokkuEnv(server))
        .out;
  }

  void StartAgent(const std::string& server) {
    std::filesystem::create_directories(tmp_.path() + "/dokku-state-" + server);
    if (argv_.count(server) == 0) argv_[server] = fleet_->JoinDokkuAgent(server, FAKE_DOKKU_BIN);
    agents_[server] =
        Proc(argv_[server], tmp_.path() + "/agent-" + server + ".log", DokkuEnv(server));
    ASSERT_TRUE(fleet_->WaitStatus(server, "healthy", seconds(20))) << agents_[server].Log();
  }

  std::map<std::string, std::vector<std::string>> argv_;
  std::map<std::string, Proc> agents_;
};

TEST_F(DokkuRemovalsE2E, ADomainRemovedWhileAServerIsDownLeavesItWhenItReturns) {
  ASSERT_NO_FATAL_FAILURE(StartAgent("dokku-1"));
  ASSERT_NO_FATAL_FAILURE(StartAgent("dokku-2"));
  const std::string hello = std::string(DFLOW_EXAMPLES_DIR) + "/hello";
  CliOk({"apps", "create", "shop", "--health-path", "/health"});
  CliOk({"domains", "add", "shop", "www.shop.test"});
  CliOk({"deploy", "shop", "--path", hello});
  CliOk({"scale", "shop", "web=2"});
  for (const char* server : {"dokku-1", "dokku-2"}) {
    ASSERT_TRUE(WaitFor([&] { return Has(Vhosts(server), "www.shop.test"); }, seconds(30)))
        << server << ": " << Vhosts(server);
  }

  agents_["dokku-2"].Signal(SIGKILL);
  agents_["dokku-2"].Wait(seconds(10));
  ASSERT_TRUE(fleet_->WaitStatus("dokku-2", "unreachable", seconds(10)));

  auto rm = ExpectCliOk({"domains", "rm", "shop", "www.shop.test"});
  EXPECT_TRUE(Has(rm.out, "dokku-2 is unreachable: it is removed there when it is reachable again"))
      << rm.out << rm.err;
  EXPECT_FALSE(Has(Vhosts("dokku-1"), "www.shop.test")) << Vhosts("dokku-1");
  EXPECT_TRUE(Has(Vhosts("dokku-2"), "www.shop.test"));  // the agent is down: nothing reached it
  auto status = ExpectCliOk({"status"});
  EXPECT_TRUE(Has(status.out,
                  "dokku-2: remove domain www.shop.test from shop (removed while "
                  "dokku-2 was unreachable"))
      << status.out;

  ASSERT_NO_FATAL_FAILURE(StartAgent("dokku-2"));
  ASSERT_TRUE(WaitFor([&] { return !Has(Vhosts("dokku-2"), "www.shop.test"); }, seconds(40)))
      << Vhosts("dokku-2") << fleet_->controller().Log();
  EXPECT_TRUE(
      WaitFor([&] { return !Has(fleet_->Cli({"status"}).out, "pending removals"); }, seconds(20)))
      << fleet_->Cli({"status"}).out;
  auto events = fleet_->Cli({"events", "--json"});
  EXPECT_TRUE(Has(events.out, "app.cleanup_done")) << events.out;
}

}  // namespace
}  // namespace dflow::testing
