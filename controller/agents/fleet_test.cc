#include "controller/agents/fleet.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace dflow::agents {
namespace {

using std::chrono::milliseconds;

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dflow-fleet-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    store_ = std::move(*store::Store::Open(dir_ + "/store.db", &clock_));
    for (const char* name : {"a", "b"}) {
      ASSERT_TRUE(store_->CreateJoinToken(std::string("t-") + name, clock_.NowMs() + 60000).ok());
      store::JoinRecord r;
      r.token_id = std::string("t-") + name;
      r.name = name;
      r.address = "127.0.0.1:1";
      r.runtime = "local";
      r.cert_fingerprint = std::string("fp-") + name;
      ASSERT_TRUE(store_->JoinServer(r).ok());
    }
    options_.lease = milliseconds(15000);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  store::Health Health(const std::string& name) { return store_->GetServer(name)->health; }

  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  FleetOptions options_;
};

TEST_F(FleetTest, LeaseExpiresAndHeartbeatRestores) {
  Fleet fleet(store_.get(), &clock_, options_);
  ASSERT_TRUE(fleet.Load().ok());
  clock_.Advance(milliseconds(10000));
  ASSERT_TRUE(fleet.Heartbeat("a", {}).ok());
  clock_.Advance(milliseconds(5001));
  fleet.Tick();
  EXPECT_TRUE(fleet.Reachable("a"));
  EXPECT_FALSE(fleet.Reachable("b"));
  EXPECT_EQ(Health("a"), store::Health::kHealthy);
  EXPECT_EQ(Health("b"), store::Health::kUnreachable);
  clock_.Advance(milliseconds(2000));
  EXPECT_EQ(fleet.UnreachableForMs("b"), 2001);
  ASSERT_TRUE(fleet.Heartbeat("b", {}).ok());
  // Healthy is committed before Heartbeat returns, without waiting for a tick.
  EXPECT_EQ(Health("b"), store::Health::kHealthy);
  EXPECT_TRUE(fleet.Reachable("b"));
}

TEST_F(FleetTest, RestartStartsLeasesAfresh) {
  {
    Fleet fleet(store_.get(), &clock_, options_);
    ASSERT_TRUE(fleet.Load().ok());
  }
  clock_.Advance(milliseconds(60000));  // the controller was down a minute
  Fleet fleet(store_.get(), &clock_, options_);
  ASSERT_TRUE(fleet.Load().ok());
  fleet.Tick();
  EXPECT_TRUE(fleet.Reachable("a"));
  EXPECT_EQ(Health("a"), store::Health::kHealthy);
  clock_.Advance(milliseconds(15001));
  fleet.Tick();
  EXPECT_FALSE(fleet.Reachable("a"));
}

TEST_F(FleetTest, FactsAreBatched) {
  Fleet fleet(store_.get(), &clock_, options_);
  ASSERT_TRUE(fleet.Load().ok());
  store::Facts f;
  f.cpus = 4;
  ASSERT_TRUE(fleet.Heartbeat("a", f).ok());
  EXPECT_EQ(store_->GetServer("a")->facts.cpus, 0);  // not yet written
  fleet.Tick();
  EXPECT_EQ(store_->GetServer("a")->facts.cpus, 4);
}

TEST_F(FleetTest, AuthorizeAndRemove) {
  Fleet fleet(store_.get(), &clock_, options_);
  ASSERT_TRUE(fleet.Load().ok());
  EXPECT_EQ(*fleet.Authorize("fp-a"), "a");
  EXPECT_EQ(fleet.Authorize("fp-x").status().code(), absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(store_->RemoveServer("a").ok());
  fleet.OnRemoved("a");
  EXPECT_EQ(fleet.Authorize("fp-a").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(fleet.Heartbeat("a", {}).status().code(), absl::StatusCode::kPermissionDenied);
  // A new controller process reading the store agrees.
  Fleet reloaded(store_.get(), &clock_, options_);
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_FALSE(reloaded.Authorize("fp-a").ok());
  EXPECT_TRUE(reloaded.Authorize("fp-b").ok());
}

}  // namespace
}  // namespace dflow::agents
