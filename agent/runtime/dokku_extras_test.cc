// DokkuRuntime's extras and image deploys: the exact argv each operation sends
// (scripted runner), including what it asks before acting, and the refusals.
#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/escaping.h"
#include "agent/runtime/dokku_runtime.h"
#include "agent/runtime/dokku_test_support.h"
#include "agent/runtime/local_runtime.h"
#include "agent/runtime/runtime_test_support.h"

namespace dflow::agent {
namespace {

using std::chrono::seconds;
using testing::Args;
using testing::ScriptedRunner;

class DokkuExtrasArgv : public ::testing::Test {
 protected:
  void SetUp() override {
    runner_.On({"version"}, {.out = "dokku version 0.38.27\n"});
    runner_.On({"apps:exists"}, {.exit_code = 0});
    runner_.On({"config:export"}, {.out = "{}\n"});
    runner_.On({"ps:report"},
               {.out = R"js({"deployed":"true","status-web.1":"running (CID: 0123456789a)"})js"});
    runner_.On({"ports:report"}, {.out = R"js({"map":"","map-detected":"http:80:5000"})js"});
    runner_.On({"storage:list"}, {.out = "[]"});
    for (const char* ok :
         {"apps:create", "config:set", "config:unset", "ps:scale", "git:from-image", "ports:set",
          "storage:create", "storage:mount", "storage:unmount", "postgres:create",
          "postgres:expose", "postgres:link", "postgres:unlink"}) {
      runner_.On({ok}, {});
    }
    auto rt =
        DokkuRuntime::Open({.data_dir = tmp_.path(), .server_name = "web-2", .runner = &runner_});
    ASSERT_TRUE(rt.ok()) << rt.status();
    rt_ = std::move(*rt);
    runner_.Clear();
  }

  dflow::agent::testing::TempDir tmp_;
  ScriptedRunner runner_;
  std::unique_ptr<DokkuRuntime> rt_;
};

TEST_F(DokkuExtrasArgv, ImageDeployRunsGitFromImageWithThePinnedTag) {
  ReleaseSpec spec;
  spec.app = "shop";
  spec.version = 1;
  spec.env = {{"MODE", "x"}};
  spec.image = "nginx:1.27";
  ASSERT_TRUE(rt_->PrepareRelease(spec, nullptr).ok());
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"apps:exists", "shop"}}));
  auto types = rt_->Processes("shop", 1);
  ASSERT_TRUE(types.ok());
  EXPECT_EQ(types->count("web"), 1u);
  runner_.Clear();
  runner_.Once({"config:export"}, {.out = "{}\n"});
  runner_.Once({"config:export"}, {.out = R"js({"MODE":"x"})js"});
  auto st = rt_->StartInstance(
      {.id = "shop-web-1-1", .app = "shop", .process = "web", .release = 1}, seconds(60));
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"config:export", "--format", "json", "shop"},
                                                {"config:set", "--no-restart", "--encoded", "shop",
                                                 "MODE=" + absl::Base64Escape("x")},
                                                {"config:export", "--format", "json", "shop"},
                                                {"ps:scale", "--skip-deploy", "shop", "web=1"},
                                                {"git:from-image", "shop", "nginx:1.27"},
                                                {"ps:report", "shop", "--format", "json"},
                                                {"ports:report", "shop", "--format", "json"}}));
}

TEST_F(DokkuExtrasArgv, PortsAskFirstSetOnlyADifferenceAndReadBack) {
  runner_.Once({"ports:report"}, {.out = R"js({"map":""})js"});
  runner_.Once({"ports:report"}, {.out = R"js({"map":"http:80:5000 https:443:5000"})js"});
  ASSERT_TRUE(rt_->SetPorts("shop", {"http:80:5000", "https:443:5000"}, nullptr).ok());
  EXPECT_EQ(runner_.calls(),
            (std::vector<Args>{{"ports:report", "shop", "--format", "json"},
                               {"ports:set", "shop", "http:80:5000", "https:443:5000"},
                               {"ports:report", "shop", "--format", "json"}}));
  runner_.Clear();
  runner_.On({"ports:report"}, {.out = R"js({"map":"http:80:5000 https:443:5000"})js"});
  ASSERT_TRUE(rt_->SetPorts("shop", {"http:80:5000", "https:443:5000"}, nullptr).ok());
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"ports:report", "shop", "--format", "json"}}));
  // Dokku keeping something other than what was asked is an error, not silence.
  absl::Status s = rt_->SetPorts("shop", {"http:8080:5000"}, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("server web-2"), std::string::npos) << s;
}

