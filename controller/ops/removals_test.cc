// Removals a server misses while it is unreachable (an app's destroy, a Dokku
// removal): recorded with the op's step, kept across a controller restart and
// a crash at any step, and finished by the reconciler when the server returns.
#include <gmock/gmock.h>

#include <future>

#include "controller/ops/plan.h"
#include "controller/ops/reconciler_test_util.h"

namespace dflow::ops {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;
using K = agents::DokkuChange::Kind;

class RemovalsTest : public ReconcilerOpsTest {
 protected:
  void SetUp() override {
    OpsTest::SetUp();
    AddServers({"s3"});
    Restart();
  }

  // A new controller on the same store file (the agents keep running).
  void Restart() {
    reconciler_.reset();
    fleet_.reset();
    engine_.reset();
    store_.reset();
    auto s = store::Store::Open(dir_ + "/store.db", &clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    engine_ = NewEngine();
    StartFleetAndReconciler();
  }

  // Time passes; every server heartbeats but `down` (its agent unreachable too).
  void Pass(std::chrono::milliseconds d, const std::string& down) {
    agents_.SetUnreachable(down, true);
    const std::vector<store::Server> servers = store_->ListServers().value();
    for (const auto& s : servers) {
      if (s.name != down) agents_.SetUnreachable(s.name, false);
    }
    clock_.Advance(d);
    for (const auto& s : servers) {
      if (s.name != down) {
        ASSERT_TRUE(fleet_->Heartbeat(s.name, {}).ok());
      }
    }
    fleet_->Tick();
  }

  // One reconciler pass, with the app removals it started.
  void Tick() {
    reconciler_->Tick();
    reconciler_->WaitForRemovals();
  }

  std::vector<store::PendingRemoval> Pending() {
    auto list = store_->ListPendingRemovals();
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? *list : std::vector<store::PendingRemoval>{};
  }

  std::vector<store::Event> Events(const std::string& kind) {
    std::vector<store::Event> out;
    const std::vector<store::Event> events = store_->ListEvents(0, 10000).value();
    for (const auto& e : events) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }

  std::vector<FakeAgentApi::Call> Calls(const std::string& method, const std::string& server) {
    std::vector<FakeAgentApi::Call> out;
    for (const auto& c : agents_.CallsTo(method)) {
      if (c.server == server) out.push_back(c);
    }
    return out;
  }

  // web=2 on s1 and s2, then s2 goes away (its instance keeps running there).
  void DeployThenLoseS2() {
    ASSERT_EQ(Scale({{"web", 2}}).state, "succeeded");
    ASSERT_EQ(Deploy("d1").state, "succeeded");
    ASSERT_EQ(AgentSpread(), (std::map<std::string, int>{{"s1", 1}, {"s2", 1}}));
    Pass(seconds(16), "s2");
    ASSERT_FALSE(fleet_->Reachable("s2"));
    ASSERT_EQ(store_->GetServer("s2")->health, store::Health::kUnreachable);
  }

  store::Op DestroyShop() {
    auto ref = engine_->Destroy("shop");
    EXPECT_TRUE(ref.ok()) << ref.status();
    return Run(ref.ok() ? ref->id : 0);
  }
};

TEST_F(RemovalsTest, ADestroyAServerMissedIsFinishedWhenItReturnsAfterARestart) {
  DeployThenLoseS2();
  store::Op op = DestroyShop();
  ASSERT_EQ(op.state, "succeeded") << op.error;
  EXPECT_THAT(op.steps[0].output, HasSubstr("s2 is unreachable: shop is removed there when"));
  bool named = false;
  for (const auto& s : op.steps) {
    if (s.kind == kStepDestroyOn && s.description == "remove shop from s2 (unreachable now)") {
      named = true;
      EXPECT_THAT(s.output, HasSubstr("shop is removed from s2 when it is reachable again"));
    }
  }
  EXPECT_TRUE(named);
  auto pending = Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].server, "s2");
  EXPECT_EQ(pending[0].app, "shop");
  EXPECT_EQ(pending[0].kind, "destroy");
  EXPECT_EQ(pending[0].what, "remove app shop");
  EXPECT_EQ(pending[0].reason, "destroyed while s2 was unreachable");
  EXPECT_EQ(Events("app.cleanup_pending").size(), 1u);

  // Still away: nothing is sent, the record stays.
  agents_.ClearCalls();
  Tick();
  EXPECT_TRUE(Calls("DestroyApp", "s2").empty());
  EXPECT_EQ(Pending().size(), 1u);

