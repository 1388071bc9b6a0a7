// End to end: themes installed through an agent on the Dokku test double
// (tests/fakes/fake_dokku, which logs every argv): n8n, Directus and Strapi
// with their Postgres services, Ghost with its MySQL service. For all four
// the whole sequence of Dokku commands that change something is asserted, argv by argv (read-only
// queries are left out, see ReadOnly in themes_dokku_fixture.h): the service, the app, ports,
// storage for volumes, the link, resources, the split env, scale and the deploy. Every generated
// secret and service password is distinct; a reinstall after uninstall --keep-data keeps secrets
// and data. Upgrades: themes_dokku_upgrade_e2e_test.cc.
#include "tests/e2e/themes_dokku_fixture.h"

namespace dflow::testing {
namespace {

using std::chrono::seconds;

// The commands an install of n8n as `app` runs on Dokku, after its
// postgres service (`db`) exists; `key` is its encryption key.
std::vector<std::string> N8nInstall(const std::string& app, const std::string& key) {
  const std::string db = app + "_db";
  return {
      "apps:create " + app,
      "ports:set " + app + " http:80:5678",
      // n8n runs as `node` (uid 1000): the theme's chown: heroku.
      "storage:create --chown heroku " + app + "-data",
      "storage:mount " + app + " /var/lib/dokku/data/storage/" + app + "-data:/home/node/.n8n",
      "postgres:link " + db + " " + app,
      "resource:limit --memory 1024m " + app,
      "resource:reserve --memory 1024m " + app,
      "config:set --no-restart --encoded " + app + " DB_POSTGRESDB_DATABASE=" + db +
          " DB_POSTGRESDB_HOST=dokku-postgres-" + app +
          "-db DB_POSTGRESDB_PASSWORD=<generated>"
          " DB_POSTGRESDB_PORT=5432 DB_POSTGRESDB_USER=postgres DB_TYPE=postgresdb"
          " GENERIC_TIMEZONE=UTC N8N_ENCRYPTION_KEY=" +
          key + " N8N_HOST=" + app + ".localhost N8N_PORT=5678 N8N_PROTOCOL=http" +
          " N8N_PROXY_HOPS=1 TZ=UTC WEBHOOK_URL=http://" + app + ".localhost/",
      "ps:scale --skip-deploy " + app + " web=1",
      "git:from-image " + app + " n8nio/n8n:2.38.7",
  };
}

// Who owns a storage's host directory in the double (its storage_owners:
// a uid a --chown gave it, or "dokku" when Dokku made it without one).
std::string StorageOwner(const std::string& state_dir, const std::string& name) {
  std::ifstream in(state_dir + "/state.json");
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("global")) return "";
  return j["global"].value("storage_owners", nlohmann::json::object()).value(name, "");
}

TEST_F(ThemesDokkuE2E, N8nAndDirectusInstallWithServicesStorageAndKeptSecrets) {
  // n8n: the only healthy Dokku server is chosen.
  CliOk({"themes", "install", "n8n", "--app", "flows"});
  const std::string key = Secrets("flows")["encryption_key"];
  ASSERT_EQ(key.size(), 48u);
  // The service first (its URL feeds the env), then the app and, applied by
  // the rollout before the image deploy, ports, storage, the link,
  // resources and the env. The health check settings reach Dokku in the
  // app.json of the deploy (checks ls below), not as commands.
  std::vector<std::string> want = {"postgres:create flows_db"};
  for (const auto& c : N8nInstall("flows", key)) want.push_back(c);
  auto writes = Writes(0, {"DB_POSTGRESDB_PASSWORD"});
  EXPECT_EQ(writes, want) << Diff(want, writes);
  auto argv = Argv();
  size_t create = Find(argv, "postgres:create flows_db");
  ASSERT_NE(create, std::string::npos);
  // The health check settings (Dokku reads timeout and attempts from app.json
  // at the deploy): the theme's 120 s over 5 attempts.
  auto checks = Json({"checks", "ls", "flows", "--json"});
  ASSERT_TRUE(checks.is_object()) << checks;
  EXPECT_EQ(checks["checks"].value("attempts", ""), "5") << checks.dump();
  EXPECT_EQ(checks["checks"].value("timeout", ""), "24") << checks.dump();
  EXPECT_EQ(Json({"apps", "show", "flows", "--json"}).value("pinned_server", ""), "dokku-1");

  ASSERT_EQ(Secrets("flows").size(), 1u);
  auto env = DokkuConfig("flows");
  EXPECT_EQ(env.value("N8N_ENCRYPTION_KEY", ""), key) << env.dump();
  EXPECT_EQ(env.value("DB_TYPE", ""), "postgresdb");
  EXPECT_EQ(env.value("DB_POSTGRESDB_HOST", ""), "dokku-postgres-flows-db");
  EXPECT_EQ(env.value("DB_POSTGRESDB_PORT", ""), "5432");
  EXPECT_EQ(env.value("DB_POSTGRESDB_DATABASE", ""), "flows_db");
  const std::string db_password = env.value("DB_POSTGRESDB_PASSWORD", "");
  EXPECT_FALSE(db_password.empty());
  EXPECT_TRUE(Has(env.value("DATABASE_URL", ""), ":" + db_password + "@")) << env.dump();
  EXPECT_TRUE(Has(env.value("WEBHOOK_URL", ""), "http://flows.")) << env.dump();
  // Masked everywhere but `themes secrets --reveal`.
  EXPECT_FALSE(Has(CliOk({"config", "ls", "flows"}), key));
  EXPECT_FALSE(Has(fleet_->controller().Log(), key));

  // Directus: two volumes, a generated admin password, the required email;
  // without the email the install is refused before anything is created
  // (its service included).
  size_t mark = LogSize();
  auto missing = Cli({"themes", "install", "directus", "--app", "cms"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(Has(missing.err, "pass --set admin_email=VALUE")) << missing.err;
  EXPECT_EQ(Writes(mark), std::vector<std::string>{}) << Dump(Writes(mark));
  EXPECT_FALSE(Has(CliOk({"services", "ls"}), "cms_db"));
  CliOk({"themes", "install", "directus", "--app", "cms", "--set", "admin_email=ops@example.test"});
  auto directus = Secrets("cms");
  ASSERT_EQ(directus.size(), 2u);
  want = {
      "postgres:create cms_db",
      "apps:create cms",
      "ports:set cms http:80:8055",
      "storage:create --chown heroku cms-extensions",
      "storage:mount cms /var/lib/dokku/data/storage/cms-extensions:/directus/extensions",
      "storage:create --chown heroku cms-uploads",
      "storage:mount cms /var/lib/dokku/data/storage/cms-uploads:/directus/uploads",
      "postgres:link cms_db cms",
      "resource:limit --memory 1024m cms",
      "resource:reserve --memory 1024m cms",
      "config:set --no-restart --encoded cms ADMIN_EMAIL=ops@example.test ADMIN_PASSWORD=" +
          directus["admin_password"] +
          " DB_CLIENT=pg DB_DATABASE=cms_db DB_HOST=dokku-postgres-cms-db DB_PASSWORD=<generated>"
          " DB_PORT=5432 DB_USER=postgres PUBLIC_URL=http://cms.localhost SECRET=" +
          directus["secret"],
      "ps:scale --skip-deploy cms web=1",
      "git:from-image cms directus/directus:11.14.1",
  };
  writes = Writes(mark, {"DB_PASSWORD"});
  EXPECT_EQ(writes, want) << Diff(want, writes);
  // Both images run as `node` (uid 1000), and their volumes are theirs.
  EXPECT_EQ(StorageOwner(state_, "flows-data"), "1000");
  EXPECT_EQ(StorageOwner(state_, "cms-uploads"), "1000");
  EXPECT_EQ(StorageOwner(state_, "cms-extensions"), "1000");
  auto cms_env = DokkuConfig("cms");
  EXPECT_EQ(cms_env.value("ADMIN_PASSWORD", ""), directus["admin_password"]);
  EXPECT_EQ(cms_env.value("SECRET", ""), directus["secret"]);
  EXPECT_EQ(cms_env.value("ADMIN_EMAIL", ""), "ops@example.test");
  EXPECT_EQ(cms_env.value("DB_CLIENT", ""), "pg");

  // Every generated secret is its own value.
  std::set<std::string> all = {key, directus["admin_password"], directus["secret"]};
  EXPECT_EQ(all.size(), 3u);

  // Reinstall after uninstall --keep-data: the same key, the same database.
  CliOk({"themes", "uninstall", "flows", "--keep-data"});
  ASSERT_TRUE(WaitFor([&] { return Cli({"apps", "show", "flows"}).exit_code != 0; }, seconds(30)));
  EXPECT_TRUE(Has(CliOk({"services", "ls"}), "flows_db"));
  mark = LogSize();
  CliOk({"themes", "install", "n8n", "--app", "flows"});
  EXPECT_EQ(Secrets("flows")["encryption_key"], key);
  // The same commands with the same key; the kept service is not created again.
  want = N8nInstall("flows", key);
  writes = Writes(mark, {"DB_POSTGRESDB_PASSWORD"});
  EXPECT_EQ(writes, want) << Diff(want, writes);
  EXPECT_EQ(DokkuConfig("flows").value("N8N_ENCRYPTION_KEY", ""), key);
  EXPECT_EQ(DokkuConfig("flows").value("DB_POSTGRESDB_PASSWORD", ""), db_password);
  argv = Argv();
  EXPECT_EQ(Find(argv, "postgres:create flows_db", create + 1), std::string::npos) << Dump(argv);

  // Uninstall without --keep-data: the services it created go too.
  CliOk({"themes", "uninstall", "cms"});
  ASSERT_TRUE(WaitFor(
      [&] {
        return !Has(Cli({"services", "ls"}).out, "cms_db");
      },
      seconds(30)))
      << Cli({"services", "ls"}).out << fleet_->controller().Log();
  EXPECT_NE(Find(Argv(), "postgres:destroy cms_db"), std::string::npos) << Dump(Argv());
  EXPECT_EQ(Cli({"themes", "secrets", "cms"}).exit_code, 1);
}

TEST_F(ThemesDokkuE2E, StrapiBuildsFromItsGitSourceWithNineDistinctSecrets) {
  // The catalog's Strapi names its GitHub project; tests stay on this host, so
  // the same manifest is added as a custom theme whose git source is a local
  // repository holding a Strapi project's shape at a tag.
  std::string repo = tmp_.path() + "/strapi-project";
  std::filesystem::create_directories(repo + "/config");
  std::ofstream(repo + "/package.json")
      << R"({"name": "blog", "scripts": {"start": "strapi start"}, "dependencies": {"@strapi/strapi": "5.0.0", "pg": "8.12.0"}})";
  std::ofstream(repo + "/Procfile") << "web: npm run start\n";
  std::ofstream(repo + "/config/database.js") << "module.exports = ({ env }) => ({});\n";
  const std::vector<std::string> git = {
      "git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.test"};
  ASSERT_EQ(RunProgram({"git", "init", "-q", repo}).exit_code, 0);
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"add", "."}, {"commit", "-q", "-m", "strapi project"}, {"tag", "v5.0.0-local"}}) {
    std::vector<std::string> argv = git;
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = RunProgram(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::ifstream in(std::string(DFLOW_THEMES_DIR) + "/catalog/strapi/theme.yaml");
  std::string manifest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The catalog's git source and ref as the controller reads them from the
  // manifest ("URL@REF"), so a change of either in theme.yaml needs no change here.
  auto shown = Json({"themes", "show", "strapi", "--json"});
  ASSERT_TRUE(shown.is_object());
  const std::string source = shown.value("source", "");
  ASSERT_NE(source.rfind('@'), std::string::npos) << source;
  const std::string url = source.substr(0, source.rfind('@'));
  const std::string ref = source.substr(source.rfind('@') + 1);
  auto replace = [&](const std::string& from, const std::string& to) {
    size_t at = manifest.find(from);
    ASSERT_NE(at, std::string::npos) << from << " in\n" << manifest;
    manifest.replace(at, from.size(), to);
  };
  replace("name: strapi\n", "name: strapi-local\n");
  replace("git: " + url, "git: file://" + repo);
  replace("ref: " + ref, "ref: v5.0.0-local");
  std::string dir = tmp_.path() + "/strapi-local";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/theme.yaml") << manifest;
  CliOk({"themes", "add", dir});
  EXPECT_EQ(Json({"themes", "show", "strapi-local", "--json"}).value("source", ""),
            "file://" + repo + "@v5.0.0-local");

  CliOk({"themes", "install", "strapi-local", "--app", "blog"});
  auto secrets = Secrets("blog");
  ASSERT_EQ(secrets.size(), 9u);
  // The controller fetched the ref and hands Dokku the archive on stdin
  // (git:from-archive … --), built by Dokku.
  std::map<std::string, std::string> env_set = {
      {"NODE_ENV", "production"},
      {"HOST", "0.0.0.0"},
      {"PORT", "1337"},
      {"PUBLIC_URL", "http://blog.localhost"},
      {"APP_KEYS", secrets["app_key_1"] + "," + secrets["app_key_2"] + "," + secrets["app_key_3"] +
                       "," + secrets["app_key_4"]},
      {"API_TOKEN_SALT", secrets["api_token_salt"]},
      {"ADMIN_JWT_SECRET", secrets["admin_jwt_secret"]},
      {"TRANSFER_TOKEN_SALT", secrets["transfer_token_salt"]},
      {"JWT_SECRET", secrets["jwt_secret"]},
      {"ENCRYPTION_KEY", secrets["encryption_key"]},
      {"DATABASE_CLIENT", "postgres"},
      {"DATABASE_HOST", "dokku-postgres-blog-db"},
      {"DATABASE_PORT", "5432"},
      {"DATABASE_NAME", "blog_db"},
      {"DATABASE_USERNAME", "postgres"},
      {"DATABASE_PASSWORD", "<generated>"},
      {"DATABASE_SSL", "false"},
  };
  std::string config_set = "config:set --no-restart --encoded blog";
  for (const auto& [k, v] : env_set) config_set += " " + k + "=" + v;
  std::vector<std::string> want = {
      "postgres:create blog_db",
      "apps:create blog",
      "ports:set blog http:80:1337",
      "storage:create --chown herokuish blog-uploads",
      "storage:mount blog /var/lib/dokku/data/storage/blog-uploads:/app/public/uploads",
      "postgres:link blog_db blog",
      "resource:limit --memory 2048m blog",
      "resource:reserve --memory 2048m blog",
      config_set,
      "ps:scale --skip-deploy blog web=1",
      "git:from-archive --archive-type tar.gz blog --",
  };
  auto writes = Writes(0, {"DATABASE_PASSWORD"});
  EXPECT_EQ(writes, want) << Diff(want, writes);

  std::set<std::string> values;
  for (const auto& [name, value] : secrets) values.insert(value);
  EXPECT_EQ(values.size(), 9u) << "every Strapi key is its own secret";
  auto env = DokkuConfig("blog");
  EXPECT_EQ(env.value("APP_KEYS", ""), secrets["app_key_1"] + "," + secrets["app_key_2"] + "," +
                                           secrets["app_key_3"] + "," + secrets["app_key_4"]);
  EXPECT_EQ(env.value("API_TOKEN_SALT", ""), secrets["api_token_salt"]);
  EXPECT_EQ(env.value("ADMIN_JWT_SECRET", ""), secrets["admin_jwt_secret"]);
  EXPECT_EQ(env.value("TRANSFER_TOKEN_SALT", ""), secrets["transfer_token_salt"]);
  EXPECT_EQ(env.value("JWT_SECRET", ""), secrets["jwt_secret"]);
  EXPECT_EQ(env.value("ENCRYPTION_KEY", ""), secrets["encryption_key"]);
  EXPECT_EQ(env.value("DATABASE_CLIENT", ""), "postgres");
  EXPECT_EQ(env.value("DATABASE_HOST", ""), "dokku-postgres-blog-db");
  EXPECT_EQ(env.value("DATABASE_NAME", ""), "blog_db");
  EXPECT_TRUE(Has(env.value("DATABASE_URL", ""), ":" + env.value("DATABASE_PASSWORD", "?") + "@"))
      << env.dump();

  // Reinstall keeps all nine.
  CliOk({"themes", "uninstall", "blog", "--keep-data"});
  ASSERT_TRUE(WaitFor([&] { return Cli({"apps", "show", "blog"}).exit_code != 0; }, seconds(30)));
  size_t mark = LogSize();
  CliOk({"themes", "install", "strapi-local", "--app", "blog"});
  EXPECT_EQ(Secrets("blog"), secrets);
  want.erase(want.begin());  // the kept service
  writes = Writes(mark, {"DATABASE_PASSWORD"});
  EXPECT_EQ(writes, want) << Diff(want, writes);
}

TEST_F(ThemesDokkuE2E, GhostInstallsWithItsMysqlServiceAndSplitConnectionEnv) {
  // dokku-mysql: mysql:link sets DATABASE_URL=mysql://mysql:PASSWORD@dokku-mysql-NAME:3306/NAME
  // (github.com/dokku/dokku-mysql tests/service_link.bats); the theme wants it
  // split into database__connection__host/port/user/password/database.
  CliOk({"themes", "install", "ghost", "--app", "news"});
  std::vector<std::string> want = {
      "mysql:create news_db",
      "apps:create news",
      "ports:set news http:80:2368",
      "storage:create --chown herokuish news-content",
      "storage:mount news /var/lib/dokku/data/storage/news-content:/var/lib/ghost/content",
      "mysql:link news_db news",
      "resource:limit --memory 1024m news",
      "resource:reserve --memory 1024m news",
      "config:set --no-restart --encoded news NODE_ENV=production database__client=mysql"
      " database__connection__database=news_db database__connection__host=dokku-mysql-news-db"
      " database__connection__password=<generated> database__connection__port=3306"
      " database__connection__user=mysql url=http://news.localhost",
      "ps:scale --skip-deploy news web=1",
      "git:from-image news ghost:6.62.0",
  };
  auto writes = Writes(0, {"database__connection__password"});
  EXPECT_EQ(writes, want) << Diff(want, writes);

  auto env = DokkuConfig("news");
  EXPECT_EQ(env.value("database__client", ""), "mysql") << env.dump();
  EXPECT_EQ(env.value("database__connection__host", ""), "dokku-mysql-news-db") << env.dump();
  EXPECT_EQ(env.value("database__connection__port", ""), "3306");
  EXPECT_EQ(env.value("database__connection__user", ""), "mysql");
  EXPECT_EQ(env.value("database__connection__database", ""), "news_db");
  EXPECT_EQ(env.value("NODE_ENV", ""), "production");
  EXPECT_TRUE(Has(env.value("url", ""), "http://news.")) << env.dump();
  const std::string password = env.value("database__connection__password", "");
  EXPECT_FALSE(password.empty());
  EXPECT_EQ(env.value("DATABASE_URL", ""),
            "mysql://mysql:" + password + "@dokku-mysql-news-db:3306/news_db")
      << env.dump();
  EXPECT_FALSE(Has(fleet_->controller().Log(), password));
  EXPECT_TRUE(Has(CliOk({"services", "ls"}), "news_db"));

  // A second Ghost gets its own service and its own password.
  CliOk({"themes", "install", "ghost", "--app", "press"});
  EXPECT_NE(Find(Argv(), "mysql:create press_db"), std::string::npos) << Dump(Argv());
  auto press = DokkuConfig("press");
  EXPECT_EQ(press.value("database__connection__host", ""), "dokku-mysql-press-db");
  const std::string press_password = press.value("database__connection__password", "");
  EXPECT_FALSE(press_password.empty());
  EXPECT_NE(press_password, password);

  // Uninstall without --keep-data destroys the mysql service it created.
  CliOk({"themes", "uninstall", "news"});
  ASSERT_TRUE(WaitFor(
      [&] {
        return !Has(Cli({"services", "ls"}).out, "news_db");
      },
      seconds(30)))
      << Cli({"services", "ls"}).out << fleet_->controller().Log();
  EXPECT_NE(Find(Argv(), "mysql:destroy news_db"), std::string::npos) << Dump(Argv());
  EXPECT_TRUE(Has(CliOk({"services", "ls"}), "press_db"));

  // `dflow apps destroy` of a theme app is an uninstall without --keep-data:
  // its install record, secrets and the service it created go with it.
  CliOk({"apps", "destroy", "press", "--force"});
  ASSERT_TRUE(WaitFor(
      [&] {
        return !Has(Cli({"services", "ls"}).out, "press_db");
      },
      seconds(30)))
      << Cli({"services", "ls"}).out << fleet_->controller().Log();
  EXPECT_NE(Find(Argv(), "mysql:destroy press_db"), std::string::npos) << Dump(Argv());
  auto gone = Cli({"themes", "secrets", "press"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_TRUE(Has(gone.err, "was not installed from a theme")) << gone.err;
}

TEST_F(ThemesDokkuE2E, WhatDokkuCannotRunYetIsRefusedBeforeAnythingIsCreated) {
  auto local = Cli({"themes", "install", "n8n", "--app", "flows", "--server", "local-1"});
  EXPECT_EQ(local.exit_code, 1);
  EXPECT_TRUE(Has(local.err, "runs the LocalRuntime")) << local.err;
  EXPECT_NE(Cli({"apps", "show", "flows"}).exit_code, 0);
  EXPECT_EQ(Find(Argv(), "postgres:create"), std::string::npos) << Dump(Argv());
}

// The same themes on Dokku 0.35: storage:ensure-directory, told the same
// owner, so the volumes belong to the same uid as on 0.38.
class ThemesDokku035E2E : public ThemesDokkuE2E {
 protected:
  void SetUp() override {
    StartControllerAndDouble("dokku.me");
    ASSERT_NO_FATAL_FAILURE(StartDokkuAgent("0.35.20"));
  }
};

TEST_F(ThemesDokku035E2E, N8nAndDirectusVolumesBelongToNodeOn035) {
  CliOk({"themes", "install", "n8n", "--app", "flows"});
  CliOk({"themes", "install", "directus", "--app", "cms", "--set", "admin_email=ops@example.test"});
  auto argv = Argv();
  for (const char* c : {"storage:ensure-directory --chown heroku flows-data",
                        "storage:ensure-directory --chown heroku cms-uploads",
                        "storage:ensure-directory --chown heroku cms-extensions"}) {
    EXPECT_NE(Find(argv, c), std::string::npos) << c << "\n" << Dump(argv);
  }
  EXPECT_EQ(Find(argv, "storage:create"), std::string::npos) << Dump(argv);
  EXPECT_EQ(StorageOwner(state_, "flows-data"), "1000");
  EXPECT_EQ(StorageOwner(state_, "cms-uploads"), "1000");
  EXPECT_EQ(StorageOwner(state_, "cms-extensions"), "1000");
}

// A volume given to root: Dokku before 0.38 cannot chown to it, so the
// install is refused from the server's reported version before anything is
// created (not at the storage step, with the app half made).
TEST_F(ThemesDokku035E2E, ARootOwnedVolumeIsRefusedBeforeAnythingIsCreated) {
  std::ifstream in(std::string(DFLOW_THEMES_DIR) + "/catalog/uptime-kuma/theme.yaml");
  std::string manifest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"name: uptime-kuma\n", "name: kuma-root\n"},
           {"    path: /app/data\n", "    path: /app/data\n    chown: root\n"}}) {
    size_t at = manifest.find(from);
    ASSERT_NE(at, std::string::npos) << from << " in\n" << manifest;
    manifest.replace(at, from.size(), to);
  }
  std::string dir = tmp_.path() + "/kuma-root";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/theme.yaml") << manifest;
  CliOk({"themes", "add", dir});

  auto r = Cli({"themes", "install", "kuma-root", "--app", "kuma"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Has(r.err,
                  "theme kuma-root gives its volume data (/app/data) to root, which Dokku "
                  "0.35.20 on dokku-1 cannot do"))
      << r.err;
  EXPECT_TRUE(Has(r.err, "install it on a server with Dokku 0.38 or later")) << r.err;
  EXPECT_NE(Cli({"apps", "show", "kuma"}).exit_code, 0);
  EXPECT_EQ(Find(Argv(), "apps:create kuma"), std::string::npos) << Dump(Argv());
}

}  // namespace
}  // namespace dflow::testing
