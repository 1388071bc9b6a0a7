// Services as durable ops (service_steps.cc): create and destroy run as
// `service` ops queued per service, a controller killed at any step boundary
// finishes them, and the store keeps no password.
#include "controller/ops/ops_test_util.h"
#include "controller/ops/plan.h"
#include "controller/ops/steps.h"

namespace dflow::ops {
namespace {

class ServiceOpsTest : public OpsTest {
 protected:
  void SetUp() override {
    OpsTest::SetUp();
    AddServers({"d1"}, "dokku");
  }

  int64_t SubmitCreate(const std::string& name = "shopdb", const std::string& server = "d1") {
    auto ref = engine_->CreateService("postgres", name, server, false);
    EXPECT_TRUE(ref.ok()) << ref.status();
    return ref.ok() ? ref->id : 0;
  }
  int64_t SubmitDestroy(const std::string& name = "shopdb") {
    auto ref = engine_->DestroyService(name);
    EXPECT_TRUE(ref.ok()) << ref.status();
    return ref.ok() ? ref->id : 0;
  }
};

TEST_F(ServiceOpsTest, CreateRecordsTheServiceWithoutItsPassword) {
  store::Op op = Run(SubmitCreate());
  ASSERT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(op.app, ServiceOpKey("shopdb"));
  ASSERT_EQ(op.steps.size(), 2u);
  EXPECT_EQ(op.steps[1].kind, kStepService);
  EXPECT_EQ(op.steps[1].description, "create postgres service shopdb on d1");
  auto s = store_->GetService("shopdb");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->server, "d1");
  EXPECT_EQ(s->dsn, "postgres://postgres@dokku-postgres-shopdb:5432/shopdb");
  auto calls = agents_.CallsTo("CreateService");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].key, IdempotencyKey(op.id, 1));
  // The URL with the password is on the host, read when needed.
  auto read = agents_.GetService("d1", "postgres", "shopdb");
  ASSERT_TRUE(read.ok());
  EXPECT_NE(read->dsn.find(":pw-shopdb@"), std::string::npos);

  // A second create of the name ends at its plan, naming where it lives.
  store::Op again = Run(SubmitCreate());
  EXPECT_NE(again.state, "succeeded");
  EXPECT_NE(again.error.find("service shopdb already exists (postgres on d1)"), std::string::npos)
      << again.error;
  EXPECT_EQ(agents_.CallsTo("CreateService").size(), 1u);
}

TEST_F(ServiceOpsTest, AFailedCreateEndsFailedNamingServerAndServiceAndRecordsNothing) {
  agents_.SetInject([](const FakeAgentApi::Call& c) {
    return c.method == "CreateService"
               ? absl::FailedPreconditionError("on server d1: postgres:create: image pull failed")
               : absl::OkStatus();
  });
  store::Op op = Run(SubmitCreate());
  EXPECT_EQ(op.state, "failed");  // nothing guessed away: not "rolled back"
  EXPECT_NE(op.error.find("creating postgres service shopdb on d1 failed"), std::string::npos)
      << op.error;
  EXPECT_NE(op.error.find("image pull failed"), std::string::npos) << op.error;
  EXPECT_NE(op.error.find("dflow services create postgres shopdb --server d1"), std::string::npos)
      << op.error;
  EXPECT_EQ(store_->GetService("shopdb").status().code(), absl::StatusCode::kNotFound);
  // Run again (the plan sees no record): finishes it.
  agents_.SetInject(nullptr);
  EXPECT_EQ(Run(SubmitCreate()).state, "succeeded");
}

TEST_F(ServiceOpsTest, CreateOnALocalServerIsRefusedAtThePlan) {
  store::Op op = Run(SubmitCreate("shopdb", "s1"));
  EXPECT_NE(op.state, "succeeded");
  EXPECT_NE(op.error.find("server s1 runs the local runtime"), std::string::npos) << op.error;
  EXPECT_TRUE(agents_.CallsTo("CreateService").empty());
}

