#include "controller/store/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "controller/store/store_test_util.h"

namespace dflow::store {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dflow-store-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    path_ = dir_ + "/store.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> Open() {
    auto s = Store::Open(path_, &clock_);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }

  JoinRecord Record(const std::string& token, const std::string& name) {
    JoinRecord r;
    r.token_id = token;
    r.name = name;
    r.address = "127.0.0.1:7001";
    r.runtime = "local";
    r.labels = {{"tier", "small"}};
    r.facts.cpus = 2;
    r.cert_fingerprint = "fp-" + name;
    return r;
  }

  std::vector<std::string> EventKinds(Store& s) {
    std::vector<std::string> kinds;
    auto events = s.ListEvents(0, 1000);
    EXPECT_TRUE(events.ok());
    for (const auto& e : *events) kinds.push_back(e.kind);
    return kinds;
  }

  FakeClock clock_;
  std::string dir_, path_;
};

TEST_F(StoreTest, MigratesFromEmpty) {
  auto s = Open();
  EXPECT_EQ(s->SchemaVersion(), static_cast<int>(Migrations().size()));
  EXPECT_TRUE(s->ListServers()->empty());
}

// Every earlier schema version, holding data, upgrades to the latest without loss.
TEST_F(StoreTest, MigratesFromEachEarlierVersion) {
  for (int v = 1; v < static_cast<int>(Migrations().size()); ++v) {
    std::filesystem::remove(path_);
    std::filesystem::remove(path_ + "-wal");
    std::filesystem::remove(path_ + "-shm");
    {
      auto old = Store::OpenAtVersion(path_, &clock_, v);
      ASSERT_TRUE(old.ok()) << old.status();
      EXPECT_EQ((*old)->SchemaVersion(), v);
      ASSERT_TRUE((*old)->CreateJoinToken("t1", clock_.NowMs() + 60000).ok());
      ASSERT_TRUE((*old)->JoinServer(Record("t1", "web-1")).ok());
    }
    auto s = Open();
    EXPECT_EQ(s->SchemaVersion(), static_cast<int>(Migrations().size())) << "from " << v;
    auto server = s->GetServer("web-1");
    ASSERT_TRUE(server.ok()) << "from " << v << ": " << server.status();
    EXPECT_EQ(server->labels.at("tier"), "small");
    EXPECT_EQ(s->ValidCertificates()->at("fp-web-1"), "web-1");
  }
}

TEST_F(StoreTest, RefusesNewerSchema) {
  { auto s = Open(); }
  auto db = Db::Open(path_);
  ASSERT_TRUE((*db)->Exec("INSERT INTO schema_migrations VALUES (999, 0)").ok());
  auto s = Store::Open(path_, &clock_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("schema version 999"), std::string::npos);
}

