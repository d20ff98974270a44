// Helpers shared by the store tests: a temporary directory, a test database
// on either store, and sample rows.
//
// The store tests run once per store: SQLite always, PostgreSQL when
// BANSHI_TEST_PG_URL names a server (tools/test.sh starts a throwaway one
// with tools/pg/start.sh and sets it). Each PostgreSQL test gets a schema of
// its own, dropped at the end, so tests may run in parallel on one server.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace banshi::store::testing {

// A fresh directory, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "banshi-store-XXXXXX").string();
    char* made = mkdtemp(pattern.data());
    if (made == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

enum class Backend { kSqlite, kPostgres };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "SQLite" : "PostgreSQL";
}

// The PostgreSQL server of the tests; empty when none is configured.
inline std::string pg_url() {
  const char* url = std::getenv("BANSHI_TEST_PG_URL");
  return url != nullptr ? url : "";
}

inline constexpr const char* kNoPostgres =
    "BANSHI_TEST_PG_URL is not set: the PostgreSQL variant is skipped (tools/test.sh starts a server with "
    "tools/pg/start.sh and sets it)";

// One test's database: a SQLite file in a temporary directory, or a
// PostgreSQL schema of its own on the test server. Every store opened on it
// sees the same data.
class TestDatabase {
 public:
  explicit TestDatabase(Backend backend) : backend_(backend) {
    if (backend_ == Backend::kPostgres && !pg_url().empty()) {
      static std::atomic<int> counter{0};
      std::random_device random;
      schema_ = "t_" + std::to_string(::getpid()) + "_" + std::to_string(++counter) + "_" +
                std::to_string(random() % 1000000);
    }
  }
  ~TestDatabase() {
    if (!schema_.empty()) (void)exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  Backend backend() const { return backend_; }
  const std::string& schema() const { return schema_; }  // PostgreSQL only
  // False for PostgreSQL without a server: the test skips.
  bool available() const { return backend_ == Backend::kSqlite || !schema_.empty(); }

  // Opens a store on this database and migrates it; null (with a test
  // failure) when that fails. `before_commit` runs inside every write
  // transaction; `connections` bounds the readers (SQLite) or the pool (PostgreSQL).
  std::unique_ptr<Store> open(std::function<void()> before_commit = {}, int connections = 4) {
    std::unique_ptr<Store> store;
    if (backend_ == Backend::kSqlite) {
      sqlite::SqliteOptions o;
      o.path = dir_.file("banshi.db");
      o.before_commit = std::move(before_commit);
      o.reader_connections = connections;
      auto opened = sqlite::SqliteStore::open(o);
      if (!opened.ok()) {
        ADD_FAILURE() << opened.error().code << ": " << opened.error().message;
        return nullptr;
      }
      store = std::move(opened).value();
    } else {
      postgres::PostgresOptions o;
      // Named after the schema, so a test can find its own connections
      // among those of tests running beside it on the same server.
      o.url = pg_url() + (pg_url().find('?') == std::string::npos ? "?" : "&") + "application_name=" + schema_;
      o.schema = schema_;
      o.before_commit = std::move(before_commit);
      o.pool_size = connections + 1;
      auto opened = postgres::PostgresStore::open(o);
      if (!opened.ok()) {
        ADD_FAILURE() << opened.error().code << ": " << opened.error().message;
        return nullptr;
      }
      store = std::move(opened).value();
    }
    auto migrated = store->migrate();
    if (!migrated.ok()) {
      ADD_FAILURE() << migrated.error().message;
      return nullptr;
    }
    return store;
  }

  // Runs one SQL statement on a connection of its own, outside any store;
  // false (with the database's message in `error`) when it fails.
  bool exec(const std::string& sql, std::string* error = nullptr) {
    if (backend_ == Backend::kSqlite) {
      sqlite3* db = nullptr;
      if (sqlite3_open(dir_.file("banshi.db").c_str(), &db) != SQLITE_OK) return false;
      char* message = nullptr;
      const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
      if (error != nullptr && message != nullptr) *error = message;
      sqlite3_free(message);
      sqlite3_close(db);
      return rc == SQLITE_OK;
    }
    PGconn* conn = PQconnectdb(pg_url().c_str());
    bool ok = PQstatus(conn) == CONNECTION_OK;
    if (ok) {
      const std::string script = "SET client_min_messages = warning; SET search_path TO " + schema_ + "; " + sql;
      PGresult* r = PQexec(conn, script.c_str());
      ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
      if (!ok && error != nullptr) *error = PQresultErrorMessage(r);
      PQclear(r);
    } else if (error != nullptr) {
      *error = PQerrorMessage(conn);
    }
    PQfinish(conn);
    return ok;
  }

 private:
  Backend backend_;
  TempDir dir_;
  std::string schema_;
};

// The suites instantiate over both stores with this.
#define BANSHI_BOTH_STORES(Suite)                                                                        \
  INSTANTIATE_TEST_SUITE_P(Store, Suite,                                                                 \
                           ::testing::Values(::banshi::store::testing::Backend::kSqlite,                 \
                                             ::banshi::store::testing::Backend::kPostgres),              \
                           ::banshi::store::testing::backend_name)

inline std::unique_ptr<sqlite::SqliteStore> open_store(sqlite::SqliteOptions options) {
  auto store = sqlite::SqliteStore::open(options);
  if (!store.ok()) {
    ADD_FAILURE() << store.error().code << ": " << store.error().message;
    return nullptr;
  }
  auto migrated = (*store)->migrate();
  if (!migrated.ok()) ADD_FAILURE() << migrated.error().message;
  return std::move(store.value());
}

inline std::unique_ptr<sqlite::SqliteStore> open_store(const std::string& path) {
  sqlite::SqliteOptions options;
  options.path = path;
  return open_store(options);
}

inline DefinitionRecord sample_definition(const std::string& process_id, const std::string& checksum) {
  DefinitionRecord d;
  d.process_id = process_id;
  d.name = "Process " + process_id;
  d.resource = process_id + ".bpmn";
  d.xml = "<definitions id=\"" + process_id + "\"/>";
  d.checksum = checksum;
  d.deployed_at = 1000;
  d.deployed_by = "admin";
  return d;
}

// Deploys one process and returns its key.
inline int64_t deploy_one(Store& store, const std::string& process_id = "p") {
  auto deployed = store.deploy({sample_definition(process_id, "c-" + process_id)});
  EXPECT_TRUE(deployed.ok());
  return deployed.ok() ? deployed->front().key : 0;
}

inline InstanceWrite new_instance(InstanceId id, int64_t definition_key, const std::string& process_id = "p") {
  InstanceWrite w;
  w.record.id = id;
  w.record.definition_key = definition_key;
  w.record.process_id = process_id;
  w.record.definition_version = 1;
  w.record.business_key = "bk-" + std::to_string(id);
  w.record.status = 1;
  w.record.version = 1;
  w.record.state = std::string("\x42\x53\x49\x01\x00state", 10);
  w.record.started_at = 5000 + id;
  w.expected_version = 0;
  return w;
}

}  // namespace banshi::store::testing
