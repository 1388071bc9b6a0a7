// The op engine against a fake fleet and a real store: what each kind of op
// does, in which order, and what is left when one fails or is cancelled.
#include <gmock/gmock.h>

#include <thread>

#include "controller/ops/ops_test_util.h"
#include "controller/ops/plan.h"
#include "controller/ops/procfile.h"
#include "controller/ops/steps.h"

namespace dflow::ops {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Methods(const std::vector<FakeAgentApi::Call>& calls) {
  std::vector<std::string> out;
  for (const auto& c : calls) {
    if (c.method != "ListInstances") out.push_back(c.method + " " + c.server);
  }
  return out;
}

TEST_F(OpsTest, FirstDeployStartsOneWebInstanceAndMakesV1Current) {
  store::Op op = Deploy("d1");
  EXPECT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(op.release, 1);
  EXPECT_EQ(App().current_release, 1);
  EXPECT_EQ(App().scale, (std::map<std::string, int>{{"web", 1}}));
  EXPECT_EQ(ReleaseStatus(1), "current");
  EXPECT_THAT(Methods(agents_.Calls()),
              ElementsAre("EnsureArchive s1", "PrepareRelease s1", "StartInstance s1"));
  ExpectConsistent();
  // The steps ran in order, each done, with the plan first.
  ASSERT_EQ(op.steps.size(), 5u);
  EXPECT_EQ(op.steps[0].kind, "plan");
  EXPECT_EQ(op.steps[4].kind, "activate");
  for (const auto& s : op.steps) EXPECT_EQ(s.state, "done") << s.description;
}

TEST_F(OpsTest, EveryAgentRpcCarriesTheStepsIdempotencyKey) {
  store::Op op = Deploy("d1");
  for (const auto& c : agents_.Calls()) {
    if (c.method == "EnsureArchive" || c.method == "ListInstances") continue;
    bool matches = false;
    for (const auto& s : op.steps) {
      matches =
          matches || c.key == "op" + std::to_string(op.id) + "-step" + std::to_string(s.index);
    }
    EXPECT_TRUE(matches) << c.method << " key " << c.key;
  }
}

TEST_F(OpsTest, DeployReplacesOldInstancesAfterNewOnesAreHealthy) {
  ASSERT_EQ(Scale({{"web", 2}}).state, "succeeded");  // before the first deploy: recorded
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  EXPECT_EQ(AgentSpread(), (std::map<std::string, int>{{"s1", 1}, {"s2", 1}}));
  agents_.ClearCalls();
  store::Op op = Deploy("d2");
  ASSERT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(App().current_release, 2);
  EXPECT_EQ(ReleaseStatus(1), "previous");
  EXPECT_EQ(ReleaseStatus(2), "current");
  // Both starts come before any stop.
  EXPECT_THAT(
      Methods(agents_.Calls()),
      ElementsAre("EnsureArchive s1", "EnsureArchive s2", "PrepareRelease s1", "PrepareRelease s2",
                  "StartInstance s1", "StartInstance s2", "StopInstance s1", "StopInstance s2"));
  for (const auto& i : agents_.AllRunning()) EXPECT_EQ(i.release, 2);
  ExpectConsistent();
}

TEST_F(OpsTest, ReleaseCommandRunsOnceBeforeAnyInstanceStarts) {
  ASSERT_EQ(Scale({{"web", 2}, {"worker", 1}}).state, "succeeded");
  store::Op op = Deploy("d1", kTwoTypeProcfile);
  ASSERT_EQ(op.state, "succeeded") << op.error;
  auto calls = Methods(agents_.Calls());
  auto release = std::find(calls.begin(), calls.end(), "RunReleaseCommand s1");
  ASSERT_NE(release, calls.end());
  EXPECT_EQ(std::count(calls.begin(), calls.end(), "RunReleaseCommand s1"), 1);
  auto first_start = std::find_if(calls.begin(), calls.end(),
                                  [](const std::string& c) { return c.rfind("Start", 0) == 0; });
  EXPECT_LT(release, first_start);
  EXPECT_EQ(agents_.AllRunning().size(), 3u);
}

TEST_F(OpsTest, FailedReleaseCommandFailsTheDeployAndStartsNothing) {
  agents_.SetInject([](const FakeAgentApi::Call& c) {
    return c.method == "RunReleaseCommand"
               ? absl::FailedPreconditionError("on server s1: migrate.py exited with 1")
               : absl::OkStatus();
  });
  store::Op op = Deploy("d1", kTwoTypeProcfile);
  EXPECT_EQ(op.state, "rolled_back");
  EXPECT_THAT(op.error, HasSubstr("migrate.py exited with 1"));
  EXPECT_TRUE(agents_.CallsTo("StartInstance").empty());
  EXPECT_EQ(ReleaseStatus(1), "failed");
  EXPECT_EQ(App().current_release, 0);
}

TEST_F(OpsTest, HealthFailureKeepsThePreviousReleaseServing) {
  ASSERT_EQ(Scale({{"web", 2}}).state, "succeeded");
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  auto v1 = agents_.AllRunning();
  agents_.SetInject([](const FakeAgentApi::Call& c) {
    if (c.method == "StartInstance" && c.release == 2 && c.server == "s2") {
      return absl::FailedPreconditionError(
          "on server s2: health check GET /health failed for 30 s; last log lines:\n"
          "Traceback: ImportError: no module named flask");
    }
    return absl::OkStatus();
  });
  store::Op op = Deploy("d2");
  EXPECT_EQ(op.state, "rolled_back");
  EXPECT_THAT(op.error, HasSubstr("did not start on s2"));
  EXPECT_THAT(op.error, HasSubstr("no module named flask"));
  EXPECT_EQ(App().current_release, 1);
  EXPECT_EQ(ReleaseStatus(1), "current");
  EXPECT_EQ(ReleaseStatus(2), "failed");
  // v1's instances still run, untouched; v2's are gone everywhere.
  auto now = agents_.AllRunning();
  ASSERT_EQ(now.size(), v1.size());
  for (const auto& i : now) EXPECT_EQ(i.release, 1);
  ExpectConsistent();
  EXPECT_TRUE(agents_.CallsTo("StopInstance").size() >= 1u);
  // The forward steps after the failure were skipped, the undo steps done.
  int rollback = RollbackIndex(op);
  ASSERT_GT(rollback, 0);
  for (const auto& s : op.steps) {
    if (s.index > rollback) {
      EXPECT_EQ(s.state, "done") << s.description;
    }
    if (s.kind == "activate") {
      EXPECT_EQ(s.state, "skipped");
    }
  }
}

struct SpreadCase {
  std::string name;
  std::vector<int> scales;                       // applied in order
  std::vector<std::map<std::string, int>> want;  // agent spread after each
};

class ScaleSpreadTest : public OpsTest, public ::testing::WithParamInterface<SpreadCase> {};

TEST_P(ScaleSpreadTest, SpreadsAcrossServers) {
  AddServers({"s3"});
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  const SpreadCase& c = GetParam();
  for (size_t k = 0; k < c.scales.size(); ++k) {
    store::Op op = Scale({{"web", c.scales[k]}});
    ASSERT_EQ(op.state, "succeeded") << op.error;
    EXPECT_EQ(AgentSpread(), c.want[k]) << "after web=" << c.scales[k];
    EXPECT_EQ(App().scale.at("web"), c.scales[k]);
    ExpectConsistent();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ScaleSpreadTest,
    ::testing::Values(
        SpreadCase{"up_one_per_server", {3}, {{{"s1", 1}, {"s2", 1}, {"s3", 1}}}},
        SpreadCase{"up_past_servers", {5}, {{{"s1", 2}, {"s2", 2}, {"s3", 1}}}},
        SpreadCase{
            "up_then_down", {4, 2}, {{{"s1", 2}, {"s2", 1}, {"s3", 1}}, {{"s2", 1}, {"s3", 1}}}},
        SpreadCase{"down_to_zero", {3, 0}, {{{"s1", 1}, {"s2", 1}, {"s3", 1}}, {}}},
        SpreadCase{
            "down_then_up",
            {6, 1, 3},
            {{{"s1", 2}, {"s2", 2}, {"s3", 2}}, {{"s3", 1}}, {{"s1", 1}, {"s2", 1}, {"s3", 1}}}}),
    [](const auto& info) { return info.param.name; });

TEST_F(OpsTest, ScaleOfUnknownProcessTypeFailsAndChangesNothing) {
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  store::Op op = Scale({{"worker", 2}});
  EXPECT_EQ(op.state, "rolled_back");
  EXPECT_THAT(op.error, HasSubstr("no process type \"worker\""));
  EXPECT_THAT(op.error, HasSubstr("declares: web"));
  EXPECT_EQ(App().scale, (std::map<std::string, int>{{"web", 1}}));
  EXPECT_EQ(agents_.AllRunning().size(), 1u);
}

TEST_F(OpsTest, ScaleUpThatDoesNotFitChangesNothing) {
  store::App big;
  big.name = "big";
  big.memory_bytes = int64_t{5} << 30;  // one per 8 GiB server
  ASSERT_TRUE(store_->CreateApp(big).ok());
  ASSERT_EQ(Run(SubmitDeploy("d1", kWebProcfile, "big")).state, "succeeded");
  auto ref = engine_->Scale("big", {{"web", 3}});
  ASSERT_TRUE(ref.ok());
  store::Op op = Run(ref->id);
  EXPECT_EQ(op.state, "rolled_back");
  EXPECT_THAT(op.error, HasSubstr("cannot place 2 web instances of app big"));
  EXPECT_EQ(App("big").scale.at("web"), 1);
  EXPECT_EQ(Instances("big").size(), 1u);
}

struct ProcfileCase {
  std::string text;
  bool ok;
  std::string want;  // types joined, or a piece of the error
};

TEST(ProcfileTypesTest, Table) {
  std::vector<ProcfileCase> cases = {
      {"web: a\n", true, "web"},
      {"# comment\n\nweb: a\nworker: b c\nrelease: m\n", true, "release,web,worker"},
      {"web a\n", false, "line 1: \"web a\" is not `type: command`"},
      {"web: a\nweb: b\n", false, "line 2: process type \"web\" is declared twice"},
      {"w$b: a\n", false, "line 1: process type \"w$b\" is not allowed"},
      {"web:\n", false, "line 1: process type \"web\" has no command"},
  };
  for (const auto& c : cases) {
    auto types = ParseProcfileTypes(c.text);
    ASSERT_EQ(types.ok(), c.ok) << c.text << ": " << types.status();
    if (c.ok) {
      std::string names;
      for (const auto& [t, cmd] : *types) names += (names.empty() ? "" : ",") + t;
      EXPECT_EQ(names, c.want);
    } else {
      EXPECT_THAT(std::string(types.status().message()), HasSubstr(c.want));
    }
  }
}

TEST(CrashPointTest, Table) {
  struct Case {
    std::string spec;
    bool ok;
    std::string kind;
    int step;
    CrashPhase phase;
  };
  std::vector<Case> cases = {
      {"deploy:3:before", true, "deploy", 3, CrashPhase::kBefore},
      {"scale:0:after-rpc", true, "scale", 0, CrashPhase::kAfterRpc},
      {"*:7:after-commit", true, "*", 7, CrashPhase::kAfterCommit},
      {"deploy:x:before", false, "", 0, CrashPhase::kBefore},
      {"deploy:3", false, "", 0, CrashPhase::kBefore},
      {"deploy:3:during", false, "", 0, CrashPhase::kBefore},
      {"deploy:-1:before", false, "", 0, CrashPhase::kBefore},
  };
  for (const auto& c : cases) {
    auto p = ParseCrashPoint(c.spec);
    ASSERT_EQ(p.ok(), c.ok) << c.spec;
    if (!c.ok) continue;
    ASSERT_TRUE(p->has_value());
    EXPECT_TRUE((*p)->Matches(c.kind == "*" ? "anything" : c.kind, c.step, c.phase)) << c.spec;
    EXPECT_FALSE((*p)->Matches(c.kind == "*" ? "anything" : c.kind, c.step + 1, c.phase));
  }
  EXPECT_FALSE(ParseCrashPoint("")->has_value());
}

}  // namespace
}  // namespace dflow::ops
