// Behaviour of the double beyond the transcript: per-version formats, the
// godotenv quirks, deploys, run, services, the argv log.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/fakes/fake_dokku_test_support.h"

namespace fake_dokku::testing {
namespace {

class FakeDokku : public ::testing::Test {
 protected:
  void SetUp() override { state_.SetGlobalVhost("dokku.me"); }
  dflow::ProcessResult Run(std::vector<std::string> args, const std::string& version = "0.38.27",
                           const std::string& stdin_data = "") {
    args.insert(args.begin(), FAKE_DOKKU_BIN);
    return RunDouble(args, state_.Env(version), stdin_data);
  }
  // A tar.gz of `files`, made with tar.
  std::string Archive(const std::map<std::string, std::string>& files) {
    std::string dir = state_.path() + "/src-" + std::to_string(++archives_);
    std::filesystem::create_directories(dir);
    for (const auto& [name, text] : files) std::ofstream(dir + "/" + name) << text;
    return RunDouble({"tar", "-czf", "-", "-C", dir, "."}, state_.Env("0.38.27")).stdout_data;
  }
  void Deploy(const std::string& app, const std::string& version = "0.38.27") {
    auto r = Run({"git:from-archive", "--archive-type", "tar.gz", app, "--"}, version,
                 Archive({{"Procfile", "web: python3 app.py\nworker: python3 w.py\n"},
                          {"app.py", std::to_string(archives_)}}));
    ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  }

