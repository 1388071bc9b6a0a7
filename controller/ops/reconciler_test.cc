// The reconciler against a fake fleet: failures past the grace period, pinned
// apps, state sync, stale and orphan instances.
#include "controller/ops/reconciler.h"

#include <gmock/gmock.h>

#include "controller/ops/reconciler_test_util.h"

namespace dflow::ops {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

class ReconcilerTest : public ReconcilerOpsTest {
 protected:
  void SetUp() override {
    OpsTest::SetUp();
    AddServers({"s3"});
    StartFleetAndReconciler();
  }

  // Time passes; every server but `down` heartbeats.
  void Pass(milliseconds d, const std::string& down) {
    clock_.Advance(d);
    for (const char* s : {"s1", "s2", "s3"}) {
      if (s != down) {
        ASSERT_TRUE(fleet_->Heartbeat(s, {}).ok());
      }
    }
    fleet_->Tick();
  }

  std::map<std::string, int> StoreStates(const std::string& app = "shop") {
    std::map<std::string, int> out;
    for (const auto& i : Instances(app)) out[i.state]++;
    return out;
  }

  std::string Status(const std::string& app = "shop") {
    auto ops = store_->ActiveOps();
    const store::Op* active = nullptr;
    for (const auto& op : *ops) {
      if (op.app == app) active = &op;
    }
    return AppStatus(
        App(app), Instances(app), [&](const std::string& s) { return fleet_->Reachable(s); },
        active);
  }
};

TEST_F(ReconcilerTest, ReplacesInstancesOfAServerGonePastTheGrace) {
  ASSERT_EQ(Scale({{"web", 2}}).state, "succeeded");
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  ASSERT_EQ(AgentSpread(), (std::map<std::string, int>{{"s1", 1}, {"s2", 1}}));
  agents_.SetUnreachable("s2", true);  // its instance keeps running there

  Pass(seconds(16), "s2");  // lease gone: unreachable, but within the grace
  ASSERT_FALSE(fleet_->Reachable("s2"));
  reconciler_->Tick();
  EXPECT_EQ(StoreStates(), (std::map<std::string, int>{{"running", 2}}));
  EXPECT_TRUE(store_->ActiveOps()->empty());

  Pass(seconds(61), "s2");
  reconciler_->Tick();
  EXPECT_EQ(StoreStates(), (std::map<std::string, int>{{"lost", 1}, {"running", 1}}));
  auto active = *store_->ActiveOps();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].kind, "reschedule");
  EXPECT_THAT(Status(), HasSubstr("1 lost"));
  ASSERT_EQ(Run(active[0].id).state, "succeeded");
  EXPECT_EQ(AgentSpread(), (std::map<std::string, int>{{"s1", 1}, {"s2", 1}, {"s3", 1}}));
  EXPECT_EQ(StoreStates(), (std::map<std::string, int>{{"lost", 1}, {"running", 2}}));

  // The server returns: its stale instance is stopped, so 2 run, as asked.
  agents_.SetUnreachable("s2", false);
  Pass(seconds(1), "");
  reconciler_->Tick();
  EXPECT_EQ(AgentSpread(), (std::map<std::string, int>{{"s1", 1}, {"s3", 1}}));
  EXPECT_EQ(StoreStates(), (std::map<std::string, int>{{"running", 2}}));
  ExpectConsistent();
  reconciler_->Tick();
  EXPECT_TRUE(store_->ActiveOps()->empty());
  EXPECT_EQ(Status(), "2 of 2 web running");
}

TEST_F(ReconcilerTest, PinnedAppIsNeverMovedAndReportedDown) {
  store::App db;
  db.name = "db";
  db.pinned_server = "s2";
  ASSERT_TRUE(store_->CreateApp(db).ok());
  ASSERT_EQ(Run(SubmitDeploy("d1", kWebProcfile, "db")).state, "succeeded");
  ASSERT_EQ(AgentSpread("db"), (std::map<std::string, int>{{"s2", 1}}));
  agents_.SetUnreachable("s2", true);
  Pass(seconds(16), "s2");
  Pass(seconds(61), "s2");
  reconciler_->Tick();
  EXPECT_EQ(StoreStates("db"), (std::map<std::string, int>{{"running", 1}}));
  EXPECT_TRUE(store_->ActiveOps()->empty());
  EXPECT_THAT(Status("db"), HasSubstr("down: its data is on s2, which is unreachable"));

  agents_.SetUnreachable("s2", false);
  Pass(seconds(1), "");
  reconciler_->Tick();
  EXPECT_EQ(AgentSpread("db"), (std::map<std::string, int>{{"s2", 1}}));
  EXPECT_EQ(Status("db"), "1 of 1 web running");
  EXPECT_TRUE(store_->ActiveOps()->empty());
}

