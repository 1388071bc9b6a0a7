// What Dokku adds, in the op engine: an app using it is placed on Dokku
// servers only, every rollout applies its settings on a server before its
// instances start there, and a `dokku` op applies a change where it runs.
#include <nlohmann/json.hpp>

#include "controller/ops/ops_test_util.h"
#include "controller/ops/plan.h"

namespace dflow::ops {
namespace {

using K = agents::DokkuChange::Kind;

class DokkuOpsTest : public OpsTest {
 protected:
  void AddDokkuServer(const std::string& name) { AddServers({name}, "dokku"); }

  static int FirstStep(const store::Op& op, const std::string& kind) {
    for (const auto& s : op.steps) {
      if (s.kind == kind) return s.index;
    }
    return -1;
  }
};

TEST_F(DokkuOpsTest, AnAppWithSettingsGoesToDokkuAndGetsThemBeforeItStarts) {
  AddDokkuServer("d1");
  ASSERT_TRUE(store_->SetAppPorts("shop", {"http:80:5000"}).ok());
  ASSERT_TRUE(store_->SetAppCheck("shop", "wait", "3").ok());
  store::Op op = Deploy("d-one");
  ASSERT_EQ(op.state, "succeeded") << op.error;
  for (const auto& i : Instances()) EXPECT_EQ(i.server, "d1");  // never s1/s2 (local)
  int apply = FirstStep(op, kStepDokku), start = FirstStep(op, kStepStart);
  ASSERT_GE(apply, 0);
  EXPECT_LT(FirstStep(op, kStepPrepare), apply);
  EXPECT_LT(apply, start);
  auto calls = agents_.CallsTo("ChangeDokku");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].server, "d1");
  EXPECT_EQ(calls[0].release, static_cast<int64_t>(K::kSetPorts));
  EXPECT_EQ(calls[1].release, static_cast<int64_t>(K::kSetCheck));

  // A change on the running app: saved (by the API), then applied where it runs.
  agents_.ClearCalls();
  auto ref =
      engine_->ChangeDokku("shop", R"({"action":"apply","what":"set the ports"})", "set the ports");
  ASSERT_TRUE(ref.ok()) << ref.status();
  store::Op change = Run(ref->id);
  ASSERT_EQ(change.state, "succeeded") << change.error;
  EXPECT_EQ(change.steps[1].kind, kStepCommit);
  ASSERT_EQ(change.steps.size(), 3u);
  EXPECT_EQ(change.steps[2].kind, kStepDokku);
  EXPECT_EQ(agents_.CallsTo("ChangeDokku").size(), 2u);
}

TEST_F(DokkuOpsTest, WithoutADokkuServerItIsNotPlacedOnALocalOne) {
  ASSERT_TRUE(store_->SetAppPorts("shop", {"http:80:5000"}).ok());
  store::Op op = Deploy("d-one");
  EXPECT_EQ(op.state, "rolled_back");
  EXPECT_NE(op.error.find("app needs dokku"), std::string::npos) << op.error;
  EXPECT_TRUE(agents_.CallsTo("StartInstance").empty());
}

TEST_F(DokkuOpsTest, AFailedApplyEndsTheOpFailedNotRolledBack) {
  AddDokkuServer("d1");
  ASSERT_TRUE(store_->SetAppPorts("shop", {"http:80:5000"}).ok());
  ASSERT_EQ(Deploy("d-one").state, "succeeded");
  agents_.SetInject([](const FakeAgentApi::Call& c) {
    return c.method == "ChangeDokku" ? absl::FailedPreconditionError("dokku said no")
                                     : absl::OkStatus();
  });
  auto ref = engine_->ChangeDokku("shop", R"({"action":"apply","what":"set the ports"})", "x");
  ASSERT_TRUE(ref.ok());
  store::Op op = Run(ref->id);
  EXPECT_EQ(op.state, "failed");  // the setting stays saved; the next rollout applies it
  EXPECT_NE(op.error.find("dokku said no"), std::string::npos) << op.error;
  EXPECT_NE(op.error.find("next deploy"), std::string::npos) << op.error;
}

