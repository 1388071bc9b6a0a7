// DokkuRuntime against the Dokku test double (tests/fakes/fake_dokku), as
// Dokku 0.35.20 and 0.38.27: whole flows, and what reaches Dokku.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "agent/runtime/dokku_runtime.h"
#include "agent/runtime/dokku_test_support.h"
#include "agent/runtime/runtime_test_support.h"

namespace dflow::agent {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using testing::Args;
using testing::DoubleRunner;

const std::map<std::string, std::string> kAwkward = {
    {"SPACES", "hello world"},
    {"QUOTES", "it's \"quoted\" ok"},
    {"NEWLINE", "line one\nline two"},
    {"DOLLAR", "$HOME and ${PATH} stay"},
    {"SHELL", "; rm -rf / # `whoami` $(id) && echo pwned"},
};

class DokkuDouble : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    state_ = tmp_.path() + "/dokku-state";
    std::filesystem::create_directories(state_);
    std::ofstream(state_ + "/VHOST") << "dokku.me\n";
    runner_ = std::make_unique<DoubleRunner>(state_, GetParam());
    auto rt = DokkuRuntime::Open({.data_dir = tmp_.path() + "/agent",
                                  .server_name = "web-2",
                                  .dokku_binary = FAKE_DOKKU_BIN,
                                  .runner = runner_.get()});
    ASSERT_TRUE(rt.ok()) << rt.status();
    rt_ = std::move(*rt);
  }

  // Runs the double directly (not through the runtime).
  ProcessResult Dokku(Args args) {
    ProcessSpec spec;
    spec.argv = {FAKE_DOKKU_BIN};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    return runner_->Run(spec).value();
  }
  json Config(const std::string& app) {
    return json::parse(Dokku({"config:export", "--format", "json", app}).stdout_data, nullptr,
                       false);
  }
  json AppState(const std::string& app) {
    std::ifstream in(state_ + "/state.json");
    return json::parse(in)["apps"][app];
  }

  ReleaseSpec Release(int64_t version, const std::string& marker,
                      std::map<std::string, std::string> env = {}) {
    ReleaseSpec spec =
        testing::MakeRelease(tmp_.path(), "shop", version,
                             {{"Procfile", "web: python3 app.py\nworker: python3 worker.py\n"},
                              {"app.py", "# " + marker + "\n"}});
    spec.env = std::move(env);
    return spec;
  }

  absl::Status Start(const std::string& id, int64_t release, const std::string& process = "web") {
    return rt_->StartInstance({id, "shop", process, release, 0}, seconds(30)).status();
  }

  std::map<std::string, InstanceState> States() {
    std::map<std::string, InstanceState> out;
    for (const auto& i : rt_->ListInstances()) out[i.id] = i.state;
    return out;
  }

  testing::TempDir tmp_;
  std::string state_;
  std::unique_ptr<DoubleRunner> runner_;
  std::unique_ptr<DokkuRuntime> rt_;
};

