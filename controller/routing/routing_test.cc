// RoutePusher on a real store and fleet, with routers that refuse a
// certificate the way the agent reports nginx -t naming the file.
#include "controller/routing/routing.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "controller/ops/fake_agent_api.h"
#include "controller/store/store_test_util.h"

namespace dflow::routing {
namespace {

// Refuses every table that carries a certificate "WEAK…", as the agent
// reports nginx -t refusing it (naming the app's certificate file).
class RefusingRouters : public ops::FakeAgentApi {
 public:
  absl::StatusOr<agents::RoutesResult> SetRoutes(const std::string& server,
                                                 const agents::RoutesSpec& routes) override {
    for (const auto& a : routes.apps) {
      if (a.cert_pem.rfind("WEAK", 0) == 0) {
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
// push the new table first, see the refusal and leave the certificate out.
// The push of `certs add` sends it again, so the command hears the refusal,
// also while the router has long refused another app's certificate.
TEST_F(RoutePusherTest, CertsAddHearsARefusalTheBackgroundPushSawFirst) {
  store::App other;
  other.name = "other";
  ASSERT_TRUE(store_->CreateApp(other).ok());
  RoutePusher pusher(store_.get(), fleet_.get(), &routers_, {});
  EXPECT_TRUE(pusher.PushNow().empty());
  const int64_t until = clock_.NowMs() + 1000;
  ASSERT_TRUE(store_->SetAppCert({"other", "WEAK-other", "KEY", until, 0}, "added").ok());
  auto refused = pusher.PushNow("other");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_TRUE(ErrorNamesCertOf(refused["local-1"], "other")) << refused["local-1"];

  ASSERT_TRUE(store_->SetAppCert({"hello", "WEAK-hello", "KEY", until, 0}, "added").ok());
  refused = pusher.PushNow();  // the background loop, first
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_TRUE(ErrorNamesCertOf(refused["local-1"], "hello")) << refused["local-1"];
  EXPECT_TRUE(pusher.PushNow().empty()) << "left out of the table: nothing refused";
  refused = pusher.PushNow("hello");  // certs add
  ASSERT_EQ(refused.size(), 1u) << "the router serves hello without its new certificate";
  EXPECT_TRUE(ErrorNamesCertOf(refused["local-1"], "hello")) << refused["local-1"];
  EXPECT_FALSE(ErrorNamesCertOf(refused["local-1"], "other")) << refused["local-1"];

  // Replaced by one the router takes: served, and other's stays left out.
  ASSERT_TRUE(store_->SetAppCert({"hello", "GOOD", "KEY", until, 0}, "added").ok());
  EXPECT_TRUE(pusher.PushNow("hello").empty());
  EXPECT_TRUE(pusher.PushNow().empty());
}

}  // namespace
}  // namespace dflow::routing
