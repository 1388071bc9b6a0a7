// RoutePusher on a real store and fleet, with routers that refuse a
// certificate the way the agent reports nginx -t naming the file.
#include "controller/routing/routing.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "controller/ops/fake_agent_api.h"
#include "controller/store/store_test_util.h"

namespace dflow::routing {
namespace {

// Refuses every table that carries the certificate "WEAK", as the agent
// reports nginx -t refusing it (naming the app's certificate file).
class RefusingRouters : public ops::FakeAgentApi {
 public:
  absl::StatusOr<agents::RoutesResult> SetRoutes(const std::string& server,
                                                 const agents::RoutesSpec& routes) override {
    for (const auto& a : routes.apps) {
      if (a.cert_pem == "WEAK") {
        return absl::FailedPreconditionError(
            "router on server " + server +
            ": nginx -t refused the new routing config (nginx: [emerg] "
            "SSL_CTX_use_certificate(\"/r/certs/" +
            a.app + "-0123456789abcdef.crt\") failed (ee key too small))");
      }
    }
    return agents::RoutesResult{routes.version, "127.0.0.1:8081", ""};
  }
};

class RoutePusherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dflow-routing-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    store_ = std::move(*store::Store::Open(dir_ + "/store.db", &clock_));
    ASSERT_NO_FATAL_FAILURE(
        store::JoinTestServer(*store_, clock_.NowMs(), "local-1", "local", "127.0.0.1:1"));
    store::App app;
    app.name = "hello";
    ASSERT_TRUE(store_->CreateApp(app).ok());
    fleet_ = std::make_unique<agents::Fleet>(store_.get(), &clock_, agents::FleetOptions{});
    ASSERT_TRUE(fleet_->Load().ok());
    ASSERT_TRUE(fleet_->Heartbeat("local-1", {}).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<agents::Fleet> fleet_;
  RefusingRouters routers_;
};

// `certs add` stores the certificate, then pushes; the background loop may
// push the new table first and see the refusal. The push of `certs add` must
// still report it, or the command would say the certificate serves.
TEST_F(RoutePusherTest, ARefusalSeenByAnEarlierPushIsReportedAgain) {
  RoutePusher pusher(store_.get(), fleet_.get(), &routers_, {});
  EXPECT_TRUE(pusher.PushNow().empty());
  ASSERT_TRUE(store_->SetAppCert({"hello", "WEAK", "KEY", clock_.NowMs() + 1000, 0}, "added").ok());
  auto first = pusher.PushNow();  // what the background loop would have done
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(ErrorNamesCertOf(first["local-1"], "hello")) << first["local-1"];
  auto again = pusher.PushNow();
  ASSERT_EQ(again.size(), 1u) << "the router serves hello without its new certificate";
  EXPECT_EQ(again["local-1"], first["local-1"]);
  // Replaced by one the router takes: no refusal any more.
  ASSERT_TRUE(store_->SetAppCert({"hello", "GOOD", "KEY", clock_.NowMs() + 1000, 0}, "added").ok());
  EXPECT_TRUE(pusher.PushNow().empty());
  EXPECT_TRUE(pusher.PushNow().empty());
}

}  // namespace
}  // namespace dflow::routing
