#include "store/sqlite/sqlite_store.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include "store/sqlite/connection.h"
#include "store/sqlite/migrations.h"
#include "test_util.h"

namespace banshi::store {
namespace {

using sqlite::SqliteOptions;
using sqlite::SqliteStore;
using testing::deploy_one;
using testing::new_instance;
using testing::open_store;
using testing::TempDir;
using ::testing::HasSubstr;

// Runs one SQL statement on the file with a separate plain connection.
void raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  EXPECT_EQ(rc, SQLITE_OK) << (message != nullptr ? message : "");
  sqlite3_free(message);
  sqlite3_close(db);
}

JobRecord sample_job(InstanceId instance, uint64_t key, const std::string& type, int64_t due_at = 0) {
  JobRecord j;
  j.instance_id = instance;
  j.key = key;
  j.type = type;
  j.element_id = "task" + std::to_string(key);
  j.due_at = due_at;
  j.idempotency_key = std::to_string(instance) + "/" + std::to_string(key);
  j.payload = R"({"timeout":1000})";
  return j;
}

TaskRecord sample_task(InstanceId instance, uint64_t key) {
  TaskRecord t;
  t.instance_id = instance;
  t.key = key;
  t.process_id = "p";
  t.element_id = "review";
  t.name = "Review";
  t.business_key = "bk";
  t.candidate_groups = {"clerks", "managers"};
  t.candidate_users = {"ana"};
  t.region = "220102";
  t.form_key = "form:review";
  t.created_at = 7000;
  t.due_at = 9000;
  t.payload = "{}";
  return t;
}

// A batch holding one row of every kind for `instance`.
WriteBatch full_batch(InstanceWrite instance) {
  WriteBatch b;
  InstanceId id = instance.record.id;
  b.instances.push_back(std::move(instance));
  b.tasks_added.push_back(sample_task(id, 10));
  b.jobs_added.push_back(sample_job(id, 11, "mail"));
  b.timers_upserted.push_back({id, 12, "wait", 8000});
  b.message_subscriptions_added.push_back({id, 13, "paid", "order-1", "receive"});
  b.signal_subscriptions_added.push_back({id, 14, "alarm", "", "catch"});
  b.messages_added.push_back({0, "early", "order-1", R"({"a":1})", "m-" + std::to_string(id), 6000, 0});
  IncidentRecord incident;
  incident.instance_id = id;
  incident.key = 15;
  incident.process_id = "p";
  incident.element_id = "gw";
  incident.kind = 2;
  incident.message = "no flow matched";
  incident.created_at = 6500;
  b.incidents_added.push_back(incident);
  b.history.push_back({id, 1, 6000, std::string("\x01\x00\x02", 3)});
  return b;
}

// The Store contract, run on both stores (SQLite, and PostgreSQL when
// BANSHI_TEST_PG_URL is set).
class StoreTest : public ::testing::TestWithParam<testing::Backend> {
 protected:
  void SetUp() override {
    if (!db_.available()) GTEST_SKIP() << testing::kNoPostgres;
    store_ = db_.open();
    ASSERT_NE(store_, nullptr);
    definition_key_ = deploy_one(*store_);
  }

  testing::TestDatabase db_{GetParam()};
  TempDir dir_;
  std::unique_ptr<Store> store_;
  int64_t definition_key_ = 0;
};
BANSHI_BOTH_STORES(StoreTest);

// What only the SQLite store does (its online backup to a file).
class SqliteStoreTest : public StoreTest {};
INSTANTIATE_TEST_SUITE_P(Store, SqliteStoreTest, ::testing::Values(testing::Backend::kSqlite), testing::backend_name);

TEST_P(StoreTest, MigrateTwiceIsIdempotent) {
  ASSERT_TRUE(store_->migrate().ok());
  ASSERT_TRUE(store_->migrate().ok());
  auto version = store_->schema_version();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, store_->latest_schema_version());
  EXPECT_GE(store_->latest_schema_version(), 1);
  // The data deployed before survives.
  auto defs = store_->definitions("p");
  ASSERT_TRUE(defs.ok());
  EXPECT_EQ(defs->size(), 1u);
}

TEST(SqliteStoreOpen, FreshDatabaseHasVersionZeroUntilMigrated) {
  TempDir dir;
  SqliteOptions options;
  options.path = dir.file("new.db");
  auto store = SqliteStore::open(options);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ((*store)->schema_version().value(), 0);
  ASSERT_TRUE((*store)->migrate().ok());
  EXPECT_EQ((*store)->schema_version().value(), (*store)->latest_schema_version());
}

TEST(SqliteStoreOpen, RefusesANewerSchema) {
  TempDir dir;
  std::string path = dir.file("newer.db");
  int latest = 0;
  {
    auto store = open_store(path);
    ASSERT_NE(store, nullptr);
    latest = store->latest_schema_version();
  }
  raw_exec(path, "INSERT INTO schema_migrations (version, applied_at, description) VALUES (" +
                     std::to_string(latest + 1) + ", 0, 'from the future')");
  SqliteOptions options;
  options.path = path;
  auto reopened = SqliteStore::open(options);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.error().code, "store");
  EXPECT_EQ(reopened.error().message, "the database schema is version " + std::to_string(latest + 1) +
                                          "; this build knows up to " + std::to_string(latest));
}

// Runs one query on the file with a separate plain connection and returns its
// rows, each as its columns' text joined by '|'.
std::vector<std::string> raw_rows(const std::string& path, const std::string& sql) {
  std::vector<std::string> rows;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  while (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
    std::string row;
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      if (i > 0) row += '|';
      const unsigned char* text = sqlite3_column_text(st, i);
      row += text != nullptr ? reinterpret_cast<const char*>(text) : "";
    }
    rows.push_back(row);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

// Makes `path` a database as a build that knew up to migration `last` left it.
void migrate_up_to(const std::string& path, int last) {
  raw_exec(path,
           "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL, "
           "description TEXT NOT NULL)");
  for (const sqlite::Migration& m : sqlite::migrations()) {
    if (m.version > last) break;
    raw_exec(path, std::string(m.sql) + "; INSERT INTO schema_migrations VALUES (" + std::to_string(m.version) +
                       ", 0, 'old')");
  }
}

// A database written by a build that knew up to migration 9, with history and
// task outcomes in it, keeps every row through migration 10 (which moves both
// tables to ones keyed in append order) and the rules on them stay.
TEST(SqliteStoreOpen, MigrationTenKeepsHistoryAndTaskOutcomes) {
  TempDir dir;
  const std::string path = dir.file("v9.db");
  migrate_up_to(path, 9);
  raw_exec(path,
           "INSERT INTO definitions (key, process_id, version, name, resource, xml, checksum, deployed_at, "
           "deployed_by) VALUES (1, 'p', 1, 'p', 'p.bpmn', '<x/>', 'c', 0, 'test');"
           "INSERT INTO instances (id, definition_key, process_id, definition_version, business_key, status, "
           "version, state, started_at, ended_at, parent_id, parent_element) VALUES "
           "(7, 1, 'p', 1, '', 1, 2, x'00', 10, 0, NULL, 0), (3, 1, 'p', 1, '', 2, 1, x'00', 5, 20, NULL, 0);"
           // Inserted out of key order, as commits write them.
           "INSERT INTO history (instance_id, seq, at, records) VALUES (7, 1, 10, 'a1'), (3, 1, 5, 'b1'), "
           "(7, 2, 30, 'a2');"
           "INSERT INTO task_outcomes (instance_id, key, process_id, element_id, name, department, region, "
           "created_at, due_at, completed_at, sla_state, escalation_level) VALUES "
           "(7, 4, 'p', 'review', 'Review', 'dpf', '110101', 10, 50, 30, 0, 0), "
           "(3, 2, 'p', 'check', 'Check', 'civil', '110102', 5, 0, 20, 3, 1)");

  auto store = open_store(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->schema_version().value(), store->latest_schema_version());
  auto history = store->history(7);
  ASSERT_TRUE(history.ok()) << history.error().message;
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].seq, 1);
  EXPECT_EQ((*history)[0].records, "a1");
  EXPECT_EQ((*history)[1].seq, 2);
  EXPECT_EQ((*history)[1].at, 30);
  EXPECT_EQ((*history)[1].records, "a2");
  EXPECT_EQ(store->history(3)->size(), 1u);
  EXPECT_THAT(raw_rows(path,
                       "SELECT instance_id, key, process_id, element_id, name, department, region, created_at, "
                       "due_at, completed_at, sla_state, escalation_level FROM task_outcomes ORDER BY instance_id"),
              ::testing::ElementsAre("3|2|p|check|Check|civil|110102|5|0|20|3|1",
                                     "7|4|p|review|Review|dpf|110101|10|50|30|0|0"));

  // Still append-only, still one entry per (instance, seq), still keyed to a
  // stored instance.
  WriteBatch next;
  next.history.push_back({7, 3, 40, "a3"});
  ASSERT_TRUE(store->write(next).ok());
  EXPECT_EQ(store->history(7)->back().records, "a3");
  WriteBatch twice;
  twice.history.push_back({7, 2, 50, "again"});
  EXPECT_FALSE(store->write(twice).ok());
  WriteBatch orphan;
  orphan.history.push_back({99, 1, 50, "nobody"});
  EXPECT_FALSE(store->write(orphan).ok());
  EXPECT_EQ(store->history(99)->size(), 0u);
  store.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE history SET records = 'x'", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM history", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(raw_rows(path, "SELECT count(*) FROM history"), std::vector<std::string>{"4"});
}

