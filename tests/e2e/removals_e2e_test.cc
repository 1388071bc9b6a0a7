// End to end: an app destroyed while one of its servers is down is removed
// there when the server's agent returns (real controller, agents, instances).
#include <signal.h>

#include <filesystem>

#include "tests/e2e/apps_fixture.h"

namespace dflow::testing {
namespace {

using std::chrono::seconds;

TEST_F(AppsE2E, ADestroyAServerMissedIsFinishedWhenItsAgentReturns) {
  DeployHello("hello", 2);
  ASSERT_EQ(RunningByServer("hello"), (std::map<std::string, int>{{"local-1", 1}, {"local-2", 1}}));
  const std::string state_1 = fleet_->agent_dir("local-1") + "/releases/hello";
  const std::string state_2 = fleet_->agent_dir("local-2") + "/releases/hello";
  ASSERT_TRUE(std::filesystem::exists(state_2)) << state_2;

  fleet_->agent("local-2").Signal(SIGKILL);
  fleet_->agent("local-2").Wait(seconds(10));
  ASSERT_TRUE(fleet_->WaitStatus("local-2", "unreachable", seconds(10)));

  auto destroy = Cli({"apps", "destroy", "hello", "--force"});
  ASSERT_EQ(destroy.exit_code, 0) << destroy.out << destroy.err;
  EXPECT_TRUE(Contains(destroy.out, "hello is removed from local-2 when it is reachable again"))
      << destroy.out;
  EXPECT_FALSE(std::filesystem::exists(state_1));  // the reachable server is clean at once
  EXPECT_TRUE(std::filesystem::exists(state_2));

  auto status = Cli({"status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(Contains(status.out, "pending removals")) << status.out;
  EXPECT_TRUE(
      Contains(status.out, "local-2: remove app hello (destroyed while local-2 was unreachable"))
      << status.out;

  fleet_->StartAgent("local-2");
  ASSERT_TRUE(fleet_->WaitStatus("local-2", "healthy", seconds(20)));
  ASSERT_TRUE(WaitFor([&] { return !std::filesystem::exists(state_2); }, seconds(30)))
      << fleet_->controller().Log();
  EXPECT_TRUE(WaitFor([&] { return fleet_->InstancePids("hello").empty(); }, seconds(20)));
  EXPECT_TRUE(
      WaitFor([&] { return !Contains(Cli({"status"}).out, "pending removals"); }, seconds(10)));
  auto events = Cli({"events", "--json"});
  EXPECT_TRUE(Contains(events.out, "app.cleanup_done")) << events.out;
  EXPECT_TRUE(Contains(events.out, "local-2 is reachable again: removed app hello")) << events.out;
}

}  // namespace
}  // namespace dflow::testing
