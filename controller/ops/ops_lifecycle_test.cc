// The ops engine over a fake AgentApi: queueing, cancel, deadlines, config,
// rollback, restart, destroy, and what an unreachable server leaves behind.
#include <gmock/gmock.h>

#include <thread>

#include "controller/ops/ops_test_util.h"

namespace dflow::ops {
namespace {

using ::testing::HasSubstr;

TEST_F(OpsTest, SecondOpOnTheSameAppQueuesBehindTheFirst) {
  int64_t first = SubmitDeploy("d1");
  auto second = engine_->Scale("shop", {{"web", 2}});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->queued_behind, first);
  // Another app's op does not queue behind shop's.
  store::App other;
  other.name = "blog";
  ASSERT_TRUE(store_->CreateApp(other).ok());
  auto blog = engine_->Deploy("blog", "d9", kWebProcfile, "", "tester");
  ASSERT_TRUE(blog.ok());
  EXPECT_EQ(blog->queued_behind, 0);
  EXPECT_EQ(blog->release, 1);

  store::Op scaled = Run(second->id);
  EXPECT_EQ(scaled.state, "succeeded") << scaled.error;
  store::Op deployed = *store_->GetOp(first);
  EXPECT_LE(deployed.ended_at_ms, scaled.started_at_ms);
  EXPECT_EQ(AgentSpread(), (std::map<std::string, int>{{"s1", 1}, {"s2", 1}}));
}

TEST_F(OpsTest, CancelStopsAtTheNextStepAndRollsBack) {
  ASSERT_EQ(Scale({{"web", 2}}).state, "succeeded");
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  int64_t id = SubmitDeploy("d2");
  agents_.SetInject([&](const FakeAgentApi::Call& c) {
    if (c.method == "StartInstance" && c.release == 2) {
      auto op = engine_->Cancel(id);  // arrives while the first new instance starts
      EXPECT_TRUE(op.ok()) << op.status();
      agents_.SetInject(nullptr);
    }
    return absl::OkStatus();
  });
  store::Op op = Run(id);
  EXPECT_EQ(op.state, "cancelled");
  EXPECT_EQ(op.error, "cancelled by request");
  EXPECT_EQ(App().current_release, 1);
  EXPECT_EQ(ReleaseStatus(2), "failed");
  EXPECT_EQ(agents_.CallsTo("StartInstance").size(), 3u);  // 2 of v1, then 1 of v2
  for (const auto& i : agents_.AllRunning()) EXPECT_EQ(i.release, 1);
  ExpectConsistent();
}

TEST_F(OpsTest, AnOpPastItsDeadlineIsUndone) {
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  agents_.SetInject([&](const FakeAgentApi::Call& c) {
    if (c.method == "PrepareRelease" && c.release == 2) clock_.Advance(std::chrono::hours(2));
    return absl::OkStatus();
  });
  store::Op op = Deploy("d2");
  EXPECT_EQ(op.state, "rolled_back");
  EXPECT_THAT(op.error, HasSubstr("ran past its deadline of 60 min"));
  EXPECT_EQ(App().current_release, 1);
  EXPECT_TRUE(agents_.CallsTo("StartInstance").size() == 1u);  // only v1's
}

TEST_F(OpsTest, CancelOfAQueuedOpEndsItAtOnce) {
  int64_t first = SubmitDeploy("d1");
  int64_t second = SubmitDeploy("d2");
  auto op = engine_->Cancel(second);
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_EQ(op->state, "cancelled");
  EXPECT_EQ(ReleaseStatus(2), "failed");
  EXPECT_EQ(Run(first).state, "succeeded");
  EXPECT_EQ(App().current_release, 1);
  auto again = engine_->Cancel(second);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("already ended: cancelled"));
}