TEST_F(ReconcilerTest, SyncsCrashedAndVanishedInstances) {
  ASSERT_EQ(Scale({{"web", 2}}).state, "succeeded");
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  auto list = Instances();
  ASSERT_EQ(list.size(), 2u);
  agents_.SetState(list[0].server, list[0].id, "backoff");
  reconciler_->Tick();
  EXPECT_EQ(StoreStates(), (std::map<std::string, int>{{"crashed", 1}, {"running", 1}}));
  EXPECT_TRUE(store_->ActiveOps()->empty());  // a crashed instance is restarted by its agent
  agents_.SetState(list[0].server, list[0].id, "running");
  reconciler_->Tick();
  EXPECT_EQ(StoreStates(), (std::map<std::string, int>{{"running", 2}}));

  agents_.Vanish(list[1].server, list[1].id);  // e.g. its host rebooted
  reconciler_->Tick();  // missing once: perhaps its agent is still re-adopting
  EXPECT_EQ(StoreStates(), (std::map<std::string, int>{{"running", 2}}));
  reconciler_->Tick();
  EXPECT_EQ(StoreStates(), (std::map<std::string, int>{{"lost", 1}, {"running", 1}}));
  auto active = *store_->ActiveOps();
  ASSERT_EQ(active.size(), 1u);
  ASSERT_EQ(Run(active[0].id).state, "succeeded");
  reconciler_->Tick();  // the lost record on a reachable server is forgotten
  EXPECT_EQ(StoreStates(), (std::map<std::string, int>{{"running", 2}}));
  ExpectConsistent();
}

TEST_F(ReconcilerTest, RescheduleIsNotRepeatedWithinTheBackoff) {
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  auto list = Instances();
  // Nothing else fits: only s1 may take the app.
  ASSERT_TRUE(store_->SetDraining("s2", true).ok());
  ASSERT_TRUE(store_->SetDraining("s3", true).ok());
  agents_.SetInject([](const FakeAgentApi::Call& c) {
    return c.method == "StartInstance" ? absl::FailedPreconditionError("health check failed")
                                       : absl::OkStatus();
  });
  agents_.Vanish(list[0].server, list[0].id);
  reconciler_->Tick();
  reconciler_->Tick();
  auto active = *store_->ActiveOps();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(Run(active[0].id).state, "rolled_back");
  reconciler_->Tick();
  EXPECT_TRUE(store_->ActiveOps()->empty());
  clock_.Advance(seconds(31));
  reconciler_->Tick();
  EXPECT_EQ(store_->ActiveOps()->size(), 1u);
}

TEST_F(ReconcilerTest, StopsOrphansAndInstancesLeftStopping) {
  ASSERT_EQ(Scale({{"web", 2}}).state, "succeeded");
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  agents::AgentInstance orphan;
  orphan.id = "gone-web-1-1";
  orphan.app = "gone";
  orphan.process = "web";
  orphan.release = 1;
  orphan.state = "running";
  agents_.Plant("s3", orphan);

  agents_.SetInject([](const FakeAgentApi::Call& c) {
    return c.method == "StopInstance" && c.server == "s2"
               ? absl::UnavailableError("server s2 is unreachable")
               : absl::OkStatus();
  });
  ASSERT_EQ(Deploy("d2").state, "succeeded");
  EXPECT_EQ(StoreStates(), (std::map<std::string, int>{{"running", 2}, {"stopping", 1}}));
  agents_.SetInject(nullptr);
  reconciler_->Tick();
  EXPECT_EQ(StoreStates(), (std::map<std::string, int>{{"running", 2}}));
  EXPECT_TRUE(agents_.Running("s3").empty());
  ExpectConsistent();
}

}  // namespace
}  // namespace dflow::ops
