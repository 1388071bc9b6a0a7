// DokkuRuntime's certificates: the exact argv (scripted runner), the tar on
// stdin, and the whole flow against the Dokku test double (0.35 and 0.38).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "agent/runtime/dokku_runtime.h"
#include "agent/runtime/dokku_test_support.h"
#include "agent/runtime/runtime_test_support.h"
#include "common/process.h"
#include "common/x509.h"

namespace dflow::agent {
namespace {

using testing::Args;
using testing::DoubleRunner;
using testing::ScriptedRunner;

tls::SelfSigned MakeCert(const std::string& host) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto c = tls::MakeSelfSignedCertificate(
      {.hosts = {host}, .not_before_ms = now - 3600000, .not_after_ms = now + 86400000LL * 30});
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

class DokkuCertsArgv : public ::testing::Test {
 protected:
  void SetUp() override {
    runner_.On({"version"}, {.out = "dokku version 0.38.27\n"});
    runner_.On({"certs:add"}, {});
    runner_.On({"certs:remove"}, {.out = "-----> Removing SSL endpoint from shop\n"});
    auto rt =
        DokkuRuntime::Open({.data_dir = tmp_.path(), .server_name = "web-2", .runner = &runner_});
    ASSERT_TRUE(rt.ok()) << rt.status();
    rt_ = std::move(*rt);
    runner_.Clear();
  }

  testing::TempDir tmp_;
  ScriptedRunner runner_;
  std::unique_ptr<DokkuRuntime> rt_;
};

TEST_F(DokkuCertsArgv, AddSendsATarOnStdinAndReadsBack) {
  const auto cert = MakeCert("shop.example.com");
  runner_.Once({"certs:report"}, {.out = "true\n"});
  ASSERT_TRUE(rt_->AddCert("shop", cert.cert_pem, cert.key_pem, nullptr).ok());
  EXPECT_EQ(runner_.calls(),
            (std::vector<Args>{{"certs:add", "shop"}, {"certs:report", "shop", "--ssl-enabled"}}));
  // The archive holds exactly server.crt and server.key, 0600.
  const std::string tar = runner_.stdins()[0];
  PosixProcessRunner posix;
  auto list = posix.Run({.argv = {"tar", "-tvf", "-"}, .stdin_data = tar});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(absl::StrContains(list->stdout_data, "-rw------- 0/0")) << list->stdout_data;
  auto names = posix.Run({.argv = {"tar", "-tf", "-"}, .stdin_data = tar});
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->stdout_data, "server.crt\nserver.key\n");
  auto crt = posix.Run({.argv = {"tar", "-xOf", "-", "server.crt"}, .stdin_data = tar});
  ASSERT_TRUE(crt.ok());
  EXPECT_EQ(crt->stdout_data, cert.cert_pem);
  auto key = posix.Run({.argv = {"tar", "-xOf", "-", "server.key"}, .stdin_data = tar});
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->stdout_data, cert.key_pem);
}

TEST_F(DokkuCertsArgv, AddThatDokkuDoesNotKeepIsAnError) {
  const auto cert = MakeCert("shop.example.com");
  runner_.Once({"certs:report"}, {.out = "false\n"});
  absl::Status s = rt_->AddCert("shop", cert.cert_pem, cert.key_pem, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.message(),
            "after certs:add Dokku on server web-2 reports no certificate for shop; see `dokku "
            "certs:report shop` there");
}

TEST_F(DokkuCertsArgv, RemoveAsksFirstAndReadsBack) {
  runner_.Once({"certs:report"}, {.out = "true\n"});
  runner_.Once({"certs:report"}, {.out = "false\n"});
  ASSERT_TRUE(rt_->RemoveCert("shop", nullptr).ok());
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"certs:report", "shop", "--ssl-enabled"},
                                                {"certs:remove", "shop"},
                                                {"certs:report", "shop", "--ssl-enabled"}}));
  runner_.Clear();
  runner_.Once({"certs:report"}, {.out = "false\n"});
  ASSERT_TRUE(rt_->RemoveCert("shop", nullptr).ok());  // none there: nothing to do
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"certs:report", "shop", "--ssl-enabled"}}));
}

class DokkuCertsDouble : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    state_ = tmp_.path() + "/dokku-state";
    std::filesystem::create_directories(state_);
    runner_ = std::make_unique<DoubleRunner>(state_, GetParam());
    auto rt = DokkuRuntime::Open({.data_dir = tmp_.path() + "/agent",
                                  .server_name = "web-2",
                                  .dokku_binary = FAKE_DOKKU_BIN,
                                  .runner = runner_.get()});
    ASSERT_TRUE(rt.ok()) << rt.status();
    rt_ = std::move(*rt);
    ASSERT_EQ(Dokku({"apps:create", "shop"}).exit_code, 0);
  }
  ProcessResult Dokku(Args args) {
    ProcessSpec spec;
    spec.argv = {FAKE_DOKKU_BIN};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    return runner_->Run(spec).value();
  }
  testing::TempDir tmp_;
  std::string state_;
  std::unique_ptr<DoubleRunner> runner_;
  std::unique_ptr<DokkuRuntime> rt_;
};

TEST_P(DokkuCertsDouble, AddReportRemove) {
  const auto cert = MakeCert("shop.example.com");
  ASSERT_TRUE(rt_->AddCert("shop", cert.cert_pem, cert.key_pem, nullptr).ok());
  std::ifstream in(state_ + "/home/shop/tls/server.key");
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(key, cert.key_pem);
  auto hosts = Dokku({"certs:report", "shop", "--ssl-hostnames"});
  EXPECT_EQ(hosts.stdout_data, "shop.example.com\n");
  EXPECT_EQ(Dokku({"certs:report", "shop", "--ssl-verified"}).stdout_data, "self signed\n");
  // Adding again replaces it (fn-certs-set); removing twice removes once.
  const auto other = MakeCert("www.example.com");
  ASSERT_TRUE(rt_->AddCert("shop", other.cert_pem, other.key_pem, nullptr).ok());
  EXPECT_EQ(Dokku({"certs:report", "shop", "--ssl-hostnames"}).stdout_data, "www.example.com\n");
  ASSERT_TRUE(rt_->RemoveCert("shop", nullptr).ok());
  ASSERT_TRUE(rt_->RemoveCert("shop", nullptr).ok());
  EXPECT_EQ(Dokku({"certs:report", "shop", "--ssl-enabled"}).stdout_data, "false\n");
  auto again = Dokku({"certs:remove", "shop"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.stderr_data, " !     An app-specific SSL endpoint is not defined\n");
}

INSTANTIATE_TEST_SUITE_P(Versions, DokkuCertsDouble, ::testing::Values("0.35.20", "0.38.27"));

}  // namespace
}  // namespace dflow::agent
