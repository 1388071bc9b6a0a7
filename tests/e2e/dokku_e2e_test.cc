// End to end on Dokku: a real controller and a real agent run with
// `--runtime dokku --dokku-bin fake_dokku` (the Dokku test double,
// tests/fakes), driven through the CLI, as Dokku 0.35.20 and 0.38.27.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "tests/e2e/dokku_fixture.h"
#include "tests/e2e/harness.h"

namespace dflow::testing {
namespace {

using std::chrono::seconds;

bool Has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class DokkuE2E : public DokkuE2EBase<::testing::TestWithParam<const char*>> {
 protected:
  void SetUp() override { StartControllerAndDouble("dokku.me"); }

  // `dflow-agent join --runtime dokku`, then `run --runtime dokku --dokku-bin …`.
  std::vector<std::string> JoinDokkuAgent(const std::string& name) {
    agent_dir_ = fleet_->agent_dir(name);
    return fleet_->JoinDokkuAgent(name, FAKE_DOKKU_BIN);
  }

  // Instances the controller has as running.
  int Running(const std::string& app) {
    int n = 0;
    auto ps = Json({"ps", app, "--json"});
    if (!ps.is_array()) return -1;
    for (const auto& i : ps) n += i.value("state", "") == "running";
    return static_cast<int>(ps.size()) == n ? n : -1;
  }

  // The double's own view, through its CLI.
  nlohmann::json DokkuConfig(const std::string& app) {
    auto r = RunProgram({FAKE_DOKKU_BIN, "config:export", "--format", "json", app},
                        DokkuEnv(GetParam()));
    return nlohmann::json::parse(r.out, nullptr, false);
  }
  nlohmann::json DokkuApp(const std::string& app) {
    std::ifstream in(state_ + "/state.json");
    nlohmann::json s = nlohmann::json::parse(in, nullptr, false);
    return s.is_object() ? s["apps"][app] : nullptr;
  }

  std::string agent_dir_;
};

TEST_P(DokkuE2E, AppsFlowThroughAnAgentOnDokku) {
  agent_ = Proc(JoinDokkuAgent("dokku-1"), tmp_.path() + "/agent.log", DokkuEnv(GetParam()));
  ASSERT_TRUE(fleet_->WaitStatus("dokku-1", "healthy", seconds(20))) << agent_.Log();
  ASSERT_TRUE(
      WaitFor([&] { return fleet_->Server("dokku-1").value("dokku_version", "") == GetParam(); },
              seconds(10)))
      << fleet_->Server("dokku-1").dump();
  EXPECT_EQ(fleet_->Server("dokku-1").value("runtime", ""), "dokku");
  EXPECT_TRUE(Has(CliOk({"servers", "ls"}), std::string("dokku ") + GetParam()));

  CliOk({"apps", "create", "shop", "--health-path", "/health", "--memory", "64M"});
  CliOk({"deploy", "shop", "--path", Example("hello")});
  EXPECT_EQ(Running("shop"), 1);
  EXPECT_TRUE(DokkuApp("shop").value("deployed", false));
  EXPECT_EQ(DokkuApp("shop")["containers"].size(), 1u);
  for (const auto& i : Json({"ps", "shop", "--json"})) {
    EXPECT_EQ(i.value("server", ""), "dokku-1");
    EXPECT_EQ(i.value("port", 0), 80);  // Dokku's proxy
  }

  // Config with awkward values: a new release, rolled out by Dokku.
  const std::string quoted = "hello \"dokku\" world";
  const std::string shell = "$(touch " + tmp_.path() + "/pwned); `id` && echo $HOME";
  CliOk({"config", "set", "shop", "GREETING=" + quoted, "SHELLY=" + shell, "LINES=one\ntwo"});
  auto config = DokkuConfig("shop");
  EXPECT_EQ(config["GREETING"], quoted);
  EXPECT_EQ(config["SHELLY"], shell);
  EXPECT_EQ(config["LINES"], "one\ntwo");
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() + "/pwned"));
  EXPECT_EQ(Running("shop"), 1);

  // A value Dokku would corrupt is refused before anything changes.
  auto refused = Cli({"config", "set", "shop", "Q=say \"hi\""});
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_TRUE(Has(refused.out + refused.err, "double quote")) << refused.out << refused.err;
  EXPECT_EQ(DokkuConfig("shop").count("Q"), 0u);