TEST_F(DokkuOpsTest, ARemovalReachesEveryDokkuServerEvenWithNothingRunning) {
  AddDokkuServer("d1");
  AddDokkuServer("d2");
  ASSERT_TRUE(Instances().empty());  // stopped, or never deployed: rollouts only add settings
  auto rm = engine_->ChangeDokku(
      "shop", R"({"action":"remove_domain","host":"www.shop.test","what":"remove domain"})", "rm");
  ASSERT_TRUE(rm.ok()) << rm.status();
  store::Op op = Run(rm->id);
  ASSERT_EQ(op.state, "succeeded") << op.error;
  auto calls = agents_.CallsTo("ChangeDokku");
  ASSERT_EQ(calls.size(), 2u);  // never the local s1/s2
  EXPECT_EQ(calls[0].server, "d1");
  EXPECT_EQ(calls[1].server, "d2");
  EXPECT_EQ(calls[0].release, static_cast<int64_t>(K::kRemoveDomain));

  // No certificate stored: "cert" removes it, everywhere too.
  agents_.ClearCalls();
  auto cert = engine_->ChangeDokku("shop", R"({"action":"cert","what":"cert"})", "cert");
  ASSERT_TRUE(cert.ok()) << cert.status();
  ASSERT_EQ(Run(cert->id).state, "succeeded");
  calls = agents_.CallsTo("ChangeDokku");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].release, static_cast<int64_t>(K::kRemoveCert));

  // An addition waits for the next rollout there.
  agents_.ClearCalls();
  auto add = engine_->ChangeDokku(
      "shop", R"({"action":"add_domain","host":"www.shop.test","what":"add domain"})", "add");
  ASSERT_TRUE(add.ok()) << add.status();
  store::Op added = Run(add->id);
  ASSERT_EQ(added.state, "succeeded") << added.error;
  EXPECT_TRUE(agents_.CallsTo("ChangeDokku").empty());
  EXPECT_EQ(added.steps.size(), 2u);  // plan, commit
}

TEST_F(DokkuOpsTest, AnUnsetCheckIsARemovalThatReachesEveryHealthyDokkuServer) {
  AddDokkuServer("d1");
  AddDokkuServer("d2");
  ASSERT_TRUE(Instances().empty());  // the app may exist stopped on either
  auto ref = engine_->ChangeDokku(
      "shop", R"({"action":"unset_check","key":"wait-to-retire","what":"unset check"})", "unset");
  ASSERT_TRUE(ref.ok()) << ref.status();
  store::Op op = Run(ref->id);
  ASSERT_EQ(op.state, "succeeded") << op.error;
  ASSERT_EQ(op.steps.size(), 4u);  // plan, commit, one step per Dokku server
  for (int i : {2, 3}) {
    EXPECT_EQ(op.steps[i].kind, kStepDokku);
    auto p = nlohmann::json::parse(op.steps[i].params);
    EXPECT_EQ(p.value("action", ""), "unset_check") << op.steps[i].params;
    EXPECT_EQ(p.value("key", ""), "wait-to-retire") << op.steps[i].params;
    EXPECT_EQ(p.value("server", ""), i == 2 ? "d1" : "d2") << op.steps[i].params;
  }
  auto calls = agents_.CallsTo("ChangeDokku");
  ASSERT_EQ(calls.size(), 2u);  // never the local s1/s2
  EXPECT_EQ(calls[0].server, "d1");
  EXPECT_EQ(calls[1].server, "d2");
  EXPECT_EQ(calls[0].release, static_cast<int64_t>(K::kUnsetCheck));
  EXPECT_EQ(calls[1].release, static_cast<int64_t>(K::kUnsetCheck));

  // An unreachable Dokku server misses it: recorded, to be finished on return.
  ASSERT_TRUE(store_->SetHealth("d2", store::Health::kUnreachable, "test").ok());
  agents_.ClearCalls();
  auto missed = engine_->ChangeDokku(
      "shop", R"({"action":"unset_check","key":"wait","what":"unset check wait of shop"})", "u");
  ASSERT_TRUE(missed.ok()) << missed.status();
  ASSERT_EQ(Run(missed->id).state, "succeeded");
  calls = agents_.CallsTo("ChangeDokku");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].server, "d1");
  auto pending = store_->ListPendingRemovals();
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].server, "d2");
  EXPECT_EQ((*pending)[0].what, "unset check wait of shop");
  auto p = nlohmann::json::parse((*pending)[0].params);
  EXPECT_EQ(p.value("action", ""), "unset_check") << (*pending)[0].params;
  EXPECT_EQ(p.value("key", ""), "wait") << (*pending)[0].params;
}

}  // namespace
}  // namespace dflow::ops
