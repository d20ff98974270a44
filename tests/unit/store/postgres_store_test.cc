// What only the PostgreSQL store does: connecting, refusing a newer schema,
// surviving lost connections, and several stores (nodes) on one database.
// The Store contract itself is tested on both stores (sqlite_store_test.cc).
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace banshi::store {
namespace {

using ::testing::HasSubstr;
using testing::Backend;
using testing::deploy_one;
using testing::new_instance;

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!db_.available()) GTEST_SKIP() << testing::kNoPostgres;
  }
  testing::TestDatabase db_{Backend::kPostgres};
};

TEST(PostgresStoreOpen, AnUnreachableServerIsAClearError) {
  postgres::PostgresOptions o;
  o.url = "postgresql://banshi@127.0.0.1:1/banshi?connect_timeout=2";
  auto store = postgres::PostgresStore::open(o);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, "store");
  EXPECT_THAT(store.error().message, HasSubstr("cannot connect to PostgreSQL"));
  o.url = "";
  EXPECT_FALSE(postgres::PostgresStore::open(o).ok());
  EXPECT_TRUE(postgres::is_postgres_url("postgresql://h/db"));
  EXPECT_TRUE(postgres::is_postgres_url("postgres://h/db"));
  EXPECT_FALSE(postgres::is_postgres_url("var/banshi/banshi.db"));
}

TEST_F(PostgresStoreTest, OpenStorePicksTheStoreByLocation) {
  OpenOptions o;
  o.schema = "s_open_" + std::to_string(::getpid());
  auto store = open_store(testing::pg_url(), o);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_NE(dynamic_cast<postgres::PostgresStore*>(store->get()), nullptr);
  EXPECT_NE(dynamic_cast<AuthStore*>(store->get()), nullptr);
  ASSERT_TRUE((*store)->migrate().ok());
  EXPECT_EQ((*store)->schema_version().value(), (*store)->latest_schema_version());
  store->reset();
  EXPECT_TRUE(db_.exec("DROP SCHEMA " + o.schema + " CASCADE"));
}

TEST_F(PostgresStoreTest, FreshSchemaHasVersionZeroUntilMigratedAndANewerOneIsRefused) {
  postgres::PostgresOptions o;
  o.url = testing::pg_url();
  o.schema = db_.schema();
  auto store = postgres::PostgresStore::open(o);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ((*store)->schema_version().value(), 0);
  ASSERT_TRUE((*store)->migrate().ok());
  ASSERT_TRUE((*store)->migrate().ok()) << "migrating twice changes nothing";
  const int latest = (*store)->latest_schema_version();
  EXPECT_EQ((*store)->schema_version().value(), latest);
  store->reset();
  ASSERT_TRUE(db_.exec("INSERT INTO schema_migrations (version, applied_at, description) VALUES (" +
                       std::to_string(latest + 1) + ", 0, 'from the future')"));
  auto reopened = postgres::PostgresStore::open(o);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.error().code, "store");
  EXPECT_EQ(reopened.error().message, "the database schema is version " + std::to_string(latest + 1) +
                                          "; this build knows up to " + std::to_string(latest));
}

TEST_F(PostgresStoreTest, ALostConnectionIsMadeAgain) {
  auto store = db_.open({}, 1);
  ASSERT_NE(store, nullptr);
  int64_t key = deploy_one(*store);
  WriteBatch b;
  b.instances.push_back(new_instance(1, key));
  ASSERT_TRUE(store->write(b).ok());
  // The server drops every connection of the store (a restart, a failover).
  // Only this test's: other tests run on the same server at the same time.
  ASSERT_TRUE(db_.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND "
                       "datname = current_database() AND application_name = '" + db_.schema() +
                       "' AND backend_type = 'client backend'"));
  // At most the call that meets the break fails; the next one reconnects.
  auto first = store->instance(1);
  if (!first.ok()) {
    EXPECT_EQ(first.error().code, "store");
  }
  auto second = store->instance(1);
  ASSERT_TRUE(second.ok()) << second.error().message;
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->business_key, "bk-1");
}

