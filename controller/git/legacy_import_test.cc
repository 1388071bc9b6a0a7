// The store's git records (store/git_store.cc) and the one-time import of the
// files earlier controllers kept (legacy_import.cc), on a real SQLite file,
// real files and real git repositories.
#include "controller/git/legacy_import.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/clock.h"
#include "common/files.h"
#include "controller/git/keys.h"
#include "controller/store/store.h"

namespace dflow::git {
namespace {

constexpr const char* kAliceKey =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPX9lJK5ee+irkdwWGgBCklo4rPyCVTT0AFtHuVgyri5 alice";
constexpr const char* kBobKey =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICKeQzktJMXBPTvmnQt/RjIu+L4Pg1GX70W1J/vF/4zc bob";

class GitStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dflow-git-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    auto s = store::Store::Open(dir_ + "/store.db", SystemClock::Get());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    store::App app;
    app.name = "web";
    ASSERT_TRUE(store_->CreateApp(app).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  store::PushKey Key(const std::string& name, const char* line) {
    store::PushKey k;
    k.name = name;
    EXPECT_TRUE(ParsePublicKey(line, &k).ok());
    return k;
  }
  std::vector<std::string> EventKinds() {
    std::vector<std::string> kinds;
    auto events = store_->ListEvents(0, 1000);
    for (const auto& e : *events) kinds.push_back(e.kind);
    return kinds;
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(GitStateTest, AppGitSettingsDefaultAndChangeWithAnEvent) {
  auto g = store_->GetAppGit("web");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->DeployBranch(), "main");
  EXPECT_EQ(g->git_url, "");
  EXPECT_EQ(g->webhook_secret, "");
  EXPECT_TRUE(absl::IsNotFound(store_->GetAppGit("nope").status()));

  store::AppGitUpdate u;
  u.branch = "production";
  u.webhook_secret = "s3cret";
  auto set = store_->UpdateAppGit("web", u);
  ASSERT_TRUE(set.ok()) << set.status();
  store::AppGitUpdate url;
  url.git_url = "https://example.invalid/web.git";
  ASSERT_TRUE(store_->UpdateAppGit("web", url).ok());
  g = store_->GetAppGit("web");
  EXPECT_EQ(g->DeployBranch(), "production");
  EXPECT_EQ(g->git_url, "https://example.invalid/web.git");
  EXPECT_EQ(g->webhook_secret, "s3cret");
  auto events = store_->ListEvents(0, 100);
  bool secret_in_events = false, changed = false;
  for (const auto& e : *events) {
    if (e.message.find("s3cret") != std::string::npos) secret_in_events = true;
    if (e.kind == "git.settings_changed") changed = true;
  }
  EXPECT_TRUE(changed);
  EXPECT_FALSE(secret_in_events);
  EXPECT_TRUE(absl::IsNotFound(store_->UpdateAppGit("nope", u).status()));
}

TEST_F(GitStateTest, PushKeysAreUniqueByNameAndKey) {
  ASSERT_TRUE(store_->AddPushKey(Key("alice", kAliceKey)).ok());
  auto same_name = store_->AddPushKey(Key("alice", kBobKey));
  EXPECT_TRUE(absl::IsAlreadyExists(same_name)) << same_name;
  auto same_key = store_->AddPushKey(Key("alice2", kAliceKey));
  EXPECT_TRUE(absl::IsAlreadyExists(same_key)) << same_key;
  EXPECT_NE(same_key.message().find("already added as alice"), std::string::npos) << same_key;
  auto bob = Key("bob", kBobKey);
  bob.apps = {"web"};
  ASSERT_TRUE(store_->AddPushKey(bob).ok());
  auto keys = store_->ListPushKeys();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[1].apps, std::vector<std::string>{"web"});
  EXPECT_TRUE(store_->RemovePushKey("alice").ok());
  EXPECT_TRUE(absl::IsNotFound(store_->RemovePushKey("alice")));
  EXPECT_EQ(store_->ListPushKeys()->size(), 1u);
  auto kinds = EventKinds();
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "git.key_added"), 2);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "git.key_removed"), 1);
}

TEST_F(GitStateTest, AuthorizedKeysIsWrittenFromTheStore) {
  Keys keys(store_.get(), dir_ + "/authorized_keys", "/usr/bin/dflow-controller",
            "/var/lib/dflow-git/git.sock");
  ASSERT_TRUE(store_->AddPushKey(Key("alice", kAliceKey)).ok());  // e.g. by another controller
  ASSERT_TRUE(keys.Load().ok());
  auto text = ReadFile(dir_ + "/authorized_keys");
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("command=\"/usr/bin/dflow-controller git-shell --socket "
                       "/var/lib/dflow-git/git.sock --key alice\",restrict ssh-ed25519 "),
            std::string::npos)
      << *text;
  ASSERT_TRUE(keys.Remove("alice").ok());
  text = ReadFile(dir_ + "/authorized_keys");
  EXPECT_EQ(text->find("alice"), std::string::npos) << *text;
}

