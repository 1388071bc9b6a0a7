// End to end on Dokku: a setting removed while the app runs nowhere (scaled to
// 0) still leaves Dokku (`domains rm`, `storage unmount`, `services unlink`),
// and a later deploy,
// which only adds the stored settings, does not bring it back. Checked through
// the test double's own CLI (domains:report, storage:list, checks:report), as
// Dokku 0.35.20 and 0.38.27. `checks unset` of wait-to-retire likewise.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/e2e/dokku_fixture.h"
#include "tests/e2e/harness.h"

namespace dflow::testing {
namespace {

using std::chrono::seconds;

class DokkuSettingsE2E : public DokkuE2EBase<::testing::TestWithParam<const char*>> {
 protected:
  void SetUp() override { StartControllerAndDouble(); }

  std::map<std::string, std::string> DokkuEnv() { return DokkuE2EBase::DokkuEnv(GetParam()); }

  // What the double holds, through its own CLI.
  std::string Vhosts() {
    return RunProgram({FAKE_DOKKU_BIN, "domains:report", "shop", "--domains-app-vhosts"},
                      DokkuEnv())
        .out;
  }
  std::string Mounts() {
    return RunProgram({FAKE_DOKKU_BIN, "storage:list", "shop"}, DokkuEnv()).out;
  }
  size_t Instances() {
    auto r = fleet_->Cli({"ps", "shop", "--json"});
    auto ps = nlohmann::json::parse(r.out, nullptr, false);
    return r.exit_code == 0 && ps.is_array() ? ps.size() : 99;
  }

  void StartAgent() { StartDokkuAgent(GetParam()); }
};

TEST_P(DokkuSettingsE2E, RemovedWhileScaledToZeroStaysRemovedAfterTheNextDeploy) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const std::string hello = std::string(DFLOW_EXAMPLES_DIR) + "/hello";
  CliOk({"apps", "create", "shop", "--health-path", "/health"});
  CliOk({"deploy", "shop", "--path", hello});
  CliOk({"domains", "add", "shop", "www.shop.test"});
  CliOk({"domains", "add", "shop", "api.shop.test"});
  CliOk({"storage", "mount", "shop", "shop-data:/app/data"});
  CliOk({"deploy", "shop", "--path", hello});
  auto has = [](const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
  };
  ASSERT_TRUE(
      WaitFor([&] { return has(Vhosts(), "www.shop.test") && has(Vhosts(), "api"); }, seconds(30)))
      << Vhosts();
  ASSERT_TRUE(WaitFor([&] { return Mounts().find("/app/data") != std::string::npos; }, seconds(30)))
      << Mounts();

  CliOk({"scale", "shop", "web=0"});
  ASSERT_TRUE(WaitFor([&] { return Instances() == 0; }, seconds(30))) << agent_.Log();
  CliOk({"domains", "rm", "shop", "www.shop.test"});
  CliOk({"storage", "unmount", "shop", "/app/data"});
  ASSERT_TRUE(WaitFor([&] { return Vhosts() == "api.shop.test\n"; }, seconds(30)))
      << Vhosts() << agent_.Log();
  ASSERT_TRUE(WaitFor([&] { return Mounts().find("/app/data") == std::string::npos; }, seconds(30)))
      << Mounts() << agent_.Log();

  CliOk({"scale", "shop", "web=1"});
  CliOk({"deploy", "shop", "--path", hello});
  ASSERT_TRUE(WaitFor([&] { return Instances() == 1; }, seconds(30))) << agent_.Log();
  EXPECT_EQ(Vhosts(), "api.shop.test\n");
  EXPECT_EQ(Mounts().find("/app/data"), std::string::npos) << Mounts();
}

TEST_P(DokkuSettingsE2E, UnlinkedWhileScaledToZeroStaysUnlinkedAfterTheNextDeploy) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const std::string hello = std::string(DFLOW_EXAMPLES_DIR) + "/hello";
  CliOk({"services", "create", "postgres", "db"});
  CliOk({"apps", "create", "shop", "--health-path", "/health"});
  CliOk({"services", "link", "db", "shop", "--split-env", "DB_"});
  CliOk({"deploy", "shop", "--path", hello});
  auto links = [&] {
    return RunProgram({FAKE_DOKKU_BIN, "postgres:info", "db", "--links"}, DokkuEnv()).out;
  };
  auto env = [&] { return RunProgram({FAKE_DOKKU_BIN, "config:keys", "shop"}, DokkuEnv()).out; };
  ASSERT_TRUE(WaitFor([&] { return links().find("shop") != std::string::npos; }, seconds(30)))
      << links();