TEST_F(PostgresStoreTest, NodesOnOneDatabaseNeverLeaseTheSameJob) {
  auto first = db_.open();
  ASSERT_NE(first, nullptr);
  int64_t key = deploy_one(*first);
  constexpr int kJobs = 300;
  WriteBatch b;
  b.instances.push_back(new_instance(1, key));
  for (int i = 1; i <= kJobs; ++i) {
    JobRecord j;
    j.instance_id = 1;
    j.key = static_cast<uint64_t>(i);
    j.type = "mail";
    j.element_id = "t";
    j.due_at = i;
    j.idempotency_key = "1/" + std::to_string(i);
    j.payload = "{}";
    b.jobs_added.push_back(j);
  }
  ASSERT_TRUE(first->write(b).ok());
  // Three nodes, each with its own pool, two workers each.
  std::vector<std::unique_ptr<Store>> nodes;
  for (int n = 0; n < 3; ++n) nodes.push_back(db_.open());
  std::vector<std::vector<int64_t>> taken(6);
  std::vector<std::thread> workers;
  for (size_t w = 0; w < taken.size(); ++w) {
    workers.emplace_back([&, w] {
      Store& node = *nodes[w / 2];
      const std::string owner = "node-" + std::to_string(w / 2);
      for (;;) {
        auto jobs = node.acquire_jobs({"mail"}, owner, 100000, 200000, 5);
        ASSERT_TRUE(jobs.ok()) << jobs.error().message;
        if (jobs->empty()) return;
        for (const auto& j : *jobs) taken[w].push_back(j.id);
      }
    });
  }
  for (auto& t : workers) t.join();
  std::set<int64_t> all;
  size_t total = 0;
  for (const auto& list : taken) {
    total += list.size();
    all.insert(list.begin(), list.end());
  }
  EXPECT_EQ(total, static_cast<size_t>(kJobs)) << "a job was leased twice";
  EXPECT_EQ(all.size(), static_cast<size_t>(kJobs));
}

TEST_F(PostgresStoreTest, ConcurrentWritersOfOneInstanceConflictAndNothingIsLost) {
  auto a = db_.open();
  auto b = db_.open();
  ASSERT_TRUE(a && b);
  int64_t key = deploy_one(*a);
  WriteBatch create;
  create.instances.push_back(new_instance(1, key));
  ASSERT_TRUE(a->write(create).ok());
  // Both nodes loaded version 1 and write version 2: exactly one wins.
  std::atomic<int> won{0}, conflicts{0};
  std::vector<std::thread> writers;
  for (Store* s : {a.get(), b.get()}) {
    writers.emplace_back([&, s] {
      WriteBatch w;
      InstanceWrite u = new_instance(1, key);
      u.record.version = 2;
      u.expected_version = 1;
      w.instances.push_back(u);
      w.history.push_back({1, 2, 1, "x"});
      auto r = s->write(w);
      if (r.ok()) ++won;
      else if (r.error().code == "conflict") ++conflicts;
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(conflicts.load(), 1);
  EXPECT_EQ(a->history(1)->size(), 1u);
}

TEST_F(PostgresStoreTest, TimersAreLeasedToOneNodeUntilTheLeaseEnds) {
  auto store = db_.open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->kind(), "postgresql");
  int64_t key = deploy_one(*store);
  WriteBatch b;
  b.instances.push_back(new_instance(1, key));
  b.timers_upserted = {{1, 1, "a", 100}, {1, 2, "b", 200}, {1, 3, "c", 5000}};
  ASSERT_TRUE(store->write(b).ok());
  // Node a takes what is due within its window; node b finds nothing left.
  auto a = store->acquire_timers("node-a", 1000, 150, 50, 10);
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].element_id, "a");
  EXPECT_EQ((*a)[1].element_id, "b");
  EXPECT_TRUE(store->acquire_timers("node-b", 1000, 150, 50, 10)->empty());
  // The owner gets its own timers again (it reloads its window).
  EXPECT_EQ(store->acquire_timers("node-a", 1000, 160, 50, 10)->size(), 2u);
  // a's leases end 50 ms after each due time (from 160 for the first, which
  // was already due): b takes over what a did not fire.
  EXPECT_TRUE(store->acquire_timers("node-b", 1000, 209, 50, 10)->empty());
  auto taken = store->acquire_timers("node-b", 1000, 211, 50, 10);
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ(taken->front().element_id, "a");
  // A fired timer's removal takes its lease with it.
  WriteBatch fired;
  fired.timers_removed.push_back({1, 1});
  ASSERT_TRUE(store->write(fired).ok());
  EXPECT_EQ(store->acquire_timers("node-c", 10000, 300, 50, 10)->size(), 2u);
}

