#include "store/sqlite/connection.h"

#include <fmt/format.h>

#include <cstring>
#include <mutex>

#include "store/sqlite/wal_buffer.h"

namespace banshi::store::sqlite {

namespace {

// SQLite counts every allocation under one process-wide mutex unless told not
// to; nothing here reads those counts, and the lock showed up as a tenth of
// the writer's time. The setting must precede sqlite3_initialize(), so it is
// made once, before the first connection; if something else in the process
// initialised SQLite first, the call is refused and the default stays.
void configure_library() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

}  // namespace

Error store_error(sqlite3* db, std::string_view what) {
  const char* message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
  return Error{"store", fmt::format("{}: {}", what, message)};
}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Statement::bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

void Statement::bind(int index, const std::string& text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void Statement::bind_blob(int index, const std::string& bytes) {
  // A zero-length blob, not NULL: the column is NOT NULL.
  if (bytes.empty()) {
    sqlite3_bind_zeroblob(stmt_, index, 0);
  } else {
    sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  }
}

void Statement::bind_null(int index) { sqlite3_bind_null(stmt_, index); }

void Statement::bind_in_place(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
}

void Statement::bind_blob_in_place(int index, std::string_view bytes) {
  if (bytes.empty()) {
    sqlite3_bind_zeroblob(stmt_, index, 0);
  } else {
    sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_STATIC);
  }
}

void Statement::bind_text_or_null(int index, const std::string& text) {
  if (text.empty()) {
    bind_null(index);
  } else {
    bind(index, text);
  }
}

int Statement::step() { return sqlite3_step(stmt_); }

Result<void> Statement::run(std::string_view what) {
  int rc = step();
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return store_error(db_, what);
  return {};
}

int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::text(int column) const {
  // Blob first, then bytes: sqlite3_column_bytes must follow the pointer call.
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, int flags, int busy_timeout_ms,
                                                     bool gather_log) {
  // First: SQLite takes its configuration only before it is initialized,
  // which registering a VFS does.
  configure_library();
  const char* vfs = gather_log ? wal_buffer_vfs() : nullptr;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, vfs);
  if (rc != SQLITE_OK) {
    Error error = store_error(db, fmt::format("cannot open database {}", path));
    sqlite3_close_v2(db);  // open allocates a handle even when it fails
    return error;
  }
  std::unique_ptr<Connection> connection(new Connection(db));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return connection;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Result<Statement> Connection::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                                nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return store_error(db_, "cannot prepare a statement");
    }
    it = cache_.emplace(sql, stmt).first;
  }
  return Statement(db_, it->second);
}

Result<Statement> Connection::prepare(const char* sql) {
  auto it = by_address_.find(sql);
  if (it != by_address_.end() && std::strcmp(sqlite3_sql(it->second), sql) == 0) return Statement(db_, it->second);
  auto st = prepare(std::string(sql));
  if (st.ok()) by_address_[sql] = cache_.find(sql)->second;
  return st;
}

Result<void> Connection::exec(const char* sql, std::string_view what) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    Error error{"store", fmt::format("{}: {}", what, message != nullptr ? message : sqlite3_errstr(rc))};
    sqlite3_free(message);
    return error;
  }
  return {};
}

Result<void> Connection::run(const char* sql, std::string_view what) {
  auto stmt = prepare(sql);
  if (!stmt.ok()) return stmt.error();
  return stmt->run(what);
}

Result<std::string> Connection::pragma_text(const char* sql) {
  auto stmt = prepare(sql);
  if (!stmt.ok()) return stmt.error();
  int rc = stmt->step();
  if (rc == SQLITE_ROW) return stmt->text(0);
  if (rc == SQLITE_DONE) return std::string();
  return store_error(db_, sql);
}

}  // namespace banshi::store::sqlite