// A database written by a build that knew up to migration 13 keeps its task
// candidates through migration 14, which takes away their cascade from the
// task: the store itself now removes them with their task.
TEST(SqliteStoreOpen, MigrationFourteenKeepsCandidatesAndStillRemovesThemWithTheirTask) {
  TempDir dir;
  const std::string path = dir.file("v13.db");
  migrate_up_to(path, 13);
  raw_exec(path,
           "INSERT INTO definitions (key, process_id, version, name, resource, xml, checksum, deployed_at, "
           "deployed_by) VALUES (1, 'p', 1, 'p', 'p.bpmn', '<x/>', 'c', 0, 'test');"
           "INSERT INTO instances (id, definition_key, process_id, definition_version, business_key, status, "
           "version, state, started_at, ended_at, parent_id, parent_element) VALUES "
           "(7, 1, 'p', 1, '', 1, 1, x'00', 10, 0, NULL, 0);"
           "INSERT INTO user_tasks (id, instance_id, key, process_id, element_id, name, business_key, assignee, "
           "region, form_key, priority, created_at, due_at, follow_up_at, sla_state, payload) VALUES "
           "(41, 7, 4, 'p', 'review', 'Review', '', '', '110101', '', 0, 10, 0, 0, 0, '{}'), "
           "(42, 7, 5, 'p', 'check', 'Check', '', '', '110101', '', 0, 10, 0, 0, 0, '{}');"
           "INSERT INTO task_candidates (task_id, kind, position, value) VALUES "
           "(41, 1, 0, 'dpf-clerks'), (41, 2, 0, 'ana'), (42, 1, 0, 'civil-clerks')");

  auto store = open_store(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->schema_version().value(), store->latest_schema_version());
  EXPECT_TRUE(raw_rows(path, "SELECT * FROM pragma_foreign_key_list('task_candidates')").empty());
  auto task = store->task(41);
  ASSERT_TRUE(task.ok() && task->has_value());
  EXPECT_EQ((*task)->candidate_groups, std::vector<std::string>{"dpf-clerks"});
  EXPECT_EQ((*task)->candidate_users, std::vector<std::string>{"ana"});
  TaskQuery by_group;
  by_group.candidate_groups = {"civil-clerks"};
  auto found = store->tasks(by_group);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->front().id, 42);

  WriteBatch done;
  done.tasks_removed.push_back({7, 4});
  ASSERT_TRUE(store->write(done).ok());
  EXPECT_EQ(raw_rows(path, "SELECT task_id, value FROM task_candidates ORDER BY task_id"),
            std::vector<std::string>{"42|civil-clerks"});
  // Ids go on after the last one given, never again one that was.
  WriteBatch more;
  more.tasks_added.push_back(sample_task(7, 6));
  WriteReport report;
  more.report = &report;
  ASSERT_TRUE(store->write(more).ok());
  ASSERT_EQ(report.added_task_ids.size(), 1u);
  EXPECT_EQ(report.added_task_ids[0], 43);
}

TEST(SqliteStoreOpen, CorruptFileIsAnError) {
  TempDir dir;
  std::string path = dir.file("corrupt.db");
  {
    std::ofstream out(path, std::ios::binary);
    std::mt19937 random(42);
    for (int i = 0; i < 64 * 1024; ++i) out.put(static_cast<char>(random() & 0xff));
  }
  SqliteOptions options;
  options.path = path;
  auto store = SqliteStore::open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, "store");
  EXPECT_THAT(store.error().message, HasSubstr("not a database"));
}

TEST(SqliteStoreOpen, CorruptPagesAfterAValidHeaderGiveErrorsNotCrashes) {
  TempDir dir;
  std::string path = dir.file("damaged.db");
  {
    auto store = open_store(path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->deploy({testing::sample_definition("p", "c")}).ok());
  }
  {
    // Keep the 100-byte header, overwrite every page after the first.
    std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
    file.seekg(0, std::ios::end);
    auto size = static_cast<long>(file.tellg());
    std::mt19937 random(7);
    for (long at = 4096; at < size; ++at) {
      file.seekp(at);
      file.put(static_cast<char>(random() & 0xff));
    }
  }
  SqliteOptions options;
  options.path = path;
  auto store = SqliteStore::open(options);
  if (!store.ok()) {
    EXPECT_EQ(store.error().code, "store");
    return;
  }
  auto defs = (*store)->definitions("p");
  if (!defs.ok()) {
    EXPECT_EQ(defs.error().code, "store");
  }
  auto written = (*store)->write(full_batch(new_instance(1, 1)));
  if (!written.ok()) {
    EXPECT_EQ(written.error().code, "store");
  }
}

TEST(SqliteStoreOpen, UnopenablePathIsAnError) {
  SqliteOptions options;
  options.path = "/nonexistent-directory/deeper/banshi.db";
  auto store = SqliteStore::open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, "store");
  EXPECT_THAT(store.error().message, HasSubstr("cannot open database /nonexistent-directory/deeper/banshi.db"));

  options.path = "";
  EXPECT_FALSE(SqliteStore::open(options).ok());
}

TEST(SqliteStoreOpen, InMemoryDatabaseWorks) {
  auto store = open_store(":memory:");
  ASSERT_NE(store, nullptr);
  int64_t key = deploy_one(*store);
  ASSERT_TRUE(store->write(full_batch(new_instance(1, key))).ok());
  auto instance = store->instance(1);
  ASSERT_TRUE(instance.ok());
  ASSERT_TRUE(instance->has_value());
  EXPECT_EQ((*instance)->business_key, "bk-1");
}

TEST(SqliteStoreOpen, WeakerModeOpensAndWrites) {
  TempDir dir;
  SqliteOptions options;
  options.path = dir.file("fast.db");
  options.durable = false;
  options.reader_connections = 1;
  auto store = open_store(options);
  ASSERT_NE(store, nullptr);
  int64_t key = deploy_one(*store);
  ASSERT_TRUE(store->write(full_batch(new_instance(1, key))).ok());
  EXPECT_TRUE(store->instance(1)->has_value());
}

// A durable store's write_unsynced() commits without syncing the log; one
// sync_written() then syncs once for every commit written by then, and a
// read syncs first, so no reader sees a commit that is not durable.
TEST(SqliteStoreSync, UnsyncedWritesAreSyncedOnceBeforeAnyoneReadsThem) {
  TempDir dir;
  std::atomic<int> syncs{0};
  SqliteOptions options;
  options.path = dir.file("deferred.db");
  options.reader_connections = 1;
  options.sync_log = [&](int fd) {
    ++syncs;
    return ::fdatasync(fd);
  };
  auto store = open_store(options);
  ASSERT_NE(store, nullptr);
  int64_t key = deploy_one(*store);
  const int before = syncs.load();
  EXPECT_TRUE(store->sync_written().ok());
  EXPECT_EQ(syncs.load(), before) << "nothing was waiting";

  ASSERT_TRUE(store->write_unsynced(full_batch(new_instance(1, key))).ok());
  ASSERT_TRUE(store->write_unsynced(full_batch(new_instance(2, key))).ok());
  EXPECT_EQ(syncs.load(), before);
  ASSERT_TRUE(store->sync_written().ok());
  EXPECT_EQ(syncs.load(), before + 1) << "one sync covers both commits";
  ASSERT_TRUE(store->sync_written().ok());
  EXPECT_EQ(syncs.load(), before + 1);

  ASSERT_TRUE(store->write_unsynced(full_batch(new_instance(3, key))).ok());
  auto read = store->instance(3);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_TRUE(read->has_value());
  EXPECT_EQ(syncs.load(), before + 2) << "the read did not sync the commit it sees";
  EXPECT_TRUE(store->sync_written().ok());
  EXPECT_EQ(syncs.load(), before + 2);

  // A thread whose reads may see what is not durable yet reads without
  // syncing (the engine's processing thread).
  ASSERT_TRUE(store->write_unsynced(full_batch(new_instance(5, key))).ok());
  {
    const UnsyncedReads unsynced;
    EXPECT_TRUE(store->instance(5)->has_value());
    EXPECT_EQ(syncs.load(), before + 2);
  }
  EXPECT_TRUE(store->instance(5)->has_value());
  EXPECT_EQ(syncs.load(), before + 3);

  // A write that syncs as it commits leaves nothing to sync, and has
  // nothing of its own to sync when nothing waits.
  ASSERT_TRUE(store->write(full_batch(new_instance(4, key))).ok());
  EXPECT_EQ(syncs.load(), before + 3);
  EXPECT_TRUE(store->sync_written().ok());
  EXPECT_EQ(syncs.load(), before + 3);

  // Its answer may rest on what an unsynced commit wrote (a task already
  // claimed): it syncs that too, even when it fails.
  ASSERT_TRUE(store->write_unsynced(full_batch(new_instance(6, key))).ok());
  EXPECT_FALSE(store->write(full_batch(new_instance(6, key))).ok()) << "the instance is there already";
  EXPECT_EQ(syncs.load(), before + 4) << "a refusal went out before what it rests on was durable";
  {
    const UnsyncedReads unsynced;
    ASSERT_TRUE(store->write_unsynced(full_batch(new_instance(7, key))).ok());
    EXPECT_FALSE(store->write(full_batch(new_instance(7, key))).ok());
    EXPECT_EQ(syncs.load(), before + 4) << "the engine's processing thread waited for a sync";
  }
}