  StateDir state_;
  int archives_ = 0;
};

TEST_F(FakeDokku, VersionComesFromTheEnvironment) {
  EXPECT_EQ(Run({"version"}, "0.35.20").stdout_data, "dokku version 0.35.20\n");
  EXPECT_EQ(Run({"--version"}).stdout_data, "dokku version 0.38.27\n");
}

TEST_F(FakeDokku, Version035FormatsAndCommands) {
  auto bad = Run({"apps:create", "Bad_Name"}, "0.35.20");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.stderr_data,
            " !     App name must begin with lowercase alphanumeric character, and cannot include "
            "uppercase characters, colons, or underscores\n");
  ASSERT_EQ(Run({"apps:create", "shop"}, "0.35.20").exit_code, 0);
  // Go reports before 0.38.8: prefixed JSON keys only.
  auto ps = Run({"ps:report", "shop", "--format", "json"}, "0.35.20");
  EXPECT_NE(ps.stdout_data.find("\"ps-can-scale\":\"true\""), std::string::npos);
  EXPECT_EQ(ps.stdout_data.find("\"can-scale\""), std::string::npos);
  // Bash reports: padded values, no JSON.
  auto domains = Run({"domains:report", "shop"}, "0.35.20");
  EXPECT_NE(
      domains.stdout_data.find("       Domains app enabled:           true                     \n"),
      std::string::npos)
      << domains.stdout_data;
  EXPECT_EQ(Run({"domains:report", "shop", "--format", "json"}, "0.35.20").exit_code, 1);
  EXPECT_EQ(Run({"builds:list", "shop"}, "0.35.20").stderr_data,
            " !     `builds:list` is not a dokku command.\n !     See `dokku help` for a list of "
            "available commands.\n");
  EXPECT_EQ(Run({"storage:create", "x"}, "0.35.20").exit_code, 1);
  auto ensure = Run({"storage:ensure-directory", "shop-data"}, "0.35.20");
  EXPECT_EQ(ensure.exit_code, 0);
  EXPECT_EQ(ensure.stderr_data, "");  // no deprecation line before 0.38.10
  ASSERT_EQ(Run({"storage:mount", "shop", "/var/lib/dokku/data/storage/shop-data:/data"}, "0.35.20")
                .exit_code,
            0);
  EXPECT_EQ(Run({"storage:list", "shop"}, "0.35.20").stdout_data,
            "/var/lib/dokku/data/storage/shop-data:/data\n");
  EXPECT_EQ(Run({"ps:scale", "--format", "json", "shop"}, "0.35.20").exit_code, 2);
}

TEST_F(FakeDokku, GodotenvQuirksBeyondTheTranscript) {
  ASSERT_EQ(Run({"apps:create", "shop"}).exit_code, 0);
  ASSERT_EQ(Run({"config:set", "--no-restart", "shop", "ZEROS=007", "DOLLAR=$HOME ${X}", "NL=a\nb",
                 "BANG=hi!"})
                .exit_code,
            0);
  EXPECT_EQ(Run({"config:get", "shop", "ZEROS"}).stdout_data, "7\n");  // written as an integer
  EXPECT_EQ(Run({"config:get", "shop", "DOLLAR"}).stdout_data, "$HOME ${X}\n");
  EXPECT_EQ(Run({"config:get", "shop", "NL"}).stdout_data, "a\nb\n");
  EXPECT_EQ(Run({"config:get", "shop", "BANG"}).stdout_data, "hi!\n");
  // A value ending in a backslash: its closing quote looks escaped, the value
  // runs on into the next line, and the file no longer parses.
  ASSERT_EQ(Run({"config:set", "--no-restart", "shop", "BS=C:\\dir\\"}).exit_code, 0);
  EXPECT_EQ(Run({"config:get", "shop", "ZEROS"}).exit_code, 1);
  auto exported = Run({"config:export", "--format", "json", "shop"});
  EXPECT_EQ(exported.exit_code, 1);
  EXPECT_EQ(exported.stderr_data.rfind(" !     unexpected character \"\\\\\" in variable name", 0),
            0u)
      << exported.stderr_data;
}

TEST_F(FakeDokku, DeploysReplaceContainersAndAnUnchangedTreeIsRefused) {
  ASSERT_EQ(Run({"apps:create", "shop"}).exit_code, 0);
  ASSERT_EQ(Run({"ps:scale", "--skip-deploy", "shop", "web=2", "worker=1"}).exit_code, 0);
  std::string tgz = Archive({{"Procfile", "web: python3 app.py\nworker: python3 w.py\n"}});
  auto first = Run({"git:from-archive", "--archive-type", "tar.gz", "shop", "--"}, "0.38.27", tgz);
  ASSERT_EQ(first.exit_code, 0) << first.stderr_data;
  EXPECT_NE(first.stdout_data.find("-----> Deploying web (count=2)"), std::string::npos);
  json before = state_.State()["apps"]["shop"]["containers"];
  ASSERT_EQ(before.size(), 3u);
  auto again = Run({"git:from-archive", "--archive-type", "tar.gz", "shop", "--"}, "0.38.27", tgz);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.stderr_data,
            " !     No changes detected, skipping git commit\n !     Call 'ps:rebuild' on app to "
            "rebuild the app from existing source\n");
  // ps:scale of a deployed app redeploys that type only.
  ASSERT_EQ(Run({"ps:scale", "shop", "web=1"}).exit_code, 0);
  json after = state_.State()["apps"]["shop"]["containers"];
  ASSERT_EQ(after.size(), 2u);
  EXPECT_NE(after[0]["cid"], before[0]["cid"]);  // web.1: new
  EXPECT_EQ(after[1]["cid"], before[2]["cid"]);  // worker.1: kept
  // `docker logs` of each current container: the replaced web.1's line is gone.
  EXPECT_EQ(Run({"logs", "shop", "-q"}).stdout_data,
            "starting web: python3 app.py\nstarting worker: python3 w.py\n");
  auto ps = Run({"ps:report", "shop"});
  EXPECT_NE(ps.stdout_data.find("Status worker 1:"), std::string::npos) << ps.stdout_data;
  // Checks that fail leave the running containers alone.
  state_.FailChecks("shop", "broken: refusing to start");
  auto failed = Run({"ps:restart", "shop"});
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_NE(failed.stderr_data.find("broken: refusing to start"), std::string::npos);
  EXPECT_EQ(state_.State()["apps"]["shop"]["containers"], after);
}