// Dokku keeps the maps sorted and re-printed whatever order they came in
// (setPortMaps: sort.Strings, plugins/ports/functions.go @ v0.35.20 and
// @ v0.38.27): that is what the report is compared with, before and after.
TEST_F(DokkuExtrasArgv, PortsGivenUnsortedAreComparedAsDokkuStoresThem) {
  const std::string sorted =
      R"js({"map":"http:80:5000 https:443:5000","map-detected":"http:80:5000",)js"
      R"js("ports-map":"http:80:5000 https:443:5000","ports-map-detected":"http:80:5000"})js";
  runner_.Once({"ports:report"}, {.out = R"js({"map":"","ports-map":""})js"});
  runner_.Once({"ports:report"}, {.out = sorted});
  absl::Status s = rt_->SetPorts("shop", {"https:443:5000", "http:080:5000"}, nullptr);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(runner_.calls(),
            (std::vector<Args>{{"ports:report", "shop", "--format", "json"},
                               {"ports:set", "shop", "https:443:5000", "http:080:5000"},
                               {"ports:report", "shop", "--format", "json"}}));
  runner_.Clear();
  runner_.On({"ports:report"}, {.out = sorted});
  std::string said;
  ASSERT_TRUE(rt_->SetPorts("shop", {"https:443:5000", "http:80:5000"},
                            [&](const std::string& t) { said += t; })
                  .ok());
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"ports:report", "shop", "--format", "json"}}));
  EXPECT_EQ(said,
            "-----> ports of shop are http:80:5000 https:443:5000 already (nothing to change)\n");
}

