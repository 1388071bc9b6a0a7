// The store's records of removals a server missed, on a real SQLite file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/clock.h"
#include "controller/store/store.h"
#include "controller/store/store_test_util.h"

namespace dflow::store {
namespace {

using ::testing::HasSubstr;

class RemovalsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dflow-removals-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    Open();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    store_.reset();
    auto s = Store::Open(dir_ + "/store.db", &clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  int CountEvents(const std::string& kind) {
    int n = 0;
    const std::vector<Event> events = store_->ListEvents(0, 1000).value();
    for (const auto& e : events) n += e.kind == kind;
    return n;
  }

  FakeClock clock_{1'700'000'000'000};
  std::string dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(RemovalsStoreTest, AStepRecordsItOnceAndItSurvivesARestartUntilFinished) {
  int64_t op = 0;
  ASSERT_NO_FATAL_FAILURE(CreateAppAndOp(*store_, "shop", "destroy", "destroy the app", &op));
  StepEffects e;
  PendingRemoval r;
  r.server = "local-2";
  r.app = "shop";
  r.kind = "destroy";
  r.what = "remove app shop";
  r.reason = "destroyed while local-2 was unreachable";
  r.step_index = 0;
  e.add_removals.push_back(r);
  ASSERT_TRUE(store_->FinishStep(op, 0, "done", "{}", "", "", e).ok());
  // The same step committed again (a resumed op) records nothing twice.
  ASSERT_TRUE(store_->FinishStep(op, 0, "done", "{}", "", "", e).ok());
  EXPECT_EQ(CountEvents("app.cleanup_pending"), 1);

  Open();  // a restarted controller
  auto list = store_->ListPendingRemovals();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 1u);
  const PendingRemoval& got = list->front();
  EXPECT_GT(got.id, 0);
  EXPECT_EQ(got.server, "local-2");
  EXPECT_EQ(got.app, "shop");
  EXPECT_EQ(got.kind, "destroy");
  EXPECT_EQ(got.params, "{}");
  EXPECT_EQ(got.what, "remove app shop");
  EXPECT_EQ(got.reason, "destroyed while local-2 was unreachable");
  EXPECT_EQ(got.created_at_ms, clock_.NowMs());
  EXPECT_EQ(got.op_id, op);

  ASSERT_TRUE(store_->FinishPendingRemoval(got.id, "app.cleanup_done", "removed app shop").ok());
  EXPECT_TRUE(store_->ListPendingRemovals()->empty());
  EXPECT_EQ(CountEvents("app.cleanup_done"), 1);
  auto events = *store_->RecentEvents(1);
  EXPECT_EQ(events[0].server, "local-2");
  EXPECT_EQ(events[0].app, "shop");
  EXPECT_THAT(events[0].message, HasSubstr("removed app shop"));
  // Finished twice (a step resumed after a crash): no error, no second event.
  ASSERT_TRUE(store_->FinishPendingRemoval(got.id, "app.cleanup_done", "again").ok());
  EXPECT_EQ(CountEvents("app.cleanup_done"), 1);
}

TEST_F(RemovalsStoreTest, AStepFinishesOneInItsOwnTransaction) {
  int64_t op = 0;
  ASSERT_NO_FATAL_FAILURE(CreateAppAndOp(*store_, "shop", "dokku", "remove domain", &op));
  StepEffects add;
  add.add_removals.push_back(
      {0, "d2", "shop", "dokku", R"({"action":"remove_domain","host":"a.example.com"})",
       "remove domain a.example.com from shop", "removed while d2 was unreachable", 0, 0, 0});
  ASSERT_TRUE(store_->FinishStep(op, 0, "done", "{}", "", "", add).ok());
  auto list = *store_->ListPendingRemovals();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].params, R"({"action":"remove_domain","host":"a.example.com"})");
  auto retry = store_->CreateOp("shop", "dokku", "{}", std::nullopt, "again");
  ASSERT_TRUE(retry.ok());
  StepEffects finish;
  finish.finish_removals[list[0].id] = "d2 is reachable again: done";
  ASSERT_TRUE(store_->FinishStep(*retry, 0, "done", "{}", "", "", finish).ok());
  EXPECT_TRUE(store_->ListPendingRemovals()->empty());
  EXPECT_EQ(CountEvents("app.cleanup_done"), 1);
}

}  // namespace
}  // namespace dflow::store