  CliOk({"scale", "shop", "web=2"});
  EXPECT_EQ(Running("shop"), 2);
  EXPECT_EQ(DokkuApp("shop")["containers"].size(), 2u);
  // A one-off through `dokku run`: the argv as given, the app's config.
  auto run = Cli({"run", "shop", "--", "python3", "-c",
                  "import os, sys; print('greeting=' + os.environ['GREETING']); sys.exit(3)"});
  EXPECT_EQ(run.exit_code, 3) << run.out << run.err;
  EXPECT_TRUE(Has(run.out, "greeting=" + quoted)) << run.out << run.err;
  auto logs = Cli({"logs", "shop", "-n", "20"});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_TRUE(Has(logs.out, "starting web")) << logs.out;

  // A release whose checks fail: the deploy fails, the previous one serves on.
  std::filesystem::create_directories(state_ + "/hooks");
  std::ofstream(state_ + "/hooks/shop.fail-checks") << "broken: refusing to start\n";
  auto broken = Cli({"deploy", "shop", "--path", Example("broken")});
  EXPECT_EQ(broken.exit_code, 1) << broken.out << broken.err;
  EXPECT_TRUE(Has(broken.out + broken.err, "broken: refusing to start"))
      << broken.out << broken.err;
  std::filesystem::remove(state_ + "/hooks/shop.fail-checks");
  EXPECT_EQ(Running("shop"), 2);
  EXPECT_EQ(DokkuConfig("shop")["GREETING"], quoted);

  // Rollback to the release before the current one: v1's config.
  CliOk({"rollback", "shop"});
  EXPECT_EQ(Running("shop"), 2);
  EXPECT_EQ(DokkuConfig("shop").count("GREETING"), 0u);

  CliOk({"apps", "destroy", "shop", "--force"});
  auto exists = RunProgram({FAKE_DOKKU_BIN, "apps:exists", "shop"}, DokkuEnv(GetParam()));
  EXPECT_EQ(exists.exit_code, 20) << exists.err;
}