TEST_F(DokkuExtrasArgv, StorageMountAndUnmountListFirstAndReadBack) {
  const std::string mounted =
      R"js([{"entry_name":"e","host_path":"/var/lib/dokku/data/storage/shop-data",)js"
      R"js("container_path":"/app/data"}])js";
  const Args list = {"storage:list", "shop", "--format", "json"};
  runner_.Once({"storage:list"}, {.out = "[]"});
  runner_.Once({"storage:list"}, {.out = mounted});
  ASSERT_TRUE(rt_->MountStorage("shop", "shop-data", "/app/data", "", nullptr).ok());
  const std::string bind = "/var/lib/dokku/data/storage/shop-data:/app/data";
  EXPECT_EQ(runner_.calls(),
            (std::vector<Args>{{"storage:create", "--chown", "herokuish", "shop-data"},
                               list,
                               {"storage:mount", "shop", bind},
                               list}));
  runner_.Clear();
  ASSERT_TRUE(rt_->UnmountStorage("shop", "shop-data", "/app/data", nullptr).ok());
  // Not mounted (the list says so): storage:unmount would exit 1, so nothing runs.
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{list}));
  runner_.Clear();
  runner_.Once({"storage:list"}, {.out = mounted});
  runner_.Once({"storage:list"}, {.out = "[]"});
  ASSERT_TRUE(rt_->UnmountStorage("shop", "shop-data", "/app/data", nullptr).ok());
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{list, {"storage:unmount", "shop", bind}, list}));
  // A mount Dokku does not list afterwards is an error.
  EXPECT_EQ(rt_->MountStorage("shop", "shop-data", "/app/data", "", nullptr).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(rt_->MountStorage("shop", "a;b", "/x", "", nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rt_->MountStorage("shop", "data", "relative", "", nullptr).code(),
            absl::StatusCode::kInvalidArgument);
}

// The owner is passed on every version, flags before the name: ensure-directory
// (< 0.38) chowns to herokuish unasked, storage:create (0.38+) not at all, so
// only an explicit --chown gives the same owner on both; "false" is
// ensure-directory's no-chown word and storage:create's missing flag.
TEST_F(DokkuExtrasArgv, StorageCreateSaysTheOwnerOnEveryVersion) {
  const std::string mounted =
      R"js([{"entry_name":"e","host_path":"/var/lib/dokku/data/storage/n8n-data",)js"
      R"js("container_path":"/home/node/.n8n"}])js";
  runner_.On({"storage:list"}, {.out = mounted});
  runner_.On({"storage:ensure-directory"}, {});
  struct Case {
    const char* version;
    const char* chown;
    Args create;
  };
  const Case cases[] = {
      {"0.35.20", "heroku", {"storage:ensure-directory", "--chown", "heroku", "n8n-data"}},
      {"0.35.20", "", {"storage:ensure-directory", "--chown", "herokuish", "n8n-data"}},
      {"0.35.20", "false", {"storage:ensure-directory", "--chown", "false", "n8n-data"}},
      {"0.38.27", "heroku", {"storage:create", "--chown", "heroku", "n8n-data"}},
      {"0.38.27", "root", {"storage:create", "--chown", "root", "n8n-data"}},
      {"0.38.27", "", {"storage:create", "--chown", "herokuish", "n8n-data"}},
      {"0.38.27", "false", {"storage:create", "n8n-data"}},
  };
  for (const Case& c : cases) {
    runner_.On({"version"}, {.out = std::string("dokku version ") + c.version + "\n"});
    auto rt =
        DokkuRuntime::Open({.data_dir = tmp_.path(), .server_name = "web-2", .runner = &runner_});
    ASSERT_TRUE(rt.ok()) << rt.status();
    runner_.Clear();
    ASSERT_TRUE((*rt)->MountStorage("n8n", "n8n-data", "/home/node/.n8n", c.chown, nullptr).ok());
    ASSERT_FALSE(runner_.calls().empty());
    EXPECT_EQ(runner_.calls()[0], c.create) << c.version << " " << c.chown;
  }
  // Before 0.38 Dokku's chown helper refuses uid 0: said before Dokku runs.
  runner_.On({"version"}, {.out = "dokku version 0.35.20\n"});
  auto old =
      DokkuRuntime::Open({.data_dir = tmp_.path(), .server_name = "web-2", .runner = &runner_});
  ASSERT_TRUE(old.ok()) << old.status();
  runner_.Clear();
  auto root = (*old)->MountStorage("n8n", "n8n-data", "/data", "root", nullptr);
  EXPECT_EQ(root.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(root.message().find("Dokku 0.35.20 on web-2 cannot give storage n8n-data to root"),
            std::string::npos)
      << root;
  EXPECT_TRUE(runner_.calls().empty());
  // A host path keeps its owner; an unknown owner never reaches Dokku.
  runner_.Clear();
  EXPECT_EQ(rt_->MountStorage("n8n", tmp_.path(), "/data", "heroku", nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  auto bad = rt_->MountStorage("n8n", "n8n-data", "/data", "node", nullptr);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("use herokuish (uid 32767, the default), heroku (1000)"),
            std::string::npos)
      << bad;
  EXPECT_TRUE(runner_.calls().empty());
}

// storage:mount and storage:unmount print nothing, and a check setting kept for
// the next deploy runs nothing: the operation's output says what happened
// instead of "nothing to change".
// The controller sends removals to every Dokku server the app may be on: where
// it is not, the first read exits 20, apps:exists confirms it, nothing is removed.
TEST_F(DokkuExtrasArgv, RemovalsWhereTheAppIsNotOnThisServerChangeNothing) {
  const testing::Reply missing{.exit_code = 20, .err = " !     App shop does not exist\n"};
  runner_.On({"domains:report"}, missing);
  runner_.On({"storage:list"}, missing);
  runner_.On({"certs:report"}, missing);
  runner_.On({"apps:exists"}, missing);
  std::string said;
  auto out = [&](const std::string& line) { said += line; };
  ASSERT_TRUE(rt_->RemoveDomain("shop", "www.shop.test", out).ok());
  ASSERT_TRUE(rt_->UnmountStorage("shop", "shop-data", "/app/data", out).ok());
  ASSERT_TRUE(rt_->RemoveCert("shop", out).ok());
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"domains:report", "shop", "--format", "json"},
                                                {"apps:exists", "shop"},
                                                {"storage:list", "shop", "--format", "json"},
                                                {"apps:exists", "shop"},
                                                {"certs:report", "shop", "--ssl-enabled"},
                                                {"apps:exists", "shop"}}));
  EXPECT_NE(said.find("shop does not exist on server web-2 (nothing to remove)"), std::string::npos)
      << said;

  // The app is there after all (exit 20 from something else): the error stays.
  runner_.Clear();
  runner_.On({"apps:exists"}, {.exit_code = 0});
  auto s = rt_->RemoveDomain("shop", "www.shop.test", nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"domains:report", "shop", "--format", "json"},
                                                {"apps:exists", "shop"}}));
}