TEST_F(FakeDokku, RunExecutesTheArgvWithTheAppsConfig) {
  ASSERT_EQ(Run({"apps:create", "shop"}).exit_code, 0);
  EXPECT_EQ(Run({"run", "shop", "true"}).stderr_data, " !     App shop has not been deployed\n");
  Deploy("shop");
  ASSERT_EQ(Run({"config:set", "shop", "GREETING=hello there"}).exit_code, 0);
  auto r = Run({"run", "shop", "python3", "-c",
                "import os, sys; print(os.environ['GREETING']); sys.exit(3)"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.stdout_data, "hello there\n");
}

TEST_F(FakeDokku, ServicesLinkAndRefuseToDieLinked) {
  ASSERT_EQ(Run({"apps:create", "shop"}).exit_code, 0);
  ASSERT_EQ(Run({"postgres:create", "db"}).exit_code, 0);
  EXPECT_EQ(Run({"postgres:create", "db"}).stderr_data,
            " !     Postgres service db already exists\n");
  ASSERT_EQ(Run({"postgres:link", "db", "shop"}).exit_code, 0);
  std::string url = Run({"config:get", "shop", "DATABASE_URL"}).stdout_data;
  EXPECT_EQ(url.rfind("postgres://postgres:", 0), 0u) << url;
  EXPECT_EQ(url.substr(url.find('@')), "@dokku-postgres-db:5432/db\n");
  EXPECT_EQ(Run({"postgres:link", "db", "shop"}).stderr_data,
            " !     Already linked as DATABASE_URL\n");
  EXPECT_EQ(Run({"postgres:info", "db", "--links"}).stdout_data, "shop\n");
  EXPECT_EQ(Run({"postgres:destroy", "db", "-f"}).stderr_data,
            " !     Cannot delete linked service\n");
  EXPECT_EQ(Run({"redis:exists", "cache"}).exit_code, 1);
}

// ps:set stop-timeout-seconds (plugins/ps/ps.go DefaultProperties since
// v0.36.0; reportComputedStopTimeoutSeconds in report.go): the app's value,
// else the global one, else 30; an empty value unsets. v0.35.20 knows no such
// property (its stop timeout is the DOKKU_DOCKER_STOP_TIMEOUT config var).
TEST_F(FakeDokku, PsSetStopTimeoutSecondsAndItsReport) {
  ASSERT_EQ(Run({"apps:create", "shop"}).exit_code, 0);
  auto set = Run({"ps:set", "shop", "stop-timeout-seconds", "45"});
  EXPECT_EQ(set.exit_code, 0) << set.stderr_data;
  EXPECT_EQ(set.stdout_data, "=====> Setting stop-timeout-seconds to 45\n");
  auto j = json::parse(Run({"ps:report", "shop", "--format", "json"}).stdout_data);
  EXPECT_EQ(j["stop-timeout-seconds"], "45");
  EXPECT_EQ(j["ps-stop-timeout-seconds"], "45");
  EXPECT_EQ(j["computed-stop-timeout-seconds"], "45");
  EXPECT_EQ(Run({"ps:report", "shop", "--ps-stop-timeout-seconds"}).stdout_data, "45\n");
  auto text = Run({"ps:report", "shop"}).stdout_data;
  EXPECT_NE(text.find("       Ps stop timeout seconds:          45\n"), std::string::npos) << text;
  EXPECT_NE(text.find("       Ps computed stop timeout seconds: 45\n"), std::string::npos);

  ASSERT_EQ(Run({"ps:set", "--global", "stop-timeout-seconds", "20"}).exit_code, 0);
  auto unset = Run({"ps:set", "shop", "stop-timeout-seconds"});
  EXPECT_EQ(unset.stdout_data, "=====> Unsetting stop-timeout-seconds\n");
  j = json::parse(Run({"ps:report", "shop", "--format", "json"}).stdout_data);
  EXPECT_EQ(j["stop-timeout-seconds"], "");
  EXPECT_EQ(j["global-stop-timeout-seconds"], "20");
  EXPECT_EQ(j["computed-stop-timeout-seconds"], "20");

  auto bad = Run({"ps:set", "shop", "stop-timeout", "45"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.stderr_data,
            " !     Invalid property specified, valid properties include: dockerfile-start-cmd, "
            "procfile-path, restart-policy, restore, skip-deploy, start-cmd, "
            "stop-timeout-seconds\n");
  EXPECT_EQ(Run({"ps:set", "nope", "stop-timeout-seconds", "45"}).exit_code, 20);

  // 0.36.0 to 0.38.7: unprefixed flags, prefixed-free JSON keys. Up to 0.38.5
  // an unset app value reads 30 (PropertyGetDefault, plugins/ps/report.go @
  // v0.36.0 and @ v0.38.5), and so does the computed one whatever the global.
  j = json::parse(Run({"ps:report", "shop", "--format", "json"}, "0.37.10").stdout_data);
  EXPECT_EQ(j["global-stop-timeout-seconds"], "20");
  EXPECT_EQ(j["stop-timeout-seconds"], "30");
  EXPECT_EQ(j["computed-stop-timeout-seconds"], "30");
  j = json::parse(Run({"ps:report", "shop", "--format", "json"}, "0.38.6").stdout_data);
  EXPECT_EQ(j["stop-timeout-seconds"], "");
  EXPECT_EQ(j["computed-stop-timeout-seconds"], "20");
  ASSERT_EQ(Run({"ps:set", "--global", "stop-timeout-seconds"}).exit_code, 0);
  j = json::parse(Run({"ps:report", "shop", "--format", "json"}, "0.36.0").stdout_data);
  EXPECT_EQ(j["global-stop-timeout-seconds"], "30");
  ASSERT_EQ(Run({"ps:set", "shop", "stop-timeout-seconds", "45"}, "0.36.0").exit_code, 0);
  j = json::parse(Run({"ps:report", "shop", "--format", "json"}, "0.36.0").stdout_data);
  EXPECT_EQ(j["stop-timeout-seconds"], "45");
  EXPECT_EQ(j["computed-stop-timeout-seconds"], "45");
  // 0.35: no such property, nothing about it in the report.
  auto old = Run({"ps:set", "shop", "stop-timeout-seconds", "45"}, "0.35.20");
  EXPECT_EQ(old.exit_code, 1);
  EXPECT_EQ(old.stderr_data,
            " !     Invalid property specified, valid properties include: procfile-path, "
            "restart-policy\n");
  EXPECT_EQ(Run({"ps:report", "shop", "--format", "json"}, "0.35.20").stdout_data.find("stop"),
            std::string::npos);
}

// checks:set APP wait-to-retire with no value unsets it (transcript 0.38.27
// entries 134-135), in 0.35 as in 0.38; the report shows it empty again.
TEST_F(FakeDokku, ChecksSetWithNoValueUnsetsWaitToRetireInBothVersions) {
  for (const std::string v : {"0.35.20", "0.38.27"}) {
    SCOPED_TRACE(v);
    const std::string app = "shop" + v.substr(2, 2);
    ASSERT_EQ(Run({"apps:create", app}, v).exit_code, 0);
    auto set = Run({"checks:set", app, "wait-to-retire", "30"}, v);
    EXPECT_EQ(set.exit_code, 0);
    EXPECT_EQ(set.stdout_data, "=====> Setting wait-to-retire to 30\n");
    EXPECT_EQ(Run({"checks:report", app, "--checks-wait-to-retire"}, v).stdout_data, "30\n");
    for (int i = 0; i < 2; ++i) {  // unset, then unset again: the same answer
      auto unset = Run({"checks:set", app, "wait-to-retire"}, v);
      EXPECT_EQ(unset.exit_code, 0);
      EXPECT_EQ(unset.stdout_data, "=====> Unsetting wait-to-retire\n");
      EXPECT_EQ(unset.stderr_data, "");
    }
    auto report = Run({"checks:report", app}, v).stdout_data;
    EXPECT_NE(report.find(v == "0.35.20"
                              ? "       Checks wait to retire:                                  \n"
                              : "       Checks wait to retire:          \n"),
              std::string::npos)
        << report;
    EXPECT_NE(report.find("Checks computed wait to retire: 60"), std::string::npos) << report;
    EXPECT_EQ(Run({"checks:set", "no-such-app", "wait-to-retire"}, v).exit_code, 20);
  }
  auto json_report = Run({"checks:report", "shop38", "--format", "json"}).stdout_data;
  EXPECT_NE(json_report.find("\"wait-to-retire\":\"\""), std::string::npos) << json_report;
}

// ports:set stores the maps re-printed and sorted, refusing a scheme:host-port
// given twice (CommandSet and setPortMaps, plugins/ports/{subcommands,
// functions}.go @ v0.35.20 and @ v0.38.27).
TEST_F(FakeDokku, PortsSetKeepsTheMapsSortedAndRefusesAReusedHostPort) {
  for (const std::string v : {"0.35.20", "0.38.27"}) {
    SCOPED_TRACE(v);
    const std::string app = "shop" + v.substr(2, 2);
    ASSERT_EQ(Run({"apps:create", app}, v).exit_code, 0);
    auto set = Run({"ports:set", app, "https:443:5000", "http:080:5000"}, v);
    EXPECT_EQ(set.exit_code, 0) << set.stderr_data;
    EXPECT_EQ(Run({"ports:report", app, "--ports-map"}, v).stdout_data,
              "http:80:5000 https:443:5000\n");
    auto reused = Run({"ports:set", app, "http:80:5000", "http:80:3000"}, v);
    EXPECT_EQ(reused.exit_code, 1);
    EXPECT_EQ(reused.stderr_data,
              " !     Error validating port mappings: The same scheme:host-port is being reused: "
              "http:80\n");
    EXPECT_EQ(Run({"ports:report", app, "--ports-map"}, v).stdout_data,
              "http:80:5000 https:443:5000\n");
  }
}

// storage:create chowns only when given --chown (ensureDockerLocalPath,
// plugins/storage/commands_entries.go @ v0.38.27); ensure-directory chowns to
// herokuish unless told otherwise (0.35.20 and 0.38.27 alike).
TEST_F(FakeDokku, StorageCreateChownsOnlyWhenAskedEnsureDirectoryByDefault) {
  auto owner = [&](const std::string& name) {
    return state_.State()["global"]["storage_owners"].value(name, "");
  };
  auto plain = Run({"storage:create", "plain"});
  EXPECT_EQ(plain.exit_code, 0) << plain.stderr_data;
  EXPECT_EQ(plain.stdout_data,
            "       Created /var/lib/dokku/data/storage/plain\n"
            "-----> Storage entry plain created\n");
  EXPECT_EQ(owner("plain"), "dokku");
  auto chowned = Run({"storage:create", "--chown", "herokuish", "plain"});
  EXPECT_EQ(chowned.exit_code, 0) << chowned.stderr_data;
  EXPECT_EQ(chowned.stdout_data,
            "-----> Storage entry plain already exists, leaving in place\n"
            "       Setting directory ownership to 32767:32767\n"
            "-----> Storage entry plain created\n");
  EXPECT_EQ(owner("plain"), "32767");
  EXPECT_EQ(Run({"storage:create", "--chown", "1234", "custom"}).exit_code, 0);
  EXPECT_EQ(owner("custom"), "1234");
  auto old = Run({"storage:create", "--chown", "1234", "older"}, "0.38.21");
  EXPECT_EQ(old.exit_code, 1);
  EXPECT_EQ(old.stderr_data, " !     Unsupported chown permissions\n");
  ASSERT_EQ(Run({"storage:ensure-directory", "legacy"}, "0.35.20").exit_code, 0);
  EXPECT_EQ(owner("legacy"), "32767");
}

// The --chown names on both versions (cmd-storage-ensure-directory,
// plugins/storage/internal-functions @ v0.35.20; ResolveChownID,
// plugins/storage/subcommands.go @ v0.38.27): the same uids, "false" leaves
// the directory as Dokku made it, anything else fails.
TEST_F(FakeDokku, StorageChownNamesGiveTheSameUidOnEveryVersion) {
  auto owner = [&](const std::string& name) {
    return state_.State()["global"]["storage_owners"].value(name, "");
  };
  const std::pair<const char*, const char*> names[] = {{"herokuish", "32767"}, {"heroku", "1000"},
                                                       {"paketo", "2000"},     {"packeto", "2000"},
                                                       {"root", "0"},          {"false", "dokku"}};
  for (const auto& [version, create] :
       {std::pair<std::string, std::string>{"0.35.20", "storage:ensure-directory"},
        {"0.38.27", "storage:create"}}) {
    for (const auto& [chown, uid] : names) {
      if (version == "0.35.20" && std::string(chown) == "root") continue;  // below
      const std::string dir = "d" + version.substr(2, 2) + "-" + chown;
      auto r = Run({create, "--chown", chown, dir}, version);
      EXPECT_EQ(r.exit_code, 0) << version << " " << chown << ": " << r.stderr_data;
      EXPECT_EQ(owner(dir), uid) << version << " " << chown;
    }
    auto bad = Run({create, "--chown", "node", "bad"}, version);
    EXPECT_EQ(bad.exit_code, 1) << version;
    EXPECT_EQ(bad.stderr_data.substr(bad.stderr_data.find(" !     Unsupported")),
              " !     Unsupported chown permissions\n")
        << version;
  }
  // Before 0.38 the chown helper refuses uid 0 after the name table took root.
  auto root35 = Run({"storage:ensure-directory", "--chown", "root", "r35"}, "0.35.20");
  EXPECT_EQ(root35.exit_code, 1);
  EXPECT_NE(root35.stdout_data.find(
                "Setting directory ownership to 0:0\n"
                " !     Unsupported chown permissions. Supported values: 32767, 1000, 2000\n"),
            std::string::npos)
      << root35.stdout_data;
  EXPECT_EQ(owner("r35"), "");
  // ensure-directory's default is herokuish; storage:create's is none.
  ASSERT_EQ(Run({"storage:ensure-directory", "plain35"}, "0.35.20").exit_code, 0);
  EXPECT_EQ(owner("plain35"), "32767");
  ASSERT_EQ(Run({"storage:create", "plain38"}, "0.38.27").exit_code, 0);
  EXPECT_EQ(owner("plain38"), "dokku");
}

TEST_F(FakeDokku, TheArgvLogKeepsEveryElementAsGiven) {
  ASSERT_EQ(Run({"apps:create", "shop"}).exit_code, 0);
  Run({"config:set", "shop", "X=$(reboot); `id` 'q' \"dq\""});
  std::vector<json> log = state_.ArgvLog();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1]["argv"].size(), 4u);
  EXPECT_EQ(log[1]["argv"][3], "X=$(reboot); `id` 'q' \"dq\"");
  EXPECT_EQ(log[1]["exit_code"], 0);
}

}  // namespace
}  // namespace fake_dokku::testing