// A sync that fails may have lost what it was to make durable, and a later
// one could succeed without it: from then on the store refuses writes and
// reads, and says why; a restart reads what reached the file.
TEST(SqliteStoreSync, AFailedSyncStopsEveryLaterWrite) {
  TempDir dir;
  std::atomic<bool> failing{false};
  SqliteOptions options;
  options.path = dir.file("failing.db");
  options.reader_connections = 1;
  options.sync_log = [&](int fd) {
    if (failing.load()) {
      errno = EIO;
      return -1;
    }
    return ::fdatasync(fd);
  };
  int64_t key = 0;
  {
    auto store = open_store(options);
    ASSERT_NE(store, nullptr);
    key = deploy_one(*store);
    ASSERT_TRUE(store->write_unsynced(full_batch(new_instance(1, key))).ok());
    ASSERT_TRUE(store->sync_written().ok());
    failing = true;
    ASSERT_TRUE(store->write_unsynced(full_batch(new_instance(2, key))).ok());
    auto synced = store->sync_written();
    ASSERT_FALSE(synced.ok());
    EXPECT_THAT(synced.error().message, HasSubstr("may be lost"));
    EXPECT_THAT(synced.error().message, HasSubstr("Input/output error"));
    failing = false;  // too late: the store does not trust a later sync
    EXPECT_FALSE(store->sync_written().ok());
    auto refused = store->write(full_batch(new_instance(3, key)));
    ASSERT_FALSE(refused.ok());
    EXPECT_THAT(refused.error().message, HasSubstr("refuses reads and writes"));
    EXPECT_FALSE(store->write_unsynced(full_batch(new_instance(4, key))).ok());
    EXPECT_FALSE(store->instance(1).ok()) << "a read could show a commit that may be lost";
  }
  auto reopened = open_store(options);
  ASSERT_NE(reopened, nullptr);
  EXPECT_TRUE(reopened->instance(1)->has_value());
  EXPECT_FALSE(reopened->instance(3)->has_value());
  EXPECT_FALSE(reopened->instance(4)->has_value());
  EXPECT_TRUE(reopened->write(full_batch(new_instance(5, key))).ok());
}

// The weaker mode and in-memory stores sync nothing: write_unsynced() is
// write().
TEST(SqliteStoreSync, StoresThatDoNotSyncOnCommitHaveNothingToSync) {
  TempDir dir;
  for (bool durable : {false, true}) {
    std::atomic<int> syncs{0};
    SqliteOptions options;
    options.path = durable ? ":memory:" : dir.file("weak.db");
    options.durable = durable;
    options.reader_connections = 1;
    options.sync_log = [&](int fd) {
      ++syncs;
      return ::fdatasync(fd);
    };
    auto store = open_store(options);
    ASSERT_NE(store, nullptr);
    int64_t key = deploy_one(*store);
    ASSERT_TRUE(store->write_unsynced(full_batch(new_instance(1, key))).ok());
    EXPECT_TRUE(store->sync_written().ok());
    EXPECT_TRUE(store->instance(1)->has_value());
    EXPECT_EQ(syncs.load(), 0) << options.path;
  }
}

// Literal SQL is cached by its address, but the text is what counts: other
// SQL later at the same address gets its own statement.
TEST(SqliteConnection, OtherSqlAtAnAddressUsedBeforeGetsItsOwnStatement) {
  auto c = sqlite::Connection::open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1000);
  ASSERT_TRUE(c.ok());
  auto value_of = [&](const char* sql) -> int64_t {
    auto st = (*c)->prepare(sql);
    EXPECT_TRUE(st.ok());
    if (!st.ok() || st->step() != SQLITE_ROW) return -1;
    return st->int64(0);
  };
  char buffer[32] = "SELECT 1";
  EXPECT_EQ(value_of(buffer), 1);
  EXPECT_EQ(value_of(buffer), 1);
  std::snprintf(buffer, sizeof buffer, "SELECT 2");
  EXPECT_EQ(value_of(buffer), 2);
  std::snprintf(buffer, sizeof buffer, "SELECT 1");
  EXPECT_EQ(value_of(buffer), 1);
  EXPECT_EQ(value_of("SELECT 2"), 2);
}

TEST_P(StoreTest, WriteRoundTripsEveryRowKind) {
  WriteBatch batch = full_batch(new_instance(1, definition_key_));
  batch.instances[0].record.parent_element = 0xfffffffffffffff0ULL;  // keys keep all 64 bits
  ASSERT_TRUE(store_->write(batch).ok());

  auto instance = store_->instance(1);
  ASSERT_TRUE(instance.ok() && instance->has_value());
  const InstanceRecord& r = **instance;
  EXPECT_EQ(r.definition_key, definition_key_);
  EXPECT_EQ(r.process_id, "p");
  EXPECT_EQ(r.definition_version, 1);
  EXPECT_EQ(r.business_key, "bk-1");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.version, 1);
  EXPECT_EQ(r.state, batch.instances[0].record.state);  // binary, with a NUL inside
  EXPECT_EQ(r.started_at, 5001);
  EXPECT_EQ(r.ended_at, 0);
  EXPECT_EQ(r.parent_id, 0);
  EXPECT_EQ(r.parent_element, 0xfffffffffffffff0ULL);

  auto tasks = store_->tasks({});
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 1u);
  const TaskRecord& t = tasks->front();
  EXPECT_GT(t.id, 0);
  EXPECT_EQ(t.key, 10u);
  EXPECT_EQ(t.name, "Review");
  EXPECT_EQ(t.candidate_groups, (std::vector<std::string>{"clerks", "managers"}));
  EXPECT_EQ(t.candidate_users, (std::vector<std::string>{"ana"}));
  EXPECT_EQ(t.region, "220102");
  EXPECT_EQ(t.form_key, "form:review");
  EXPECT_EQ(t.priority, 50);
  EXPECT_EQ(t.due_at, 9000);
  auto one = store_->task(t.id);
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->candidate_groups, t.candidate_groups);
  EXPECT_FALSE(store_->task(t.id + 100)->has_value());

  auto jobs = store_->jobs_of(1);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ(jobs->front().type, "mail");
  EXPECT_EQ(jobs->front().idempotency_key, "1/11");
  EXPECT_EQ(jobs->front().payload, R"({"timeout":1000})");
  EXPECT_EQ(jobs->front().retries, 3);
  EXPECT_EQ(jobs->front().state, 1);

  auto timers = store_->due_timers(100000, 10);
  ASSERT_TRUE(timers.ok());
  ASSERT_EQ(timers->size(), 1u);
  EXPECT_EQ(timers->front().element_id, "wait");
  EXPECT_EQ(timers->front().due_at, 8000);

  auto subs = store_->message_subscriptions("paid", "order-1");
  ASSERT_TRUE(subs.ok());
  ASSERT_EQ(subs->size(), 1u);
  EXPECT_EQ(subs->front().key, 13u);
  EXPECT_EQ(subs->front().element_id, "receive");
  EXPECT_TRUE(store_->message_subscriptions("paid", "order-2")->empty());
  auto signals = store_->signal_subscriptions("alarm");
  ASSERT_TRUE(signals.ok());
  ASSERT_EQ(signals->size(), 1u);
  EXPECT_EQ(signals->front().element_id, "catch");

  auto messages = store_->buffered_messages("early", "order-1", 7000, 100);
  ASSERT_TRUE(messages.ok());
  ASSERT_EQ(messages->size(), 1u);
  EXPECT_EQ(messages->front().variables, R"({"a":1})");
  EXPECT_EQ(messages->front().message_id, "m-1");

  auto incidents = store_->incidents(1);
  ASSERT_TRUE(incidents.ok());
  ASSERT_EQ(incidents->size(), 1u);
  EXPECT_EQ(incidents->front().kind, 2);
  EXPECT_EQ(incidents->front().message, "no flow matched");
  EXPECT_EQ(store_->incidents(0)->size(), 1u);

  auto history = store_->history(1);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ(history->front().records, std::string("\x01\x00\x02", 3));

  // Now remove every effect row again.
  WriteBatch removal;
  InstanceWrite update = new_instance(1, definition_key_);
  update.record.version = 2;
  update.record.status = 2;
  update.record.ended_at = 9999;
  update.expected_version = 1;
  removal.instances.push_back(update);
  removal.tasks_removed.push_back({1, 10});
  removal.jobs_removed.push_back({1, 11});
  removal.timers_removed.push_back({1, 12});
  removal.message_subscriptions_removed.push_back({1, 13});
  removal.signal_subscriptions_removed.push_back({1, 14});
  removal.messages_removed.push_back(messages->front().id);
  removal.incidents_removed.push_back({1, 15});
  removal.history.push_back({1, 2, 9999, "end"});
  ASSERT_TRUE(store_->write(removal).ok());
  EXPECT_EQ((*store_->instance(1))->version, 2);
  EXPECT_EQ((*store_->instance(1))->status, 2);
  EXPECT_TRUE(store_->tasks({})->empty());
  EXPECT_TRUE(store_->jobs_of(1)->empty());
  EXPECT_FALSE(store_->next_timer_due()->has_value());
  EXPECT_TRUE(store_->message_subscriptions("paid", "order-1")->empty());
  EXPECT_TRUE(store_->signal_subscriptions("alarm")->empty());
  EXPECT_TRUE(store_->buffered_messages("early", "order-1", 7000, 100)->empty());
  EXPECT_TRUE(store_->incidents(0)->empty());
  EXPECT_EQ(store_->history(1)->size(), 2u);
}

// A task whose SLA clock is paused keeps the due time it had when the pause
// began, and that time moves when the clock runs again: the monitor does not
// count it overdue meanwhile. One already overdue when paused stays overdue.
TEST_P(StoreTest, APausedClockIsNotCountedOverdueByItsOldDueTime) {
  WriteBatch b;
  b.instances.push_back(new_instance(1, definition_key_));
  TaskRecord paused = sample_task(1, 10);
  paused.sla_paused_at = 8500;
  TaskRecord running = sample_task(1, 11);
  TaskRecord late = sample_task(1, 12);
  late.sla_state = 4;
  late.sla_paused_at = 9500;
  b.tasks_added = {paused, running, late};
  ASSERT_TRUE(store_->write(b).ok());
  auto count = [&](const std::string& state) {
    auto groups = store_->monitor_summary({""}, "state", 10000);
    EXPECT_TRUE(groups.ok()) << groups.error().message;
    int64_t n = 0;
    for (const auto& g : *groups) {
      if (g.key == state) n += g.total;
    }
    return n;
  };
  EXPECT_EQ(count("on_time"), 1);
  EXPECT_EQ(count("overdue"), 2);
  int64_t total = 0;
  auto overdue = store_->monitor_overdue({""}, 10000, 0, 50, total);
  ASSERT_TRUE(overdue.ok()) << overdue.error().message;
  EXPECT_EQ(total, 2);
  ASSERT_EQ(overdue->size(), 2u);
  EXPECT_EQ((*overdue)[0].key + (*overdue)[1].key, 23u) << "the running and the late one";
  auto tasks = store_->tasks({});
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 3u);
  for (const TaskRecord& t : *tasks) EXPECT_EQ(t.sla_paused_at, t.key == 10 ? 8500 : t.key == 12 ? 9500 : 0);

  // The clock runs again: the row's pause ends with it.
  WriteBatch resume;
  InstanceWrite update = new_instance(1, definition_key_);
  update.record.version = 2;
  update.expected_version = 1;
  resume.instances.push_back(update);
  resume.task_sla_updates.push_back(TaskSlaUpdate{1, 10, 0, 0, "", "", 9900, 0});
  ASSERT_TRUE(store_->write(resume).ok());
  EXPECT_EQ(count("overdue"), 3);
  auto after = store_->tasks({});
  ASSERT_TRUE(after.ok());
  for (const TaskRecord& t : *after) {
    if (t.key == 10) {
      EXPECT_EQ(t.sla_paused_at, 0);
      EXPECT_EQ(t.due_at, 9900);
    }
  }
}

