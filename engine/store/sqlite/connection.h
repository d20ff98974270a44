// store/sqlite/connection.h — one SQLite connection and its cached statements.
//
// Internal to the SQLite store. A Connection is used by one thread at a time
// (the store's mutexes see to it); it is opened with SQLITE_OPEN_NOMUTEX.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include <sqlite3.h>

#include "banshi/result.h"

namespace banshi::store::sqlite {

// Error{"store", "<what>: <SQLite's message>"} for the connection's last error.
Error store_error(sqlite3* db, std::string_view what);

// A cached prepared statement borrowed for one use: resets itself and clears
// its bindings when it goes out of scope, so the next user starts clean.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // Binding: indexes start at 1, as in SQLite. Strings are copied.
  void bind(int index, int64_t value);
  void bind(int index, const std::string& text);
  void bind_blob(int index, const std::string& bytes);
  void bind_null(int index);
  // Binds text, or NULL when it is empty.
  void bind_text_or_null(int index, const std::string& text);
  // Binding without a copy, for the write path's rows: the bytes must stay
  // where they are until the statement is reset or goes back to the cache.
  void bind_in_place(int index, std::string_view text);
  void bind_blob_in_place(int index, std::string_view bytes);

  // Makes the statement ready to run again with new bindings.
  void reset();

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step();
  // Runs a statement that returns no rows; an Error for anything but DONE.
  Result<void> run(std::string_view what);
  // The same, with the error's text formatted only when there is an error
  // (the write path runs a statement per row).
  template <typename... Args>
  Result<void> run_or(fmt::format_string<Args...> what, Args&&... args) {
    int rc = step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return store_error(db_, fmt::format(what, std::forward<Args>(args)...));
    return {};
  }

  int64_t int64(int column) const;
  std::string text(int column) const;  // NULL reads as ""; a blob reads as its bytes
  std::string bytes(int column) const { return text(column); }
  bool is_null(int column) const;

  sqlite3* db() const { return db_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  // Opens `path` with the given sqlite3_open_v2 flags (NOMUTEX is added).
  // gather_log: write the write-ahead log through the VFS of
  // store/sqlite/wal_buffer.h (only for synchronous = FULL).
  static Result<std::unique_ptr<Connection>> open(const std::string& path, int flags, int busy_timeout_ms,
                                                  bool gather_log = false);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const { return db_; }

  // Borrows the cached statement for `sql`, preparing it on first use.
  Result<Statement> prepare(const std::string& sql);
  // The same for SQL text that is usually a string literal: found by its
  // address first (the text is still compared, so a reused address is only a
  // miss), which spares hashing and copying it on every row written.
  Result<Statement> prepare(const char* sql);
  // Runs fixed SQL text (pragmas, BEGIN/COMMIT, migration scripts). Never
  // used with values.
  Result<void> exec(const char* sql, std::string_view what);
  // Runs one fixed statement (BEGIN, COMMIT, ROLLBACK) through the
  // statement cache, so it is not parsed again on every transaction.
  Result<void> run(const char* sql, std::string_view what);
  // A PRAGMA that returns one text value (e.g. journal_mode).
  Result<std::string> pragma_text(const char* sql);

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
  std::unordered_map<const char*, sqlite3_stmt*> by_address_;  // statements owned by cache_
};

}  // namespace banshi::store::sqlite