TEST_P(DokkuDouble, DeployConfigScaleLogsRollbackDestroy) {
  EXPECT_EQ(rt_->version().ToString(), GetParam());
  ReleaseSpec v1 = Release(1, "one", kAwkward);
  ASSERT_TRUE(rt_->PrepareRelease(v1, nullptr).ok());
  ASSERT_TRUE(Start("a", 1).ok());
  // Every awkward value arrived intact, each pair one argv element.
  json config = Config("shop");
  for (const auto& [k, v] : kAwkward) EXPECT_EQ(config[k], v) << k;
  bool seen = false;
  for (const Args& call : runner_->calls()) {
    if (call.empty() || call[0] != "config:set") continue;
    seen = true;
    ASSERT_EQ(call.size(), 4 + kAwkward.size());
    EXPECT_EQ(call[4], "DOLLAR=" + absl::Base64Escape(kAwkward.at("DOLLAR")));
  }
  EXPECT_TRUE(seen);

  ASSERT_TRUE(Start("b", 1).ok());
  ASSERT_TRUE(Start("w", 1, "worker").ok());
  EXPECT_EQ(States(), (std::map<std::string, InstanceState>{{"a", InstanceState::kRunning},
                                                            {"b", InstanceState::kRunning},
                                                            {"w", InstanceState::kRunning}}));
  EXPECT_EQ(AppState("shop")["containers"].size(), 3u);
  auto logs = rt_->Logs("shop", "web", 10);
  ASSERT_TRUE(logs.ok()) << logs.status();
  ASSERT_FALSE(logs->empty());
  EXPECT_EQ(logs->back().text, "starting web: python3 app.py");
  EXPECT_TRUE(logs->back().instance == "a" || logs->back().instance == "b")
      << logs->back().instance;

  // v2: new source, a key dropped; old instances stop after the new ones run.
  std::map<std::string, std::string> env2 = kAwkward;
  env2.erase("SHELL");
  env2["MODE"] = "two";
  ASSERT_TRUE(rt_->PrepareRelease(Release(2, "two", env2), nullptr).ok());
  const std::string digest1 = AppState("shop")["source"]["digest"];
  ASSERT_TRUE(Start("n1", 2).ok());
  EXPECT_NE(AppState("shop")["source"]["digest"], digest1);
  ASSERT_TRUE(Start("n2", 2).ok());
  ASSERT_TRUE(Start("nw", 2, "worker").ok());
  for (const char* old : {"a", "b", "w"}) ASSERT_TRUE(rt_->StopInstance(old, seconds(5)).ok());
  EXPECT_EQ(Config("shop").count("SHELL"), 0u);
  EXPECT_EQ(Config("shop")["MODE"], "two");
  EXPECT_EQ(AppState("shop")["containers"].size(), 3u);
  EXPECT_EQ(rt_->ListInstances().size(), 3u);

  // Rollback: a v3 carrying v1's archive and config.
  ReleaseSpec v3 = v1;
  v3.version = 3;
  ASSERT_TRUE(rt_->PrepareRelease(v3, nullptr).ok());
  ASSERT_TRUE(Start("r1", 3).ok());
  EXPECT_EQ(AppState("shop")["source"]["digest"], digest1);
  EXPECT_EQ(Config("shop")["SHELL"], kAwkward.at("SHELL"));
  EXPECT_EQ(Config("shop").count("MODE"), 0u);

  ASSERT_TRUE(rt_->DestroyApp("shop").ok());
  EXPECT_EQ(Dokku({"apps:exists", "shop"}).exit_code, 20);
  EXPECT_TRUE(rt_->ListInstances().empty());
}

TEST_P(DokkuDouble, FailedChecksLeaveThePreviousReleaseAndConfigRunning) {
  ASSERT_TRUE(rt_->PrepareRelease(Release(1, "one", {{"MODE", "one"}}), nullptr).ok());
  ASSERT_TRUE(Start("a", 1).ok());
  std::filesystem::create_directories(state_ + "/hooks");
  std::ofstream(state_ + "/hooks/shop.fail-checks") << "broken: refusing to start\n";
  ASSERT_TRUE(rt_->PrepareRelease(Release(2, "two", {{"MODE", "two"}}), nullptr).ok());
  absl::Status s = Start("n", 2);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("broken: refusing to start"), std::string::npos) << s;
  EXPECT_NE(s.message().find("deploying shop v2"), std::string::npos) << s;
  EXPECT_EQ(States(), (std::map<std::string, InstanceState>{{"a", InstanceState::kRunning}}));
  EXPECT_EQ(Config("shop")["MODE"], "one");
}

TEST_P(DokkuDouble, AnUndoneDeployIsRolledBackOnDokku) {
  ReleaseSpec v1 = Release(1, "one", {{"MODE", "one"}});
  ASSERT_TRUE(rt_->PrepareRelease(v1, nullptr).ok());
  ASSERT_TRUE(Start("a", 1).ok());
  const std::string digest1 = AppState("shop")["source"]["digest"];
  ASSERT_TRUE(rt_->PrepareRelease(Release(2, "two", {{"MODE", "two"}}), nullptr).ok());
  ASSERT_TRUE(Start("n", 2).ok());
  // The controller undoes the deploy: it stops only the new instance.
  ASSERT_TRUE(rt_->StopInstance("n", seconds(5)).ok());
  EXPECT_EQ(AppState("shop")["source"]["digest"], digest1);
  EXPECT_EQ(Config("shop")["MODE"], "one");
  EXPECT_EQ(States(), (std::map<std::string, InstanceState>{{"a", InstanceState::kRunning}}));
}