TEST_F(OpsTest, ConfigChangeIsANewReleaseRolledOut) {
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  auto ref = engine_->ChangeConfig("shop", {{"GREETING", "hi"}, {"MODE", "x"}}, {});
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->release, 2);
  ASSERT_EQ(Run(ref->id).state, "succeeded");
  auto v2 = *store_->GetRelease("shop", 2);
  EXPECT_EQ(v2.kind, "config");
  EXPECT_EQ(v2.source_digest, "d1");
  EXPECT_EQ(v2.config, (std::map<std::string, std::string>{{"GREETING", "hi"}, {"MODE", "x"}}));
  EXPECT_EQ(App().config, v2.config);
  EXPECT_EQ(agents_.PreparedEnv("s1", "shop", 2), v2.config);
  ref = engine_->ChangeConfig("shop", {}, {"MODE"});
  ASSERT_TRUE(ref.ok());
  ASSERT_EQ(Run(ref->id).state, "succeeded");
  EXPECT_EQ(store_->GetRelease("shop", 3)->config,
            (std::map<std::string, std::string>{{"GREETING", "hi"}}));
  for (const auto& i : agents_.AllRunning()) EXPECT_EQ(i.release, 3);
}

TEST_F(OpsTest, ConfigBeforeTheFirstDeployIsSavedAndTakenByIt) {
  auto ref = engine_->ChangeConfig("shop", {{"GREETING", "hi"}}, {});
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->release, 0);
  ASSERT_EQ(Run(ref->id).state, "succeeded");
  EXPECT_TRUE(store_->ListReleases("shop")->empty());
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  EXPECT_EQ(store_->GetRelease("shop", 1)->config.at("GREETING"), "hi");
}

TEST_F(OpsTest, ConfigQueuedBehindADeployRollsOutTheNewSource) {
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  SubmitDeploy("d2");
  auto cfg = engine_->ChangeConfig("shop", {{"K", "v"}}, {});
  ASSERT_TRUE(cfg.ok());
  ASSERT_EQ(Run(cfg->id).state, "succeeded");
  auto v3 = *store_->GetRelease("shop", 3);
  EXPECT_EQ(v3.source_digest, "d2");
  EXPECT_EQ(v3.config.at("K"), "v");
}

TEST_F(OpsTest, RollbackMakesANewReleaseCopyingTheTarget) {
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  ASSERT_TRUE(engine_->ChangeConfig("shop", {{"K", "2"}}, {}).ok());
  ASSERT_EQ(Deploy("d2").state, "succeeded");  // v3: d2 with K=2
  auto ref = engine_->Rollback("shop", 0);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->release, 4);
  ASSERT_EQ(Run(ref->id).state, "succeeded");
  auto v4 = *store_->GetRelease("shop", 4);
  EXPECT_EQ(v4.kind, "rollback");
  EXPECT_EQ(v4.description, "rollback to v2");
  EXPECT_EQ(v4.source_digest, "d1");
  EXPECT_EQ(v4.config.at("K"), "2");
  EXPECT_EQ(App().current_release, 4);
  EXPECT_EQ(ReleaseStatus(3), "previous");
  ref = engine_->Rollback("shop", 1);
  ASSERT_TRUE(ref.ok());
  ASSERT_EQ(Run(ref->id).state, "succeeded");
  EXPECT_EQ(store_->GetRelease("shop", 5)->config.count("K"), 0u);
  EXPECT_EQ(store_->GetRelease("shop", 5)->source_digest, "d1");
  ExpectConsistent();
}

TEST_F(OpsTest, RollbackWithNothingBeforeFails) {
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  auto ref = engine_->Rollback("shop", 0);
  ASSERT_TRUE(ref.ok());
  store::Op op = Run(ref->id);
  EXPECT_EQ(op.state, "rolled_back");
  EXPECT_THAT(op.error, HasSubstr("no release before v1"));
  EXPECT_EQ(App().current_release, 1);
  EXPECT_EQ(ReleaseStatus(2), "failed");
}

