// A controller killed at any step boundary, and between a step's agent RPC and
// the commit of its result: a new engine on the same store (the agents kept
// running, as real ones do) finishes the op or rolls it back, and no instance
// is started twice.
#include <gmock/gmock.h>

#include "controller/ops/ops_test_util.h"
#include "controller/ops/steps.h"

namespace dflow::ops {
namespace {

struct CrashCase {
  std::string op;  // deploy | scale-up | scale-down | config | rollback | restart | destroy
  int step;
  CrashPhase phase;
};

std::string PhaseName(CrashPhase p) {
  return p == CrashPhase::kBefore     ? "before"
         : p == CrashPhase::kAfterRpc ? "after_rpc"
                                      : "after_commit";
}

class ResumeTest : public OpsTest, public ::testing::WithParamInterface<CrashCase> {
 protected:
  // Web=2 on s1 and s2 at v1 (and v2 for a rollback), then submits the op.
  int64_t Prepare(const std::string& what) {
    EXPECT_EQ(Scale({{"web", 2}}).state, "succeeded");
    EXPECT_EQ(Deploy("d1").state, "succeeded");
    absl::StatusOr<OpRef> ref;
    if (what == "deploy") {
      ref = engine_->Deploy("shop", "d2", kWebProcfile, "", "tester");
    } else if (what == "scale-up") {
      ref = engine_->Scale("shop", {{"web", 3}});
    } else if (what == "scale-down") {
      ref = engine_->Scale("shop", {{"web", 1}});
    } else if (what == "config") {
      ref = engine_->ChangeConfig("shop", {{"K", "v"}}, {});
    } else if (what == "rollback") {
      EXPECT_EQ(Deploy("d2").state, "succeeded");
      ref = engine_->Rollback("shop", 0);
    } else if (what == "restart") {
      ref = engine_->Restart("shop");
    } else {
      ref = engine_->Destroy("shop");
    }
    EXPECT_TRUE(ref.ok()) << ref.status();
    return ref.ok() ? ref->id : 0;
  }

  std::string Kind(const std::string& what) { return what.rfind("scale", 0) == 0 ? "scale" : what; }

