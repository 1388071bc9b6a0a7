// End to end: theme installs across controller crashes (LocalRuntime). The
// controller dies mid-deploy (an op crash point) or between the writes of an
// install (DFLOW_TEST_CRASH_AT=theme-install:N:after-commit: 0 the record, 1
// the app, 2 the deploy op before its id is saved); the restarted one never
// leaves the install "installing": it adopts the op or undoes what was made.
// Upgrades the same way (3 the record and new config, 4 the deploy op): the
// old config is put back, or the adopted deploy finishes the upgrade.
#include <signal.h>

#include "tests/e2e/themes_fixture.h"

namespace dflow::testing {
namespace {

using std::chrono::seconds;

class ThemesCrashE2E : public ThemesE2E {
 protected:
  // Restarts the controller with `point`, starts an install of statuspage as
  // `app` (the CLI loses the controller), waits for the crash, restarts it.
  void InstallThroughCrash(const std::string& point, const std::string& app) {
    fleet_->StopController(SIGTERM);
    fleet_->SpawnController({{"DFLOW_TEST_CRASH_AT", point}});
    ASSERT_TRUE(WaitFor([&] { return Cli({"status"}).exit_code == 0; }, seconds(30)));
    (void)Cli({"themes", "install", "statuspage", "--app", app, "--detach"});
    ASSERT_TRUE(WaitFor([&] { return !fleet_->controller().Running(); }, seconds(60)))
        << fleet_->controller().Log();
    EXPECT_EQ(fleet_->controller().Wait(seconds(5)), 137) << fleet_->controller().Log();
    fleet_->StartController();
    ASSERT_TRUE(WaitFor([&] { return Cli({"status"}).exit_code == 0; }, seconds(30)));
  }

  // Waits for the install record's state; "" once there is no record.
  bool WaitState(const std::string& app, const std::string& state) {
    return WaitFor(
        [&] {
          auto r = Cli({"themes", "secrets", app, "--json"});
          if (state.empty()) return r.exit_code != 0;
          auto j = nlohmann::json::parse(r.out, nullptr, false);
          return j.is_object() && j.value("state", "") == state;
        },
        seconds(60));
  }
};

TEST_F(ThemesCrashE2E, InstallSurvivesAControllerCrashMidDeploy) {
  // The controller dies between the agent starting the new instance and the
  // commit of that step; the restarted one resumes the deploy and finishes
  // the install (the supervisor reads the install record from the store).
  fleet_->StopController(SIGTERM);
  fleet_->SpawnController({{"DFLOW_TEST_CRASH_AT", "deploy:3:after-rpc"}});
  ASSERT_TRUE(WaitFor([&] { return Cli({"status"}).exit_code == 0; }, seconds(30)));
  (void)Cli({"themes", "install", "statuspage", "--app", "status", "--detach"});
  ASSERT_TRUE(WaitFor([&] { return !fleet_->controller().Running(); }, seconds(60)))
      << fleet_->controller().Log();
  EXPECT_EQ(fleet_->controller().Wait(seconds(5)), 137) << fleet_->controller().Log();
  fleet_->StartController();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto j = Json({"themes", "secrets", "status", "--json"});
        return j.is_object() && j.value("state", "") == "installed";
      },
      seconds(60)))
      << Json({"themes", "secrets", "status", "--json"}).dump() << fleet_->controller().Log();
  ASSERT_TRUE(WaitSettled("status", 1)) << Ps("status").dump();
  EXPECT_TRUE(Contains(HttpGet(StatusPort("status")), "System status"));
  std::string token = Reveal("status", "admin_token");
  ASSERT_EQ(token.size(), 32u);
  auto env = Cli({"run", "status", "--", "python3", "-c",
                  "import os; print('token=' + os.environ['STATUS_ADMIN_TOKEN'])"});
  EXPECT_TRUE(Contains(env.out, "token=" + token)) << env.out << env.err;
}

TEST_F(ThemesCrashE2E, CrashBeforeTheAppIsCreatedEndsRolledBack) {
  InstallThroughCrash("theme-install:0:after-commit", "early");
  ASSERT_TRUE(WaitState("early", "rolled_back"))
      << Cli({"themes", "secrets", "early", "--json"}).out << fleet_->controller().Log();
  auto j = Json({"themes", "secrets", "early", "--json"});
  EXPECT_TRUE(j["secrets"].empty()) << j.dump();
  EXPECT_TRUE(Contains(j.value("error", ""), "the controller stopped before")) << j.dump();
  EXPECT_NE(Cli({"apps", "show", "early"}).exit_code, 0);
  // Nothing is left in the way of a new install.
  CliOk({"themes", "install", "statuspage", "--app", "early"});
  ASSERT_TRUE(WaitSettled("early", 1));
}

