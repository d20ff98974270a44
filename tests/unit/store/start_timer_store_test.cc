// Timer start events and whole deployments in the store (migration 8), on
// SQLite and PostgreSQL (when BANSHI_TEST_PG_URL is set).
#include <gtest/gtest.h>

#include "test_util.h"

namespace banshi::store {
namespace {

using testing::Backend;
using testing::sample_definition;

class StartTimerStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!db_.available()) GTEST_SKIP() << testing::kNoPostgres;
    store_ = db_.open();
    ASSERT_NE(store_, nullptr);
  }

  static StartTimerRecord timer(const std::string& process_id, int64_t due, int64_t repetitions, std::string period) {
    return StartTimerRecord{0, 0, process_id, "tick", due, repetitions, std::move(period)};
  }

  DeploymentRecords deployment(const std::string& checksum, std::vector<StartTimerRecord> timers) {
    DeploymentRecords d;
    d.processes.push_back(sample_definition("p", checksum));
    d.start_timers = std::move(timers);
    return d;
  }

  testing::TestDatabase db_{GetParam()};
  std::unique_ptr<Store> store_;
};
BANSHI_BOTH_STORES(StartTimerStoreTest);

TEST_P(StartTimerStoreTest, ANewVersionReplacesTheStartTimersAndTheSameBytesKeepThem) {
  auto v1 = store_->deploy_all(deployment("c1", {timer("p", 1000, -1, "PT1H")}));
  ASSERT_TRUE(v1.ok()) << v1.error().message;
  ASSERT_EQ(v1->new_process, std::vector<bool>{true});
  ASSERT_EQ(v1->start_timers.size(), 1u);
  EXPECT_GT(v1->start_timers[0].id, 0);
  EXPECT_EQ(v1->start_timers[0].definition_key, v1->processes[0].key);
  auto next = store_->next_timer_due();
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ(**next, 1000) << "a timer start event is the next timer";

  auto same = store_->deploy_all(deployment("c1", {timer("p", 5000, -1, "PT1H")}));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->new_process, std::vector<bool>{false});
  EXPECT_TRUE(same->start_timers.empty());
  auto kept = store_->start_timers("p");
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 1u);
  EXPECT_EQ(kept->front().id, v1->start_timers[0].id);
  EXPECT_EQ(kept->front().due_at, 1000);

  auto v2 = store_->deploy_all(deployment("c2", {timer("p", 7000, 2, "P1D")}));
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->processes[0].version, 2);
  auto replaced = store_->start_timers("");
  ASSERT_TRUE(replaced.ok());
  ASSERT_EQ(replaced->size(), 1u);
  EXPECT_EQ(replaced->front().definition_key, v2->processes[0].key);
  EXPECT_EQ(replaced->front().due_at, 7000);
  EXPECT_EQ(replaced->front().repetitions_left, 2);
  EXPECT_EQ(replaced->front().period, "P1D");
}

TEST_P(StartTimerStoreTest, AFiringIsWrittenWithItsInstanceOnlyWhileTheRowIsAtThatOccurrence) {
  auto d = store_->deploy_all(deployment("c1", {timer("p", 1000, -1, "PT1H")}));
  ASSERT_TRUE(d.ok());
  const StartTimerRecord& t = d->start_timers[0];
  WriteBatch fire;
  fire.instances.push_back(testing::new_instance(1, d->processes[0].key));
  fire.start_timers_fired.push_back(StartTimerFiring{t.id, 1000, 3600000 + 1000, -1});
  ASSERT_TRUE(store_->write(fire).ok());
  auto moved = store_->start_timers("p");
  ASSERT_TRUE(moved.ok() && moved->size() == 1u);
  EXPECT_EQ(moved->front().due_at, 3601000);

  // Another node firing the same occurrence writes nothing at all.
  WriteBatch late;
  late.instances.push_back(testing::new_instance(2, d->processes[0].key));
  late.start_timers_fired.push_back(StartTimerFiring{t.id, 1000, 3601000, -1});
  auto refused = store_->write(late);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "conflict");
  auto second = store_->instance(2);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->has_value());

  // The last occurrence removes the row.
  WriteBatch last;
  last.instances.push_back(testing::new_instance(3, d->processes[0].key));
  last.start_timers_fired.push_back(StartTimerFiring{t.id, 3601000, 0, 0});
  ASSERT_TRUE(store_->write(last).ok());
  auto gone = store_->start_timers("p");
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(gone->empty());
}

TEST_P(StartTimerStoreTest, DueStartTimersAreLeasedToOneNodeAtATime) {
  auto d = store_->deploy_all(deployment("c1", {timer("p", 1000, -1, "PT1H")}));
  ASSERT_TRUE(d.ok());
  auto early = store_->acquire_start_timers("a", 999, 500, 30000, 10);
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->empty()) << "not due within the window";
  auto a = store_->acquire_start_timers("a", 2000, 1500, 30000, 10);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ(a->front().process_id, "p");
  if (GetParam() == Backend::kPostgres) {
    auto b = store_->acquire_start_timers("b", 2000, 1500, 30000, 10);
    ASSERT_TRUE(b.ok());
    EXPECT_TRUE(b->empty()) << "node a's lease is live";
    auto after = store_->acquire_start_timers("b", 40000, 32000, 30000, 10);
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after->size(), 1u) << "a dead node's start timer goes to another once its lease ends";
  }
}

}  // namespace
}  // namespace banshi::store
