// The store's Dokku extras: ports, storage, checks, services and links, with
// their refusals and what an app's destroy takes with it.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "controller/store/store.h"

namespace dflow::store {
namespace {

class ExtrasStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dflow-extras-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    auto s = Store::Open(dir_ + "/store.db", &clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    App app;
    app.name = "shop";
    ASSERT_TRUE(store_->CreateApp(app).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(ExtrasStoreTest, SettingsAreKeptInOrderAndReplaced) {
  ASSERT_TRUE(store_->SetAppPorts("shop", {"https:443:5000", "http:80:5000"}).ok());
  ASSERT_TRUE(store_->SetAppPorts("shop", {"http:8080:5000"}).ok());
  ASSERT_TRUE(store_->AddAppStorage("shop", {"shop-data", "/app/data"}).ok());
  ASSERT_TRUE(store_->AddAppStorage("shop", {"shop-data", "/app/data"}).ok());  // same: fine
  absl::Status other = store_->AddAppStorage("shop", {"/srv/x", "/app/data"});
  EXPECT_EQ(other.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(other.message().find("dflow storage unmount shop /app/data"), std::string::npos);
  ASSERT_TRUE(store_->SetAppCheck("shop", "wait", "3").ok());
  ASSERT_TRUE(store_->SetAppCheck("shop", "wait", "5").ok());
  EXPECT_EQ(store_->SetAppPorts("nope", {"http:80:5000"}).code(), absl::StatusCode::kNotFound);
  auto e = store_->GetAppExtras("shop");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->ports, (std::vector<std::string>{"http:8080:5000"}));
  ASSERT_EQ(e->storage.size(), 1u);
  EXPECT_EQ(e->storage[0].source, "shop-data");
  EXPECT_EQ(e->checks, (std::map<std::string, std::string>{{"wait", "5"}}));
  EXPECT_TRUE(e->NeedsDokku());
  auto removed = store_->RemoveAppStorage("shop", "/app/data");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->source, "shop-data");
  EXPECT_EQ(store_->RemoveAppStorage("shop", "/app/data").status().code(),
            absl::StatusCode::kNotFound);
}

// A mount keeps its owner: a named storage's (herokuish when none is given),
// none for a host path; mounting the same storage with another owner keeps the
// new one (the next apply chowns it), and the removal returns it.
TEST_F(ExtrasStoreTest, StorageOwnersRoundTrip) {
  ASSERT_TRUE(store_->AddAppStorage("shop", {"shop-home", "/home/node", "heroku"}).ok());
  ASSERT_TRUE(store_->AddAppStorage("shop", {"shop-data", "/app/data"}).ok());
  ASSERT_TRUE(store_->AddAppStorage("shop", {"/srv/x", "/srv"}).ok());
  auto e = store_->GetAppExtras("shop");
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->storage.size(), 3u);  // by container dir
  EXPECT_EQ(e->storage[0].container_dir, "/app/data");
  EXPECT_EQ(e->storage[0].chown, "herokuish");
  EXPECT_EQ(e->storage[1].container_dir, "/home/node");
  EXPECT_EQ(e->storage[1].chown, "heroku");
  EXPECT_EQ(e->storage[2].container_dir, "/srv");
  EXPECT_EQ(e->storage[2].chown, "");
  ASSERT_TRUE(store_->AddAppStorage("shop", {"shop-data", "/app/data", "root"}).ok());
  e = store_->GetAppExtras("shop");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->storage[0].chown, "root");
  auto removed = store_->RemoveAppStorage("shop", "/home/node");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->chown, "heroku");
}

