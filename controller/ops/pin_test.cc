// Pinning an app to the server that holds its data: a durable op that moves
// the app's instances there, and placement that uses nothing else afterwards.
#include <gmock/gmock.h>

#include "controller/ops/ops_test_util.h"

namespace dflow::ops {
namespace {

using ::testing::HasSubstr;

TEST_F(OpsTest, PinMovesEveryInstanceToTheServerThenScaleStaysThere) {
  ASSERT_EQ(Scale({{"web", 2}}).state, "succeeded");
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  ASSERT_EQ(AgentSpread(), (std::map<std::string, int>{{"s1", 1}, {"s2", 1}}));

  auto ref = engine_->Pin("shop", "s2");
  ASSERT_TRUE(ref.ok()) << ref.status();
  store::Op op = Run(ref->id);
  ASSERT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(App().pinned_server, "s2");
  EXPECT_EQ(AgentSpread(), (std::map<std::string, int>{{"s2", 2}}));
  for (const auto& i : Instances()) EXPECT_EQ(i.release, 1) << i.id;
  ExpectConsistent();

  ASSERT_EQ(Scale({{"web", 3}}).state, "succeeded");
  EXPECT_EQ(AgentSpread(), (std::map<std::string, int>{{"s2", 3}}));
  ExpectConsistent();
}

TEST_F(OpsTest, UnpinLetsPlacementSpreadAgain) {
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  auto pin = engine_->Pin("shop", "s1");
  ASSERT_TRUE(pin.ok());
  ASSERT_EQ(Run(pin->id).state, "succeeded");
  auto unpin = engine_->Pin("shop", "");
  ASSERT_TRUE(unpin.ok());
  ASSERT_EQ(Run(unpin->id).state, "succeeded");
  EXPECT_EQ(App().pinned_server, "");
  ASSERT_EQ(Scale({{"web", 2}}).state, "succeeded");
  EXPECT_EQ(AgentSpread(), (std::map<std::string, int>{{"s1", 1}, {"s2", 1}}));
}

TEST_F(OpsTest, PinToAnUnknownServerIsRefusedAndChangesNothing) {
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  auto ref = engine_->Pin("shop", "nowhere");
  ASSERT_EQ(ref.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ref.status().message(), HasSubstr("no such server"));
  EXPECT_EQ(App().pinned_server, "");
}

TEST_F(OpsTest, PinBeforeTheFirstDeployAppliesToIt) {
  auto pin = engine_->Pin("shop", "s1");
  ASSERT_TRUE(pin.ok());
  ASSERT_EQ(Run(pin->id).state, "succeeded");
  ASSERT_EQ(Scale({{"web", 2}}).state, "succeeded");
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  EXPECT_EQ(AgentSpread(), (std::map<std::string, int>{{"s1", 2}}));
}

TEST_F(OpsTest, FailedMoveKeepsTheOldPinAndInstances) {
  ASSERT_EQ(Scale({{"web", 2}}).state, "succeeded");
  ASSERT_EQ(Deploy("d1").state, "succeeded");
  agents_.SetInject([](const FakeAgentApi::Call& c) {
    if (c.method == "StartInstance" && c.server == "s2") {
      return absl::FailedPreconditionError("on server s2: health check failed: connection refused");
    }
    return absl::OkStatus();
  });
  auto ref = engine_->Pin("shop", "s2");
  ASSERT_TRUE(ref.ok());
  store::Op op = Run(ref->id);
  EXPECT_EQ(op.state, "rolled_back");
  EXPECT_EQ(App().pinned_server, "");
  EXPECT_EQ(AgentSpread(), (std::map<std::string, int>{{"s1", 1}, {"s2", 1}}));
}

}  // namespace
}  // namespace dflow::ops