TEST_F(DokkuExtrasArgv, SilentChangesAndSkippedOnesAreSaidInTheOutput) {
  std::string said;
  OutputFn out = [&](const std::string& text) { said += text; };
  std::filesystem::create_directories(tmp_.path() + "/d");
  const std::string host = tmp_.path() + "/d";
  const std::string listed =
      R"js([{"host_path":")js" + host + R"js(","container_path":"/app/d"}])js";
  runner_.Once({"storage:list"}, {.out = "[]"});
  runner_.Once({"storage:list"}, {.out = listed});
  ASSERT_TRUE(rt_->MountStorage("shop", host, "/app/d", "", out).ok());
  EXPECT_EQ(said, "-----> Mounted " + host +
                      " at /app/d in shop (it takes effect at the next deploy or restart)\n");
  said.clear();
  runner_.Once({"storage:list"}, {.out = listed});
  ASSERT_TRUE(rt_->MountStorage("shop", host, "/app/d", "", out).ok());
  EXPECT_EQ(said, "-----> " + host + " is mounted at /app/d in shop already (nothing to change)\n");
  said.clear();
  runner_.Once({"storage:list"}, {.out = listed});
  runner_.Once({"storage:list"}, {.out = "[]"});
  ASSERT_TRUE(rt_->UnmountStorage("shop", host, "/app/d", out).ok());
  EXPECT_EQ(said, "-----> Unmounted " + host +
                      " from /app/d in shop (the data stays; it takes effect at the next deploy "
                      "or restart)\n");
  said.clear();
  ASSERT_TRUE(rt_->SetCheck("shop", "wait", "5", out).ok());
  EXPECT_EQ(said,
            "-----> Check wait=5 of shop kept for the app.json of its next deploy "
            "(healthchecks.web)\n");
}

TEST_F(DokkuExtrasArgv, WaitToRetireIsAskedSetOnlyWhenDifferentAndReadBack) {
  const Args report = {"checks:report", "shop", "--format", "json"};
  runner_.On({"checks:set"}, {.out = "=====> Setting wait-to-retire to 30\n"});
  runner_.Once({"checks:report"}, {.out = R"js({"wait-to-retire":""})js"});
  runner_.Once({"checks:report"}, {.out = R"js({"wait-to-retire":"30"})js"});
  ASSERT_TRUE(rt_->SetCheck("shop", "wait-to-retire", "30", nullptr).ok());
  EXPECT_EQ(runner_.calls(),
            (std::vector<Args>{report, {"checks:set", "shop", "wait-to-retire", "30"}, report}));
  runner_.Clear();
  runner_.On({"checks:report"}, {.out = R"js({"wait-to-retire":"30"})js"});
  ASSERT_TRUE(rt_->SetCheck("shop", "wait-to-retire", "30", nullptr).ok());
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{report}));
  // Dokku keeping another value is an error naming the server and the app.
  absl::Status s = rt_->SetCheck("shop", "wait-to-retire", "45", nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.message(),
            "after the change Dokku on server web-2 reports wait-to-retire 30 for shop (asked: 45; "
            "checks:report); see `dokku` on that server");
  // wait, timeout and attempts go into the next deploy's app.json: no call.
  runner_.Clear();
  ASSERT_TRUE(rt_->SetCheck("shop", "attempts", "3", nullptr).ok());
  EXPECT_TRUE(runner_.calls().empty());
}