TEST_P(DokkuDouble, AProcessTypeAReleaseAddsIsScaledAfterItsDeploy) {
  ReleaseSpec v1 = testing::MakeRelease(tmp_.path(), "shop", 1, {{"Procfile", "web: a\n"}});
  ASSERT_TRUE(rt_->PrepareRelease(v1, nullptr).ok());
  ASSERT_TRUE(Start("a", 1).ok());
  // Dokku refuses to scale up a type its current Procfile lacks.
  ReleaseSpec v2 =
      testing::MakeRelease(tmp_.path(), "shop", 2, {{"Procfile", "web: b\nclock: c\n"}});
  ASSERT_TRUE(rt_->PrepareRelease(v2, nullptr).ok());
  ASSERT_TRUE(Start("n", 2).ok());
  absl::Status s = Start("c", 2, "clock");
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(rt_->StopInstance("a", seconds(5)).ok());
  EXPECT_EQ(States(), (std::map<std::string, InstanceState>{{"n", InstanceState::kRunning},
                                                            {"c", InstanceState::kRunning}}));
  // And a release that adds it at once, with instances of both types already here.
  ReleaseSpec v3 =
      testing::MakeRelease(tmp_.path(), "shop", 3, {{"Procfile", "web: d\nclock: e\nworker: f\n"}});
  ASSERT_TRUE(rt_->PrepareRelease(v3, nullptr).ok());
  ASSERT_TRUE(Start("w", 3, "worker").ok());
  EXPECT_EQ(AppState("shop")["containers"].size(), 3u);
}

TEST_P(DokkuDouble, ACraftedAppNameReachesDokkuAsOneArgument) {
  const std::string marker = tmp_.path() + "/pwned";
  ReleaseSpec spec = Release(1, "one");
  spec.app = "shop;touch " + marker;
  absl::Status s = rt_->PrepareRelease(spec, nullptr);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("App name must begin with lowercase alphanumeric"), std::string::npos)
      << s;
  EXPECT_FALSE(std::filesystem::exists(marker));
  ASSERT_FALSE(runner_->calls().empty());
  EXPECT_EQ(runner_->calls().back(), (Args{"apps:exists", spec.app}));
}