TEST_F(ExtrasStoreTest, ServicesLinkAndRefuseDestroyWhileLinked) {
  Service db{.name = "shopdb", .kind = "postgres", .server = "web-1", .dsn = "postgres://x"};
  ASSERT_TRUE(store_->CreateService(db).ok());
  EXPECT_EQ(store_->CreateService(db).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(store_->LinkService({"shopdb", "shop", "DB_"}).ok());
  auto e = store_->GetAppExtras("shop");
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->services.size(), 1u);
  EXPECT_EQ(e->services[0].server, "web-1");
  EXPECT_EQ(e->services[0].links[0].split_prefix, "DB_");
  absl::Status linked = store_->DeleteService("shopdb");
  EXPECT_EQ(linked.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(linked.message().find("shop"), std::string::npos);
  ASSERT_TRUE(store_->UnlinkService("shopdb", "shop").ok());
  EXPECT_EQ(store_->UnlinkService("shopdb", "shop").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store_->DeleteService("shopdb").ok());
  EXPECT_EQ(store_->GetService("shopdb").status().code(), absl::StatusCode::kNotFound);
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// No service password reaches the store's files: the URL is kept without it
// (the host has it; the controller reads it there when a link needs it).
TEST_F(ExtrasStoreTest, AServicePasswordIsNeverStored) {
  const std::string secret = "Zq9-never-on-disk-31337";
  Service db{.name = "shopdb",
             .kind = "postgres",
             .server = "web-1",
             .dsn = "postgres://postgres:" + secret + "@dokku-postgres-shopdb:5432/shopdb"};
  ASSERT_TRUE(store_->CreateService(db).ok());
  auto got = store_->GetService("shopdb");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->dsn, "postgres://postgres@dokku-postgres-shopdb:5432/shopdb");
  store_.reset();  // closed: everything is in the files
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::string path = dir_ + "/store.db" + suffix;
    if (!std::filesystem::exists(path)) continue;
    EXPECT_EQ(FileBytes(path).find(secret), std::string::npos) << path << " holds the password";
  }
  EXPECT_NE(FileBytes(dir_ + "/store.db").find("postgres://postgres@dokku-postgres-shopdb"),
            std::string::npos);
}

// A row an older controller wrote with the password is scrubbed at Open.
TEST_F(ExtrasStoreTest, OpenScrubsAPasswordAnOlderControllerStored) {
  const std::string secret = "Old-plaintext-pw-4242";
  ASSERT_TRUE(store_->CreateService({.name = "cache", .kind = "redis", .server = "web-1"}).ok());
  store_.reset();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/store.db").c_str(), &db), SQLITE_OK);
    const std::string sql = "UPDATE services SET dsn = 'redis://:" + secret +
                            "@dokku-redis-cache:6379' WHERE name = 'cache'";
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  ASSERT_NE(FileBytes(dir_ + "/store.db").find(secret), std::string::npos);  // it was there
  auto s = Store::Open(dir_ + "/store.db", &clock_);
  ASSERT_TRUE(s.ok()) << s.status();
  auto got = (*s)->GetService("cache");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->dsn, "redis://@dokku-redis-cache:6379");
  s->reset();
  for (const char* suffix : {"", "-wal"}) {
    const std::string path = dir_ + "/store.db" + suffix;
    if (!std::filesystem::exists(path)) continue;
    EXPECT_EQ(FileBytes(path).find(secret), std::string::npos) << path << " holds the password";
  }
}

TEST_F(ExtrasStoreTest, DestroyingTheAppForgetsItsExtrasAndLinks) {
  ASSERT_TRUE(store_->SetAppPorts("shop", {"http:80:5000"}).ok());
  ASSERT_TRUE(store_->SetAppCheck("shop", "attempts", "2").ok());
  ASSERT_TRUE(store_->CreateService({.name = "cache", .kind = "redis", .server = "web-1"}).ok());
  ASSERT_TRUE(store_->LinkService({"cache", "shop", ""}).ok());
  auto op = store_->CreateOp("shop", "destroy", "{}", std::nullopt, "test");
  ASSERT_TRUE(op.ok()) << op.status();
  StepEffects gone;
  gone.delete_app = true;
  ASSERT_TRUE(store_->FinishStep(*op, 0, "done", "{}", "", "", gone).ok());
  App again;
  again.name = "shop";
  ASSERT_TRUE(store_->CreateApp(again).ok());
  auto e = store_->GetAppExtras("shop");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->NeedsDokku());
  auto service = store_->GetService("cache");
  ASSERT_TRUE(service.ok());
  EXPECT_TRUE(service->links.empty());  // the service stays, unlinked
}

}  // namespace
}  // namespace dflow::store
