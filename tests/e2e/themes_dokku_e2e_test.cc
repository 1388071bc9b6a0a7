// End to end: themes installed through an agent on the Dokku test double
// (tests/fakes/fake_dokku, which logs every argv): n8n and Directus with
// their Postgres services, Ghost with its MySQL service, split env, storage
// for volumes, the port map, check settings and the image deploy, in that
// order; every generated secret and service password distinct; a reinstall after uninstall
// --keep-data keeps secrets and data.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/e2e/harness.h"

namespace dflow::testing {
namespace {

using std::chrono::seconds;

bool Has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class ThemesDokkuE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = tmp_.path() + "/dokku";
    std::filesystem::create_directories(state_);
    std::ofstream(state_ + "/VHOST") << "dokku.me\n";
    fleet_ = std::make_unique<Fleet>(tmp_.path());
    fleet_->InitController();
    fleet_->StartController();
    std::string dir = tmp_.path() + "/agents/dokku-1";
    auto join = RunProgram({DFLOW_AGENT_BIN, "join", "--token", fleet_->JoinToken(), "--name",
                            "dokku-1", "--listen", "127.0.0.1:" + std::to_string(FreePort()),
                            "--data-dir", dir, "--runtime", "dokku"});
    ASSERT_EQ(join.exit_code, 0) << join.err;
    agent_ = Proc({DFLOW_AGENT_BIN, "run", "--data-dir", dir, "--runtime", "dokku", "--dokku-bin",
                   FAKE_DOKKU_BIN},
                  tmp_.path() + "/agent.log", Env());
    ASSERT_TRUE(fleet_->WaitStatus("dokku-1", "healthy", seconds(20))) << agent_.Log();
    fleet_->AddAgent("local-1");
    ASSERT_TRUE(fleet_->WaitStatus("local-1", "healthy", seconds(20)));
  }

  std::map<std::string, std::string> Env() {
    return {{"FAKE_DOKKU_STATE", state_}, {"FAKE_DOKKU_VERSION", "0.38.27"}};
  }
  CliResult Cli(const std::vector<std::string>& args) { return fleet_->Cli(args); }
  std::string CliOk(const std::vector<std::string>& args) {
    auto r = Cli(args);
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    EXPECT_EQ(r.exit_code, 0) << "dflow " << cmd << "\nstdout: " << r.out << "\nstderr: " << r.err
                              << "\nagent log:\n"
                              << agent_.Log() << "\ncontroller log:\n"
                              << fleet_->controller().Log();
    return r.out;
  }
  nlohmann::json Json(const std::vector<std::string>& args) {
    auto r = Cli(args);
    return r.exit_code == 0 ? nlohmann::json::parse(r.out, nullptr, false) : nullptr;
  }
  std::map<std::string, std::string> Secrets(const std::string& app) {
    auto j = Json({"themes", "secrets", app, "--reveal", "--json"});
    if (!j.is_object()) return {};
    return j["secrets"].get<std::map<std::string, std::string>>();
  }
  nlohmann::json DokkuConfig(const std::string& app) {
    auto r = RunProgram({FAKE_DOKKU_BIN, "config:export", "--format", "json", app}, Env());
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  // Every Dokku command the double ran, as "cmd arg arg…".
  std::vector<std::string> Argv() {
    std::vector<std::string> out;
    std::ifstream in(state_ + "/argv.log");
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
      std::string cmd;
      for (size_t i = 1; i < j["argv"].size(); ++i) {
        cmd += (i > 1 ? " " : "") + j["argv"][i].get<std::string>();
      }
      out.push_back(cmd);
    }
    return out;
  }
  // The index of the first command at or after `from` that starts with `prefix`.
  static size_t Find(const std::vector<std::string>& argv, const std::string& prefix,
                     size_t from = 0) {
    for (size_t i = from; i < argv.size(); ++i) {
      if (argv[i].rfind(prefix, 0) == 0) return i;
    }
    return std::string::npos;
  }
  static std::string Dump(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) out += a + "\n";
    return out;
  }

  TempDir tmp_;
  std::string state_;
  std::unique_ptr<Fleet> fleet_;
  Proc agent_;
};

