// End to end: a theme's domains and health check at install, and an upgrade
// that changes the port and the volumes, on the Dokku test double. The
// upgrade's Dokku commands are asserted in full (read-only queries left out,
// see ReadOnly in themes_dokku_fixture.h): the volume the new version drops
// is unmounted (its data stays), the new one mounted, the new port map set,
// then the new image deployed.
#include "tests/e2e/themes_dokku_fixture.h"

namespace dflow::testing {
namespace {

using std::chrono::seconds;

// A custom image theme "shelf" at `version`: `port`, `volumes` (name:path),
// a domain, a secret and a healthcheck of 60 s over 3 attempts.
std::string ShelfManifest(const std::string& version, int port,
                          const std::vector<std::pair<std::string, std::string>>& volumes,
                          const std::string& more_domains = "",
                          const std::string& health_path = "/health") {
  std::string out = "apiVersion: dflow/v1\nkind: Theme\nname: shelf\nversion: " + version +
                    "\ndescription: d\nsource:\n  image: example/shelf:" + version +
                    "\nport: " + std::to_string(port) + "\ndomains:\n  - shelf.example.test\n" +
                    more_domains +
                    "secrets:\n  - name: key\nenv:\n"
                    "  KEY: \"{{ secrets.key }}\"\n  VERSION: \"" +
                    version + "\"\nvolumes:\n";
  for (const auto& [name, path] : volumes) {
    out += "  - name: " + name + "\n    path: " + path + "\n    backup: true\n";
  }
  return out + "healthcheck:\n  path: " + health_path + "\n  timeout: 60s\n  attempts: 3\n";
}

class ThemesDokkuUpgradeE2E : public ThemesDokkuE2E {
 protected:
  void AddShelf(const std::string& manifest) {
    std::string dir = tmp_.path() + "/shelf";
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/theme.yaml") << manifest;
    CliOk({"themes", "add", dir});
  }
};

TEST_F(ThemesDokkuUpgradeE2E, DomainsAtInstallAndAnUpgradeChangesPortAndVolumes) {
  AddShelf(ShelfManifest("1.0.0", 8080, {{"data", "/data"}, {"cache", "/cache"}}));
  CliOk({"themes", "install", "shelf", "--app", "shelf"});
  const std::string key = Secrets("shelf")["key"];
  ASSERT_EQ(key.size(), 32u);
  const std::string storage = "/var/lib/dokku/data/storage/";
  std::vector<std::string> want = {
      "apps:create shelf",
      "ports:set shelf http:80:8080",
      "storage:create --chown herokuish shelf-cache",
      "storage:mount shelf " + storage + "shelf-cache:/cache",
      "storage:create --chown herokuish shelf-data",
      "storage:mount shelf " + storage + "shelf-data:/data",
      // The theme's domain, through the stored domains the rollout applies
      // (as `dflow domains add` stores them).
      "domains:add shelf shelf.example.test",
      "config:set --no-restart --encoded shelf KEY=" + key + " VERSION=1.0.0",
      "ps:scale --skip-deploy shelf web=1",
      "git:from-image shelf example/shelf:1.0.0",
  };
  auto writes = Writes(0);
  EXPECT_EQ(writes, want) << Diff(want, writes);
  EXPECT_TRUE(Has(CliOk({"domains", "ls", "shelf"}), "shelf.example.test"));
  // healthcheck: 60 s over 3 attempts, as Dokku's per-attempt timeout.
  auto checks = Json({"checks", "ls", "shelf", "--json"});
  ASSERT_TRUE(checks.is_object()) << checks;
  EXPECT_EQ(checks["checks"].value("attempts", ""), "3") << checks.dump();
  EXPECT_EQ(checks["checks"].value("timeout", ""), "20") << checks.dump();

  // 2.0.0 listens on another port, keeps /data, drops /cache, adds /uploads
  // and a domain, and checks /ready.
  AddShelf(ShelfManifest("2.0.0", 9090, {{"data", "/data"}, {"uploads", "/uploads"}},
                         "  - shop.example.test\n", "/ready"));
  size_t mark = LogSize();
  CliOk({"themes", "upgrade", "shelf"});
  want = {
      // A dokku op submitted before the deploy: only the bind mount goes.
      "storage:unmount shelf " + storage + "shelf-cache:/cache",
      // The rollout's apply: the new port map; storage:create of every
      // volume (it keeps an existing directory), a mount for the new one only
      // (/data is mounted already); only the changed env.
      "ports:set shelf http:80:9090",
      "storage:create --chown herokuish shelf-data",
      "storage:create --chown herokuish shelf-uploads",
      "storage:mount shelf " + storage + "shelf-uploads:/uploads",
      "domains:add shelf shop.example.test",  // the domain 2.0.0 adds
      "config:set --no-restart --encoded shelf VERSION=2.0.0",
      "ps:scale --skip-deploy shelf web=1",
      "git:from-image shelf example/shelf:2.0.0",
  };
  writes = Writes(mark);
  EXPECT_EQ(writes, want) << Diff(want, writes);
  auto record = Json({"themes", "secrets", "shelf", "--json"});
  EXPECT_EQ(record.value("version", ""), "2.0.0") << record.dump();
  EXPECT_EQ(record.value("state", ""), "installed") << record.dump();
  EXPECT_EQ(Secrets("shelf")["key"], key);
  auto extras = Json({"storage", "ls", "shelf", "--json"});
  EXPECT_FALSE(Has(extras.dump(), "/cache")) << extras.dump();
  EXPECT_TRUE(Has(extras.dump(), "/uploads")) << extras.dump();
  EXPECT_EQ(DokkuConfig("shelf").value("VERSION", ""), "2.0.0");
  EXPECT_TRUE(Has(CliOk({"domains", "ls", "shelf"}), "shop.example.test"));
  // The new version's health check path is the app's.
  EXPECT_EQ(Json({"apps", "show", "shelf", "--json"}).value("health_path", ""), "/ready");
}

}  // namespace
}  // namespace dflow::testing