// Nodes racing for the same due timers, as their timer services do: each
// leases a few, fires them (removes the rows) and leases again. A lease
// taken by one node must keep every other node out, even one whose
// statement began before that lease was committed.
TEST_F(PostgresStoreTest, NodesOnOneDatabaseNeverLeaseTheSameTimer) {
  auto first = db_.open();
  ASSERT_NE(first, nullptr);
  int64_t key = deploy_one(*first);
  constexpr int kTimers = 1500;
  WriteBatch b;
  b.instances.push_back(new_instance(1, key));
  for (int i = 1; i <= kTimers; ++i) {
    b.timers_upserted.push_back({1, static_cast<uint64_t>(i), "t", i % 7});
  }
  ASSERT_TRUE(first->write(b).ok());
  std::vector<std::unique_ptr<Store>> nodes;
  for (int n = 0; n < 4; ++n) {
    nodes.push_back(db_.open());
    ASSERT_NE(nodes.back(), nullptr);
  }
  std::vector<std::vector<uint64_t>> taken(nodes.size());
  std::vector<std::thread> threads;
  for (size_t n = 0; n < nodes.size(); ++n) {
    threads.emplace_back([&, n] {
      const std::string owner = "node-" + std::to_string(n);
      for (;;) {
        auto due = nodes[n]->acquire_timers(owner, 100, 50, 600000, 7);
        ASSERT_TRUE(due.ok()) << due.error().message;
        if (due->empty()) return;
        WriteBatch fired;
        for (const TimerRecord& t : *due) {
          taken[n].push_back(t.key);
          fired.timers_removed.push_back({1, t.key});
        }
        ASSERT_TRUE(nodes[n]->write(fired).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::map<uint64_t, int> times;
  for (const auto& list : taken) {
    for (uint64_t k : list) ++times[k];
  }
  EXPECT_EQ(times.size(), static_cast<size_t>(kTimers)) << "a due timer was never leased";
  int twice = 0;
  for (const auto& [k, n] : times) twice += n > 1 ? 1 : 0;
  EXPECT_EQ(twice, 0) << "timers leased to two nodes";
}

TEST_F(PostgresStoreTest, HeartbeatsListNodesWithTheirLeases) {
  auto store = db_.open();
  ASSERT_NE(store, nullptr);
  auto* pg = dynamic_cast<postgres::PostgresStore*>(store.get());
  ASSERT_NE(pg, nullptr);
  int64_t key = deploy_one(*store);
  WriteBatch b;
  b.instances.push_back(new_instance(1, key));
  for (uint64_t k = 1; k <= 3; ++k) {
    JobRecord j;
    j.instance_id = 1;
    j.key = k;
    j.type = "mail";
    j.element_id = "t";
    j.idempotency_key = "1/" + std::to_string(k);
    j.payload = "{}";
    b.jobs_added.push_back(j);
  }
  ASSERT_TRUE(store->write(b).ok());
  ASSERT_TRUE(pg->heartbeat({"node-a", "active", "10.0.0.1:8080", 100, 1000, 0}).ok());
  ASSERT_TRUE(pg->heartbeat({"node-b", "active", "10.0.0.2:8080", 100, 900, 0}).ok());
  ASSERT_TRUE(pg->heartbeat({"node-a", "active", "10.0.0.1:8080", 100, 2000, 0}).ok());
  ASSERT_EQ(store->acquire_jobs({}, "node-a", 2000, 5000, 2)->size(), 2u);
  auto nodes = pg->nodes(2000);
  ASSERT_TRUE(nodes.ok()) << nodes.error().message;
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[0].node_id, "node-a");
  EXPECT_EQ((*nodes)[0].heartbeat_at, 2000);
  EXPECT_EQ((*nodes)[0].leases, 2);
  EXPECT_EQ((*nodes)[1].leases, 0);
  EXPECT_EQ(pg->nodes(6000)->front().leases, 0) << "expired leases are not counted";
  ASSERT_TRUE(pg->forget_node("node-b").ok());
  EXPECT_EQ(pg->nodes(2000)->size(), 1u);
}

}  // namespace
}  // namespace banshi::store