  // After the op: the app is where the op leaves it, with nothing started twice.
  void ExpectFinished(const std::string& what, const store::Op& op) {
    ASSERT_EQ(op.state, "succeeded") << op.error;
    if (what == "destroy") {
      EXPECT_TRUE(agents_.AllRunning().empty());
      EXPECT_EQ(store_->GetApp("shop").status().code(), absl::StatusCode::kNotFound);
      return;
    }
    int want = what == "scale-up" ? 3 : what == "scale-down" ? 1 : 2;
    int64_t release = what == "deploy" || what == "config" ? 2 : what == "rollback" ? 3 : 1;
    EXPECT_EQ(App().current_release, release);
    auto running = agents_.AllRunning();
    EXPECT_EQ(static_cast<int>(running.size()), want);
    for (const auto& i : running) {
      EXPECT_EQ(i.release, release) << i.id;
      EXPECT_EQ(agents_.Spawns(i.id), 1) << i.id << " started twice";
    }
    ExpectConsistent();
  }
};

TEST_P(ResumeTest, FinishesAfterACrash) {
  const CrashCase& c = GetParam();
  int64_t id = Prepare(c.op);
  EngineOptions o = Options();
  o.crash = CrashPoint{"", Kind(c.op), c.step, c.phase};
  bool fired = false;
  o.crash_action = [&] { fired = true; };
  engine_ = NewEngine(o);
  engine_->RunUntilIdle();
  // The table below lists every step of each op: a point that is not reached
  // means the plan changed and the table must follow it.
  ASSERT_TRUE(fired) << "op " << c.op << " never reached step " << c.step << " ("
                     << store_->GetOp(id)->steps.size() << " steps)";
  EXPECT_FALSE(store::OpEnded(store_->GetOp(id)->state));
  engine_ = NewEngine();  // the restarted controller
  ExpectFinished(c.op, Run(id));
}

std::vector<CrashCase> AllCases() {
  std::vector<CrashCase> out;
  // Each op of the fixture (web=2 on two servers) with its number of steps.
  const std::pair<const char*, int> kOps[] = {{"deploy", 10}, {"scale-up", 5},  {"scale-down", 3},
                                              {"config", 10}, {"rollback", 10}, {"restart", 10},
                                              {"destroy", 6}};
  for (const auto& [op, steps] : kOps) {
    for (int step = 0; step < steps; ++step) {
      for (auto phase : {CrashPhase::kBefore, CrashPhase::kAfterRpc, CrashPhase::kAfterCommit}) {
        out.push_back({op, step, phase});
      }
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(EveryBoundary, ResumeTest, ::testing::ValuesIn(AllCases()),
                         [](const auto& info) {
                           std::string op = info.param.op;
                           std::replace(op.begin(), op.end(), '-', '_');
                           return op + "_step" + std::to_string(info.param.step) + "_" +
                                  PhaseName(info.param.phase);
                         });

// A deploy whose new instance fails its health check, killed while undoing
// it: the restarted controller completes the rollback.
class ResumeRollbackTest : public OpsTest, public ::testing::WithParamInterface<CrashCase> {};

TEST_P(ResumeRollbackTest, CompletesTheRollbackAfterACrash) {
  const CrashCase& c = GetParam();
  ASSERT_EQ(Scale({{"web", 2}}).state, "succeeded");
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  agents_.SetInject([](const FakeAgentApi::Call& call) {
    return call.method == "StartInstance" && call.release == 2 && call.server == "s2"
               ? absl::FailedPreconditionError("on server s2: health check failed")
               : absl::OkStatus();
  });
  EngineOptions o = Options();
  o.crash = CrashPoint{"", "deploy", c.step, c.phase};
  bool fired = false;
  o.crash_action = [&] { fired = true; };
  engine_ = NewEngine(o);
  int64_t id = SubmitDeploy("d2");
  engine_->RunUntilIdle();
  ASSERT_TRUE(fired);
  engine_ = NewEngine();
  store::Op op = Run(id);
  EXPECT_EQ(op.state, "rolled_back");
  EXPECT_THAT(op.error, ::testing::HasSubstr("health check failed"));
  EXPECT_EQ(App().current_release, 1);
  EXPECT_EQ(ReleaseStatus(2), "failed");
  for (const auto& i : agents_.AllRunning()) EXPECT_EQ(i.release, 1);
  EXPECT_EQ(agents_.AllRunning().size(), 2u);
  ExpectConsistent();
}

// The hook fires once per point and data directory, so that a controller
// restarted with the same environment resumes; another point fires again.
TEST_F(OpsTest, CrashPointFiresOncePerPoint) {
  int fired = 0;
  auto engine_with = [&](const std::string& spec) {
    EngineOptions o = Options();
    o.crash = *ParseCrashPoint(spec).value();
    o.crash_marker = dir_ + "/test-crash-fired";
    o.crash_action = [&] { ++fired; };
    return NewEngine(o);
  };
  int64_t id = SubmitDeploy("d1");
  engine_ = engine_with("deploy:1:before");
  engine_->RunUntilIdle();
  EXPECT_EQ(fired, 1);
  engine_ = engine_with("deploy:1:before");  // restarted with the same point: resumes
  EXPECT_EQ(Run(id).state, "succeeded");
  EXPECT_EQ(fired, 1);
  int64_t next = SubmitDeploy("d2");
  engine_ = engine_with("deploy:2:after-rpc");
  engine_->RunUntilIdle();
  EXPECT_EQ(fired, 2);
  engine_ = NewEngine();
  EXPECT_EQ(Run(next).state, "succeeded");
}

std::vector<CrashCase> RollbackCases() {
  // Deploy steps: 0 plan, 1-2 archive, 3-4 prepare, 5-6 start (6 fails),
  // then 7-9 skipped forward steps; undo: 10 marker, 11-12 stops, 13 abandon.
  std::vector<CrashCase> out;
  for (int step : {6, 10, 11, 12, 13}) {
    for (auto phase : {CrashPhase::kBefore, CrashPhase::kAfterRpc, CrashPhase::kAfterCommit}) {
      out.push_back({"deploy", step, phase});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(UndoSteps, ResumeRollbackTest, ::testing::ValuesIn(RollbackCases()),
                         [](const auto& info) {
                           return "step" + std::to_string(info.param.step) + "_" +
                                  PhaseName(info.param.phase);
                         });

}  // namespace
}  // namespace dflow::ops