// The incident list people page through: oldest first, a page at a time
// with the count of all, limited to the regions of the cases the caller may
// see; one incident found by its id.
TEST_P(StoreTest, IncidentsArePagedAndLimitedToTheirCasesRegions) {
  WriteBatch b;
  const std::vector<std::string> regions = {"220102", "220103", "", "220102"};
  for (size_t n = 0; n < regions.size(); ++n) {
    InstanceWrite w = new_instance(static_cast<InstanceId>(n + 1), definition_key_);
    w.record.region = regions[n];
    b.instances.push_back(w);
    for (uint64_t k = 1; k <= 2; ++k) {
      IncidentRecord i;
      i.instance_id = static_cast<InstanceId>(n + 1);
      i.key = k;
      i.process_id = "p";
      i.element_id = "step" + std::to_string(k);
      i.kind = 1;
      i.message = "failed " + std::to_string(n + 1) + "/" + std::to_string(k);
      i.created_at = 100;
      b.incidents_added.push_back(i);
    }
  }
  ASSERT_TRUE(store_->write(b).ok());

  auto instance_ids = [](const std::vector<IncidentRecord>& list) {
    std::vector<InstanceId> out;
    for (const auto& i : list) out.push_back(i.instance_id);
    return out;
  };
  IncidentQuery q;
  int64_t total = -1;
  auto all = store_->incidents(q, &total);
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(total, 8);
  EXPECT_EQ(instance_ids(*all), (std::vector<InstanceId>{1, 1, 2, 2, 3, 3, 4, 4}));
  for (size_t n = 1; n < all->size(); ++n) EXPECT_LT((*all)[n - 1].id, (*all)[n].id) << "oldest first";

  q.offset = 3;
  q.limit = 2;
  auto page = store_->incidents(q, &total);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(total, 8) << "the count is of every match, not of the page";
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ(page->front().id, (*all)[3].id);

  IncidentQuery mine;
  mine.regions = {"220102"};
  mine.any_region = false;
  auto own = store_->incidents(mine, &total);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(total, 4);
  EXPECT_EQ(instance_ids(*own), (std::vector<InstanceId>{1, 1, 4, 4}));
  mine.regions = {"2201"};
  EXPECT_EQ(instance_ids(*store_->incidents(mine, nullptr)), (std::vector<InstanceId>{1, 1, 2, 2, 4, 4}))
      << "a city's prefix takes in its districts; a case without a region is nobody's";
  mine.regions.clear();
  EXPECT_TRUE(store_->incidents(mine, &total)->empty()) << "a caller with no regions sees none";
  EXPECT_EQ(total, 0);
  IncidentQuery one;
  one.instance_id = 2;
  EXPECT_EQ(instance_ids(*store_->incidents(one, nullptr)), (std::vector<InstanceId>{2, 2}));

  auto found = store_->incident((*all)[5].id);
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->instance_id, 3);
  EXPECT_EQ((*found)->key, 2u);
  EXPECT_EQ((*found)->message, "failed 3/2");
  WriteBatch resolved;
  resolved.incidents_removed.push_back({3, 2});
  ASSERT_TRUE(store_->write(resolved).ok());
  EXPECT_FALSE(store_->incident((*all)[5].id)->has_value()) << "a resolved incident is gone";
  EXPECT_FALSE(store_->incident(999999)->has_value());
}

TEST_P(StoreTest, RemovingMissingRowsIsNotAnError) {
  ASSERT_TRUE(store_->write(full_batch(new_instance(1, definition_key_))).ok());
  WriteBatch b;
  b.tasks_removed.push_back({1, 99});
  b.jobs_removed.push_back({2, 99});
  b.timers_removed.push_back({1, 99});
  b.message_subscriptions_removed.push_back({1, 99});
  b.signal_subscriptions_removed.push_back({1, 99});
  b.incidents_removed.push_back({1, 99});
  b.jobs_updated.push_back({1, 99, 2, 0, "", 1});
  EXPECT_TRUE(store_->write(b).ok());
  EXPECT_TRUE(store_->write(WriteBatch{}).ok());
  EXPECT_TRUE(WriteBatch{}.empty());
  EXPECT_FALSE(b.empty());
}

// Asked for a report, a write tells the ids of the tasks it added and hands
// back the rows of the tasks it removed, as they were stored (the engine's
// live events are built from it); tasks_by_keys reads a set of open tasks.
// A write of more rows than one statement carries keeps every one, in
// order: the tasks' ids follow the batch's order, each task keeps its own
// candidates, and an id once given is never given again, not even that of
// the last task after it is removed.
TEST_P(StoreTest, AWriteOfManyRowsKeepsEachOneWithItsOwnId) {
  constexpr int kTasks = 37;  // more than two statements' worth
  WriteBatch first;
  first.instances.push_back(new_instance(1, definition_key_));
  for (int i = 0; i < kTasks; ++i) {
    first.tasks_added.push_back(sample_task(1, 100 + static_cast<uint64_t>(i)));
    first.tasks_added.back().candidate_groups = {"group-" + std::to_string(i)};
    first.tasks_added.back().candidate_users = i % 3 == 0 ? std::vector<std::string>{} : std::vector<std::string>{"u" + std::to_string(i)};
    first.history.push_back({1, i + 1, 7000 + i, "entry-" + std::to_string(i)});
  }
  WriteReport added;
  first.report = &added;
  ASSERT_TRUE(store_->write(first).ok());
  ASSERT_EQ(added.added_task_ids.size(), static_cast<size_t>(kTasks));
  for (int i = 1; i < kTasks; ++i) EXPECT_GT(added.added_task_ids[i], added.added_task_ids[i - 1]);
  for (int i = 0; i < kTasks; ++i) {
    auto t = store_->task(added.added_task_ids[static_cast<size_t>(i)]);
    ASSERT_TRUE(t.ok() && t->has_value()) << i;
    EXPECT_EQ((*t)->key, 100u + static_cast<uint64_t>(i));
    EXPECT_EQ((*t)->candidate_groups, std::vector<std::string>{"group-" + std::to_string(i)});
    EXPECT_EQ((*t)->candidate_users.size(), i % 3 == 0 ? 0u : 1u) << i;
  }
  auto history = store_->history(1);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), static_cast<size_t>(kTasks));
  for (int i = 0; i < kTasks; ++i) EXPECT_EQ((*history)[static_cast<size_t>(i)].records, "entry-" + std::to_string(i));

  // Remove the last task (the highest id) and two others, then add more.
  const int64_t highest = added.added_task_ids.back();
  WriteBatch second;
  second.tasks_removed = {{1, 100 + kTasks - 1}, {1, 100}, {1, 105}};
  ASSERT_TRUE(store_->write(second).ok());
  TaskQuery by_group;
  by_group.candidate_groups = {"group-0", "group-5", "group-" + std::to_string(kTasks - 1), "group-1"};
  auto left = store_->tasks(by_group);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u) << "the removed tasks' candidates went with them";
  EXPECT_EQ(left->front().key, 101u);
  WriteBatch third;
  third.tasks_added.push_back(sample_task(1, 200));
  third.tasks_added.push_back(sample_task(1, 201));
  WriteReport again;
  third.report = &again;
  ASSERT_TRUE(store_->write(third).ok());
  ASSERT_EQ(again.added_task_ids.size(), 2u);
  EXPECT_GT(again.added_task_ids[0], highest);
  EXPECT_GT(again.added_task_ids[1], again.added_task_ids[0]);
  auto newest = store_->task(again.added_task_ids[1]);
  ASSERT_TRUE(newest.ok() && newest->has_value());
  EXPECT_EQ((*newest)->candidate_groups, (std::vector<std::string>{"clerks", "managers"}));
}

// New instances go in many to a statement; one whose id is already taken
// still fails the whole write as a conflict (the engine then reloads and
// applies its commands again), and none of the others is kept.
TEST_P(StoreTest, ANewInstanceWhoseIdIsTakenFailsAWriteOfManyAsAConflict) {
  ASSERT_TRUE(store_->write(full_batch(new_instance(30, definition_key_))).ok());
  WriteBatch many;
  for (InstanceId id = 11; id <= 50; ++id) {
    many.instances.push_back(new_instance(id, definition_key_));
    many.history.push_back({id, 1, 100, "started"});
  }
  auto written = store_->write(many);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code, "conflict") << written.error().message;
  EXPECT_FALSE(store_->instance(11)->has_value());
  EXPECT_FALSE(store_->instance(50)->has_value());
  EXPECT_TRUE(store_->history(12)->empty());

  many.instances.erase(many.instances.begin() + (30 - 11));
  many.history.erase(many.history.begin() + (30 - 11));
  ASSERT_TRUE(store_->write(many).ok());
  for (InstanceId id : {11, 26, 27, 29, 31, 50}) {
    auto stored = store_->instance(id);
    ASSERT_TRUE(stored.ok() && stored->has_value()) << id;
    EXPECT_EQ((*stored)->id, id);
    EXPECT_EQ(store_->history(id)->size(), 1u) << id;
  }
}