  CliOk({"scale", "shop", "web=0"});
  ASSERT_TRUE(WaitFor([&] { return Instances() == 0; }, seconds(30))) << agent_.Log();
  CliOk({"services", "unlink", "db", "shop"});
  ASSERT_TRUE(WaitFor([&] { return links().find("shop") == std::string::npos; }, seconds(30)))
      << links() << agent_.Log();

  CliOk({"scale", "shop", "web=1"});
  CliOk({"deploy", "shop", "--path", hello});
  ASSERT_TRUE(WaitFor([&] { return Instances() == 1; }, seconds(30))) << agent_.Log();
  EXPECT_EQ(links().find("shop"), std::string::npos) << links();
  EXPECT_EQ(env().find("DATABASE_URL"), std::string::npos) << env();
  EXPECT_EQ(env().find("DB_HOST"), std::string::npos) << env();
}

// `checks unset APP wait-to-retire`: `dokku checks:set APP wait-to-retire`
// with no value (transcript 0.38.27 entry 135), also while the app runs
// nowhere; a later deploy does not set it again.
TEST_P(DokkuSettingsE2E, WaitToRetireUnsetLeavesDokkuAndStaysUnsetAfterTheNextDeploy) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const std::string hello = std::string(DFLOW_EXAMPLES_DIR) + "/hello";
  CliOk({"apps", "create", "shop", "--health-path", "/health"});
  CliOk({"deploy", "shop", "--path", hello});
  // The app's own wait-to-retire ("" when unset: 0.38 prints an empty line,
  // 0.35's bash report exits 1 for an empty value).
  auto retire = [&] {
    std::string v =
        RunProgram({FAKE_DOKKU_BIN, "checks:report", "shop", "--checks-wait-to-retire"}, DokkuEnv())
            .out;
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
  };
  auto ran = [&](const std::vector<std::string>& argv, size_t from) {
    std::ifstream in(state_ + "/argv.log");
    std::string line;
    for (size_t n = 0; std::getline(in, line); ++n) {
      auto entry = nlohmann::json::parse(line, nullptr, false);
      if (n < from || !entry.is_object()) continue;
      std::vector<std::string> got(entry["argv"].begin() + 1, entry["argv"].end());
      if (got == argv) return true;
    }
    return false;
  };
  auto log_lines = [&] {
    std::ifstream in(state_ + "/argv.log");
    size_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  };
  CliOk({"checks", "set", "shop", "wait-to-retire", "30"});
  ASSERT_TRUE(WaitFor([&] { return retire() == "30"; }, seconds(30))) << retire();

  CliOk({"scale", "shop", "web=0"});
  ASSERT_TRUE(WaitFor([&] { return Instances() == 0; }, seconds(30))) << agent_.Log();
  size_t mark = log_lines();
  std::string out = CliOk({"checks", "unset", "shop", "wait-to-retire"});
  EXPECT_NE(out.find("=====> Unsetting wait-to-retire"), std::string::npos) << out;
  EXPECT_TRUE(ran({"checks:set", "shop", "wait-to-retire"}, mark)) << agent_.Log();
  EXPECT_EQ(retire(), "");
  auto checks = nlohmann::json::parse(CliOk({"checks", "ls", "shop", "--json"}), nullptr, false);
  ASSERT_TRUE(checks.is_object()) << checks;
  EXPECT_FALSE(checks["checks"].contains("wait-to-retire")) << checks.dump();
  // Not set any more: an error, as `storage unmount` of what is not mounted.
  auto again = fleet_->Cli({"checks", "unset", "shop", "wait-to-retire"});
  EXPECT_EQ(again.exit_code, 1) << again.out << again.err;
  EXPECT_NE(again.err.find("check wait-to-retire of app shop is not set; see `dflow checks ls "
                           "shop`"),
            std::string::npos)
      << again.err;
  auto bogus = fleet_->Cli({"checks", "unset", "shop", "bogus"});
  EXPECT_EQ(bogus.exit_code, 2) << bogus.out << bogus.err;
  EXPECT_NE(bogus.err.find("use wait, timeout, attempts or wait-to-retire"), std::string::npos)
      << bogus.err;

  // wait, timeout, attempts: gone from the next deploy's app.json, said so.
  CliOk({"checks", "set", "shop", "wait", "5"});
  out = CliOk({"checks", "unset", "shop", "wait"});
  EXPECT_NE(out.find("Check wait of shop unset: the app.json of its next deploy goes without it"),
            std::string::npos)
      << out;

  mark = log_lines();
  CliOk({"scale", "shop", "web=1"});
  CliOk({"deploy", "shop", "--path", hello});
  ASSERT_TRUE(WaitFor([&] { return Instances() == 1; }, seconds(30))) << agent_.Log();
  EXPECT_EQ(retire(), "");
  EXPECT_FALSE(ran({"checks:set", "shop", "wait-to-retire", "30"}, mark)) << agent_.Log();
}