  Restart();  // the controller restarts while s2 is away: the record survives
  ASSERT_EQ(Pending().size(), 1u);
  EXPECT_EQ(agents_.Running("s2").size(), 1u);  // shop's instance is still on s2

  Pass(seconds(1), "");  // s2 is back
  ASSERT_TRUE(fleet_->Reachable("s2"));
  agents_.ClearCalls();
  Tick();
  auto destroys = Calls("DestroyApp", "s2");
  ASSERT_EQ(destroys.size(), 1u);
  EXPECT_EQ(destroys[0].target, "shop");
  EXPECT_TRUE(Pending().empty());
  auto done = Events("app.cleanup_done");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].server, "s2");
  EXPECT_EQ(done[0].app, "shop");
  EXPECT_THAT(done[0].message, HasSubstr("s2 is reachable again: removed app shop"));
  EXPECT_TRUE(agents_.Running("s2").empty());

  Tick();  // finished once
  EXPECT_EQ(Calls("DestroyApp", "s2").size(), 1u);
}

TEST_F(RemovalsTest, AFailedRemovalIsKeptAndTriedAgain) {
  DeployThenLoseS2();
  ASSERT_EQ(DestroyShop().state, "succeeded");
  Pass(seconds(1), "");
  agents_.SetInject([](const FakeAgentApi::Call& c) {
    return c.method == "DestroyApp" ? absl::InternalError("disk full") : absl::OkStatus();
  });
  Tick();
  EXPECT_EQ(Pending().size(), 1u);
  EXPECT_TRUE(Events("app.cleanup_done").empty());
  agents_.SetInject(nullptr);
  agents_.ClearCalls();
  Tick();  // within the backoff: not yet
  EXPECT_TRUE(Calls("DestroyApp", "s2").empty());
  Pass(seconds(31), "");
  Tick();
  EXPECT_EQ(Calls("DestroyApp", "s2").size(), 1u);
  EXPECT_TRUE(Pending().empty());
}

TEST_F(RemovalsTest, ASlowAgentHoldsUpNeitherThePassNorASecondRemoval) {
  DeployThenLoseS2();
  ASSERT_EQ(DestroyShop().state, "succeeded");
  Pass(seconds(1), "");
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  agents_.SetInject([released](const FakeAgentApi::Call& c) {
    if (c.method == "DestroyApp") released.wait();  // an agent busy for a long time
    return absl::OkStatus();
  });
  agents_.ClearCalls();
  reconciler_->Tick();  // returns while DestroyApp waits
  reconciler_->Tick();  // and starts no second removal on s2
  EXPECT_EQ(Pending().size(), 1u);
  release.set_value();
  reconciler_->WaitForRemovals();
  EXPECT_EQ(Calls("DestroyApp", "s2").size(), 1u);
  EXPECT_TRUE(Pending().empty());
  agents_.SetInject(nullptr);
}

TEST_F(RemovalsTest, AnAppCreatedAgainDropsTheRecordWithoutRemovingIt) {
  DeployThenLoseS2();
  ASSERT_EQ(DestroyShop().state, "succeeded");
  ASSERT_EQ(Pending().size(), 1u);
  clock_.Advance(seconds(1));
  store::App again;
  again.name = "shop";
  ASSERT_TRUE(store_->CreateApp(again).ok());
  Pass(seconds(1), "");
  agents_.ClearCalls();
  Tick();
  EXPECT_TRUE(Calls("DestroyApp", "s2").empty());
  EXPECT_TRUE(Pending().empty());
  auto dropped = Events("app.cleanup_dropped");
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0].server, "s2");
  EXPECT_THAT(dropped[0].message, HasSubstr("an app named shop was created after it"));
}