TEST_F(ThemesCrashE2E, CrashBeforeTheDeployIsSubmittedUndoesTheApp) {
  InstallThroughCrash("theme-install:1:after-commit", "middle");
  ASSERT_TRUE(WaitState("middle", "rolled_back"))
      << Cli({"themes", "secrets", "middle", "--json"}).out << fleet_->controller().Log();
  EXPECT_TRUE(AppGone("middle")) << fleet_->controller().Log();
  EXPECT_TRUE(Json({"themes", "secrets", "middle", "--json"})["secrets"].empty());
}

TEST_F(ThemesCrashE2E, CrashBeforeTheOpIdIsSavedAdoptsTheDeploy) {
  InstallThroughCrash("theme-install:2:after-commit", "late");
  ASSERT_TRUE(WaitState("late", "installed"))
      << Cli({"themes", "secrets", "late", "--json"}).out << fleet_->controller().Log();
  ASSERT_TRUE(WaitSettled("late", 1)) << Ps("late").dump();
  EXPECT_TRUE(Contains(HttpGet(StatusPort("late")), "System status"));
  EXPECT_EQ(Reveal("late", "admin_token").size(), 32u);
  EXPECT_TRUE(Contains(fleet_->controller().Log(), "adopted")) << fleet_->controller().Log();
}

class ThemesUpgradeCrashE2E : public ThemesCrashE2E {
 protected:
  // shelf 1.0.0 installed and serving, 2.0.0 in the catalog.
  void SetUp() override {
    ThemesCrashE2E::SetUp();
    dir_ = tmp_.path() + "/shelf";
    WriteShelf(dir_, "1.0.0", "hello", "  GREETING: \"shelf one\"\n  KEY: \"{{ secrets.key }}\"\n");
    CliOk({"themes", "add", dir_});
    CliOk({"themes", "install", "shelf", "--app", "shelf"});
    ASSERT_TRUE(WaitSettled("shelf", 1)) << Ps("shelf").dump();
    before_ = Json({"config", "ls", "shelf", "--json"});
    WriteShelf(dir_, "2.0.0", "hello",
               "  GREETING: \"shelf two\"\n  KEY: \"{{ secrets.key }}\"\n  NEW_KEY: added\n");
    CliOk({"themes", "add", dir_});
  }
  // Restarts the controller with `point`, starts the upgrade, waits for the
  // crash, restarts it.
  void UpgradeThroughCrash(const std::string& point) {
    fleet_->StopController(SIGTERM);
    fleet_->SpawnController({{"DFLOW_TEST_CRASH_AT", point}});
    ASSERT_TRUE(WaitFor([&] { return Cli({"status"}).exit_code == 0; }, seconds(30)));
    (void)Cli({"themes", "upgrade", "shelf", "--detach"});
    ASSERT_TRUE(WaitFor([&] { return !fleet_->controller().Running(); }, seconds(60)))
        << fleet_->controller().Log();
    EXPECT_EQ(fleet_->controller().Wait(seconds(5)), 137) << fleet_->controller().Log();
    fleet_->StartController();
    ASSERT_TRUE(WaitFor([&] { return Cli({"status"}).exit_code == 0; }, seconds(30)));
  }

  std::string dir_;
  nlohmann::json before_;
};

TEST_F(ThemesUpgradeCrashE2E, CrashBeforeTheUpgradeDeployPutsTheOldConfigBack) {
  UpgradeThroughCrash("theme-install:3:after-commit");
  ASSERT_TRUE(WaitState("shelf", "installed")) << fleet_->controller().Log();
  auto record = Json({"themes", "secrets", "shelf", "--json"});
  EXPECT_EQ(record.value("version", ""), "1.0.0") << record.dump();
  EXPECT_TRUE(Contains(record.value("error", ""), "the upgrade did not start")) << record.dump();
  EXPECT_EQ(Json({"config", "ls", "shelf", "--json"}), before_);
  EXPECT_TRUE(AllAnswer("shelf", "shelf one"));
  // It can be run again.
  CliOk({"themes", "upgrade", "shelf"});
  ASSERT_TRUE(WaitFor([&] { return AllAnswer("shelf", "shelf two"); }, seconds(30)));
  EXPECT_EQ(Json({"themes", "secrets", "shelf", "--json"}).value("version", ""), "2.0.0");
}

TEST_F(ThemesUpgradeCrashE2E, CrashBeforeTheUpgradeOpIdIsSavedAdoptsTheDeploy) {
  UpgradeThroughCrash("theme-install:4:after-commit");
  ASSERT_TRUE(WaitFor(
      [&] {
        auto j = Json({"themes", "secrets", "shelf", "--json"});
        return j.is_object() && j.value("state", "") == "installed" &&
               j.value("version", "") == "2.0.0";
      },
      seconds(60)))
      << Json({"themes", "secrets", "shelf", "--json"}).dump() << fleet_->controller().Log();
  EXPECT_TRUE(WaitFor([&] { return AllAnswer("shelf", "shelf two"); }, seconds(30)));
  EXPECT_EQ(Json({"config", "ls", "shelf", "--json"}).value("NEW_KEY", ""), "added");
}

}  // namespace
}  // namespace dflow::testing