TEST_F(OpsTest, RestartStartsFreshInstancesThenStopsTheOld) {
  ASSERT_EQ(Scale({{"web", 2}}).state, "succeeded");
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  std::set<std::string> before;
  for (const auto& i : Instances()) before.insert(i.id);
  auto ref = engine_->Restart("shop");
  ASSERT_TRUE(ref.ok());
  ASSERT_EQ(Run(ref->id).state, "succeeded");
  auto after = Instances();
  ASSERT_EQ(after.size(), 2u);
  for (const auto& i : after) {
    EXPECT_EQ(before.count(i.id), 0u) << i.id;
    EXPECT_EQ(i.release, 1);
  }
  ExpectConsistent();
}

TEST_F(OpsTest, DestroyStopsEverythingAndForgetsTheApp) {
  ASSERT_EQ(Scale({{"web", 2}}).state, "succeeded");
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  auto ref = engine_->Destroy("shop");
  ASSERT_TRUE(ref.ok());
  ASSERT_EQ(Run(ref->id).state, "succeeded");
  EXPECT_TRUE(agents_.AllRunning().empty());
  EXPECT_EQ(agents_.CallsTo("DestroyApp").size(), 2u);
  EXPECT_EQ(store_->GetApp("shop").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Instances().empty());
  EXPECT_EQ(engine_->Scale("shop", {{"web", 1}}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(OpsTest, DestroyForgetsTheAppsDomainsAndCertificate) {
  store::App blog;
  blog.name = "blog";
  ASSERT_TRUE(store_->CreateApp(blog).ok());
  ASSERT_TRUE(store_->AddDomain("shop", "shop.example.com").ok());
  ASSERT_TRUE(store_->AddDomain("blog", "blog.example.com").ok());
  ASSERT_TRUE(store_->SetAppCert({"shop", "CERT", "KEY", 1, 0}, "added").ok());
  ASSERT_TRUE(store_->SetAppCert({"blog", "CERT2", "KEY2", 2, 0}, "added").ok());
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  auto ref = engine_->Destroy("shop");
  ASSERT_TRUE(ref.ok());
  ASSERT_EQ(Run(ref->id).state, "succeeded");
  // Only the other app's records are left, and a new app of the same name starts bare.
  EXPECT_EQ(store_->ListDomains().value(),
            (std::map<std::string, std::string>{{"blog.example.com", "blog"}}));
  auto certs = store_->ListAppCerts().value();
  ASSERT_EQ(certs.size(), 1u);
  EXPECT_EQ(certs[0].app, "blog");
  store::App again;
  again.name = "shop";
  ASSERT_TRUE(store_->CreateApp(again).ok());
  EXPECT_EQ(store_->AddDomain("blog", "shop.example.com").ok(), true);
}

TEST_F(OpsTest, UnreachableServerDuringStopLeavesTheInstanceToTheReconciler) {
  ASSERT_EQ(Scale({{"web", 2}}).state, "succeeded");
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  agents_.SetInject([](const FakeAgentApi::Call& c) {
    return c.method == "StopInstance" && c.server == "s2"
               ? absl::UnavailableError("server s2 is unreachable")
               : absl::OkStatus();
  });
  store::Op op = Deploy("d2");
  ASSERT_EQ(op.state, "succeeded") << op.error;
  int stopping = 0;
  for (const auto& i : Instances()) stopping += i.state == "stopping";
  EXPECT_EQ(stopping, 1);
}

TEST_F(OpsTest, BackgroundExecutorRunsSubmittedOps) {
  engine_->Start();
  uint64_t seen = engine_->Generation();
  int64_t id = SubmitDeploy("d1");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string state;
  while (std::chrono::steady_clock::now() < deadline) {
    state = store_->GetOp(id)->state;
    if (store::OpEnded(state)) break;
    seen = engine_->WaitForChange(seen, std::chrono::milliseconds(200));
  }
  EXPECT_EQ(state, "succeeded");
  engine_->Stop();
}

}  // namespace
}  // namespace dflow::ops