TEST_F(RemovalsTest, ADokkuRemovalAServerMissedIsSentThereAloneWhenItReturns) {
  AddServers({"d1", "d2"}, "dokku");
  Restart();  // the fleet loads the new servers
  Pass(seconds(16), "d2");
  ASSERT_EQ(store_->GetServer("d2")->health, store::Health::kUnreachable);
  agents_.ClearCalls();
  auto ref = engine_->ChangeDokku(
      "shop",
      R"({"action":"remove_domain","host":"old.example.com","what":"remove domain old.example.com from shop"})",
      "remove domain old.example.com");
  ASSERT_TRUE(ref.ok()) << ref.status();
  store::Op op = Run(ref->id);
  ASSERT_EQ(op.state, "succeeded") << op.error;
  EXPECT_THAT(op.steps[0].output,
              HasSubstr("d2 is unreachable: it is removed there when it is reachable again"));
  EXPECT_EQ(Calls("ChangeDokku", "d1").size(), 1u);
  auto pending = Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].server, "d2");
  EXPECT_EQ(pending[0].kind, "dokku");
  EXPECT_EQ(pending[0].what, "remove domain old.example.com from shop");

  Pass(seconds(1), "");
  agents_.ClearCalls();
  Tick();
  auto active = *store_->ActiveOps();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].kind, "dokku");
  ASSERT_EQ(Run(active[0].id).state, "succeeded");
  auto sent = agents_.CallsTo("ChangeDokku");
  ASSERT_EQ(sent.size(), 1u);  // d2 only
  EXPECT_EQ(sent[0].server, "d2");
  EXPECT_EQ(sent[0].release, static_cast<int64_t>(K::kRemoveDomain));
  EXPECT_TRUE(Pending().empty());
  ASSERT_EQ(Events("app.cleanup_done").size(), 1u);
  EXPECT_EQ(Events("app.cleanup_done")[0].server, "d2");
  Tick();
  EXPECT_TRUE(store_->ActiveOps()->empty());
}

TEST_F(RemovalsTest, ADokkuRemovalOfAnAppAddedBackIsDropped) {
  AddServers({"d1", "d2"}, "dokku");
  Restart();  // the fleet loads the new servers
  Pass(seconds(16), "d2");
  ASSERT_EQ(Run(engine_
                    ->ChangeDokku("shop",
                                  R"({"action":"remove_domain","host":"old.example.com",)"
                                  R"("what":"remove domain old.example.com from shop"})",
                                  "remove domain old.example.com")
                    ->id)
                .state,
            "succeeded");
  ASSERT_EQ(Pending().size(), 1u);
  ASSERT_TRUE(store_->AddDomain("shop", "old.example.com").ok());
  Pass(seconds(1), "");
  Tick();
  EXPECT_TRUE(store_->ActiveOps()->empty());
  EXPECT_TRUE(Pending().empty());
  ASSERT_EQ(Events("app.cleanup_dropped").size(), 1u);
  EXPECT_THAT(Events("app.cleanup_dropped")[0].message,
              HasSubstr("domain old.example.com was added to shop again"));
}

// A controller killed at every step of the destroy, before, after the agent
// RPC and after the commit: the restarted one records the missed removal once
// and finishes it once.
class RemovalsCrashTest : public RemovalsTest,
                          public ::testing::WithParamInterface<std::pair<int, CrashPhase>> {};

TEST_P(RemovalsCrashTest, TheRecordIsNeitherLostNorDoubled) {
  DeployThenLoseS2();
  auto ref = engine_->Destroy("shop");
  ASSERT_TRUE(ref.ok());
  EngineOptions o = Options();
  o.crash = CrashPoint{"", "destroy", GetParam().first, GetParam().second};
  bool fired = false;
  o.crash_action = [&] { fired = true; };
  engine_ = NewEngine(o);
  engine_->RunUntilIdle();
  ASSERT_TRUE(fired) << store_->GetOp(ref->id)->steps.size() << " steps";
  Restart();
  ASSERT_EQ(Run(ref->id).state, "succeeded");
  auto pending = Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].server, "s2");
  EXPECT_EQ(Events("app.cleanup_pending").size(), 1u);
  Pass(seconds(1), "");
  agents_.ClearCalls();
  Tick();
  Tick();
  EXPECT_EQ(Calls("DestroyApp", "s2").size(), 1u);
  EXPECT_TRUE(Pending().empty());
}

std::vector<std::pair<int, CrashPhase>> DestroySteps() {
  std::vector<std::pair<int, CrashPhase>> out;
  // plan, stop on s1, stop on s2, destroy_on s1, s2, s3, delete the app.
  for (int step = 0; step < 7; ++step) {
    for (auto phase : {CrashPhase::kBefore, CrashPhase::kAfterRpc, CrashPhase::kAfterCommit}) {
      out.push_back({step, phase});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(EveryBoundary, RemovalsCrashTest, ::testing::ValuesIn(DestroySteps()),
                         [](const auto& info) {
                           CrashPhase p = info.param.second;
                           return "step" + std::to_string(info.param.first) +
                                  (p == CrashPhase::kBefore     ? "_before"
                                   : p == CrashPhase::kAfterRpc ? "_after_rpc"
                                                                : "_after_commit");
                         });

}  // namespace
}  // namespace dflow::ops
