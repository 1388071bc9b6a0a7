// End to end on the Dokku test double: what a theme upgrade puts back when
// its deploy fails (ports, storage, checks, domains, links: in the store, on
// the server, and at the next rollout; the checks it added are unset there),
// what an upgrade removes that the new version drops (the theme's domains,
// not the user's; a service is unlinked and kept), and `apps destroy` of a
// theme app whose service cannot be destroyed (the server is away: said,
// with the command that finishes it).
#include <signal.h>

#include "tests/e2e/themes_dokku_fixture.h"

namespace dflow::testing {
namespace {

using std::chrono::seconds;

struct Shelf {
  std::string version = "1.0.0";
  int port = 8080;
  std::vector<std::pair<std::string, std::string>> volumes{};  // name, path
  std::vector<std::string> domains{};
  // A redis service "cache", its host as CACHE_HOST (not its URL: Dokku's
  // redis:link refuses an app whose config holds the URL already).
  bool redis = false;
  std::string health_path = "/health";  // "": no healthcheck
};

// A custom image theme "shelf".
std::string Manifest(const Shelf& s) {
  std::string out = "apiVersion: dflow/v1\nkind: Theme\nname: shelf\nversion: " + s.version +
                    "\ndescription: d\nsource:\n  image: example/shelf:" + s.version +
                    "\nport: " + std::to_string(s.port) + "\n";
  if (!s.domains.empty()) {
    out += "domains:\n";
    for (const auto& d : s.domains) out += "  - " + d + "\n";
  }
  if (s.redis) out += "services:\n  - name: cache\n    type: redis\n    wants: [host]\n";
  out += "secrets:\n  - name: key\nenv:\n  KEY: \"{{ secrets.key }}\"\n  VERSION: \"" + s.version +
         "\"\n";
  if (s.redis) out += "  CACHE_HOST: \"{{ services.cache.host }}\"\n";
  if (!s.volumes.empty()) out += "volumes:\n";
  for (const auto& [name, path] : s.volumes) {
    out += "  - name: " + name + "\n    path: " + path + "\n";
  }
  if (s.health_path.empty()) return out;
  return out + "healthcheck:\n  path: " + s.health_path + "\n  timeout: 60s\n  attempts: 3\n";
}

class ThemesDokkuRestoreE2E : public ThemesDokkuE2E {
 protected:
  std::string AddShelf(const Shelf& s) {
    std::string dir = tmp_.path() + "/shelf-" + s.version;
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/theme.yaml") << Manifest(s);
    return CliOk({"themes", "add", dir});
  }
  // What the store holds for the app: ports, storage, checks, domains, links.
  std::string Settings(const std::string& app) {
    auto domains = CliOk({"domains", "ls", app});
    return Json({"ports", "ls", app, "--json"})["ports"].dump() + "\n" +
           Json({"storage", "ls", app, "--json"}).dump() + "\n" +
           Json({"checks", "ls", app, "--json"})["checks"].dump() + "\n" + domains + "\n" +
           CliOk({"services", "ls"});
  }
  // Waits until no op of the app is pending or running.
  bool OpsSettled(const std::string& app) {
    return WaitFor(
        [&] {
          auto ops = Json({"ops", "ls", "--app", app, "--json"});
          if (!ops.is_array()) return false;
          for (const auto& op : ops) {
            std::string st = op.value("state", "");
            if (st == "pending" || st == "running" || st == "queued") return false;
          }
          return true;
        },
        seconds(60));
  }
  std::string DokkuOut(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {FAKE_DOKKU_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, Env()).out;
  }
};

TEST_F(ThemesDokkuRestoreE2E, AFailedUpgradePutsBackSettingsAndDomains) {
  // No service here: the double's fail-checks hook fails every restart of
  // the app, and a Dokku link or unlink restarts it (the unlink of a dropped
  // service is the next test's).
  Shelf v1{.volumes = {{"data", "/data"}, {"cache", "/cache"}}, .domains = {"shelf.example.test"}};
  AddShelf(v1);
  CliOk({"themes", "install", "shelf", "--app", "shelf"});
  CliOk({"domains", "add", "shelf", "mine.example.test"});  // the user's own
  ASSERT_TRUE(OpsSettled("shelf"));
  const std::string before = Settings("shelf");

  // 2.0.0: another port, drops /cache and the theme's domain, adds /uploads
  // and another domain, checks /ready; its deploy fails its checks.
  Shelf v2{.version = "2.0.0",
           .port = 9090,
           .volumes = {{"data", "/data"}, {"uploads", "/uploads"}},
           .domains = {"shop.example.test"},
           .health_path = "/ready"};
  AddShelf(v2);
  std::filesystem::create_directories(state_ + "/hooks");
  std::ofstream(state_ + "/hooks/shelf.fail-checks") << "broken: 2.0.0 does not start\n";
  auto r = Cli({"themes", "upgrade", "shelf"});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  // Asking for the record settles the upgrade (the supervisor runs first),
  // which submits the ops that put the old settings back on the server.
  auto record = Json({"themes", "secrets", "shelf", "--json"});
  ASSERT_TRUE(OpsSettled("shelf"));
  EXPECT_EQ(record.value("version", ""), "1.0.0") << record.dump();
  EXPECT_EQ(record.value("state", ""), "installed") << record.dump();
  EXPECT_TRUE(Has(record.value("error", ""), "1.0.0 keeps running")) << record.dump();

  // In the store: everything as before the upgrade.
  EXPECT_EQ(Settings("shelf"), before);
  EXPECT_EQ(Json({"apps", "show", "shelf", "--json"}).value("health_path", ""), "/health");
  // On the server: the old port map, /cache mounted, /uploads not, the old
  // domains back (the restore's ops).
  EXPECT_TRUE(Has(DokkuOut({"ports:report", "shelf", "--ports-map"}), "http:80:8080"));
  std::string mounts = DokkuOut({"storage:list", "shelf"});
  EXPECT_TRUE(Has(mounts, "shelf-cache:/cache")) << mounts;
  EXPECT_FALSE(Has(mounts, "/uploads")) << mounts;
  std::string vhosts = DokkuOut({"domains:report", "shelf", "--domains-app-vhosts"});
  EXPECT_TRUE(Has(vhosts, "shelf.example.test")) << vhosts;
  EXPECT_TRUE(Has(vhosts, "mine.example.test")) << vhosts;
  EXPECT_FALSE(Has(vhosts, "shop.example.test")) << vhosts;

  // The next rollout applies the old settings, not 2.0.0's.
  std::filesystem::remove(state_ + "/hooks/shelf.fail-checks");
  size_t mark = LogSize();
  CliOk({"restart", "shelf"});
  auto writes = Dump(Writes(mark));
  EXPECT_FALSE(Has(writes, "9090")) << writes;
  EXPECT_FALSE(Has(writes, "/uploads")) << writes;
  EXPECT_FALSE(Has(writes, "shop.example.test")) << writes;
  EXPECT_EQ(Settings("shelf"), before);
  EXPECT_TRUE(Has(DokkuOut({"ports:report", "shelf", "--ports-map"}), "http:80:8080"));
  mounts = DokkuOut({"storage:list", "shelf"});
  EXPECT_TRUE(Has(mounts, "shelf-cache:/cache")) << mounts;
  EXPECT_FALSE(Has(mounts, "/uploads")) << mounts;
  vhosts = DokkuOut({"domains:report", "shelf", "--domains-app-vhosts"});
  EXPECT_TRUE(Has(vhosts, "shelf.example.test")) << vhosts;
  EXPECT_FALSE(Has(vhosts, "shop.example.test")) << vhosts;
}

// A theme sets only the checks its healthcheck gives (attempts and timeout,
// themes/SCHEMA.md; never wait-to-retire). 1.0.0 has none, 2.0.0 adds one
// and its deploy fails: the checks it added are unset on the server too (an
// "unset_check" op each), so the agent no longer keeps them for the app.json
// of its next deploys; "apply" alone only sets what the store holds.
TEST_F(ThemesDokkuRestoreE2E, AFailedUpgradeUnsetsTheChecksItAddedOnTheServer) {
  AddShelf({.health_path = ""});
  CliOk({"themes", "install", "shelf", "--app", "shelf"});
  ASSERT_TRUE(OpsSettled("shelf"));
  EXPECT_EQ(Json({"checks", "ls", "shelf", "--json"})["checks"], nlohmann::json::object());
  // What the agent keeps for the app's next deploys (its state file).
  auto kept = [&] {
    std::ifstream in(fleet_->agent_dir("dokku-1") + "/dokku/state.json");
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_object()) return nlohmann::json();
    return j["apps"]["shelf"].value("checks", nlohmann::json::object());
  };

