// End to end: apps on real controller and agent processes, real instance
// processes (examples/hello), real HTTP on loopback.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/e2e/apps_fixture.h"

namespace dflow::testing {
namespace {

using std::chrono::seconds;

TEST_F(AppsE2E, LifecycleAcrossTwoServers) {
  CliOk({"apps", "create", "hello", "--health-path", "/health", "--memory", "64M"});
  auto deploy = Cli({"deploy", "hello", "--path", Example("hello")});
  ASSERT_EQ(deploy.exit_code, 0) << deploy.out << deploy.err << fleet_->controller().Log();
  EXPECT_TRUE(Contains(deploy.out + deploy.err, "v1")) << deploy.out << deploy.err;

  CliOk({"scale", "hello", "web=2"});
  ASSERT_TRUE(WaitSettled("hello", 2)) << Ps("hello").dump();
  EXPECT_EQ(RunningByServer("hello"), (std::map<std::string, int>{{"local-1", 1}, {"local-2", 1}}));
  EXPECT_TRUE(AllAnswer("hello", "hello"));
  for (const auto& i : Ps("hello")) {
    EXPECT_EQ(i.value("process", ""), "web");
    EXPECT_EQ(i.value("release", 0), 1);
    EXPECT_GT(i.value("port", 0), 0);
    EXPECT_FALSE(i.value("started_at", "").empty());
    EXPECT_FALSE(i.value("id", "").empty());
  }

  // A server that runs instances is not removed by accident.
  auto rm = Cli({"servers", "rm", "local-2"});
  EXPECT_EQ(rm.exit_code, 1);
  EXPECT_TRUE(Contains(rm.err, "hello (1)")) << rm.err;
  EXPECT_TRUE(fleet_->Server("local-2").is_object());

  CliOk({"scale", "hello", "web=4"});
  ASSERT_TRUE(WaitSettled("hello", 4)) << Ps("hello").dump();
  EXPECT_EQ(RunningByServer("hello"), (std::map<std::string, int>{{"local-1", 2}, {"local-2", 2}}));

  CliOk({"scale", "hello", "web=1"});
  ASSERT_TRUE(WaitSettled("hello", 1)) << Ps("hello").dump();

  // A config change is a new release, rolled out.
  CliOk({"config", "set", "hello", "GREETING=bonjour"});
  ASSERT_TRUE(WaitSettled("hello", 1));
  EXPECT_TRUE(AllAnswer("hello", "bonjour"));
  EXPECT_EQ(Ps("hello")[0].value("release", 0), 2);
  EXPECT_TRUE(Contains(CliOk({"config", "get", "hello", "GREETING"}), "bonjour"));

  // A one-off process gets the release's config; its exit code comes through.
  auto run = Cli({"run", "hello", "--", "python3", "-c",
                  "import os, sys; print('greeting=' + os.environ['GREETING']); sys.exit(3)"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_TRUE(Contains(run.out, "greeting=bonjour")) << run.out << run.err;

  // Logs are merged across servers, each line prefixed with server and instance.
  auto logs = Cli({"logs", "hello", "-n", "50"});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_TRUE(Contains(logs.out, "[local-")) << logs.out;

  // A release that never becomes healthy fails the deploy; v2 keeps serving.
  auto broken = Cli({"deploy", "hello", "--path", Example("broken")});
  EXPECT_EQ(broken.exit_code, 1) << broken.out << broken.err;
  EXPECT_TRUE(Contains(broken.out + broken.err, "health")) << broken.out << broken.err;
  ASSERT_TRUE(WaitSettled("hello", 1));
  EXPECT_TRUE(AllAnswer("hello", "bonjour"));
  EXPECT_EQ(Ps("hello")[0].value("release", 0), 2);
  auto releases = Json({"releases", "hello", "--json"});
  ASSERT_TRUE(releases.is_array()) << releases;
  ASSERT_EQ(releases.size(), 3u) << releases;
  std::map<int, std::string> status;
  for (const auto& r : releases) status[r.value("version", 0)] = r.value("status", "");
  EXPECT_EQ(status[2], "current");
  EXPECT_EQ(status[3], "failed");

  // Rollback goes to the release before the current one: v1's config.
  CliOk({"rollback", "hello"});
  ASSERT_TRUE(WaitSettled("hello", 1));
  EXPECT_TRUE(AllAnswer("hello", "hello"));
  EXPECT_FALSE(AllAnswer("hello", "bonjour"));

  auto destroy_refused = Cli({"apps", "destroy", "hello"});
  EXPECT_EQ(destroy_refused.exit_code, 2);
  CliOk({"apps", "destroy", "hello", "--force"});
  EXPECT_TRUE(WaitFor([&] { return fleet_->InstancePids("hello").empty(); }, seconds(20)));
  auto ls = Json({"apps", "ls", "--json"});
  ASSERT_TRUE(ls.is_array());
  EXPECT_TRUE(ls.empty()) << ls;
}

TEST_F(AppsE2E, InstancesOutliveAgentAndControllerAndAreReadopted) {
  DeployHello("hello", 2);
  auto before = fleet_->InstancePids("hello");
  std::sort(before.begin(), before.end());

  fleet_->agent("local-1").Signal(SIGKILL);
  fleet_->agent("local-1").Wait(seconds(10));
  EXPECT_EQ(Answers("hello").size(), 2u);
  for (const auto& body : Answers("hello")) EXPECT_FALSE(Contains(body, "ERROR")) << body;

  // Nor does the app need the controller to serve.
  auto ports = Ps("hello");
  fleet_->StopController(SIGKILL);
  for (const auto& i : ports) {
    EXPECT_FALSE(Contains(HttpGet(i.value("port", 0)), "ERROR")) << i.dump();
  }
  fleet_->StartController();

  fleet_->StartAgent("local-1");
  ASSERT_TRUE(fleet_->WaitStatus("local-1", "healthy", seconds(20)));
  ASSERT_TRUE(WaitSettled("hello", 2));
  auto after = fleet_->InstancePids("hello");
  std::sort(after.begin(), after.end());
  EXPECT_EQ(before, after) << "instances were restarted instead of re-adopted";
}

TEST_F(AppsE2E, InstancesMoveAfterGraceAndNothingRunsTwiceOnReturn) {
  DeployHello("hello", 2);
  fleet_->agent("local-2").Signal(SIGKILL);
  fleet_->agent("local-2").Wait(seconds(10));
  ASSERT_TRUE(fleet_->WaitStatus("local-2", "unreachable", seconds(10)));
  // After the grace (Fleet::kGrace) the lost instance is replaced on local-1.
  ASSERT_TRUE(WaitFor(
      [&] {
        return RunningByServer("hello") == std::map<std::string, int>{{"local-1", 2}};
      },
      seconds(40)))
      << Ps("hello").dump() << fleet_->controller().Log();

  fleet_->StartAgent("local-2");
  ASSERT_TRUE(fleet_->WaitStatus("local-2", "healthy", seconds(20)));
  // The stale instance on local-2 is stopped: two instances in all, both on local-1.
  ASSERT_TRUE(WaitSettled("hello", 2, seconds(40))) << Ps("hello").dump();
  EXPECT_EQ(RunningByServer("hello"), (std::map<std::string, int>{{"local-1", 2}}));
  EXPECT_TRUE(AllAnswer("hello", "hello"));
}

TEST_F(AppsE2E, PinnedAppIsNeverMovedOffItsDataServer) {
  DeployHello("hello", 2);
  CliOk({"apps", "pin", "hello", "local-1"});
  ASSERT_TRUE(WaitSettled("hello", 2));
  EXPECT_EQ(RunningByServer("hello"), (std::map<std::string, int>{{"local-1", 2}}));
  EXPECT_EQ(Json({"apps", "show", "hello", "--json"}).value("pinned_server", ""), "local-1");

  // Its server goes away past the grace: nothing is started elsewhere, and the
  // app says why it is down.
  fleet_->agent("local-1").Signal(SIGKILL);
  fleet_->agent("local-1").Wait(seconds(10));
  fleet_->KillInstances();
  ASSERT_TRUE(fleet_->WaitStatus("local-1", "unreachable", seconds(10)));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto show = Json({"apps", "show", "hello", "--json"});
        return Contains(show.value("status", ""), "down") &&
               Contains(show.value("status", ""), "local-1");
      },
      seconds(30)))
      << Json({"apps", "show", "hello", "--json"}).dump();
  // Past the grace (Fleet::kGrace, 4 s) and a reconciler pass, still nothing elsewhere.
  EXPECT_FALSE(WaitFor(
      [&] {
        auto ps = Ps("hello");
        for (const auto& i : ps) {
          if (i.value("server", "") != "local-1") return true;
        }
        return !fleet_->InstancePids("hello").empty();
      },
      seconds(8)))
      << Ps("hello").dump();