TEST_P(StoreTest, AWriteReportsTheTasksItAddedAndRemoved) {
  WriteBatch first;
  first.instances.push_back(new_instance(1, definition_key_));
  first.tasks_added.push_back(sample_task(1, 10));
  first.tasks_added.push_back(sample_task(1, 11));
  first.tasks_added.back().candidate_groups = {};
  first.tasks_added.back().assignee = "bo";
  WriteReport added;
  first.report = &added;
  ASSERT_TRUE(store_->write(first).ok());
  ASSERT_EQ(added.added_task_ids.size(), 2u);
  EXPECT_TRUE(added.removed_tasks.empty());
  TaskQuery q;
  q.instance_id = 1;
  auto stored = store_->tasks(q);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 2u);
  for (const TaskRecord& t : *stored) EXPECT_EQ(added.added_task_ids[t.key - 10], t.id) << t.key;

  auto both = store_->tasks_by_keys({{1, 11}, {1, 10}, {1, 99}, {7, 10}});
  ASSERT_TRUE(both.ok()) << both.error().message;
  ASSERT_EQ(both->size(), 2u);
  for (const TaskRecord& t : *both) {
    EXPECT_EQ(t.id, added.added_task_ids[t.key - 10]);
    EXPECT_EQ(t.candidate_users, std::vector<std::string>{"ana"});
  }

  ASSERT_TRUE(store_->assign_task(added.added_task_ids[0], "", "cy").ok());
  WriteBatch second;
  second.instances.push_back(new_instance(1, definition_key_));
  second.instances.back().expected_version = 1;
  second.instances.back().record.version = 2;
  second.tasks_added.push_back(sample_task(1, 12));
  second.tasks_removed = {{1, 10}, {1, 12}, {1, 99}};
  WriteReport removed;
  second.report = &removed;
  ASSERT_TRUE(store_->write(second).ok());
  ASSERT_EQ(removed.added_task_ids.size(), 1u);
  ASSERT_EQ(removed.removed_tasks.size(), 2u) << "a task added and removed in one batch is reported; a missing one not";
  const TaskRecord& gone = removed.removed_tasks[0].key == 10 ? removed.removed_tasks[0] : removed.removed_tasks[1];
  const TaskRecord& brief = removed.removed_tasks[0].key == 10 ? removed.removed_tasks[1] : removed.removed_tasks[0];
  EXPECT_EQ(gone.id, added.added_task_ids[0]);
  EXPECT_EQ(gone.assignee, "cy") << "the row as it was stored, claimed after it was added";
  EXPECT_EQ(gone.candidate_groups, (std::vector<std::string>{"clerks", "managers"}));
  EXPECT_EQ(brief.key, 12u);
  EXPECT_EQ(brief.id, removed.added_task_ids[0]);
  auto left = store_->tasks(q);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().key, 11u);
}

// Two instances (on two nodes) that opened a subscription each, both read
// the one buffered message: the batch committed second finds it gone and
// conflicts, so it is built again rather than deliver the message twice.
TEST_P(StoreTest, ABufferedMessageIsDeliveredOnce) {
  WriteBatch setup;
  setup.instances = {new_instance(1, definition_key_), new_instance(2, definition_key_)};
  setup.messages_added.push_back({0, "reply", "k-1", R"({"ok":true})", "", 10, 0});
  ASSERT_TRUE(store_->write(setup).ok());
  auto waiting = store_->buffered_messages("reply", "k-1", 20, 10);
  ASSERT_EQ(waiting->size(), 1u);
  const int64_t id = waiting->front().id;
  auto deliver = [&](InstanceId instance) {
    WriteBatch b;
    InstanceWrite w = new_instance(instance, definition_key_);
    w.record.version = 2;
    w.expected_version = 1;
    b.instances.push_back(w);
    b.messages_removed.push_back(id);
    b.history.push_back({instance, 1, 20, "delivered"});
    return store_->write(b);
  };
  ASSERT_TRUE(deliver(1).ok());
  EXPECT_TRUE(store_->buffered_messages("reply", "k-1", 20, 10)->empty()) << id;
  auto second = deliver(2);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, "conflict");
  EXPECT_EQ((*store_->instance(2))->version, 1) << "nothing of the second batch is written";
  EXPECT_TRUE(store_->history(2)->empty());
}

// A user's completion names the assignee the user was checked against: a
// task claimed or given to someone else since is not removed, and nothing
// of the batch is written.
TEST_P(StoreTest, ACompletionCheckedAgainstAnAssigneeFailsOnceTheTaskWasGivenAway) {
  WriteBatch setup;
  setup.instances.push_back(new_instance(1, definition_key_));
  setup.tasks_added = {sample_task(1, 10), sample_task(1, 11)};
  ASSERT_TRUE(store_->write(setup).ok());
  auto tasks = store_->tasks({});
  ASSERT_EQ(tasks->size(), 2u);
  auto id_of = [&](uint64_t key) {
    for (const auto& t : *tasks) {
      if (t.key == key) return t.id;
    }
    return int64_t{0};
  };
  ASSERT_TRUE(store_->assign_task(id_of(10), "", "bo").ok());  // claimed after the completing user was checked
  int version = 1;
  auto complete = [&](uint64_t key, const std::string& checked) {
    WriteBatch b;
    InstanceWrite w = new_instance(1, definition_key_);
    w.record.version = version + 1;
    w.expected_version = version;
    b.instances.push_back(w);
    b.tasks_removed.push_back({1, key});
    b.task_assignee_checks.push_back({1, key, checked});
    b.history.push_back({1, version, 100, "completed"});
    auto r = store_->write(b);
    if (r.ok()) ++version;
    return r;
  };
  auto refused = complete(10, "");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "rejected");
  EXPECT_NE(refused.error().message.find("bo"), std::string::npos) << refused.error().message;
  EXPECT_EQ((*store_->instance(1))->version, 1) << "nothing of the batch is written";
  EXPECT_TRUE(store_->history(1)->empty());
  auto kept = store_->task(id_of(10));
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->candidate_groups, (std::vector<std::string>{"clerks", "managers"})) << "with its candidates";
  EXPECT_FALSE(complete(10, "ana").ok()) << "nor by someone else";
  ASSERT_TRUE(complete(10, "bo").ok()) << "the assignee completes it";
  EXPECT_FALSE(store_->task(id_of(10))->has_value());
  ASSERT_TRUE(complete(11, "").ok()) << "an unclaimed task, still unclaimed";
  EXPECT_TRUE(complete(11, "").ok()) << "a task already gone is not an error here (the engine refuses the command)";
}

// The same check when the write is asked for a report (the engine's live
// events): the task given away refuses the write, and the one removed comes
// back whole, with its candidates.
TEST_P(StoreTest, ACompletionCheckedAgainstAnAssigneeWithAReportGivesTheRowOrRefuses) {
  WriteBatch setup;
  setup.instances.push_back(new_instance(1, definition_key_));
  setup.tasks_added = {sample_task(1, 10), sample_task(1, 11)};
  WriteReport added;
  setup.report = &added;
  ASSERT_TRUE(store_->write(setup).ok());
  ASSERT_EQ(added.added_task_ids.size(), 2u);
  ASSERT_TRUE(store_->assign_task(added.added_task_ids[0], "", "bo").ok());
  int version = 1;
  auto complete = [&](std::vector<std::pair<uint64_t, std::string>> checked, WriteReport& report) {
    WriteBatch b;
    InstanceWrite w = new_instance(1, definition_key_);
    w.record.version = version + 1;
    w.expected_version = version;
    b.instances.push_back(w);
    for (const auto& [key, assignee] : checked) {
      b.tasks_removed.push_back({1, key});
      b.task_assignee_checks.push_back({1, key, assignee});
    }
    b.report = &report;
    auto r = store_->write(b);
    if (r.ok()) ++version;
    return r;
  };
  WriteReport refused_report;
  auto refused = complete({{11, ""}, {10, ""}}, refused_report);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "rejected");
  EXPECT_NE(refused.error().message.find("bo"), std::string::npos) << refused.error().message;
  EXPECT_TRUE(store_->task(added.added_task_ids[1])->has_value()) << "the other task of the refused write stays";
  auto candidates = store_->task(added.added_task_ids[1]);
  ASSERT_TRUE(candidates.ok() && candidates->has_value());
  EXPECT_EQ((*candidates)->candidate_groups, (std::vector<std::string>{"clerks", "managers"}))
      << "and keeps its candidates";

  WriteReport report;
  ASSERT_TRUE(complete({{11, ""}, {10, "bo"}}, report).ok());
  ASSERT_EQ(report.removed_tasks.size(), 2u);
  EXPECT_EQ(report.removed_tasks[0].id, added.added_task_ids[1]);
  EXPECT_EQ(report.removed_tasks[1].id, added.added_task_ids[0]);
  EXPECT_EQ(report.removed_tasks[1].assignee, "bo");
  for (const TaskRecord& t : report.removed_tasks) {
    EXPECT_EQ(t.candidate_groups, (std::vector<std::string>{"clerks", "managers"})) << t.key;
    EXPECT_EQ(t.candidate_users, std::vector<std::string>{"ana"}) << t.key;
    EXPECT_FALSE(store_->task(t.id)->has_value()) << t.key;
  }
  TaskQuery by_group;
  by_group.candidate_groups = {"clerks"};
  EXPECT_TRUE(store_->tasks(by_group)->empty()) << "no candidate row is left behind";
}