  AddShelf({.version = "2.0.0", .health_path = "/ready"});
  std::filesystem::create_directories(state_ + "/hooks");
  std::ofstream(state_ + "/hooks/shelf.fail-checks") << "broken: 2.0.0 does not start\n";
  auto r = Cli({"themes", "upgrade", "shelf"});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  auto record = Json({"themes", "secrets", "shelf", "--json"});  // settles the upgrade
  ASSERT_TRUE(OpsSettled("shelf"));
  EXPECT_EQ(record.value("version", ""), "1.0.0") << record.dump();
  EXPECT_EQ(Json({"checks", "ls", "shelf", "--json"})["checks"], nlohmann::json::object());
  EXPECT_EQ(kept(), nlohmann::json::object()) << agent_.Log();
  auto ops = Json({"ops", "ls", "--app", "shelf", "--json"});
  ASSERT_TRUE(ops.is_array()) << ops;
  for (const std::string key : {"attempts", "timeout"}) {
    const std::string what =
        "unset check " + key + " of shelf (put back after a failed theme upgrade)";
    bool done = false;
    for (const auto& op : ops) {
      done = done || (Has(op.dump(), what) && op.value("state", "") == "succeeded");
    }
    EXPECT_TRUE(done) << key << "\n" << ops.dump(1);
  }
}

TEST_F(ThemesDokkuRestoreE2E, AnUpgradeRemovesTheThemesDroppedDomainsAndUnlinksDroppedServices) {
  AddShelf({.domains = {"shelf.example.test", "old.example.test"}, .redis = true});
  CliOk({"themes", "install", "shelf", "--app", "shelf"});
  CliOk({"domains", "add", "shelf", "mine.example.test"});
  ASSERT_TRUE(OpsSettled("shelf"));

  // 2.0.0 keeps shelf.example.test, drops old.example.test and the redis service.
  std::string added = AddShelf({.version = "2.0.0", .domains = {"shelf.example.test"}});
  EXPECT_EQ(added,
            "added theme shelf 2.0.0; install it with `dflow themes install shelf --app APP` (an "
            "app installed from an earlier version of it: `dflow themes upgrade APP`)\n");
  size_t mark = LogSize();
  std::string out = CliOk({"themes", "upgrade", "shelf"});
  EXPECT_TRUE(Has(out,
                  "note: domain old.example.test is removed from shelf: shelf 2.0.0 no "
                  "longer has it"))
      << out;
  EXPECT_TRUE(Has(out,
                  "note: shelf 2.0.0 no longer uses redis service shelf_cache on dokku-1: "
                  "it is unlinked from shelf and kept with its data; `dflow services "
                  "destroy shelf_cache` destroys it"))
      << out;
  ASSERT_TRUE(OpsSettled("shelf"));
  std::string domains = CliOk({"domains", "ls", "shelf"});
  EXPECT_TRUE(Has(domains, "shelf.example.test")) << domains;
  EXPECT_TRUE(Has(domains, "mine.example.test")) << domains;  // the user's stays
  EXPECT_FALSE(Has(domains, "old.example.test")) << domains;
  auto writes = Writes(mark);
  EXPECT_NE(Find(writes, "domains:remove shelf old.example.test"), std::string::npos)
      << Dump(writes);
  EXPECT_NE(Find(writes, "redis:unlink shelf_cache shelf"), std::string::npos) << Dump(writes);
  EXPECT_EQ(Find(writes, "redis:destroy"), std::string::npos) << Dump(writes);
  // The service is kept, linked to nothing.
  auto services = Json({"services", "ls", "--json"});
  ASSERT_TRUE(services.is_array()) << services;
  ASSERT_EQ(services.size(), 1u) << services.dump();
  EXPECT_EQ(services[0].value("name", ""), "shelf_cache");
  EXPECT_TRUE(services[0]["links"].empty()) << services.dump();
  EXPECT_EQ(Json({"themes", "secrets", "shelf", "--json"}).value("version", ""), "2.0.0");
}

TEST_F(ThemesDokkuRestoreE2E, AppsDestroyNamesAServiceItCouldNotDestroy) {
  AddShelf({.redis = true});
  CliOk({"themes", "install", "shelf", "--app", "shelf"});
  ASSERT_TRUE(OpsSettled("shelf"));
  agent_.Signal(SIGKILL);
  agent_.Wait(std::chrono::milliseconds(5000));
  ASSERT_TRUE(fleet_->WaitStatus("dokku-1", "unreachable", seconds(20)));

  auto r = Cli({"apps", "destroy", "shelf", "--force"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Has(r.err,
                  "app shelf is destroyed, but redis service shelf_cache on dokku-1 was "
                  "not destroyed"))
      << r.err;
  EXPECT_TRUE(Has(r.err,
                  "`dflow services destroy shelf_cache` destroys it once dokku-1 is "
                  "reachable"))
      << r.err;
  EXPECT_NE(Cli({"apps", "show", "shelf"}).exit_code, 0);
  // The service record stays, and the install says what is left.
  EXPECT_TRUE(Has(CliOk({"services", "ls"}), "shelf_cache"));
  auto record = Json({"themes", "secrets", "shelf", "--json"});
  EXPECT_EQ(record.value("state", ""), "uninstalling") << record.dump();
  EXPECT_TRUE(Has(record.value("error", ""), "shelf_cache")) << record.dump();
  // A new install of the name would pair fresh secrets with the old data.
  auto again = Cli({"themes", "install", "shelf", "--app", "shelf", "--server", "dokku-1"});
  EXPECT_EQ(again.exit_code, 1) << again.out << again.err;
  EXPECT_TRUE(Has(again.err,
                  "the previous install of shelf is not removed yet: app shelf is "
                  "destroyed, but redis service shelf_cache"))
      << again.err;

  // The server is back: `dflow services destroy` finishes it, and the
  // install record goes with it.
  agent_ = Proc({DFLOW_AGENT_BIN, "run", "--data-dir", tmp_.path() + "/agents/dokku-1", "--runtime",
                 "dokku", "--dokku-bin", FAKE_DOKKU_BIN},
                tmp_.path() + "/agent2.log", Env());
  ASSERT_TRUE(fleet_->WaitStatus("dokku-1", "healthy", seconds(20))) << agent_.Log();
  // dokku-1 was away while shelf was destroyed, so it still had the app,
  // linked to the service (redis:destroy refuses a linked service), until
  // the reconciler finished the pending removal there.
  EXPECT_TRUE(Has(r.err,
                  "app shelf is still there, linked to the service, until dflow removes it "
                  "when the server is back: `dflow status` lists it until then"))
      << r.err;
  ASSERT_TRUE(WaitFor(
      [&] {
        return RunProgram({FAKE_DOKKU_BIN, "apps:exists", "shelf"}, Env()).exit_code != 0;
      },
      seconds(30)))
      << agent_.Log();
  ASSERT_TRUE(WaitFor([&] { return !Has(CliOk({"status"}), "pending removals"); }, seconds(10)))
      << CliOk({"status"});
  size_t mark = LogSize();
  CliOk({"services", "destroy", "shelf_cache"});
  EXPECT_NE(Find(Writes(mark), "redis:destroy shelf_cache"), std::string::npos)
      << Dump(Writes(mark));
  EXPECT_FALSE(Has(CliOk({"services", "ls"}), "shelf_cache"));
  EXPECT_TRUE(WaitFor(
      [&] {
        return Cli({"themes", "secrets", "shelf"}).exit_code != 0;
      },
      seconds(10)));
}

}  // namespace
}  // namespace dflow::testing
