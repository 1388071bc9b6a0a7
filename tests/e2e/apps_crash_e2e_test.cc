// Crash tests: the controller is killed (fault-injection point
// DFLOW_TEST_CRASH_AT="<kind>:<step>:<before|after-rpc|after-commit>", which
// makes it _exit(137) there) at every step boundary of deploy, scale and
// rollback, and between an agent RPC and the commit of its result. After a
// restart each operation completes or is rolled back, the app answers, and no
// instance runs twice.
#include <signal.h>

#include <algorithm>
#include <tuple>

#include "tests/e2e/apps_fixture.h"

namespace dflow::testing {
namespace {

using std::chrono::seconds;

struct CrashCase {
  std::string kind;
  std::vector<std::string> command;  // starts the operation (with --detach)
  std::vector<std::string> reset;    // brings the app back to 2 instances after a case
  int succeeded_instances = 2;       // instances once the operation succeeded
};

// (operation kind, phase): one test per phase, so that each stays far below
// ctest's timeout and the phases run in parallel.
class AppsCrashE2E : public AppsE2E,
                     public ::testing::WithParamInterface<std::tuple<std::string, std::string>> {
 protected:
  CrashCase Case() {
    std::string kind = std::get<0>(GetParam());
    if (kind == "deploy") {
      return {kind, {"deploy", "hello", "--path", Example("hello"), "--detach"}, {}, 2};
    }
    if (kind == "scale") {
      return {kind, {"scale", "hello", "web=3", "--detach"}, {"scale", "hello", "web=2"}, 3};
    }
    return {kind, {"rollback", "hello", "--detach"}, {}, 2};
  }

  static int64_t IdOf(const nlohmann::json& op) {
    return op.is_object() ? op.value("id", int64_t{0}) : 0;
  }
  int64_t LastOpId() { return IdOf(LastOp("hello")); }

  // Runs the case's command to its end; returns the operation.
  nlohmann::json RunToEnd(const CrashCase& c, int64_t after_id) {
    (void)Cli(c.command);  // the controller may die before it answers
    nlohmann::json op;
    bool ended = WaitFor(
        [&] {
          op = LastOp("hello");
          return IdOf(op) > after_id && Ended(op);
        },
        seconds(60));
    EXPECT_TRUE(ended) << op.dump() << fleet_->controller().Log();
    return op;
  }
};

TEST_P(AppsCrashE2E, EveryStepBoundaryResumesOrRollsBack) {
  CrashCase c = Case();
  DeployHello("hello", 2);
  if (c.kind == "rollback") {  // something to roll back to
    CliOk({"config", "set", "hello", "GREETING=crash"});
    ASSERT_TRUE(WaitSettled("hello", 2));
  }

  // A reference run without a crash gives the steps to cut at.
  auto reference = RunToEnd(c, LastOpId());
  ASSERT_TRUE(reference.is_object());
  ASSERT_EQ(reference.value("state", ""), "succeeded") << reference.dump();
  auto steps = Op(IdOf(reference))["steps"];
  ASSERT_TRUE(steps.is_array() && steps.size() >= 2) << reference.dump();
  if (!c.reset.empty()) CliOk(c.reset);
  ASSERT_TRUE(WaitSettled("hello", 2));

  const std::string phase = std::get<1>(GetParam());
  int crashes = 0;
  for (size_t step = 0; step < steps.size(); ++step) {
    std::string point = c.kind + ":" + std::to_string(step) + ":" + phase;
    SCOPED_TRACE(point);
    int64_t last = LastOpId();
    fleet_->StopController(SIGTERM);
    fleet_->SpawnController({{"DFLOW_TEST_CRASH_AT", point}});
    ASSERT_TRUE(WaitFor([&] { return Cli({"status"}).exit_code == 0; }, seconds(30)));
    (void)Cli(c.command);
    // Either the controller dies at the point, or the operation ends without
    // passing it (a step with no agent RPC has no after-rpc point).
    bool crashed = WaitFor(
        [&] {
          if (!fleet_->controller().Running()) return true;
          auto op = LastOp("hello");
          return IdOf(op) > last && Ended(op);
        },
        seconds(60));
    ASSERT_TRUE(crashed);
    if (!fleet_->controller().Running()) {
      EXPECT_EQ(fleet_->controller().Wait(seconds(5)), 137) << fleet_->controller().Log();
      ++crashes;
      fleet_->StartController();
    }
    nlohmann::json op;
    ASSERT_TRUE(WaitFor(
        [&] {
          op = LastOp("hello");
          return IdOf(op) > last && Ended(op);
        },
        seconds(60)))
        << op.dump() << fleet_->controller().Log();
    std::string state = op.value("state", "");
    EXPECT_TRUE(state == "succeeded" || state == "rolled_back") << op.dump();
    int expected = state == "succeeded" ? c.succeeded_instances : 2;
    ASSERT_TRUE(WaitSettled("hello", expected)) << Ps("hello").dump();
    EXPECT_EQ(Answers("hello").size(), static_cast<size_t>(expected));
    for (const auto& body : Answers("hello")) EXPECT_FALSE(Contains(body, "ERROR")) << body;
    if (!c.reset.empty() && state == "succeeded") {
      CliOk(c.reset);
      ASSERT_TRUE(WaitSettled("hello", 2));
    }
  }
  // Every step has its "before" point; some (those with an agent RPC) an
  // "after-rpc" one, and the steps that commit an "after-commit" one.
  if (phase == "before") {
    EXPECT_EQ(crashes, static_cast<int>(steps.size()));
  } else {
    EXPECT_GE(crashes, 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, AppsCrashE2E,
                         ::testing::Combine(::testing::Values("deploy", "scale", "rollback"),
                                            ::testing::Values("before", "after-rpc",
                                                              "after-commit")),
                         [](const auto& info) {
                           std::string name =
                               std::get<0>(info.param) + "_" + std::get<1>(info.param);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace dflow::testing