TEST_F(DokkuExtrasArgv, WaitToRetireIsUnsetWithNoValueOnlyWhenSetAndReadBack) {
  const Args report = {"checks:report", "shop", "--format", "json"};
  std::string said;
  auto out = [&](const std::string& s) { said += s; };
  runner_.On({"checks:set"}, {.out = "=====> Unsetting wait-to-retire\n"});
  runner_.Once({"checks:report"}, {.out = R"js({"wait-to-retire":"30"})js"});
  runner_.Once({"checks:report"}, {.out = R"js({"wait-to-retire":""})js"});
  ASSERT_TRUE(rt_->UnsetCheck("shop", "wait-to-retire", out).ok());
  // No value: Dokku unsets it (transcript 0.38.27 entry 135).
  EXPECT_EQ(runner_.calls(),
            (std::vector<Args>{report, {"checks:set", "shop", "wait-to-retire"}, report}));
  EXPECT_EQ(said, "=====> Unsetting wait-to-retire\n");
  // Unset already: asked only.
  runner_.Clear();
  said.clear();
  runner_.On({"checks:report"}, {.out = R"js({"wait-to-retire":""})js"});
  ASSERT_TRUE(rt_->UnsetCheck("shop", "wait-to-retire", out).ok());
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{report}));
  EXPECT_EQ(said, "-----> wait-to-retire of shop is not set (nothing to change)\n");
  // Dokku keeping a value is an error naming the server and the app.
  runner_.Clear();
  runner_.On({"checks:report"}, {.out = R"js({"wait-to-retire":"45"})js"});
  absl::Status s = rt_->UnsetCheck("shop", "wait-to-retire", nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.message(),
            "after the change Dokku on server web-2 reports wait-to-retire 45 for shop (asked: "
            "unset; checks:report); see `dokku` on that server");
  // wait, timeout and attempts leave the next deploy's app.json: no call.
  runner_.Clear();
  said.clear();
  ASSERT_TRUE(rt_->UnsetCheck("shop", "attempts", out).ok());
  EXPECT_TRUE(runner_.calls().empty());
  EXPECT_EQ(said,
            "-----> Check attempts of shop unset: the app.json of its next deploy goes without "
            "it\n");
  EXPECT_EQ(rt_->UnsetCheck("shop", "bogus", nullptr).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DokkuExtrasArgv, UnsetOfWaitToRetireWhereTheAppIsNotRemovesNothing) {
  runner_.On({"checks:report"}, {.exit_code = 20, .err = " !     App shop does not exist\n"});
  runner_.On({"apps:exists"}, {.exit_code = 20});
  std::string said;
  ASSERT_TRUE(
      rt_->UnsetCheck("shop", "wait-to-retire", [&](const std::string& s) { said += s; }).ok());
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"checks:report", "shop", "--format", "json"},
                                                {"apps:exists", "shop"}}));
  EXPECT_EQ(said, "-----> shop does not exist on server web-2 (nothing to remove)\n");
}

TEST(DokkuChecks035, WaitToRetireIsReadFromTheBashReport) {
  dflow::agent::testing::TempDir tmp;
  ScriptedRunner runner;
  runner.On({"version"}, {.out = "dokku version 0.35.20\n"});
  runner.On({"checks:set"}, {});
  // v0.35.20 plugins/checks/internal-functions: printf "%-30s %-25s" lines.
  runner.Once({"checks:report"},
              {.out = "=====> shop checks information\n"
                      "       Checks wait to retire:                                  \n"});
  runner.Once({"checks:report"},
              {.out = "=====> shop checks information\n"
                      "       Checks wait to retire:         30                       \n"});
  auto rt = DokkuRuntime::Open({.data_dir = tmp.path(), .server_name = "web-2", .runner = &runner});
  ASSERT_TRUE(rt.ok()) << rt.status();
  ASSERT_TRUE((*rt)->SetCheck("shop", "wait-to-retire", "30", nullptr).ok());
  EXPECT_EQ(runner.calls(), (std::vector<Args>{{"version"},
                                               {"checks:report", "shop"},
                                               {"checks:set", "shop", "wait-to-retire", "30"},
                                               {"checks:report", "shop"}}));
}