// What Dokku adds, through the CLI: services with split env, ports, storage
// (and the pin it brings), checks, image deploys; and the CLI's refusals.
TEST_P(DokkuE2E, ExtrasServicesPortsStorageChecksAndImages) {
  // Bad input is a usage error (exit 2), refused before anything is sent.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"ports", "set", "shop", "http:80"},
           {"ports", "set", "shop", "http:80:99999"},
           {"checks", "set", "shop", "bogus", "1"},
           {"checks", "set", "shop", "wait", "soon"},
           {"services", "create", "mongo", "db"},
           {"services", "link", "db", "shop", "--split-env", "db_"},
           {"storage", "mount", "shop", "data"},
           {"deploy", "shop", "--image", "nginx"},
           {"deploy", "shop", "--image", "nginx:latest"}}) {
    auto r = Cli(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1] << " " << args.back() << ": " << r.err;
    EXPECT_FALSE(r.err.empty());
  }
  EXPECT_TRUE(Has(Cli({"deploy", "shop", "--image", "nginx"}).err, "no tag"));
  EXPECT_TRUE(Has(Cli({"checks", "set", "shop", "bogus", "1"}).err,
                  "wait, timeout, attempts or wait-to-retire"));

  agent_ = Proc(JoinDokkuAgent("dokku-1"), tmp_.path() + "/agent.log", DokkuEnv(GetParam()));
  ASSERT_TRUE(fleet_->WaitStatus("dokku-1", "healthy", seconds(20))) << agent_.Log();
  fleet_->AddAgent("local-1");  // a LocalRuntime server beside it
  ASSERT_TRUE(fleet_->WaitStatus("local-1", "healthy", seconds(20)));

  // The only Dokku server holds the service; a local one is refused.
  auto on_local = Cli({"services", "create", "postgres", "shopdb", "--server", "local-1"});
  EXPECT_EQ(on_local.exit_code, 1);
  EXPECT_TRUE(Has(on_local.err, "needs a Dokku server") || Has(on_local.err, "need a Dokku server"))
      << on_local.err;
  EXPECT_TRUE(Has(CliOk({"services", "create", "postgres", "shopdb"}), "is on dokku-1"));

  // Linked before its first deploy: the app is pinned to the service's server.
  CliOk({"apps", "create", "shop", "--health-path", "/health"});
  CliOk({"services", "link", "shopdb", "shop", "--split-env", "DB_"});
  EXPECT_EQ(Json({"apps", "show", "shop", "--json"}).value("pinned_server", ""), "dokku-1");
  CliOk({"ports", "set", "shop", "http:8080:5000"});
  CliOk({"storage", "mount", "shop", "shop-data:/app/data"});
  CliOk({"checks", "set", "shop", "wait-to-retire", "7"});
  CliOk({"checks", "set", "shop", "wait", "3"});
  // The first deploy applies all of it on dokku-1 before the app starts, and
  // Dokku's build output streams under the start step while it runs.
  std::string deployed = CliOk({"deploy", "shop", "--path", Example("hello")});
  size_t start = deployed.find("start web instance");
  size_t build = deployed.find("-----> Deploying web", start);
  size_t started = deployed.find("on dokku-1: done", start);
  EXPECT_NE(start, std::string::npos) << deployed;
  EXPECT_NE(build, std::string::npos) << deployed;
  EXPECT_LT(build, started) << deployed;
  EXPECT_TRUE(Has(deployed, "apply the ports, storage, checks, services and domains of shop"))
      << deployed;
  EXPECT_EQ(Running("shop"), 1);
  for (const auto& i : Json({"ps", "shop", "--json"})) EXPECT_EQ(i.value("server", ""), "dokku-1");
  auto config = DokkuConfig("shop");
  std::string url = config.value("DATABASE_URL", "");
  EXPECT_TRUE(Has(url, "postgres://postgres:")) << config.dump();
  EXPECT_EQ(config.value("DB_HOST", ""), "dokku-postgres-shopdb");
  EXPECT_EQ(config.value("DB_PORT", ""), "5432");
  EXPECT_EQ(config.value("DB_USER", ""), "postgres");
  EXPECT_EQ(config.value("DB_DATABASE", ""), "shopdb");
  EXPECT_TRUE(Has(url, ":" + config.value("DB_PASSWORD", "?") + "@")) << url;
  nlohmann::json app = DokkuApp("shop");
  ASSERT_TRUE(app["ports"].is_array()) << app.dump();
  EXPECT_EQ(app["ports"][0].value("host_port", 0), 8080) << app["ports"].dump();
  EXPECT_EQ(app["ports"][0].value("container_port", 0), 5000);
  ASSERT_EQ(app["storage"].size(), 1u) << app.dump();
  EXPECT_EQ(app["storage"][0].value("container_path", ""), "/app/data");
  EXPECT_TRUE(Has(app["storage"][0].value("host_path", ""), "shop-data"));
  EXPECT_EQ(app["checks"].value("wait-to-retire", ""), "7");
  auto storage = Json({"storage", "ls", "shop", "--json"});
  EXPECT_EQ(storage.value("pinned_server", ""), "dokku-1") << storage.dump();
  EXPECT_EQ(Json({"checks", "ls", "shop", "--json"})["checks"].value("wait", ""), "3");

  // A change on a running app is applied at once; scaling stays on dokku-1.
  CliOk({"ports", "set", "shop", "http:8081:5000"});
  EXPECT_EQ(DokkuApp("shop")["ports"][0].value("host_port", 0), 8081);
  CliOk({"scale", "shop", "web=2"});
  for (const auto& i : Json({"ps", "shop", "--json"})) EXPECT_EQ(i.value("server", ""), "dokku-1");

  // Another app runs on local-1: linking the service there is refused.
  CliOk({"apps", "create", "other", "--pin", "local-1"});
  auto elsewhere = Cli({"services", "link", "shopdb", "other"});
  EXPECT_EQ(elsewhere.exit_code, 1);
  EXPECT_TRUE(Has(elsewhere.err, "lives on dokku-1")) << elsewhere.err;
  // An image cannot run on the LocalRuntime server it is pinned to.
  auto image_local = Cli({"deploy", "other", "--image", "nginx:1.27"});
  EXPECT_EQ(image_local.exit_code, 1) << image_local.out << image_local.err;
  EXPECT_TRUE(Has(image_local.out + image_local.err, "dokku"))
      << image_local.out << image_local.err;

  // An image deploy: git:from-image with the pinned tag, recorded in the release.
  CliOk({"deploy", "shop", "--image", "nginx:1.27"});
  EXPECT_EQ(DokkuApp("shop").value("deploy_source_metadata", ""), "nginx:1.27")
      << DokkuApp("shop").dump();
  auto releases = Json({"releases", "shop", "--json"});
  ASSERT_TRUE(releases.is_array() && !releases.empty());
  EXPECT_TRUE(Has(releases[0].value("description", ""), "image nginx:1.27")) << releases.dump();
  EXPECT_EQ(Running("shop"), 2);
  // Rolling back to an image release deploys that image again.
  CliOk({"deploy", "shop", "--image", "nginx:1.28"});
  CliOk({"rollback", "shop"});
  EXPECT_EQ(DokkuApp("shop").value("deploy_source_metadata", ""), "nginx:1.27");

  // An exposed service is reached over the network: a config release with its
  // server's address and exposed port, and no pin needed.
  CliOk({"services", "create", "redis", "cache", "--expose"});
  CliOk({"services", "link", "cache", "shop", "--split-env", "CACHE_"});
  auto cache = DokkuConfig("shop");
  EXPECT_TRUE(Has(cache.value("REDIS_URL", ""), "@127.0.0.1:")) << cache.dump();
  EXPECT_EQ(cache.value("CACHE_HOST", ""), "127.0.0.1");
  EXPECT_NE(cache.value("CACHE_PORT", "6379"), "6379");
  CliOk({"services", "unlink", "cache", "shop"});
  EXPECT_EQ(DokkuConfig("shop").count("REDIS_URL"), 0u);
  CliOk({"services", "destroy", "cache"});

  auto services = Json({"services", "ls", "--json"});
  ASSERT_TRUE(services.is_array() && services.size() == 1u) << services.dump();
  EXPECT_EQ(services[0]["links"][0].value("split_prefix", ""), "DB_");
  auto linked = Cli({"services", "destroy", "shopdb"});
  EXPECT_EQ(linked.exit_code, 1);
  EXPECT_TRUE(Has(linked.err, "unlink it first (`dflow services unlink shopdb shop`)"))
      << linked.err;
  CliOk({"services", "unlink", "shopdb", "shop"});
  EXPECT_EQ(DokkuConfig("shop").count("DATABASE_URL"), 0u);
  EXPECT_EQ(DokkuConfig("shop").count("DB_HOST"), 0u);
  CliOk({"services", "destroy", "shopdb"});
  auto gone = RunProgram({FAKE_DOKKU_BIN, "postgres:exists", "shopdb"}, DokkuEnv(GetParam()));
  EXPECT_NE(gone.exit_code, 0);
}

