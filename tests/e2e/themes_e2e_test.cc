// End to end: themes on real controller and agent processes (LocalRuntime):
// the catalog, validate's exit codes, the bundled statuspage theme installed
// and answering HTTP, secrets generated once and masked, reinstall and
// upgrade keeping them, a failing install undone (or kept), a failed upgrade
// putting the old config back, domains and the health check timeout applied,
// `apps destroy` removing the install, and image themes and volumes refused
// on a LocalRuntime server. Crashes: themes_crash_e2e_test.cc.
#include <filesystem>
#include <fstream>

#include "tests/e2e/themes_fixture.h"

namespace dflow::testing {
namespace {

using std::chrono::seconds;

TEST_F(ThemesE2E, CatalogAndValidate) {
  auto ls = Json({"themes", "ls", "--json"});
  ASSERT_TRUE(ls.is_array()) << ls;
  std::set<std::string> names;
  for (const auto& t : ls) names.insert(t.value("name", ""));
  for (const char* want : {"n8n", "strapi", "directus", "statuspage", "rabbitmq"}) {
    EXPECT_TRUE(names.count(want)) << want << " in " << ls.dump();
  }
  auto show = CliOk({"themes", "show", "n8n"});
  EXPECT_TRUE(Contains(show, "N8N_ENCRYPTION_KEY")) << show;
  EXPECT_TRUE(Contains(show, "encryption_key (generated at install)")) << show;

  EXPECT_EQ(Cli({"themes", "validate", Catalog("strapi") + "/theme.yaml"}).exit_code, 0);
  std::string bad = tmp_.path() + "/bad.yaml";
  std::ofstream(bad) << "apiVersion: dflow/v1\nkind: Theme\nname: x\nversion: 1.0.0\n"
                        "description: d\nsource:\n  image: a/b:latest\nprot: 80\n";
  auto r = Cli({"themes", "validate", bad});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, bad + ":7:10: source.image \"a/b:latest\" uses the tag \"latest\""))
      << r.err;
  EXPECT_TRUE(Contains(r.err, bad + ":8:1: unknown key \"prot\" in the theme; did you mean "
                                    "\"port\"?"))
      << r.err;
  auto missing = Cli({"themes", "validate", tmp_.path() + "/missing.yaml"});
  EXPECT_EQ(missing.exit_code, 2);
  // The file is named once, with why it cannot be read.
  EXPECT_EQ(missing.err,
            "dflow: cannot read " + tmp_.path() + "/missing.yaml: No such file or directory\n");
  EXPECT_EQ(Cli({"themes", "validate"}).exit_code, 2);

  // An image theme needs a Dokku server.
  auto n8n = Cli({"themes", "install", "n8n", "--app", "flows", "--server", "local-1"});
  EXPECT_EQ(n8n.exit_code, 1);
  EXPECT_TRUE(Contains(n8n.err, "needs a Dokku server")) << n8n.err;
  EXPECT_TRUE(Contains(n8n.err, "--runtime dokku")) << n8n.err;
  EXPECT_NE(Cli({"apps", "show", "flows"}).exit_code, 0);
}