TEST(DokkuChecks035, WaitToRetireIsUnsetAfterTheBashReportShowsIt) {
  dflow::agent::testing::TempDir tmp;
  ScriptedRunner runner;
  runner.On({"version"}, {.out = "dokku version 0.35.20\n"});
  runner.On({"checks:set"}, {.out = "=====> Unsetting wait-to-retire\n"});
  runner.Once({"checks:report"},
              {.out = "=====> shop checks information\n"
                      "       Checks wait to retire:         30                       \n"});
  runner.Once({"checks:report"},
              {.out = "=====> shop checks information\n"
                      "       Checks wait to retire:                                  \n"});
  auto rt = DokkuRuntime::Open({.data_dir = tmp.path(), .server_name = "web-2", .runner = &runner});
  ASSERT_TRUE(rt.ok()) << rt.status();
  ASSERT_TRUE((*rt)->UnsetCheck("shop", "wait-to-retire", nullptr).ok());
  EXPECT_EQ(runner.calls(), (std::vector<Args>{{"version"},
                                               {"checks:report", "shop"},
                                               {"checks:set", "shop", "wait-to-retire"},
                                               {"checks:report", "shop"}}));
}

TEST_F(DokkuExtrasArgv, ExposedServiceIsCreatedExposedAndReportsItsPort) {
  runner_.Once({"postgres:exists"},
               {.exit_code = 1, .err = " !     Postgres service db does not exist\n"});
  runner_.Once({"postgres:info", "db", "--exposed-ports"}, {.out = "-\n"});
  runner_.On({"postgres:info", "db", "--exposed-ports"}, {.out = "5432->31234 \n"});
  runner_.On({"postgres:info", "db", "--dsn"},
             {.out = "postgres://postgres:pw@dokku-postgres-db:5432/db\n"});
  // What the plugin prints: its service_info report, the Dsn with the password.
  runner_.On({"postgres:create"},
             {.out = "=====> Postgres container created: db\n=====> db postgres service "
                     "information\n       Dsn:                 "
                     "postgres://postgres:pw@dokku-postgres-db:5432/db\n"});
  std::string printed;
  auto info =
      rt_->CreateService("postgres", "db", true, [&](const std::string& text) { printed += text; });
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(printed.find(":pw@"), std::string::npos) << printed;
  EXPECT_NE(printed.find("postgres://postgres:(password not shown)@dokku-postgres-db"),
            std::string::npos)
      << printed;
  EXPECT_EQ(info->exposed_port, 31234);
  EXPECT_EQ(info->dsn, "postgres://postgres:pw@dokku-postgres-db:5432/db");
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"postgres:exists", "db"},
                                                {"postgres:create", "db"},
                                                {"postgres:info", "db", "--exposed-ports"},
                                                {"postgres:expose", "db"},
                                                {"postgres:info", "db", "--exposed-ports"},
                                                {"postgres:info", "db", "--dsn"}}));
  EXPECT_EQ(rt_->CreateService("postgres", "bad-name", false, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);  // the plugins allow [A-Za-z0-9_] only
}

TEST_F(DokkuExtrasArgv, GetServiceOnlyAsksAndAMissingOneIsNotFound) {
  runner_.On({"postgres:exists"}, {});
  runner_.On({"postgres:info", "db", "--exposed-ports"}, {.out = "-\n"});
  runner_.On({"postgres:info", "db", "--dsn"},
             {.out = "postgres://postgres:pw@dokku-postgres-db:5432/db\n"});
  auto info = rt_->GetService("postgres", "db");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->dsn, "postgres://postgres:pw@dokku-postgres-db:5432/db");
  EXPECT_EQ(info->exposed_port, 0);
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"postgres:exists", "db"},
                                                {"postgres:info", "db", "--exposed-ports"},
                                                {"postgres:info", "db", "--dsn"}}));
  runner_.On({"postgres:exists"},
             {.exit_code = 1, .err = " !     Postgres service db does not exist\n"});
  auto missing = rt_->GetService("postgres", "db");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "postgres service db does not exist on server web-2 (postgres:exists)");
}

