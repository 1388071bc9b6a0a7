// End to end on Dokku: `dflow certs add|rm` and `dflow domains add|rm` for an
// app on a `--runtime dokku` agent reach Dokku's proxy (the test double's
// $DOKKU_ROOT/APP/tls, certs:report, domains:report), as Dokku 0.35.20 and 0.38.27.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/clock.h"
#include "common/files.h"
#include "common/x509.h"
#include "tests/e2e/dokku_fixture.h"
#include "tests/e2e/harness.h"

namespace dflow::testing {
namespace {

using std::chrono::seconds;

class DokkuCertsE2E : public DokkuE2EBase<::testing::TestWithParam<const char*>> {
 protected:
  void SetUp() override { StartControllerAndDouble(); }

  std::map<std::string, std::string> DokkuEnv() { return DokkuE2EBase::DokkuEnv(GetParam()); }

  // What the double reports, through its own CLI.
  std::string Report(const std::string& flag) {
    return RunProgram({FAKE_DOKKU_BIN, "certs:report", "shop", flag}, DokkuEnv()).out;
  }
  std::string Installed() {
    std::ifstream in(state_ + "/home/shop/tls/server.crt");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  // A `--runtime dokku` agent, healthy, and app shop deployed on it.
  void StartAgentAndDeploy() {
    ASSERT_NO_FATAL_FAILURE(StartDokkuAgent(GetParam()));
    CliOk({"apps", "create", "shop", "--health-path", "/health"});
    CliOk({"deploy", "shop", "--path", Example("hello")});
  }
};

TEST_P(DokkuCertsE2E, CertsAddReachesDokkuAndRmRemovesIt) {
  ASSERT_NO_FATAL_FAILURE(StartAgentAndDeploy());

  const int64_t now = SystemClock::Get()->NowMs();
  auto cert = tls::MakeSelfSignedCertificate({.hosts = {"shop.localhost"},
                                              .not_before_ms = now - 3600000,
                                              .not_after_ms = now + 7776000000});
  ASSERT_TRUE(cert.ok()) << cert.status();
  const std::string crt = tmp_.path() + "/shop.crt", key = tmp_.path() + "/shop.key";
  ASSERT_TRUE(WriteFileAtomic(crt, cert->cert_pem, 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(key, cert->key_pem, 0600).ok());

  auto added = ExpectCliOk({"certs", "add", "shop", "--cert", crt, "--key", key});
  EXPECT_NE(added.out.find("installing it on the app's Dokku servers (certs:add): op "),
            std::string::npos)
      << added.out;
  ASSERT_TRUE(WaitFor([&] { return Report("--ssl-enabled") == "true\n"; }, seconds(30)))
      << agent_.Log();
  EXPECT_EQ(Installed(), cert->cert_pem);
  EXPECT_EQ(Report("--ssl-hostnames"), "shop.localhost\n");

  auto removed = ExpectCliOk({"certs", "rm", "shop"});
  EXPECT_NE(removed.out.find("removing it from the app's Dokku servers (certs:remove): op "),
            std::string::npos)
      << removed.out;
  ASSERT_TRUE(WaitFor([&] { return Report("--ssl-enabled") == "false\n"; }, seconds(30)))
      << agent_.Log();
  EXPECT_FALSE(std::filesystem::exists(state_ + "/home/shop/tls"));
}

// domains add|rm follow their op to its end: when the CLI returns, Dokku's
// domains:report already says so (a failed domains:add would be exit 1).
TEST_P(DokkuCertsE2E, DomainsAddAndRmRunOnDokkuBeforeTheCliReturns) {
  ASSERT_NO_FATAL_FAILURE(StartAgentAndDeploy());
  auto vhosts = [&] {
    return RunProgram({FAKE_DOKKU_BIN, "domains:report", "shop", "--domains-app-vhosts"},
                      DokkuEnv())
        .out;
  };
  auto added = ExpectCliOk({"domains", "add", "shop", "www.shop.test"});
  EXPECT_NE(added.out.find("adding it on the app's Dokku servers (domains:add): op "),
            std::string::npos)
      << added.out;
  EXPECT_NE(added.out.find("succeeded"), std::string::npos) << added.out;
  EXPECT_EQ(vhosts(), "www.shop.test\n");
  auto json = nlohmann::json::parse(CliOk({"domains", "add", "shop", "api.shop.test", "--json"}),
                                    nullptr, false);
  EXPECT_GT(json.value("dokku_op", 0), 0) << json.dump();
  auto removed = ExpectCliOk({"domains", "rm", "shop", "www.shop.test"});
  EXPECT_NE(removed.out.find("(domains:remove): op "), std::string::npos) << removed.out;
  ASSERT_TRUE(WaitFor([&] { return vhosts() == "api.shop.test\n"; }, seconds(30))) << vhosts();
}

INSTANTIATE_TEST_SUITE_P(Versions, DokkuCertsE2E, ::testing::Values("0.35.20", "0.38.27"));

}  // namespace
}  // namespace dflow::testing
