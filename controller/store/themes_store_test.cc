// The store's theme install records: what an upgrade keeps to put back
// (theme_installs.previous), the theme's domains, and a record an older
// controller wrote (health check only), on a real SQLite file.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <filesystem>

#include "controller/store/store.h"

namespace dflow::store {
namespace {

class ThemesStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dflow-themes-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    auto s = Store::Open(dir_ + "/store.db", &clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(ThemesStoreTest, AnUpgradesPreviousSettingsAndTheThemesDomainsRoundTrip) {
  ThemeInstall in;
  in.app = "shelf";
  in.theme = "shelf";
  in.version = "1.0.0";
  in.state = "upgrading";
  in.domains = {"shop.example.test"};
  in.has_previous = true;
  in.has_previous_settings = true;
  in.previous_health_path = "/health";
  in.previous_health_timeout_ms = 60000;
  in.previous_ports = {"http:80:8080"};
  in.previous_storage = {{"shelf-cache", "/cache"}, {"shelf-data", "/data"}};
  in.previous_checks = {{"attempts", "3"}, {"timeout", "20"}};
  in.previous_domains = {"mine.example.test", "shelf.example.test"};
  in.previous_links = {{"shelf_cache", "shelf", "CACHE_"}};
  in.previous_theme_domains = {"shelf.example.test"};
  ASSERT_TRUE(store_->SaveThemeInstall(in).ok());

  auto got = store_->GetThemeInstall("shelf");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->domains, in.domains);
  EXPECT_TRUE(got->has_previous);
  EXPECT_TRUE(got->has_previous_settings);
  EXPECT_EQ(got->previous_health_path, "/health");
  EXPECT_EQ(got->previous_health_timeout_ms, 60000);
  EXPECT_EQ(got->previous_ports, in.previous_ports);
  ASSERT_EQ(got->previous_storage.size(), 2u);
  EXPECT_EQ(got->previous_storage[0].source, "shelf-cache");
  EXPECT_EQ(got->previous_storage[1].container_dir, "/data");
  EXPECT_EQ(got->previous_checks, in.previous_checks);
  EXPECT_EQ(got->previous_domains, in.previous_domains);
  ASSERT_EQ(got->previous_links.size(), 1u);
  EXPECT_EQ(got->previous_links[0].service, "shelf_cache");
  EXPECT_EQ(got->previous_links[0].app, "shelf");
  EXPECT_EQ(got->previous_links[0].split_prefix, "CACHE_");
  EXPECT_EQ(got->previous_theme_domains, in.previous_theme_domains);

  // Once the upgrade ends, nothing is kept to put back.
  in.has_previous = false;
  in.state = "installed";
  ASSERT_TRUE(store_->SaveThemeInstall(in).ok());
  got = store_->GetThemeInstall("shelf");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_previous);
  EXPECT_TRUE(got->previous_ports.empty());
  EXPECT_EQ(got->domains, in.domains);
}

TEST_F(ThemesStoreTest, ARecordAnOlderControllerWroteKeepsItsSettingsAlone) {
  ThemeInstall in;
  in.app = "old";
  in.theme = "statuspage";
  in.version = "1.0.0";
  ASSERT_TRUE(store_->SaveThemeInstall(in).ok());
  store_.reset();
  // As the controller before theme_installs.domains and the settings in
  // `previous` wrote it: the health check only, no domains.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/store.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "UPDATE theme_installs SET state = 'upgrading', previous = "
                         "'{\"health_path\":\"/health\",\"health_timeout_ms\":30000}', "
                         "domains = '[]' WHERE app = 'old'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto s = Store::Open(dir_ + "/store.db", &clock_);
  ASSERT_TRUE(s.ok()) << s.status();
  store_ = std::move(*s);
  auto got = store_->GetThemeInstall("old");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->has_previous);
  EXPECT_EQ(got->previous_health_path, "/health");
  // No settings recorded: a failed upgrade must not read that as "none".
  EXPECT_FALSE(got->has_previous_settings);
  EXPECT_TRUE(got->domains.empty());
}

}  // namespace
}  // namespace dflow::store