// `storage mount --chown`: the same owner on 0.35 (storage:ensure-directory,
// which chowns to herokuish unasked) and 0.38 (storage:create, which chowns
// only when told), herokuish when none is given, and a mount again with
// another owner re-chowns. Seen in the double's ownership model and `storage ls`.
TEST_P(DokkuSettingsE2E, StorageOwnerIsTheSameOnEveryDokkuVersion) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  auto owner = [&](const std::string& name) -> std::string {
    std::ifstream in(state_ + "/state.json");
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_object() || !j.contains("global")) return "";
    return j["global"].value("storage_owners", nlohmann::json::object()).value(name, "");
  };
  const std::string hello = std::string(DFLOW_EXAMPLES_DIR) + "/hello";
  CliOk({"apps", "create", "shop", "--health-path", "/health"});
  CliOk({"deploy", "shop", "--path", hello});
  CliOk({"storage", "mount", "shop", "shop-home:/home/node", "--chown", "heroku"});
  CliOk({"storage", "mount", "shop", "shop-data:/app/data"});
  ASSERT_TRUE(WaitFor([&] { return owner("shop-home") == "1000" && owner("shop-data") == "32767"; },
                      seconds(30)))
      << owner("shop-home") << " " << owner("shop-data") << agent_.Log();
  const std::string create =
      std::string(GetParam()) >= "0.38" ? "storage:create" : "storage:ensure-directory";
  std::ifstream log(state_ + "/argv.log");
  std::string all((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find("\"" + create + "\",\"--chown\",\"heroku\",\"shop-home\""), std::string::npos)
      << all;
  EXPECT_NE(all.find("\"" + create + "\",\"--chown\",\"herokuish\",\"shop-data\""),
            std::string::npos)
      << all;

  auto ls = Json({"storage", "ls", "shop", "--json"});
  ASSERT_EQ(ls["storage"].size(), 2u) << ls.dump();
  EXPECT_EQ(ls["storage"][0].value("container_dir", ""), "/app/data") << ls.dump();
  EXPECT_EQ(ls["storage"][0].value("chown", ""), "herokuish") << ls.dump();
  EXPECT_EQ(ls["storage"][1].value("chown", ""), "heroku") << ls.dump();
  EXPECT_NE(CliOk({"storage", "ls", "shop"}).find("heroku"), std::string::npos);

  // Mounting again with another owner re-chowns it.
  CliOk({"storage", "mount", "shop", "shop-data:/app/data", "--chown", "paketo"});
  ASSERT_TRUE(WaitFor([&] { return owner("shop-data") == "2000"; }, seconds(30)))
      << owner("shop-data") << agent_.Log();
  EXPECT_EQ(Json({"storage", "ls", "shop", "--json"})["storage"][0].value("chown", ""), "paketo");

  // A host path keeps its owner: --chown is refused before anything runs.
  std::filesystem::create_directories(tmp_.path() + "/host");
  auto refused =
      fleet_->Cli({"storage", "mount", "shop", tmp_.path() + "/host:/srv", "--chown", "heroku"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("--chown is for a named storage only"), std::string::npos)
      << refused.err;

  // root: Dokku 0.38 takes it; before, the controller refuses it from the
  // version in the server's heartbeat, and nothing is saved.
  auto root = fleet_->Cli({"storage", "mount", "shop", "shop-root:/srv", "--chown", "root"});
  if (std::string(GetParam()) >= "0.38") {
    EXPECT_EQ(root.exit_code, 0) << root.err;
    ASSERT_TRUE(WaitFor([&] { return owner("shop-root") == "0"; }, seconds(30)))
        << owner("shop-root") << agent_.Log();
  } else {
    EXPECT_EQ(root.exit_code, 1);
    EXPECT_NE(root.err.find("Dokku 0.35.20 on dokku-1 cannot give storage shop-root to root"),
              std::string::npos)
        << root.err;
    EXPECT_EQ(Json({"storage", "ls", "shop", "--json"})["storage"].size(), 2u);
    EXPECT_EQ(owner("shop-root"), "");
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, DokkuSettingsE2E, ::testing::Values("0.35.20", "0.38.27"));

}  // namespace
}  // namespace dflow::testing