TEST_F(ServiceOpsTest, DestroyRemovesItOnTheHostThenTheRecordAndRefusesWhileLinked) {
  ASSERT_EQ(Run(SubmitCreate()).state, "succeeded");
  ASSERT_TRUE(store_->LinkService({"shopdb", "shop", ""}).ok());
  store::Op linked = Run(SubmitDestroy());
  EXPECT_NE(linked.state, "succeeded");
  EXPECT_NE(linked.error.find("linked to shop"), std::string::npos) << linked.error;
  EXPECT_EQ(agents_.Services("d1").size(), 1u);
  ASSERT_TRUE(store_->UnlinkService("shopdb", "shop").ok());
  store::Op op = Run(SubmitDestroy());
  ASSERT_EQ(op.state, "succeeded") << op.error;
  EXPECT_TRUE(agents_.Services("d1").empty());
  EXPECT_EQ(store_->GetService("shopdb").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_->DestroyService("shopdb").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ServiceOpsTest, AnUnreachableServerFailsTheDestroyAndKeepsTheRecord) {
  ASSERT_EQ(Run(SubmitCreate()).state, "succeeded");
  agents_.SetUnreachable("d1", true);
  store::Op op = Run(SubmitDestroy());
  EXPECT_EQ(op.state, "failed");
  EXPECT_NE(op.error.find("destroying postgres service shopdb on d1 failed"), std::string::npos)
      << op.error;
  EXPECT_NE(op.error.find("not reachable"), std::string::npos) << op.error;
  EXPECT_TRUE(store_->GetService("shopdb").ok());
}

// A controller killed at every boundary of a create and of a destroy: the
// restarted one finishes the op; the service is made (or removed) once.
struct ServiceCrash {
  std::string action;
  int step;
  CrashPhase phase;
};

class ServiceResumeTest : public ServiceOpsTest,
                          public ::testing::WithParamInterface<ServiceCrash> {};

TEST_P(ServiceResumeTest, FinishesAfterACrash) {
  const ServiceCrash& c = GetParam();
  if (c.action == "destroy") {
    ASSERT_EQ(Run(SubmitCreate()).state, "succeeded");
  }
  EngineOptions o = Options();
  o.crash = CrashPoint{"", "service", c.step, c.phase};
  bool fired = false;
  o.crash_action = [&] { fired = true; };
  engine_ = NewEngine(o);
  int64_t id = c.action == "create" ? SubmitCreate() : SubmitDestroy();
  engine_->RunUntilIdle();
  ASSERT_TRUE(fired) << c.action << " never reached step " << c.step;
  EXPECT_FALSE(store::OpEnded(store_->GetOp(id)->state));
  engine_ = NewEngine();  // the restarted controller
  store::Op op = Run(id);
  ASSERT_EQ(op.state, "succeeded") << op.error;
  if (c.action == "create") {
    EXPECT_TRUE(store_->GetService("shopdb").ok());
    EXPECT_EQ(agents_.Services("d1").size(), 1u);
  } else {
    EXPECT_EQ(store_->GetService("shopdb").status().code(), absl::StatusCode::kNotFound);
    EXPECT_TRUE(agents_.Services("d1").empty());
  }
}

std::vector<ServiceCrash> ServiceCases() {
  std::vector<ServiceCrash> out;
  for (const char* action : {"create", "destroy"}) {
    for (int step = 0; step < 2; ++step) {
      for (auto phase : {CrashPhase::kBefore, CrashPhase::kAfterRpc, CrashPhase::kAfterCommit}) {
        out.push_back({action, step, phase});
      }
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(EveryBoundary, ServiceResumeTest, ::testing::ValuesIn(ServiceCases()),
                         [](const auto& info) {
                           const char* phase = info.param.phase == CrashPhase::kBefore ? "before"
                                               : info.param.phase == CrashPhase::kAfterRpc
                                                   ? "after_rpc"
                                                   : "after_commit";
                           return info.param.action + "_step" + std::to_string(info.param.step) +
                                  "_" + phase;
                         });

}  // namespace
}  // namespace dflow::ops