TEST_F(ThemesE2E, BundledThemeInstallsAnswersAndKeepsItsSecrets) {
  auto install = Cli({"themes", "install", "statuspage", "--app", "status", "--set",
                      "title=Ops Board", "--set", "systems=billing,shop"});
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err << fleet_->controller().Log();
  ASSERT_TRUE(WaitSettled("status", 1)) << Ps("status").dump();
  int port = StatusPort("status");
  ASSERT_GT(port, 0);
  std::string page = HttpGet(port);
  EXPECT_TRUE(Contains(page, "<h1>Ops Board</h1>")) << page;
  EXPECT_TRUE(Contains(page, "billing: operational")) << page;
  EXPECT_TRUE(Contains(HttpGet(port, "/api/status"), "\"url\": \"http://status.")) << page;

  std::string token = Reveal("status", "admin_token");
  ASSERT_EQ(token.size(), 32u);
  // Masked by default, the value only with --reveal; in the app's env.
  auto masked = CliOk({"themes", "secrets", "status"});
  EXPECT_TRUE(Contains(masked, "******** (32 characters)")) << masked;
  EXPECT_FALSE(Contains(masked, token));
  // `config get` masks it too; the app's own environment has it.
  auto config = CliOk({"config", "get", "status", "STATUS_ADMIN_TOKEN"});
  EXPECT_FALSE(Contains(config, token)) << config;
  EXPECT_TRUE(Contains(config, "theme secret")) << config;
  auto env = Cli({"run", "status", "--", "python3", "-c",
                  "import os; print('token=' + os.environ['STATUS_ADMIN_TOKEN'])"});
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_TRUE(Contains(env.out, "token=" + token)) << env.out;
  // Never in operation output or the controller's log.
  auto op = LastOp("status");
  ASSERT_TRUE(op.is_object());
  EXPECT_FALSE(Contains(Op(op.value("id", 0)).dump(), token));
  EXPECT_FALSE(Contains(fleet_->controller().Log(), token));

  // A second install of the same app is refused.
  auto again = Cli({"themes", "install", "statuspage", "--app", "status"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(Contains(again.err, "already installed from theme statuspage")) << again.err;

  // Upgrade: a new release, the same secret.
  CliOk({"themes", "upgrade", "status"});
  ASSERT_TRUE(WaitSettled("status", 1));
  EXPECT_EQ(Ps("status")[0].value("release", 0), 2);
  EXPECT_EQ(Reveal("status", "admin_token"), token);
  EXPECT_NE(Cli({"themes", "upgrade", "status", "--version", "9.9.9"}).exit_code, 0);

  // Reinstall after uninstall --keep-data: the secret is reused.
  CliOk({"themes", "uninstall", "status", "--keep-data"});
  ASSERT_TRUE(AppGone("status"));
  CliOk({"themes", "install", "statuspage", "--app", "status", "--server", "local-2"});
  ASSERT_TRUE(WaitSettled("status", 1));
  EXPECT_EQ(RunningByServer("status"), (std::map<std::string, int>{{"local-2", 1}}));
  EXPECT_EQ(Reveal("status", "admin_token"), token);
  EXPECT_TRUE(Contains(HttpGet(StatusPort("status")), "System status"));

  // Uninstall without --keep-data: the secrets go too.
  CliOk({"themes", "uninstall", "status"});
  ASSERT_TRUE(AppGone("status"));
  EXPECT_EQ(Cli({"themes", "secrets", "status"}).exit_code, 1);
}

TEST_F(ThemesE2E, FailedInstallIsUndoneUnlessKept) {
  // A custom theme whose app never becomes healthy.
  std::string dir = tmp_.path() + "/sick";
  std::filesystem::create_directories(dir);
  std::filesystem::copy(Example("broken"), dir + "/app");
  std::ofstream(dir + "/theme.yaml")
      << "apiVersion: dflow/v1\nkind: Theme\nname: sick\nversion: 1.0.0\ndescription: never "
         "healthy\nsource:\n  bundle: app\nsecrets:\n  - name: key\nenv:\n  KEY: "
         "\"{{ secrets.key }}\"\nhealthcheck:\n  path: /health\n  timeout: 5s\n";
  CliOk({"themes", "add", dir});
  EXPECT_TRUE(Contains(CliOk({"themes", "ls"}), "custom"));

  auto r = Cli({"themes", "install", "sick", "--app", "sick1"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, "the install is undone")) << r.err;
  ASSERT_TRUE(AppGone("sick1")) << fleet_->controller().Log();
  EXPECT_TRUE(WaitFor(
      [&] {
        auto s = Cli({"themes", "secrets", "sick1", "--json"});
        auto j = nlohmann::json::parse(s.out, nullptr, false);
        return s.exit_code == 0 && j.value("state", "") == "rolled_back" && j["secrets"].empty();
      },
      seconds(20)));

  auto kept = Cli({"themes", "install", "sick", "--app", "sick2", "--keep-on-failure"});
  EXPECT_EQ(kept.exit_code, 1);
  EXPECT_TRUE(WaitFor(
      [&] {
        auto j = Json({"themes", "secrets", "sick2", "--json"});
        return j.is_object() && j.value("state", "") == "failed";
      },
      seconds(20)));
  EXPECT_EQ(Cli({"apps", "show", "sick2"}).exit_code, 0);
  EXPECT_EQ(Reveal("sick2", "key").size(), 32u);
  CliOk({"themes", "uninstall", "sick2"});

  // A bad input is refused before anything is created.
  auto bad = Cli({"themes", "install", "statuspage", "--app", "s3", "--set", "systems=a;rm"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(Contains(bad.err, "input \"systems\" must be a value matching")) << bad.err;
  EXPECT_NE(Cli({"apps", "show", "s3"}).exit_code, 0);
  EXPECT_EQ(Cli({"themes", "secrets", "s3"}).exit_code, 1);
}

TEST_F(ThemesE2E, PackageAddInstallReproducesTheAppOnTheOtherServer) {
  CliOk({"apps", "create", "shop", "--health-path", "/health", "--pin", "local-1"});
  CliOk({"config", "set", "shop", "GREETING=bonjour", "API_TOKEN=supersecretvalue123"});
  CliOk({"deploy", "shop", "--path", Example("hello")});
  ASSERT_TRUE(WaitSettled("shop", 1));
  EXPECT_EQ(RunningByServer("shop"), (std::map<std::string, int>{{"local-1", 1}}));
  ASSERT_TRUE(AllAnswer("shop", "bonjour"));

  std::string dir = tmp_.path() + "/shop-theme";
  CliOk({"themes", "package", "shop", "-o", dir});
  std::ifstream in(dir + "/theme.yaml");
  std::string manifest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_FALSE(Contains(manifest, "supersecretvalue123")) << manifest;
  EXPECT_TRUE(Contains(manifest, "source:\n  release: release.tar.gz")) << manifest;
  EXPECT_TRUE(Contains(manifest, "API_TOKEN: \"{{ secrets.api_token }}\"")) << manifest;
  EXPECT_TRUE(Contains(manifest, "default: \"bonjour\"")) << manifest;
  EXPECT_TRUE(std::filesystem::is_regular_file(dir + "/release.tar.gz"));
  EXPECT_EQ(Cli({"themes", "validate", dir}).exit_code, 0);
  // A second package into the same directory is refused.
  EXPECT_EQ(Cli({"themes", "package", "shop", "-o", dir}).exit_code, 2);

  CliOk({"themes", "add", dir});
  CliOk({"themes", "install", "shop", "--app", "shop2", "--server", "local-2"});
  ASSERT_TRUE(WaitSettled("shop2", 1)) << Ps("shop2").dump();
  EXPECT_EQ(RunningByServer("shop2"), (std::map<std::string, int>{{"local-2", 1}}));
  EXPECT_TRUE(AllAnswer("shop2", "bonjour"));
  // The credential is a new secret of the same length, never the old value.
  std::string token = Reveal("shop2", "api_token");
  EXPECT_EQ(token.size(), 19u);
  EXPECT_NE(token, "supersecretvalue123");
  auto env = Cli({"run", "shop2", "--", "python3", "-c",
                  "import os; print('token=' + os.environ['API_TOKEN'])"});
  EXPECT_TRUE(Contains(env.out, "token=" + token)) << env.out << env.err;
}

TEST_F(ThemesE2E, FailedUpgradeKeepsTheOldVersionAndConfigAndDestroyRemovesTheInstall) {
  std::string dir = tmp_.path() + "/shelf";
  WriteShelf(dir, "1.0.0", "hello",
             "  GREETING: \"shelf one\"\n  KEY: \"{{ secrets.key }}\"\n  OLD_ONLY: kept\n");
  CliOk({"themes", "add", dir});
  CliOk({"themes", "install", "shelf", "--app", "shelf"});
  ASSERT_TRUE(WaitSettled("shelf", 1)) << Ps("shelf").dump();
  ASSERT_TRUE(AllAnswer("shelf", "shelf one"));
  // The theme's domain is the app's custom domain, as `dflow domains add` makes it.
  EXPECT_TRUE(Contains(CliOk({"domains", "ls", "shelf"}), "shelf.example.test"));
  const auto before = Json({"config", "ls", "shelf", "--json"});
  ASSERT_TRUE(before.is_object());
  EXPECT_EQ(before.value("OLD_ONLY", ""), "kept");
  const std::string key = Reveal("shelf", "key");
  ASSERT_EQ(key.size(), 32u);

  // 2.0.0 never becomes healthy, and changes and adds env.
  WriteShelf(dir, "2.0.0", "broken",
             "  GREETING: \"shelf two\"\n  KEY: \"{{ secrets.key }}\"\n  BROKEN_MODE: hang\n"
             "  NEW_KEY: added\n",
             "/ready");
  CliOk({"themes", "add", dir});
  auto started = std::chrono::steady_clock::now();
  auto up = Cli({"themes", "upgrade", "shelf"});
  EXPECT_NE(up.exit_code, 0) << up.out << up.err;
  nlohmann::json record;
  ASSERT_TRUE(WaitFor(
      [&] {
        record = Json({"themes", "secrets", "shelf", "--json"});
        return record.is_object() && record.value("state", "") == "installed" &&
               !record.value("error", "").empty();
      },
      seconds(90)))
      << record.dump() << fleet_->controller().Log();
  // The app's healthcheck.timeout (5 s), not the controller's
  // --health-timeout (60 s), bounded the new instance's wait.
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(55));
  EXPECT_EQ(record.value("version", ""), "1.0.0") << record.dump();
  EXPECT_TRUE(Contains(record.value("error", ""), "1.0.0 keeps running with its config"))
      << record.dump();
  // The old version's env is back; the old release still serves.
  EXPECT_EQ(Json({"config", "ls", "shelf", "--json"}), before);
  EXPECT_TRUE(AllAnswer("shelf", "shelf one"));
  EXPECT_EQ(Reveal("shelf", "key"), key);
  // 2.0.0's health check path is not left behind either.
  EXPECT_EQ(Json({"apps", "show", "shelf", "--json"}).value("health_path", ""), "/health");

  // `dflow apps destroy`: the install record and the secrets go with the app.
  CliOk({"apps", "destroy", "shelf", "--force"});
  ASSERT_TRUE(AppGone("shelf"));
  EXPECT_TRUE(WaitFor(
      [&] {
        return Cli({"themes", "secrets", "shelf"}).exit_code != 0;
      },
      seconds(20)));
  auto gone = Cli({"themes", "secrets", "shelf"});
  EXPECT_TRUE(Contains(gone.err, "was not installed from a theme")) << gone.err;
  // A new install of the same name gets a new secret.
  CliOk({"themes", "install", "statuspage", "--app", "shelf"});
  ASSERT_TRUE(WaitSettled("shelf", 1));
  EXPECT_NE(Reveal("shelf", "admin_token"), key);
  EXPECT_EQ(Reveal("shelf", "admin_token").size(), 32u);
  EXPECT_FALSE(Contains(CliOk({"domains", "ls", "shelf"}), "shelf.example.test"));
}

TEST_F(ThemesE2E, VolumesAreRefusedOnTheLocalRuntimeNeverDropped) {
  std::string dir = tmp_.path() + "/keeper";
  std::filesystem::create_directories(dir);
  std::filesystem::copy(Example("hello"), dir + "/app");
  std::ofstream(dir + "/theme.yaml")
      << "apiVersion: dflow/v1\nkind: Theme\nname: keeper\nversion: 1.0.0\ndescription: d\n"
         "source:\n  bundle: app\nvolumes:\n  - name: data\n    path: /data\n    backup: true\n";
  CliOk({"themes", "add", dir});
  for (const std::vector<std::string>& where :
       {std::vector<std::string>{}, std::vector<std::string>{"--server", "local-1"}}) {
    std::vector<std::string> args = {"themes", "install", "keeper", "--app", "keeper"};
    args.insert(args.end(), where.begin(), where.end());
    auto r = Cli(args);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_TRUE(Contains(r.err, "with volumes (/data)")) << r.err;
    EXPECT_TRUE(Contains(r.err, "needs a Dokku server")) << r.err;
    EXPECT_TRUE(Contains(r.err, "--runtime dokku")) << r.err;
    EXPECT_NE(Cli({"apps", "show", "keeper"}).exit_code, 0);
    EXPECT_NE(Cli({"themes", "secrets", "keeper"}).exit_code, 0);
  }
}

}  // namespace
}  // namespace dflow::testing