// Tasks completed in one write each keep their own outcome (what the
// monitor reports on), taken from the open row as it was stored; a
// completion whose task is not open keeps none.
TEST_P(StoreTest, TasksCompletedInOneWriteEachKeepTheirOwnOutcome) {
  WriteBatch setup;
  setup.instances.push_back(new_instance(1, definition_key_));
  setup.instances.push_back(new_instance(2, definition_key_));
  setup.tasks_added = {sample_task(1, 10), sample_task(1, 11), sample_task(2, 10)};
  setup.tasks_added[1].region = "220103";
  setup.tasks_added[1].element_id = "approve";
  setup.tasks_added[1].candidate_groups = {"managers"};
  setup.tasks_added[1].department = "managers";
  setup.tasks_added[2].due_at = 0;
  ASSERT_TRUE(store_->write(setup).ok());

  WriteBatch done;
  for (InstanceId id : {1, 2}) {
    done.instances.push_back(new_instance(id, definition_key_));
    done.instances.back().expected_version = 1;
    done.instances.back().record.version = 2;
  }
  done.tasks_completed = {{1, 11, 20000}, {2, 10, 21000}, {1, 10, 22000}, {1, 99, 23000}};
  done.tasks_removed = {{1, 10}, {1, 11}, {2, 10}, {1, 99}};
  ASSERT_TRUE(store_->write(done).ok());
  EXPECT_TRUE(store_->tasks({})->empty());

  auto outcomes = store_->report_tasks({"22"}, 0, 100000);
  ASSERT_TRUE(outcomes.ok()) << outcomes.error().message;
  ASSERT_EQ(outcomes->size(), 3u) << "one outcome a completed open task";
  std::map<std::pair<InstanceId, std::string>, ReportTask> by_task;
  for (const ReportTask& t : *outcomes) by_task[{t.instance_id, t.element_id}] = t;
  ASSERT_EQ(by_task.size(), 3u);
  const ReportTask& approve = by_task.at({1, "approve"});
  EXPECT_EQ(approve.completed_at, 20000);
  EXPECT_EQ(approve.region, "220103");
  EXPECT_EQ(approve.department, "managers");
  EXPECT_EQ(approve.due_at, 9000);
  EXPECT_EQ(approve.created_at, 7000);
  EXPECT_EQ(by_task.at({2, "review"}).completed_at, 21000);
  EXPECT_EQ(by_task.at({2, "review"}).due_at, 0);
  EXPECT_EQ(by_task.at({1, "review"}).completed_at, 22000);
  EXPECT_EQ(by_task.at({1, "review"}).region, "220102");
}

// A worker's report on a job is written only while the job is still leased
// to that worker: one fetched by another worker meanwhile, or already
// reported on, refuses the whole batch.
TEST_P(StoreTest, AJobReportCheckedAgainstAWorkerFailsOnceAnotherHoldsTheLease) {
  WriteBatch setup;
  setup.instances.push_back(new_instance(1, definition_key_));
  setup.jobs_added.push_back(sample_job(1, 11, "review"));
  ASSERT_TRUE(store_->write(setup).ok());
  ASSERT_EQ(store_->acquire_jobs({"review"}, "worker-b", 1000, 2000, 5)->size(), 1u);
  int version = 1;
  auto report = [&](const std::string& worker) {
    WriteBatch b;
    InstanceWrite w = new_instance(1, definition_key_);
    w.record.version = version + 1;
    w.expected_version = version;
    b.instances.push_back(w);
    b.jobs_removed.push_back({1, 11});
    b.job_lease_checks.push_back({1, 11, worker});
    b.history.push_back({1, version, 100, "job done"});
    auto r = store_->write(b);
    if (r.ok()) ++version;
    return r;
  };
  auto refused = report("worker-a");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "rejected") << refused.error().message;
  EXPECT_EQ((*store_->instance(1))->version, 1) << "nothing of the batch is written";
  EXPECT_EQ(store_->jobs_of(1)->size(), 1u);
  ASSERT_TRUE(report("worker-b").ok()) << "the lease holder's report is written";
  EXPECT_TRUE(store_->jobs_of(1)->empty());
  auto again = report("worker-b");
  ASSERT_FALSE(again.ok()) << "a job already reported on";
  EXPECT_EQ(again.error().code, "rejected");
}

TEST_P(StoreTest, VersionConflictLeavesNothingWritten) {
  ASSERT_TRUE(store_->write(full_batch(new_instance(1, definition_key_))).ok());
  ASSERT_TRUE(store_->write(full_batch(new_instance(2, definition_key_))).ok());

  // A batch touching both instances; the second one carries a stale version.
  WriteBatch b;
  InstanceWrite first = new_instance(1, definition_key_);
  first.record.version = 2;
  first.record.state = "changed";
  first.expected_version = 1;
  InstanceWrite stale = new_instance(2, definition_key_);
  stale.record.version = 3;
  stale.expected_version = 2;  // the stored version is 1
  InstanceWrite fresh = new_instance(3, definition_key_);
  b.instances = {first, stale, fresh};
  b.tasks_added.push_back(sample_task(1, 20));
  b.tasks_removed.push_back({1, 10});
  b.jobs_added.push_back(sample_job(1, 21, "mail"));
  b.jobs_updated.push_back({1, 11, 0, 123, "boom", 2});
  b.timers_upserted.push_back({1, 12, "wait", 1});
  b.message_subscriptions_removed.push_back({1, 13});
  b.messages_added.push_back({0, "late", "x", "{}", "", 1, 0});
  b.incidents_removed.push_back({1, 15});
  b.history.push_back({1, 2, 1, "x"});

  auto written = store_->write(b);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code, "conflict");

  EXPECT_EQ((*store_->instance(1))->version, 1);
  EXPECT_EQ((*store_->instance(1))->state, new_instance(1, definition_key_).record.state);
  EXPECT_EQ((*store_->instance(2))->version, 1);
  EXPECT_FALSE(store_->instance(3)->has_value());
  EXPECT_EQ(store_->tasks({})->size(), 2u);
  auto jobs = store_->jobs_of(1);
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ(jobs->front().state, 1);
  EXPECT_EQ(jobs->front().last_error, "");
  EXPECT_EQ(*store_->next_timer_due().value(), 8000);
  EXPECT_EQ(store_->message_subscriptions("paid", "order-1")->size(), 2u);
  EXPECT_TRUE(store_->buffered_messages("late", "x", 0, 100)->empty());
  EXPECT_EQ(store_->incidents(0)->size(), 2u);
  EXPECT_EQ(store_->history(1)->size(), 1u);

  // The store is fine afterwards: the retry with the right version succeeds.
  b.instances[1].expected_version = 1;
  b.instances[1].record.version = 2;
  ASSERT_TRUE(store_->write(b).ok());
  EXPECT_EQ((*store_->instance(2))->version, 2);
  EXPECT_TRUE(store_->instance(3)->has_value());
}

TEST_P(StoreTest, InsertingAnExistingInstanceConflicts) {
  ASSERT_TRUE(store_->write(full_batch(new_instance(1, definition_key_))).ok());
  WriteBatch b;
  b.instances.push_back(new_instance(1, definition_key_));
  auto written = store_->write(b);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code, "conflict");
}

TEST_P(StoreTest, FailureInTheMiddleOfABatchRollsBackEverything) {
  ASSERT_TRUE(store_->write(full_batch(new_instance(1, definition_key_))).ok());
  WriteBatch b = full_batch(new_instance(2, definition_key_));
  JobRecord duplicate = sample_job(2, 30, "mail");
  duplicate.idempotency_key = "1/11";  // already used by instance 1's job
  b.jobs_added.push_back(duplicate);
  auto written = store_->write(b);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code, "store");
  EXPECT_THAT(written.error().message, ::testing::ContainsRegex("UNIQUE|unique"));

  EXPECT_FALSE(store_->instance(2)->has_value());
  EXPECT_EQ(store_->tasks({})->size(), 1u);
  EXPECT_TRUE(store_->jobs_of(2)->empty());
  EXPECT_EQ(store_->due_timers(1000000, 10)->size(), 1u);
  EXPECT_TRUE(store_->buffered_messages("early", "order-1", 0, 100)->size() == 1u);
  EXPECT_TRUE(store_->history(2)->empty());

  // Rows that refer to an instance that does not exist are refused too.
  WriteBatch orphan;
  orphan.timers_upserted.push_back({77, 1, "t", 1});
  auto refused = store_->write(orphan);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "store");
}

TEST_P(StoreTest, DeployAssignsVersionsAndSkipsTheSameChecksum) {
  auto again = store_->deploy({testing::sample_definition("p", "c-p")});
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ(again->front().key, definition_key_);
  EXPECT_EQ(again->front().version, 1);
  EXPECT_EQ(store_->definitions("p")->size(), 1u);

  auto changed = store_->deploy({testing::sample_definition("p", "c2"), testing::sample_definition("q", "c2")});
  ASSERT_TRUE(changed.ok());
  ASSERT_EQ(changed->size(), 2u);
  EXPECT_EQ((*changed)[0].version, 2);
  EXPECT_EQ((*changed)[1].version, 1);
  EXPECT_NE((*changed)[0].key, definition_key_);

  auto defs = store_->definitions("p");
  ASSERT_EQ(defs->size(), 2u);
  EXPECT_EQ((*defs)[0].version, 2);  // newest first
  EXPECT_EQ((*defs)[1].version, 1);
  EXPECT_EQ((*store_->definition("p", 0))->version, 2);
  EXPECT_EQ((*store_->definition("p", 1))->key, definition_key_);
  EXPECT_FALSE(store_->definition("p", 3)->has_value());
  EXPECT_FALSE(store_->definition("nope", 0)->has_value());
  auto by_key = store_->definition_by_key((*changed)[1].key);
  ASSERT_TRUE(by_key.ok() && by_key->has_value());
  EXPECT_EQ((*by_key)->process_id, "q");
  EXPECT_EQ((*by_key)->xml, "<definitions id=\"q\"/>");
  EXPECT_EQ((*by_key)->deployed_by, "admin");

  // Going back to the first bytes is a new version: only the latest counts.
  auto back = store_->deploy({testing::sample_definition("p", "c-p")});
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->front().version, 3);
}