// The same owner on 0.35 and 0.38 (the double models Dokku's chown per
// version), and a later mount with another owner re-chowns on both.
TEST_P(DokkuDouble, StorageOwnerIsTheSameOnEveryVersion) {
  ASSERT_TRUE(rt_->PrepareRelease(Release(1, "one"), nullptr).ok());
  auto owner = [&](const std::string& name) -> std::string {
    std::ifstream in(state_ + "/state.json");
    return json::parse(in)["global"]["storage_owners"].value(name, "");
  };
  ASSERT_TRUE(rt_->MountStorage("shop", "shop-home", "/home/node", "heroku", nullptr).ok());
  EXPECT_EQ(owner("shop-home"), "1000");
  ASSERT_TRUE(rt_->MountStorage("shop", "shop-data", "/app/data", "", nullptr).ok());
  EXPECT_EQ(owner("shop-data"), "32767");
  if (std::string(GetParam()) >= "0.38") {
    ASSERT_TRUE(rt_->MountStorage("shop", "shop-root", "/srv", "root", nullptr).ok());
    EXPECT_EQ(owner("shop-root"), "0");
  } else {  // Dokku's chown helper refuses uid 0 before 0.38: refused first
    EXPECT_EQ(rt_->MountStorage("shop", "shop-root", "/srv", "root", nullptr).code(),
              absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(owner("shop-root"), "");
  }
  ASSERT_TRUE(rt_->MountStorage("shop", "shop-raw", "/raw", "false", nullptr).ok());
  EXPECT_EQ(owner("shop-raw"), "dokku");
  ASSERT_TRUE(rt_->MountStorage("shop", "shop-data", "/app/data", "paketo", nullptr).ok());
  EXPECT_EQ(owner("shop-data"), "2000");
}

TEST_P(DokkuDouble, DomainsStorageAndChecksAskFirst) {
  ASSERT_TRUE(rt_->PrepareRelease(Release(1, "one"), nullptr).ok());
  ASSERT_TRUE(rt_->AddDomain("shop", "shop.example.com", nullptr).ok());
  ASSERT_TRUE(rt_->AddDomain("shop", "shop.example.com", nullptr).ok());
  auto domains = rt_->Domains("shop");
  ASSERT_TRUE(domains.ok()) << domains.status();
  EXPECT_EQ(*domains, (std::vector<std::string>{"shop.dokku.me", "shop.example.com"}));
  runner_->Clear();
  ASSERT_TRUE(rt_->MountStorage("shop", "shop-data", "/app/data", "", nullptr).ok());
  ASSERT_TRUE(
      rt_->MountStorage("shop", "shop-data", "/app/data", "", nullptr).ok());  // exit 1 if twice
  const bool v38 = std::string(GetParam()) >= "0.38";
  const std::string create = v38 ? "storage:create" : "storage:ensure-directory";
  std::vector<Args> mounts;
  for (const Args& c : runner_->calls()) {
    if (c[0] == "storage:mount") mounts.push_back(c);
  }
  EXPECT_EQ(mounts, (std::vector<Args>{{"storage:mount", "shop",
                                        "/var/lib/dokku/data/storage/shop-data:/app/data"}}));
  EXPECT_EQ(runner_->calls()[0], (Args{create, "--chown", "herokuish", "shop-data"}));
  EXPECT_FALSE(rt_->MountStorage("shop", tmp_.path() + "/missing", "/x", "", nullptr).ok());
  ASSERT_TRUE(rt_->SetCheck("shop", "wait-to-retire", "30", nullptr).ok());
  EXPECT_EQ(AppState("shop")["checks"]["wait-to-retire"], "30");
  runner_->Clear();
  ASSERT_TRUE(rt_->SetCheck("shop", "wait-to-retire", "30", nullptr).ok());  // asked only
  ASSERT_EQ(runner_->calls().size(), 1u);
  EXPECT_EQ(runner_->calls()[0][0], "checks:report");
  EXPECT_EQ(rt_->SetCheck("shop", "bogus", "1", nullptr).code(),
            absl::StatusCode::kInvalidArgument);
}

// Resource limits reach Dokku as resource:limit/reserve and are read back
// with resource:report (0.35: prefixed keys only; 0.38: both); a change is
// sent, an unchanged one only asked, one dflow set and the release drops is
// cleared.
TEST_P(DokkuDouble, ResourceLimitsAreSetReadBackAndCleared) {
  ReleaseSpec v1 = Release(1, "one");
  v1.memory_bytes = int64_t{512} << 20;
  v1.cpus = 0.5;
  ASSERT_TRUE(rt_->PrepareRelease(v1, nullptr).ok());
  ASSERT_TRUE(Start("a", 1).ok());
  json limits = AppState("shop")["resource"]["_default_"];
  EXPECT_EQ(limits["limit"].value("memory", ""), "512m") << limits.dump();
  EXPECT_EQ(limits["limit"].value("cpu", ""), "0.5");
  EXPECT_EQ(limits["reserve"].value("memory", ""), "512m");
  ReleaseSpec v2 = Release(2, "two");  // no limits
  ASSERT_TRUE(rt_->PrepareRelease(v2, nullptr).ok());
  ASSERT_TRUE(Start("b", 2).ok());
  limits = AppState("shop")["resource"]["_default_"];
  EXPECT_FALSE(limits["limit"].contains("memory")) << limits.dump();
  EXPECT_FALSE(limits["reserve"].contains("cpu")) << limits.dump();
}

// The grace of a stop is the app's stop timeout on Dokku: the ps property
// since 0.36, the DOKKU_DOCKER_STOP_TIMEOUT config var on 0.35.
TEST_P(DokkuDouble, AStopsGraceBecomesDokkusStopTimeout) {
  ASSERT_TRUE(rt_->PrepareRelease(Release(1, "one"), nullptr).ok());
  ASSERT_TRUE(Start("a", 1).ok());
  ASSERT_TRUE(Start("b", 1).ok());
  ASSERT_TRUE(rt_->StopInstance("b", std::chrono::milliseconds(12500)).ok());
  const bool v38 = std::string(GetParam()) >= "0.38";
  if (v38) {
    json ps = json::parse(Dokku({"ps:report", "shop", "--format", "json"}).stdout_data);
    EXPECT_EQ(ps["stop-timeout-seconds"], "13");
    EXPECT_EQ(ps["computed-stop-timeout-seconds"], "13");
  } else {
    EXPECT_EQ(Config("shop")["DOKKU_DOCKER_STOP_TIMEOUT"], "13");
  }
  EXPECT_EQ(AppState("shop")["containers"].size(), 1u);
  // The same grace again: asked, not set.
  ASSERT_TRUE(Start("c", 1).ok());
  runner_->Clear();
  ASSERT_TRUE(rt_->StopInstance("c", seconds(13)).ok());
  for (const Args& c : runner_->calls()) {
    EXPECT_NE(c[0], "ps:set");
    EXPECT_NE(c[0], "config:set");
  }
  EXPECT_EQ(runner_->calls().back(), (Args{"ps:report", "shop", "--format", "json"}));
}

TEST_P(DokkuDouble, ServicesLinkWithSplitEnv) {
  ASSERT_TRUE(rt_->PrepareRelease(Release(1, "one"), nullptr).ok());
  ASSERT_TRUE(rt_->CreateService("postgres", "shopdb", false, nullptr).ok());
  ASSERT_TRUE(rt_->CreateService("postgres", "shopdb", false, nullptr).ok());  // already there
  ASSERT_TRUE(rt_->LinkService("postgres", "shopdb", "shop", "DB_", nullptr).ok());
  ASSERT_TRUE(rt_->LinkService("postgres", "shopdb", "shop", "DB_", nullptr).ok());
  json config = Config("shop");
  std::string url = config["DATABASE_URL"];
  EXPECT_TRUE(absl::StartsWith(url, "postgres://postgres:")) << url;
  EXPECT_EQ(config["DB_HOST"], "dokku-postgres-shopdb");
  EXPECT_EQ(config["DB_PORT"], "5432");
  EXPECT_EQ(config["DB_USER"], "postgres");
  EXPECT_EQ(config["DB_DATABASE"], "shopdb");
  EXPECT_EQ(url, "postgres://postgres:" + config["DB_PASSWORD"].get<std::string>() +
                     "@dokku-postgres-shopdb:5432/shopdb");
  EXPECT_FALSE(rt_->DestroyService("postgres", "shopdb", nullptr).ok());  // still linked
  ASSERT_TRUE(rt_->UnlinkService("postgres", "shopdb", "shop", "", nullptr).ok());
  ASSERT_TRUE(rt_->UnlinkService("postgres", "shopdb", "shop", "", nullptr).ok());
  EXPECT_EQ(Config("shop").count("DATABASE_URL"), 0u);
  ASSERT_TRUE(rt_->DestroyService("postgres", "shopdb", nullptr).ok());
  ASSERT_TRUE(rt_->DestroyService("postgres", "shopdb", nullptr).ok());
  EXPECT_EQ(rt_->CreateService("mongo", "x", false, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// dokku-mysql: mysql:link sets DATABASE_URL=mysql://mysql:PASSWORD@dokku-mysql-NAME:3306/NAME
// (the plugin's tests/service_link.bats), split like the postgres URL.
TEST_P(DokkuDouble, MysqlServiceLinksWithSplitEnv) {
  ASSERT_TRUE(rt_->PrepareRelease(Release(1, "one"), nullptr).ok());
  auto made = rt_->CreateService("mysql", "blogdb", false, nullptr);
  ASSERT_TRUE(made.ok()) << made.status();
  ASSERT_TRUE(rt_->LinkService("mysql", "blogdb", "shop", "DB_", nullptr).ok());
  json config = Config("shop");
  EXPECT_EQ(config["DB_HOST"], "dokku-mysql-blogdb");
  EXPECT_EQ(config["DB_PORT"], "3306");
  EXPECT_EQ(config["DB_USER"], "mysql");
  EXPECT_EQ(config["DB_DATABASE"], "blogdb");
  std::string password = config["DB_PASSWORD"];
  EXPECT_FALSE(password.empty());
  EXPECT_EQ(config["DATABASE_URL"],
            "mysql://mysql:" + password + "@dokku-mysql-blogdb:3306/blogdb");
  EXPECT_EQ(made->dsn, config["DATABASE_URL"]);
  ASSERT_TRUE(rt_->UnlinkService("mysql", "blogdb", "shop", "DB_", nullptr).ok());
  EXPECT_EQ(Config("shop").count("DATABASE_URL"), 0u);
  EXPECT_EQ(Config("shop").count("DB_HOST"), 0u);
  ASSERT_TRUE(rt_->DestroyService("mysql", "blogdb", nullptr).ok());
}

INSTANTIATE_TEST_SUITE_P(Versions, DokkuDouble, ::testing::Values("0.35.20", "0.38.27"));

TEST(DokkuDoubleVersion, TooOldIsRefused) {
  testing::TempDir tmp;
  DoubleRunner runner(tmp.path(), "0.34.9");
  auto rt = DokkuRuntime::Open({.data_dir = tmp.path(),
                                .server_name = "web-2",
                                .dokku_binary = FAKE_DOKKU_BIN,
                                .runner = &runner});
  EXPECT_EQ(rt.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(rt.status().message().find("0.34.9"), std::string::npos) << rt.status();
}

}  // namespace
}  // namespace dflow::agent