TEST_F(DokkuExtrasArgv, DestroyServiceAsksFirstAndReadsBack) {
  runner_.On({"postgres:exists"}, {});
  runner_.On({"postgres:destroy"}, {.out = "=====> Deleting db\n"});
  runner_.Once({"postgres:exists"}, {});
  runner_.Once({"postgres:exists"},
               {.exit_code = 1, .err = " !     Postgres service db does not exist\n"});
  ASSERT_TRUE(rt_->DestroyService("postgres", "db", nullptr).ok());
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"postgres:exists", "db"},
                                                {"postgres:destroy", "db", "-f"},
                                                {"postgres:exists", "db"}}));
  // KIND:destroy said yes, KIND:exists still finds it: an error naming the server.
  absl::Status s = rt_->DestroyService("postgres", "db", nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.message(),
            "after the change Dokku on server web-2 reports postgres service db still there; see "
            "`dokku` on that server");
}

TEST_F(DokkuExtrasArgv, LinkWithSplitEnvSetsVariablesFirstUnlinkUnsetsThem) {
  runner_.Once({"postgres:info", "db", "--links"}, {.out = "\n"});
  runner_.Once({"postgres:info", "db", "--links"}, {.out = "shop\n"});
  runner_.On({"postgres:info", "db", "--dsn"}, {.out = "postgres://u:p%40ss@h:5432/db\n"});
  ASSERT_TRUE(rt_->LinkService("postgres", "db", "shop", "DB_", nullptr).ok());
  auto b = [](const char* s) { return absl::Base64Escape(s); };
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"postgres:info", "db", "--links"},
                                                {"postgres:info", "db", "--dsn"},
                                                {"config:set", "--no-restart", "--encoded", "shop",
                                                 "DB_DATABASE=" + b("db"), "DB_HOST=" + b("h"),
                                                 "DB_PASSWORD=" + b("p%40ss"),
                                                 "DB_PORT=" + b("5432"), "DB_USER=" + b("u")},
                                                {"postgres:link", "db", "shop"},
                                                {"postgres:info", "db", "--links"}}));
  runner_.Clear();
  runner_.On({"config:export"}, {.out = R"js({"DB_HOST":"h","DB_PORT":"5432","OTHER":"1"})js"});
  runner_.Once({"postgres:info", "db", "--links"}, {.out = "shop\n"});
  runner_.Once({"postgres:info", "db", "--links"}, {.out = "other\n"});
  ASSERT_TRUE(rt_->UnlinkService("postgres", "db", "shop", "DB_", nullptr).ok());
  EXPECT_EQ(runner_.calls(),
            (std::vector<Args>{{"config:export", "--format", "json", "shop"},
                               {"config:unset", "--no-restart", "shop", "DB_HOST", "DB_PORT"},
                               {"postgres:info", "db", "--links"},
                               {"postgres:unlink", "db", "shop"},
                               {"postgres:info", "db", "--links"}}));
  EXPECT_EQ(rt_->LinkService("postgres", "db", "shop", "db_", nullptr).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DokkuExtrasArgv, OneOffOfAReleaseDokkuDoesNotRunIsRefusedBeforeAnyCall) {
  auto code = rt_->RunOneOff("shop", 3, {"true"}, seconds(5), nullptr);
  EXPECT_EQ(code.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(code.status().message().find("not deployed on server web-2"), std::string::npos)
      << code.status();
  EXPECT_TRUE(runner_.calls().empty());
}

TEST(LocalRuntimeExtras, RefusesWhatOnlyDokkuHas) {
  dflow::agent::testing::TempDir tmp;
  LocalRuntimeOptions options;
  options.data_dir = tmp.path();
  auto opened = LocalRuntime::Open(std::move(options));
  ASSERT_TRUE(opened.ok()) << opened.status();
  Runtime& rt = **opened;
  EXPECT_EQ(rt.SetPorts("shop", {"http:80:5000"}, nullptr).code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(rt.CreateService("postgres", "db", false, nullptr).status().code(),
            absl::StatusCode::kUnimplemented);
  ReleaseSpec image;
  image.app = "shop";
  image.version = 1;
  image.image = "nginx:1.27";
  EXPECT_EQ(rt.PrepareRelease(image, nullptr).code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace dflow::agent