TEST_F(GitStateTest, DeliveriesAreClaimedOnceUnlessTheyFailedBeforeAnOp) {
  store::WebhookDelivery d;
  d.forge = "github";
  d.app = "web";
  d.id = "d-1";
  d.sha = std::string(40, 'a');
  EXPECT_TRUE(*store_->ClaimDelivery(d));
  EXPECT_FALSE(*store_->ClaimDelivery(d));
  // Failed before an op (say, the fetch): a redelivery is claimed again.
  d.state = "failed";
  d.message = "fetch failed";
  ASSERT_TRUE(store_->UpdateDelivery(d, "git.webhook_failed", "delivery d-1 failed").ok());
  d.state = "";
  EXPECT_TRUE(*store_->ClaimDelivery(d));
  // Failed with an op: a replay is ignored.
  d.state = "failed";
  d.op_id = 7;
  ASSERT_TRUE(store_->UpdateDelivery(d, "", "").ok());
  d.state = "";
  EXPECT_FALSE(*store_->ClaimDelivery(d));
  auto last = store_->LastDelivery("web");
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->state, "failed");
  EXPECT_EQ((*last)->op_id, 7);
  EXPECT_FALSE(store_->LastDelivery("other")->has_value());
  auto kinds = EventKinds();
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "git.webhook_failed"), 1);
}

TEST_F(GitStateTest, FileStateOfEarlierControllersIsImportedOnce) {
  std::string repos_dir = dir_ + "/repos";
  Repos repos(repos_dir, "/bin/true", dir_ + "/git.sock", "");
  ASSERT_TRUE(repos.Prepare().ok());
  ASSERT_TRUE(repos.Ensure("web").ok());
  ASSERT_TRUE(
      RunGit({"config", "--file", repos.Path("web") + "/config", "dflow.branch", "prod"}, repos_dir)
          .ok());
  ASSERT_TRUE(RunGit({"config", "--file", repos.Path("web") + "/config", "dflow.url",
                      "https://example.invalid/web.git"},
                     repos_dir)
                  .ok());
  ASSERT_TRUE(EnsureDir(dir_ + "/git/secrets", 0700).ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/git/secrets/web", "abc123", 0600).ok());
  auto alice = Key("alice", kAliceKey);
  std::string blob = std::string(kAliceKey).substr(12, 68);
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/git/keys.json",
                              "[{\"name\":\"alice\",\"type\":\"ssh-ed25519\",\"blob\":\"" + blob +
                                  "\",\"fingerprint\":\"" + alice.fingerprint +
                                  "\",\"apps\":[\"web\"],\"all_apps\":false,\"added_at_ms\":5}]",
                              0600)
                  .ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/git/deliveries", "github:web:d-9\n", 0600).ok());

  ASSERT_TRUE(ImportLegacyGitFiles(store_.get(), dir_, &repos).ok());
  auto g = store_->GetAppGit("web");
  EXPECT_EQ(g->DeployBranch(), "prod");
  EXPECT_EQ(g->git_url, "https://example.invalid/web.git");
  EXPECT_EQ(g->webhook_secret, "abc123");
  auto keys = store_->ListPushKeys();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].name, "alice");
  EXPECT_EQ((*keys)[0].fingerprint, alice.fingerprint);
  EXPECT_EQ((*keys)[0].apps, std::vector<std::string>{"web"});
  EXPECT_EQ((*keys)[0].added_at_ms, 5);
  store::WebhookDelivery seen;
  seen.forge = "github";
  seen.app = "web";
  seen.id = "d-9";
  EXPECT_FALSE(*store_->ClaimDelivery(seen));
  // The files are kept aside, the repository's config no longer holds the settings.
  EXPECT_FALSE(FileExists(dir_ + "/git/keys.json"));
  EXPECT_TRUE(FileExists(dir_ + "/git/keys.json.imported"));
  EXPECT_TRUE(FileExists(dir_ + "/git/secrets.imported/web"));
  EXPECT_TRUE(FileExists(dir_ + "/git/deliveries.imported"));
  EXPECT_EQ(*repos.LegacyConfig("web", "dflow.branch"), "");
  // A second start imports nothing and changes nothing.
  store::AppGitUpdate u;
  u.branch = "main";
  ASSERT_TRUE(store_->UpdateAppGit("web", u).ok());
  ASSERT_TRUE(ImportLegacyGitFiles(store_.get(), dir_, &repos).ok());
  EXPECT_EQ(store_->GetAppGit("web")->DeployBranch(), "main");
  EXPECT_EQ(store_->ListPushKeys()->size(), 1u);
}

}  // namespace
}  // namespace dflow::git