// Every file under `dir` (recursively) that contains `needle`.
std::vector<std::string> FilesHolding(const std::string& dir, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (Has(text, needle)) out.push_back(e.path().string());
  }
  return out;
}

// services create|destroy are durable operations: a controller killed in the
// middle of the create step finishes it when it comes back; the service's
// password stays on its host (the controller's files never hold it, `services
// ls` never prints it) and is read from there when a link needs it.
TEST_P(DokkuE2E, ServicesAreOpsThatSurviveACrashAndThePasswordStaysOnTheHost) {
  agent_ = Proc(JoinDokkuAgent("dokku-1"), tmp_.path() + "/agent.log", DokkuEnv(GetParam()));
  ASSERT_TRUE(fleet_->WaitStatus("dokku-1", "healthy", seconds(20))) << agent_.Log();

  // Killed after the create step's agent call, before its result is committed.
  fleet_->StopController(SIGTERM);
  fleet_->SpawnController({{"DFLOW_TEST_CRASH_AT", "service:1:after-rpc"}});
  ASSERT_TRUE(WaitFor([&] { return Cli({"status"}).exit_code == 0; }, seconds(30)));
  auto detached = Cli({"services", "create", "redis", "cache", "--expose", "--detach"});
  ASSERT_EQ(detached.exit_code, 0) << detached.err;
  const std::string id(absl::StripAsciiWhitespace(detached.out));
  ASSERT_TRUE(WaitFor([&] { return !fleet_->controller().Running(); }, seconds(60)))
      << fleet_->controller().Log();
  EXPECT_EQ(fleet_->controller().Wait(seconds(5)), 137) << fleet_->controller().Log();
  fleet_->StartController();
  nlohmann::json op;
  ASSERT_TRUE(WaitFor(
      [&] {
        op = Json({"ops", "show", id, "--json"});
        return op.is_object() && op.value("state", "") == "succeeded";
      },
      seconds(60)))
      << op.dump() << fleet_->controller().Log();
  auto services = Json({"services", "ls", "--json"});
  ASSERT_TRUE(services.is_array() && services.size() == 1u) << services.dump();
  EXPECT_EQ(services[0].value("server", ""), "dokku-1");
  EXPECT_TRUE(services[0].value("exposed", false));

  // A create that is followed prints the operation and the result.
  std::string made = CliOk({"services", "create", "postgres", "shopdb"});
  EXPECT_TRUE(Has(made, "succeeded")) << made;
  EXPECT_TRUE(Has(made, "postgres service shopdb is on dokku-1")) << made;
  auto again = Cli({"services", "create", "postgres", "shopdb"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(Has(again.err, "service shopdb already exists (postgres on dokku-1)")) << again.err;

  // The passwords Dokku holds never reach the controller's files or output.
  auto dsn = [&](const std::string& kind, const std::string& name) {
    auto r = RunProgram({FAKE_DOKKU_BIN, kind + ":info", name, "--dsn"}, DokkuEnv(GetParam()));
    std::string url(absl::StripAsciiWhitespace(r.out));
    std::string auth = url.substr(url.find("://") + 3, url.rfind('@') - url.find("://") - 3);
    return auth.substr(auth.find(':') + 1);
  };
  const std::string pg_password = dsn("postgres", "shopdb"), redis_password = dsn("redis", "cache");
  ASSERT_GE(pg_password.size(), 16u);
  ASSERT_GE(redis_password.size(), 16u);
  for (const auto& password : {pg_password, redis_password}) {
    EXPECT_TRUE(FilesHolding(fleet_->controller_dir(), password).empty())
        << absl::StrJoin(FilesHolding(fleet_->controller_dir(), password), ", ");
    EXPECT_FALSE(Has(CliOk({"services", "ls"}), password));
    EXPECT_FALSE(Has(CliOk({"services", "ls", "--json"}), password));
    EXPECT_FALSE(Has(made, password));
    EXPECT_FALSE(Has(CliOk({"ops", "show", id}), password));
  }

  // A link gets the whole URL, read from the host: exposed (config release)
  // and not (Dokku link).
  CliOk({"apps", "create", "shop"});
  CliOk({"deploy", "shop", "--path", Example("hello")});
  CliOk({"services", "link", "cache", "shop"});
  CliOk({"services", "link", "shopdb", "shop"});
  auto config = DokkuConfig("shop");
  EXPECT_TRUE(Has(config.value("REDIS_URL", ""), ":" + redis_password + "@127.0.0.1:"))
      << config.dump();
  EXPECT_TRUE(Has(config.value("DATABASE_URL", ""), ":" + pg_password + "@")) << config.dump();
  CliOk({"services", "unlink", "cache", "shop"});
  CliOk({"services", "unlink", "shopdb", "shop"});

  // Destroy is an operation too, and then gone on the host and in the store.
  std::string destroyed = CliOk({"services", "destroy", "cache"});
  EXPECT_TRUE(Has(destroyed, "succeeded")) << destroyed;
  EXPECT_TRUE(Has(destroyed, "service cache destroyed")) << destroyed;
  EXPECT_NE(RunProgram({FAKE_DOKKU_BIN, "redis:exists", "cache"}, DokkuEnv(GetParam())).exit_code,
            0);
  auto left = Json({"services", "ls", "--json"});
  ASSERT_TRUE(left.is_array() && left.size() == 1u) << left.dump();
  EXPECT_EQ(left[0].value("name", ""), "shopdb");
}

TEST_P(DokkuE2E, TooOldDokkuIsRefusedAtStart) {
  auto argv = JoinDokkuAgent("old-1");
  auto run = RunProgram(argv, DokkuEnv("0.34.9"));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(Has(run.err, "Dokku 0.34.9")) << run.err;
  EXPECT_TRUE(Has(run.err, "0.35.0 or newer")) << run.err;
}

INSTANTIATE_TEST_SUITE_P(Versions, DokkuE2E, ::testing::Values("0.35.20", "0.38.27"));

}  // namespace
}  // namespace dflow::testing