// A deployed file is kept byte for byte in the encoding it came in: the
// models' reader takes GB18030 and UTF-16 as well as UTF-8 (PostgreSQL's
// TEXT refused such a file, or cut a UTF-16 one at its first zero byte).
TEST_P(StoreTest, DeployedFilesKeepTheirBytesInAnyEncoding) {
  const std::string gbk = "<?xml version=\"1.0\" encoding=\"GBK\"?><definitions name=\"\xb2\xd0\xbc\xb2\"/>";
  const std::string utf16{"<\0?\0x\0m\0l\0", 10};
  auto a = testing::sample_definition("gbk", "c-gbk");
  a.xml = gbk;
  auto b = testing::sample_definition("utf16", "c-utf16");
  b.xml = utf16;
  store::DeploymentRecords records;
  records.processes = {a, b};
  store::DecisionRecord d;
  d.decision_id = "gbk-decision";
  d.name = "gbk";
  d.resource = "gbk.dmn";
  d.xml = gbk;
  d.checksum = "c-gbk-dmn";
  d.deployed_by = "admin";
  records.decisions = {d};
  auto stored = store_->deploy_all(records);
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_EQ((*store_->definition("gbk", 0))->xml, gbk);
  EXPECT_EQ((*store_->definition("utf16", 0))->xml, utf16);
  EXPECT_EQ((*store_->decision("gbk-decision", 0))->xml, gbk);
  auto all = store_->definitions("");
  ASSERT_TRUE(all.ok());
  for (const auto& r : *all) {
    if (r.process_id == "gbk") {
      EXPECT_EQ(r.xml, gbk);
    }
  }
}

TEST_P(StoreTest, AllocateIdsReservesConsecutiveRanges) {
  EXPECT_EQ(store_->allocate_ids("instance", 10).value(), 1);
  EXPECT_EQ(store_->allocate_ids("instance", 5).value(), 11);
  EXPECT_EQ(store_->allocate_ids("other", 1).value(), 1);
  EXPECT_EQ(store_->allocate_ids("instance", 1).value(), 16);
  EXPECT_FALSE(store_->allocate_ids("instance", 0).ok());
}

TEST_P(StoreTest, AcquireJobsLeasesRespectsDueTimesTypesAndExpiry) {
  WriteBatch b;
  b.instances.push_back(new_instance(1, definition_key_));
  b.jobs_added.push_back(sample_job(1, 1, "mail", 100));
  b.jobs_added.push_back(sample_job(1, 2, "mail", 200));
  b.jobs_added.push_back(sample_job(1, 3, "sms", 100));
  b.jobs_added.push_back(sample_job(1, 4, "mail", 5000));  // not due yet
  JobRecord failed = sample_job(1, 5, "mail", 0);
  failed.state = 2;  // an incident holds it
  b.jobs_added.push_back(failed);
  ASSERT_TRUE(store_->write(b).ok());

  auto mail = store_->acquire_jobs({"mail"}, "worker-a", 1000, 2000, 10);
  ASSERT_TRUE(mail.ok());
  ASSERT_EQ(mail->size(), 2u);
  EXPECT_EQ((*mail)[0].key, 1u);  // earliest due first
  EXPECT_EQ((*mail)[1].key, 2u);
  EXPECT_EQ((*mail)[0].lease_owner, "worker-a");
  EXPECT_EQ((*mail)[0].lease_until, 2000);

  // Leased jobs are not handed out again before the lease expires.
  EXPECT_TRUE(store_->acquire_jobs({"mail"}, "worker-b", 1500, 2500, 10)->empty());
  auto any = store_->acquire_jobs({}, "worker-b", 1500, 2500, 10);
  ASSERT_EQ(any->size(), 1u);
  EXPECT_EQ(any->front().type, "sms");

  // After expiry they are.
  auto expired = store_->acquire_jobs({"mail", "sms"}, "worker-c", 2000, 3000, 1);
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_EQ(expired->front().key, 1u);
  EXPECT_EQ(expired->front().lease_owner, "worker-c");

  // A retry clears the lease and moves the due time.
  WriteBatch retry;
  retry.jobs_updated.push_back({1, 1, 2, 2100, "timeout", 1});
  ASSERT_TRUE(store_->write(retry).ok());
  auto jobs = store_->jobs_of(1);
  EXPECT_EQ((*jobs)[0].lease_owner, "");
  EXPECT_EQ((*jobs)[0].lease_until, 0);
  EXPECT_EQ((*jobs)[0].retries, 2);
  EXPECT_EQ((*jobs)[0].last_error, "timeout");
  EXPECT_TRUE(store_->acquire_jobs({"mail"}, "worker-d", 2050, 9000, 10)->empty() == false);  // job 2 expired too
  EXPECT_EQ(store_->acquire_jobs({"mail"}, "worker-e", 2100, 9000, 10)->size(), 1u);      // job 1 is due now
  EXPECT_TRUE(store_->acquire_jobs({"mail"}, "worker-f", 2100, 9000, 0)->empty());
}

TEST_P(StoreTest, AJobIsReadByIdWithItsLease) {
  WriteBatch b;
  b.instances.push_back(new_instance(1, definition_key_));
  b.jobs_added.push_back(sample_job(1, 1, "mail", 100));
  ASSERT_TRUE(store_->write(b).ok());
  auto leased = store_->acquire_jobs({"mail"}, "worker-a", 1000, 2000, 1);
  ASSERT_EQ(leased->size(), 1u);
  const int64_t id = leased->front().id;
  // Another store on the same database (a restarted server) sees the lease.
  auto reopened = db_.open();
  ASSERT_NE(reopened, nullptr);
  auto job = reopened->job(id);
  ASSERT_TRUE(job.ok()) << job.error().message;
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->lease_owner, "worker-a");
  EXPECT_EQ((*job)->lease_until, 2000);
  EXPECT_EQ((*job)->type, "mail");
  EXPECT_EQ((*job)->key, 1u);
  auto none = reopened->job(id + 1000);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_P(StoreTest, TwoOwnersNeverGetTheSameJob) {
  constexpr int kJobs = 400;
  WriteBatch b;
  b.instances.push_back(new_instance(1, definition_key_));
  for (int i = 1; i <= kJobs; ++i) b.jobs_added.push_back(sample_job(1, static_cast<uint64_t>(i), "mail", i));
  ASSERT_TRUE(store_->write(b).ok());

  std::vector<std::vector<int64_t>> taken(4);
  std::vector<std::thread> workers;
  for (size_t w = 0; w < taken.size(); ++w) {
    workers.emplace_back([&, w] {
      std::string owner = "worker-" + std::to_string(w);
      for (;;) {
        auto jobs = store_->acquire_jobs({"mail"}, owner, 100000, 200000, 7);
        ASSERT_TRUE(jobs.ok()) << jobs.error().message;
        if (jobs->empty()) return;
        for (const auto& j : *jobs) {
          EXPECT_EQ(j.lease_owner, owner);
          taken[w].push_back(j.id);
        }
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
  EXPECT_EQ(total, static_cast<size_t>(kJobs));
  EXPECT_EQ(all.size(), static_cast<size_t>(kJobs));
}

TEST_P(StoreTest, AssignTaskIsACompareAndSet) {
  ASSERT_TRUE(store_->write(full_batch(new_instance(1, definition_key_))).ok());
  int64_t id = store_->tasks({})->front().id;
  ASSERT_TRUE(store_->assign_task(id, "", "ana").ok());
  auto lost = store_->assign_task(id, "", "ben");
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().code, "conflict");
  EXPECT_EQ((*store_->task(id))->assignee, "ana");
  ASSERT_TRUE(store_->assign_task(id, "ana", "ben").ok());
  ASSERT_TRUE(store_->assign_task(id, "ben", "").ok());
  EXPECT_EQ((*store_->task(id))->assignee, "");
  auto missing = store_->assign_task(id + 1000, "", "ana");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "not-found");
}

TEST_P(StoreTest, DueTimersComeEarliestFirst) {
  EXPECT_FALSE(store_->next_timer_due()->has_value());
  WriteBatch b;
  b.instances.push_back(new_instance(1, definition_key_));
  b.instances.push_back(new_instance(2, definition_key_));
  b.timers_upserted = {{1, 1, "a", 300}, {2, 1, "b", 100}, {1, 2, "c", 200}, {2, 2, "d", 900}};
  ASSERT_TRUE(store_->write(b).ok());
  EXPECT_EQ(*store_->next_timer_due().value(), 100);

  auto due = store_->due_timers(300, 10);
  ASSERT_EQ(due->size(), 3u);
  EXPECT_EQ((*due)[0].element_id, "b");
  EXPECT_EQ((*due)[1].element_id, "c");
  EXPECT_EQ((*due)[2].element_id, "a");
  EXPECT_EQ(store_->due_timers(300, 2)->size(), 2u);
  EXPECT_TRUE(store_->due_timers(99, 10)->empty());

  // A rescheduled cycle replaces its row.
  WriteBatch again;
  again.timers_upserted.push_back({2, 1, "b", 1000});
  ASSERT_TRUE(store_->write(again).ok());
  EXPECT_EQ(*store_->next_timer_due().value(), 200);
  EXPECT_EQ(store_->due_timers(100000, 10)->size(), 4u);
}

TEST_P(StoreTest, AcquiredTimersComeEarliestFirstWithinTheWindow) {
  EXPECT_EQ(store_->kind(), GetParam() == testing::Backend::kSqlite ? "sqlite" : "postgresql");
  WriteBatch b;
  b.instances.push_back(new_instance(1, definition_key_));
  b.timers_upserted = {{1, 1, "a", 300}, {1, 2, "b", 100}, {1, 3, "c", 900}};
  ASSERT_TRUE(store_->write(b).ok());
  auto due = store_->acquire_timers("node-a", 300, 50, 1000, 10);
  ASSERT_TRUE(due.ok()) << due.error().message;
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].element_id, "b");
  EXPECT_EQ((*due)[1].element_id, "a");
  EXPECT_EQ(store_->acquire_timers("node-a", 1000, 50, 1000, 1)->size(), 1u);
}