TEST_F(ThemesDokkuE2E, N8nAndDirectusInstallWithServicesStorageAndKeptSecrets) {
  // n8n: the only healthy Dokku server is chosen.
  CliOk({"themes", "install", "n8n", "--app", "flows"});
  auto argv = Argv();
  // The service first (its URL feeds the env), then the rollout applies the
  // link, ports, storage and checks on dokku-1 before the image deploy.
  size_t create = Find(argv, "postgres:create flows_db");
  size_t link = Find(argv, "postgres:link flows_db flows");
  size_t ports = Find(argv, "ports:set flows http:80:5678");
  size_t storage = Find(argv, "storage:mount flows");
  size_t config = Find(argv, "config:set --no-restart --encoded flows");
  size_t image = Find(argv, "git:from-image flows n8nio/n8n:2.38.7");
  for (size_t i : {create, link, ports, storage, config, image}) {
    ASSERT_NE(i, std::string::npos) << Dump(argv);
  }
  EXPECT_LT(create, link) << Dump(argv);
  EXPECT_LT(link, image) << Dump(argv);
  EXPECT_LT(ports, image) << Dump(argv);
  EXPECT_LT(storage, image) << Dump(argv);
  EXPECT_LT(config, image) << Dump(argv);
  EXPECT_TRUE(Has(argv[storage], "flows-data:/home/node/.n8n")) << argv[storage];
  // The health check settings (Dokku reads timeout and attempts from app.json
  // at the deploy): the theme's 120 s over 5 attempts.
  auto checks = Json({"checks", "ls", "flows", "--json"});
  ASSERT_TRUE(checks.is_object()) << checks;
  EXPECT_EQ(checks["checks"].value("attempts", ""), "5") << checks.dump();
  EXPECT_EQ(checks["checks"].value("timeout", ""), "24") << checks.dump();
  EXPECT_EQ(Json({"apps", "show", "flows", "--json"}).value("pinned_server", ""), "dokku-1");

  auto n8n = Secrets("flows");
  ASSERT_EQ(n8n.size(), 1u);
  const std::string key = n8n["encryption_key"];
  EXPECT_EQ(key.size(), 48u);
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

  // Directus: two volumes, a generated admin password, the required email.
  auto missing = Cli({"themes", "install", "directus", "--app", "cms"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(Has(missing.err, "pass --set admin_email=VALUE")) << missing.err;
  CliOk({"themes", "install", "directus", "--app", "cms", "--set", "admin_email=ops@example.test"});
  argv = Argv();
  EXPECT_NE(Find(argv, "postgres:create cms_db"), std::string::npos) << Dump(argv);
  EXPECT_NE(Find(argv, "git:from-image cms directus/directus:11.14.1"), std::string::npos);
  std::set<std::string> mounts;
  for (const auto& a : argv) {
    if (a.rfind("storage:mount cms ", 0) == 0) mounts.insert(a.substr(a.rfind(':') + 1));
  }
  EXPECT_EQ(mounts, (std::set<std::string>{"/directus/uploads", "/directus/extensions"}));
  auto directus = Secrets("cms");
  ASSERT_EQ(directus.size(), 2u);
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
  CliOk({"themes", "install", "n8n", "--app", "flows"});
  EXPECT_EQ(Secrets("flows")["encryption_key"], key);
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
  auto replace = [&](const std::string& from, const std::string& to) {
    size_t at = manifest.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    manifest.replace(at, from.size(), to);
  };
  replace("name: strapi\n", "name: strapi-local\n");
  replace("https://github.com/strapi/strapi-cloud-template-blog.git", "file://" + repo);
  replace("106edd9536c84798e43a9fedaef9f7bf0bfd39e0", "v5.0.0-local");
  std::string dir = tmp_.path() + "/strapi-local";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/theme.yaml") << manifest;
  CliOk({"themes", "add", dir});

  CliOk({"themes", "install", "strapi-local", "--app", "blog"});
  auto argv = Argv();
  size_t create = Find(argv, "postgres:create blog_db");
  size_t link = Find(argv, "postgres:link blog_db blog");
  size_t ports = Find(argv, "ports:set blog http:80:1337");
  size_t storage = Find(argv, "storage:mount blog");
  size_t build = Find(argv, "git:from-archive --archive-type tar.gz blog --");
  for (size_t i : {create, link, ports, storage, build})
    ASSERT_NE(i, std::string::npos) << Dump(argv);
  EXPECT_LT(create, link);
  EXPECT_LT(link, build);
  EXPECT_LT(ports, build);
  EXPECT_LT(storage, build);
  EXPECT_TRUE(Has(argv[storage], "blog-uploads:/app/public/uploads")) << argv[storage];

  auto secrets = Secrets("blog");
  ASSERT_EQ(secrets.size(), 9u);
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
  CliOk({"themes", "install", "strapi-local", "--app", "blog"});
  EXPECT_EQ(Secrets("blog"), secrets);
}

TEST_F(ThemesDokkuE2E, GhostInstallsWithItsMysqlServiceAndSplitConnectionEnv) {
  // dokku-mysql: mysql:link sets DATABASE_URL=mysql://mysql:PASSWORD@dokku-mysql-NAME:3306/NAME
  // (github.com/dokku/dokku-mysql tests/service_link.bats); the theme wants it
  // split into database__connection__host/port/user/password/database.
  CliOk({"themes", "install", "ghost", "--app", "news"});
  auto argv = Argv();
  size_t create = Find(argv, "mysql:create news_db");
  size_t link = Find(argv, "mysql:link news_db news");
  size_t ports = Find(argv, "ports:set news http:80:2368");
  size_t storage = Find(argv, "storage:mount news");
  size_t image = Find(argv, "git:from-image news ghost:6.62.0");
  for (size_t i : {create, link, ports, storage, image}) {
    ASSERT_NE(i, std::string::npos) << Dump(argv);
  }
  EXPECT_LT(create, Find(argv, "apps:create news")) << Dump(argv);
  EXPECT_LT(create, link) << Dump(argv);
  EXPECT_LT(link, image) << Dump(argv);
  EXPECT_LT(ports, image) << Dump(argv);
  EXPECT_LT(storage, image) << Dump(argv);
  EXPECT_TRUE(Has(argv[storage], "news-content:/var/lib/ghost/content")) << argv[storage];

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
}

TEST_F(ThemesDokkuE2E, WhatDokkuCannotRunYetIsRefusedBeforeAnythingIsCreated) {
  auto local = Cli({"themes", "install", "n8n", "--app", "flows", "--server", "local-1"});
  EXPECT_EQ(local.exit_code, 1);
  EXPECT_TRUE(Has(local.err, "runs the LocalRuntime")) << local.err;
  EXPECT_NE(Cli({"apps", "show", "flows"}).exit_code, 0);
  EXPECT_EQ(Find(Argv(), "postgres:create"), std::string::npos) << Dump(Argv());
}

}  // namespace
}  // namespace dflow::testing