TEST_F(StoreTest, JoinTokenIsSingleUse) {
  auto s = Open();
  ASSERT_TRUE(s->CreateJoinToken("t1", clock_.NowMs() + 60000).ok());
  ASSERT_TRUE(s->JoinServer(Record("t1", "web-1")).ok());
  auto again = s->JoinServer(Record("t1", "web-2"));
  EXPECT_EQ(again.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(again.message().find("already used (by server \"web-1\""), std::string::npos)
      << again.message();
  EXPECT_FALSE(s->GetServer("web-2").ok());
}

TEST_F(StoreTest, ExpiredTokenRefused) {
  auto s = Open();
  ASSERT_TRUE(s->CreateJoinToken("t1", clock_.NowMs() + 1000).ok());
  clock_.Advance(std::chrono::milliseconds(1001));
  auto r = s->JoinServer(Record("t1", "web-1"));
  EXPECT_EQ(r.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(r.message().find("join token expired at"), std::string::npos);
  EXPECT_TRUE(s->ListServers()->empty());
}

TEST_F(StoreTest, UnknownTokenRefused) {
  auto s = Open();
  auto r = s->JoinServer(Record("nope", "web-1"));
  EXPECT_EQ(r.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(r.message().find("not known to this controller"), std::string::npos);
}

TEST_F(StoreTest, SameNameTwiceRefusedAndTokenKept) {
  auto s = Open();
  ASSERT_TRUE(s->CreateJoinToken("t1", clock_.NowMs() + 60000).ok());
  ASSERT_TRUE(s->CreateJoinToken("t2", clock_.NowMs() + 60000).ok());
  ASSERT_TRUE(s->JoinServer(Record("t1", "web-1")).ok());
  auto dup = s->JoinServer(Record("t2", "web-1"));
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  // The failed join consumed nothing: t2 still works for another name.
  EXPECT_TRUE(s->JoinServer(Record("t2", "web-2")).ok());
}

TEST_F(StoreTest, RemoveRevokesCertificate) {
  auto s = Open();
  ASSERT_TRUE(s->CreateJoinToken("t1", clock_.NowMs() + 60000).ok());
  ASSERT_TRUE(s->JoinServer(Record("t1", "web-1")).ok());
  ASSERT_TRUE(s->RemoveServer("web-1").ok());
  EXPECT_TRUE(s->ValidCertificates()->empty());
  EXPECT_EQ(s->GetServer("web-1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s->RemoveServer("web-1").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(EventKinds(*s).back(), "server.removed");
}

TEST_F(StoreTest, RemoveRefusesWhileAppsArePlacedThereUnlessForced) {
  auto s = Open();
  ASSERT_TRUE(s->CreateJoinToken("t1", clock_.NowMs() + 60000).ok());
  ASSERT_TRUE(s->JoinServer(Record("t1", "web-1")).ok());
  int64_t op = 0;
  ASSERT_NO_FATAL_FAILURE(CreateAppAndOp(*s, "shop", "scale", "test", &op));
  StepEffects e;
  Instance inst;
  inst.id = "shop-web-1-1";
  inst.app = "shop";
  inst.process = "web";
  inst.server = "web-1";
  e.put_instances.push_back(inst);
  e.pinned_server = "web-1";
  ASSERT_TRUE(s->FinishStep(op, 0, "done", "{}", "", "", e).ok());

  auto refused = s->RemoveServer("web-1");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.message()), ::testing::HasSubstr("shop (1)"));
  EXPECT_THAT(std::string(refused.message()), ::testing::HasSubstr("--force"));
  EXPECT_TRUE(s->GetServer("web-1").ok());
  EXPECT_EQ(s->ListInstances("shop")->size(), 1u);

  ASSERT_TRUE(s->RemoveServer("web-1", /*force=*/true).ok());
  EXPECT_EQ(s->GetServer("web-1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(s->ListInstances("shop")->empty());
  EXPECT_EQ(s->GetApp("shop")->pinned_server, "");
  EXPECT_EQ(EventKinds(*s).back(), "server.removed");
}

TEST_F(StoreTest, HealthChangeCommitsOneEvent) {
  auto s = Open();
  ASSERT_TRUE(s->CreateJoinToken("t1", clock_.NowMs() + 60000).ok());
  ASSERT_TRUE(s->JoinServer(Record("t1", "web-1")).ok());
  size_t before = EventKinds(*s).size();
  ASSERT_TRUE(s->SetHealth("web-1", Health::kUnreachable, "lease ran out").ok());
  ASSERT_TRUE(s->SetHealth("web-1", Health::kUnreachable, "lease ran out").ok());  // no-op
  ASSERT_TRUE(s->SetHealth("web-1", Health::kHealthy, "heartbeat").ok());
  auto kinds = EventKinds(*s);
  ASSERT_EQ(kinds.size(), before + 2);
  EXPECT_EQ(kinds[before], "server.unreachable");
  EXPECT_EQ(kinds[before + 1], "server.healthy");
  EXPECT_EQ(s->GetServer("web-1")->health, Health::kHealthy);
}

TEST_F(StoreTest, LabelsDrainingAndFacts) {
  auto s = Open();
  ASSERT_TRUE(s->CreateJoinToken("t1", clock_.NowMs() + 60000).ok());
  ASSERT_TRUE(s->JoinServer(Record("t1", "web-1")).ok());
  auto labeled = s->SetLabels("web-1", {{"zone", "eu"}}, {"tier"});
  ASSERT_TRUE(labeled.ok());
  EXPECT_EQ(labeled->labels, (std::map<std::string, std::string>{{"zone", "eu"}}));
  EXPECT_TRUE(s->SetDraining("web-1", true)->draining);
  Facts f;
  f.cpus = 8;
  f.memory_total_bytes = 1 << 30;
  ASSERT_TRUE(s->RecordFacts({{"web-1", f, 12345}}).ok());
  auto server = s->GetServer("web-1");
  EXPECT_EQ(server->facts.cpus, 8);
  EXPECT_EQ(server->last_heartbeat_ms, 12345);
  EXPECT_TRUE(server->draining);
  EXPECT_EQ(s->SetLabels("nope", {{"a", "b"}}, {}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, EventTokensAreOrdered) {
  auto s = Open();
  ASSERT_TRUE(s->AppendEvent("a", "", "", "first").ok());
  clock_.Advance(std::chrono::milliseconds(5));
  ASSERT_TRUE(s->AppendEvent("b", "", "", "second").ok());
  auto events = *s->ListEvents(0, 10);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].Token(),
            std::to_string(events[0].time_ms) + "_" + std::to_string(events[0].seq));
  auto after = *s->ListEvents(events[0].seq, 10);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].message, "second");
  EXPECT_EQ(s->RecentEvents(1)->front().message, "second");
}

TEST_F(StoreTest, AppCertificatesReplaceAndRemoveWithEvents) {
  auto s = Open();
  App shop;
  shop.name = "shop";
  ASSERT_TRUE(s->CreateApp(shop).ok());
  EXPECT_EQ(s->SetAppCert({"nope", "C", "K", 1, 0}, "x").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(s->SetAppCert({"shop", "C1", "K1", 100, 0}, "first").ok());
  ASSERT_TRUE(s->SetAppCert({"shop", "C2", "K2", 200, 0}, "second").ok());
  auto certs = s->ListAppCerts();
  ASSERT_TRUE(certs.ok());
  ASSERT_EQ(certs->size(), 1u);
  EXPECT_EQ((*certs)[0].cert_pem, "C2");
  EXPECT_EQ((*certs)[0].key_pem, "K2");
  EXPECT_EQ((*certs)[0].not_after_ms, 200);
  EXPECT_EQ((*certs)[0].added_at_ms, clock_.NowMs());
  ASSERT_TRUE(s->RemoveAppCert("shop").ok());
  auto again = s->RemoveAppCert("shop");
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(again.message()), ::testing::HasSubstr("app shop has no certificate"));
  EXPECT_TRUE(s->ListAppCerts()->empty());
  EXPECT_THAT(EventKinds(*s), ::testing::IsSupersetOf({"cert.added", "cert.removed"}));
}

// A git deploy's release keeps its commit and pusher; the update a rollback's
// plan makes (the target's commit) replaces them.
TEST_F(StoreTest, ReleaseKeepsCommitAndPusher) {
  auto s = Open();
  App web;
  web.name = "web";
  ASSERT_TRUE(s->CreateApp(web).ok());
  Release r;
  r.kind = "deploy";
  r.source_digest = "d1";
  r.created_by = "git push by key alice";
  r.commit_sha = std::string(40, 'a');
  r.pushed_by = "key alice";
  auto op = s->CreateOp("web", "deploy", "{}", r, "deploy");
  ASSERT_TRUE(op.ok()) << op.status();
  auto got = s->GetRelease("web", 1);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->commit_sha, std::string(40, 'a'));
  EXPECT_EQ(got->pushed_by, "key alice");

  Release plain;
  plain.kind = "rollback";
  auto op2 = s->CreateOp("web", "rollback", "{}", plain, "roll back");
  ASSERT_TRUE(op2.ok()) << op2.status();
  EXPECT_EQ(s->GetRelease("web", 2)->commit_sha, "");
  StepEffects e;
  ReleaseUpdate u{2, "rollback to v1", "d1", "web: x", {}, ""};
  u.commit_sha = got->commit_sha;
  u.pushed_by = got->pushed_by;
  e.release_update = u;
  ASSERT_TRUE(s->FinishStep(*op2, 0, "done", "{}", "", "", e).ok());
  auto list = s->ListReleases("web");
  ASSERT_TRUE(list.ok() && list->size() == 2u);
  EXPECT_EQ((*list)[1].commit_sha, std::string(40, 'a'));
  EXPECT_EQ((*list)[1].pushed_by, "key alice");
  EXPECT_EQ((*list)[1].description, "rollback to v1");
}

}  // namespace
}  // namespace dflow::store
