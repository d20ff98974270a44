// store/postgres/connection.h — one libpq connection, its prepared
// statements, and the values bound to them.
//
// Internal to the PostgreSQL store. A Connection is used by one thread at a
// time (the store's pool sees to it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "banshi/result.h"

struct pg_conn;
struct pg_result;

namespace banshi::store::postgres {

// Values bound to $1, $2, ... in order. Text goes as text; bytes() goes in
// binary format, so blobs holding any byte (NUL included) arrive unchanged.
class Params {
 public:
  Params& add(int64_t value);
  Params& add(const std::string& text);
  Params& add_bytes(const std::string& bytes);
  Params& add_null();
  Params& add_text_or_null(const std::string& text) { return text.empty() ? add_null() : add(text); }
  size_t size() const { return values_.size(); }

  const std::vector<std::string>& values() const { return values_; }
  const std::vector<bool>& nulls() const { return nulls_; }
  const std::vector<int>& formats() const { return formats_; }

 private:
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<int> formats_;
};

// The rows of one statement (text format). Owns the libpq result.
class Rows {
 public:
  explicit Rows(pg_result* result);
  Rows(Rows&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  Rows& operator=(Rows&&) = delete;
  ~Rows();

  int size() const;
  int64_t affected() const;  // rows an INSERT/UPDATE/DELETE touched
  bool is_null(int row, int column) const;
  std::string text(int row, int column) const;   // NULL reads as ""
  int64_t int64(int row, int column) const;      // NULL reads as 0
  bool boolean(int row, int column) const;       // 't'
  std::string bytes(int row, int column) const;  // a BYTEA column, decoded

 private:
  pg_result* result_;
};

// What a failed statement reports: SQLSTATE and message.
struct Failure {
  std::string sqlstate;  // e.g. "23505" (unique violation); empty when the connection failed
  std::string message;
};

class Connection {
 public:
  // Connects with a libpq URL or keyword string; sets search_path to `schema`
  // when it is not empty.
  static Result<std::unique_ptr<Connection>> open(const std::string& url, const std::string& schema);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` (with $n placeholders) as a prepared statement, preparing it
  // on this connection's first use. On failure returns nullopt-like: check
  // ok(); failure() tells why.
  struct Outcome {
    std::unique_ptr<Rows> rows;  // null on failure
    Failure failure;
    bool ok() const { return rows != nullptr; }
  };
  Outcome run(const std::string& sql, const Params& params = {});
  // Plain SQL without values (BEGIN, COMMIT, migration scripts, SET).
  Outcome exec(const std::string& sql);

  // True while the connection is usable.
  bool healthy() const;
  // True inside a transaction block (including a failed one).
  bool in_transaction() const;
  // Reconnects a broken connection; prepared statements are prepared again.
  bool reset();
  pg_conn* raw() const { return conn_; }

 private:
  Connection(pg_conn* conn, std::string schema) : conn_(conn), schema_(std::move(schema)) {}
  Outcome take(pg_result* result);
  pg_conn* conn_;
  std::string schema_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL -> statement name
};

// Error{"store", "<what>: <message>"}.
Error store_error(const Failure& failure, std::string_view what);

}  // namespace banshi::store::postgres