TEST_P(StoreTest, BufferedMessagesExpireAndMessageIdsAreUnique) {
  WriteBatch b;
  b.messages_added.push_back({0, "paid", "o-1", "{}", "", 10, 100});
  b.messages_added.push_back({0, "paid", "o-1", "{}", "", 5, 0});  // never expires
  b.messages_added.push_back({0, "paid", "o-1", "{}", "id-1", 20, 200});
  b.messages_added.push_back({0, "paid", "o-2", "{}", "", 20, 200});
  ASSERT_TRUE(store_->write(b).ok());

  auto at50 = store_->buffered_messages("paid", "o-1", 50, 100);
  ASSERT_EQ(at50->size(), 3u);
  EXPECT_EQ((*at50)[0].published_at, 5);  // oldest first
  EXPECT_EQ((*at50)[1].published_at, 10);
  EXPECT_EQ((*at50)[2].message_id, "id-1");
  EXPECT_EQ(store_->buffered_messages("paid", "o-1", 100, 100)->size(), 2u);
  EXPECT_EQ(store_->buffered_messages("paid", "o-1", 500, 100)->size(), 1u);
  // A read of the oldest few, however many wait.
  auto oldest = store_->buffered_messages("paid", "o-1", 50, 2);
  ASSERT_EQ(oldest->size(), 2u);
  EXPECT_EQ((*oldest)[0].published_at, 5);
  EXPECT_EQ((*oldest)[1].published_at, 10);

  WriteBatch duplicate;
  duplicate.messages_added.push_back({0, "other", "x", "{}", "new", 30, 0});
  duplicate.messages_added.push_back({0, "paid", "o-9", "{}", "id-1", 30, 300});
  auto refused = store_->write(duplicate);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "duplicate");
  EXPECT_TRUE(store_->buffered_messages("other", "x", 0, 100)->empty());
}

TEST_P(StoreTest, HistoryKeepsAppendOrderAndRefusesRewrites) {
  WriteBatch b;
  b.instances.push_back(new_instance(1, definition_key_));
  for (int64_t seq = 1; seq <= 5; ++seq) b.history.push_back({1, seq, 100 * seq, "step" + std::to_string(seq)});
  ASSERT_TRUE(store_->write(b).ok());
  WriteBatch more;
  more.history.push_back({1, 6, 600, "step6"});
  ASSERT_TRUE(store_->write(more).ok());
  auto history = store_->history(1);
  ASSERT_EQ(history->size(), 6u);
  for (size_t i = 0; i < history->size(); ++i) {
    EXPECT_EQ((*history)[i].seq, static_cast<int64_t>(i + 1));
    EXPECT_EQ((*history)[i].records, "step" + std::to_string(i + 1));
  }
  WriteBatch rewrite;
  rewrite.history.push_back({1, 3, 1, "other"});
  EXPECT_FALSE(store_->write(rewrite).ok());
  EXPECT_EQ((*store_->history(1))[2].records, "step3");
}

TEST_P(StoreTest, InstanceListingsHaveNoStateAndFilter) {
  WriteBatch b;
  for (InstanceId id = 1; id <= 6; ++id) {
    InstanceWrite w = new_instance(id, definition_key_);
    if (id % 2 == 0) w.record.status = 2;
    if (id > 4) w.record.parent_id = 1;
    b.instances.push_back(w);
  }
  ASSERT_TRUE(store_->write(b).ok());
  auto all = store_->instances({});
  ASSERT_EQ(all->size(), 6u);
  EXPECT_EQ(all->front().id, 6);  // newest first
  for (const auto& r : *all) EXPECT_TRUE(r.state.empty());

  InstanceQuery running;
  running.status = 1;
  EXPECT_EQ(store_->instances(running)->size(), 3u);
  InstanceQuery by_key;
  by_key.business_key = "bk-3";
  ASSERT_EQ(store_->instances(by_key)->size(), 1u);
  InstanceQuery window;
  window.started_after = 5002;
  window.started_before = 5005;
  window.process_id = "p";
  EXPECT_EQ(store_->instances(window)->size(), 2u);
  InstanceQuery page;
  page.limit = 2;
  page.offset = 4;
  auto paged = store_->instances(page);
  ASSERT_EQ(paged->size(), 2u);
  EXPECT_EQ(paged->front().id, 2);

  auto children = store_->running_instances_of(1);
  ASSERT_EQ(children->size(), 1u);  // 6 has ended
  EXPECT_EQ(children->front().id, 5);
  EXPECT_FALSE(children->front().state.empty());
}

TEST_P(StoreTest, ReadersAreNotBlockedByALongWrite) {
  ASSERT_TRUE(store_->write(full_batch(new_instance(1, definition_key_))).ok());
  store_.reset();

  std::atomic<bool> armed{false};  // migrate() at open also writes
  std::atomic<bool> in_commit{false};
  std::atomic<bool> release{false};
  auto store = db_.open([&] {
    if (!armed) return;
    in_commit = true;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  ASSERT_NE(store, nullptr);

  armed = true;
  std::thread writer([&] {
    WriteBatch b = full_batch(new_instance(2, definition_key_));
    EXPECT_TRUE(store->write(b).ok());
  });
  while (!in_commit) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  // The write holds the lock; reads still answer, and see only committed data.
  auto start = std::chrono::steady_clock::now();
  auto one = store->instance(1);
  auto two = store->instance(2);
  auto tasks = store->tasks({});
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(one.ok() && two.ok() && tasks.ok());
  EXPECT_TRUE(one->has_value());
  EXPECT_FALSE(two->has_value());
  EXPECT_EQ(tasks->size(), 1u);
  EXPECT_LT(elapsed, std::chrono::seconds(2));

  release = true;
  writer.join();
  EXPECT_TRUE(store->instance(2)->has_value());
}

TEST_P(SqliteStoreTest, BackupWhileWritingIsConsistent) {
  std::atomic<bool> stop{false};
  std::atomic<int> committed{0};
  std::thread writer([&] {
    for (InstanceId id = 1; !stop && id < 100000; ++id) {
      if (!store_->write(full_batch(new_instance(id, definition_key_))).ok()) {
        ADD_FAILURE() << "write failed";
        return;
      }
      committed = static_cast<int>(id);
    }
  });
  while (committed < 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  int before = committed;
  std::string copy = dir_.file("copy.db");
  auto backed_up = store_->backup(copy);
  int after = committed;
  stop = true;
  writer.join();
  ASSERT_TRUE(backed_up.ok()) << backed_up.error().message;

  // A second backup to the same file is refused.
  EXPECT_FALSE(store_->backup(copy).ok());

  auto restored = open_store(copy);
  ASSERT_NE(restored, nullptr);
  InstanceQuery everything;
  everything.limit = 1000;
  auto instances = restored->instances(everything);
  ASSERT_TRUE(instances.ok());
  int count = static_cast<int>(instances->size());
  EXPECT_GE(count, before);
  EXPECT_LE(count, after + 1);
  TaskQuery all_tasks;
  all_tasks.limit = 1000;
  // Every instance in the copy comes with all the rows of its batch.
  for (const auto& r : *instances) {
    ASSERT_EQ(restored->jobs_of(r.id)->size(), 1u);
    ASSERT_EQ(restored->history(r.id)->size(), 1u);
  }
  EXPECT_EQ(restored->tasks(all_tasks)->size(), instances->size());
}

TEST_P(SqliteStoreTest, BackupToAnUnwritablePlaceIsAnError) {
  auto failed = store_->backup("/nonexistent-directory/copy.db");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, "store");
  EXPECT_FALSE(store_->backup("").ok());
}

TEST_P(StoreTest, BackupIsRefusedOrMakesACopy) {
  if (GetParam() == testing::Backend::kSqlite) {
    ASSERT_TRUE(store_->backup(dir_.file("copy.db")).ok());
    EXPECT_NE(open_store(dir_.file("copy.db")), nullptr);
    return;
  }
  auto refused = store_->backup(dir_.file("copy.db"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "unsupported");
  EXPECT_THAT(refused.error().message, HasSubstr("pg_basebackup"));
}

TEST(SqliteStoreOpen, InMemoryDatabaseCanBeBackedUp) {
  TempDir dir;
  auto store = open_store(":memory:");
  ASSERT_NE(store, nullptr);
  int64_t key = deploy_one(*store);
  ASSERT_TRUE(store->write(full_batch(new_instance(1, key))).ok());
  ASSERT_TRUE(store->backup(dir.file("copy.db")).ok());
  auto copy = open_store(dir.file("copy.db"));
  ASSERT_NE(copy, nullptr);
  EXPECT_TRUE(copy->instance(1)->has_value());
}

TEST_P(StoreTest, ManyThreadsShareFewReadersWhileWriting) {
  store_.reset();
  auto store = db_.open({}, 2);
  ASSERT_NE(store, nullptr);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (InstanceId id = 1; id <= 200; ++id) {
      ASSERT_TRUE(store->write(full_batch(new_instance(id, definition_key_))).ok());
    }
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 6; ++r) {
    readers.emplace_back([&] {
      while (!stop) {
        auto tasks = store->tasks({});
        ASSERT_TRUE(tasks.ok());
        for (const auto& t : *tasks) {
          // A task is never visible without its instance: reads see whole batches.
          auto instance = store->instance(t.instance_id);
          ASSERT_TRUE(instance.ok());
          EXPECT_TRUE(instance->has_value());
          EXPECT_EQ(t.candidate_groups.size(), 2u);
        }
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  TaskQuery all;
  all.limit = 1000;
  EXPECT_EQ(store->tasks(all)->size(), 200u);
}

}  // namespace
}  // namespace banshi::store