  // When it returns, the agent brings the wanted instances back on their data.
  fleet_->StartAgent("local-1");
  ASSERT_TRUE(fleet_->WaitStatus("local-1", "healthy", seconds(20)));
  ASSERT_TRUE(WaitSettled("hello", 2, seconds(40))) << Ps("hello").dump();
  EXPECT_EQ(RunningByServer("hello"), (std::map<std::string, int>{{"local-1", 2}}));

  CliOk({"apps", "unpin", "hello"});
  CliOk({"restart", "hello"});
  ASSERT_TRUE(WaitSettled("hello", 2));
  EXPECT_EQ(RunningByServer("hello"), (std::map<std::string, int>{{"local-1", 1}, {"local-2", 1}}));
}

// A copy of examples/hello whose release command takes `seconds`.
std::string SlowRelease(const std::string& root, const std::string& hello, int seconds) {
  std::string dir = root + "/slow";
  std::filesystem::create_directories(dir);
  std::filesystem::copy(
      hello, dir,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
  std::ofstream(dir + "/Procfile", std::ios::trunc)
      << "web: python3 app.py\nrelease: python3 -c \"import time; time.sleep(" << seconds
      << ")\"\n";
  return dir;
}

TEST_F(AppsE2E, SecondOperationWaitsInLineAndCancelRollsBack) {
  DeployHello("hello", 1);
  std::string slow = SlowRelease(tmp_.path(), Example("hello"), 3);

  auto first = Cli({"deploy", "hello", "--path", slow, "--detach"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::string first_id = first.out.substr(0, first.out.find_first_of(" \n"));
  auto second = Cli({"scale", "hello", "web=2"});
  EXPECT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_TRUE(Contains(second.out + second.err, "waiting for operation " + first_id))
      << second.out << second.err;
  ASSERT_TRUE(WaitSettled("hello", 2));
  for (const auto& i : Ps("hello")) EXPECT_EQ(i.value("release", 0), 2);
  EXPECT_EQ(Op(std::stoll(first_id)).value("state", ""), "succeeded");

  // Cancel while the release command runs: the deploy stops and v2 keeps serving.
  auto third = Cli({"deploy", "hello", "--path", slow, "--detach"});
  ASSERT_EQ(third.exit_code, 0) << third.err;
  std::string third_id = third.out.substr(0, third.out.find_first_of(" \n"));
  auto cancel = Cli({"ops", "cancel", third_id});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  nlohmann::json op;
  ASSERT_TRUE(WaitFor(
      [&] {
        op = Op(std::stoll(third_id));
        return Ended(op);
      },
      seconds(60)));
  EXPECT_TRUE(op.value("state", "") == "cancelled" || op.value("state", "") == "rolled_back")
      << op.dump();
  ASSERT_TRUE(WaitSettled("hello", 2));
  for (const auto& i : Ps("hello")) EXPECT_EQ(i.value("release", 0), 2);
  EXPECT_TRUE(AllAnswer("hello", "hello"));
}

TEST_F(AppsE2E, BadInputIsRefusedClearlyAndChangesNothing) {
  DeployHello("hello", 1);
  auto ops_before = Json({"ops", "ls", "--json"});
  auto releases_before = Json({"releases", "hello", "--json"});

  auto bad_name = Cli({"apps", "create", "Bad_Name"});
  EXPECT_NE(bad_name.exit_code, 0);
  EXPECT_TRUE(Contains(bad_name.err, "Bad_Name")) << bad_name.err;
  EXPECT_TRUE(Contains(bad_name.err, "a-z")) << bad_name.err;

  auto twice = Cli({"apps", "create", "hello"});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_TRUE(Contains(twice.err, "already exists")) << twice.err;

  auto unknown = Cli({"ps", "nope"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(Contains(unknown.err, "app \"nope\" does not exist")) << unknown.err;

  auto negative = Cli({"scale", "hello", "web=-1"});
  EXPECT_EQ(negative.exit_code, 2);
  EXPECT_TRUE(Contains(negative.err, "web=-1")) << negative.err;

  auto unknown_type = Cli({"scale", "hello", "worker=1"});
  EXPECT_EQ(unknown_type.exit_code, 1);
  EXPECT_TRUE(Contains(unknown_type.err, "worker")) << unknown_type.err;
  EXPECT_TRUE(Contains(unknown_type.err, "web")) << unknown_type.err;

  auto bad_key = Cli({"config", "set", "hello", "1BAD=x"});
  EXPECT_EQ(bad_key.exit_code, 2);
  EXPECT_TRUE(Contains(bad_key.err, "1BAD")) << bad_key.err;

  auto no_dir = Cli({"deploy", "hello", "--path", tmp_.path() + "/missing"});
  EXPECT_NE(no_dir.exit_code, 0);
  EXPECT_TRUE(Contains(no_dir.err, "missing")) << no_dir.err;

  // An upload over the controller's limit is refused and nothing is kept.
  fleet_->StopController(SIGTERM);
  fleet_->set_controller_flags({"--max-upload", "1M"});
  fleet_->StartController();
  std::string big = tmp_.path() + "/big";
  std::filesystem::create_directories(big);
  std::filesystem::copy(Example("hello"), big, std::filesystem::copy_options::recursive);
  {
    std::ifstream urandom("/dev/urandom", std::ios::binary);
    std::ofstream out(big + "/noise.bin", std::ios::binary);
    std::vector<char> buf(1 << 20);
    for (int i = 0; i < 3; ++i) {
      urandom.read(buf.data(), buf.size());
      out.write(buf.data(), buf.size());
    }
  }
  auto too_big = Cli({"deploy", "hello", "--path", big});
  EXPECT_EQ(too_big.exit_code, 1);
  EXPECT_TRUE(Contains(too_big.err, "limit")) << too_big.err;

  EXPECT_EQ(Json({"ops", "ls", "--json"}), ops_before);
  EXPECT_EQ(Json({"releases", "hello", "--json"}), releases_before);
  EXPECT_TRUE(WaitSettled("hello", 1));
  EXPECT_TRUE(AllAnswer("hello", "hello"));
}

}  // namespace
}  // namespace dflow::testing
