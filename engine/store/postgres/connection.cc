#include "store/postgres/connection.h"

#include <cstdlib>

#include <fmt/format.h>
#include <libpq-fe.h>

namespace banshi::store::postgres {

Params& Params::add(int64_t value) {
  values_.push_back(std::to_string(value));
  nulls_.push_back(false);
  formats_.push_back(0);
  return *this;
}

Params& Params::add(const std::string& text) {
  values_.push_back(text);
  nulls_.push_back(false);
  formats_.push_back(0);
  return *this;
}

Params& Params::add_bytes(const std::string& bytes) {
  values_.push_back(bytes);
  nulls_.push_back(false);
  formats_.push_back(1);
  return *this;
}

Params& Params::add_null() {
  values_.emplace_back();
  nulls_.push_back(true);
  formats_.push_back(0);
  return *this;
}

Rows::Rows(pg_result* result) : result_(result) {}
Rows::~Rows() {
  if (result_ != nullptr) PQclear(result_);
}

int Rows::size() const { return PQntuples(result_); }

int64_t Rows::affected() const {
  const char* n = PQcmdTuples(result_);
  return n == nullptr || *n == '\0' ? 0 : std::strtoll(n, nullptr, 10);
}

bool Rows::is_null(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }

std::string Rows::text(int row, int column) const {
  return std::string(PQgetvalue(result_, row, column), static_cast<size_t>(PQgetlength(result_, row, column)));
}

int64_t Rows::int64(int row, int column) const {
  if (is_null(row, column)) return 0;
  return std::strtoll(PQgetvalue(result_, row, column), nullptr, 10);
}

bool Rows::boolean(int row, int column) const { return PQgetvalue(result_, row, column)[0] == 't'; }

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 0;
}
}  // namespace

std::string Rows::bytes(int row, int column) const {
  // bytea_output = hex (set on connect): "\x" then two hex digits a byte.
  const char* v = PQgetvalue(result_, row, column);
  const size_t n = static_cast<size_t>(PQgetlength(result_, row, column));
  if (n < 2 || v[0] != '\\' || v[1] != 'x') return std::string(v, n);
  std::string out;
  out.reserve((n - 2) / 2);
  for (size_t i = 2; i + 1 < n; i += 2) out.push_back(static_cast<char>(hex_value(v[i]) * 16 + hex_value(v[i + 1])));
  return out;
}

Error store_error(const Failure& failure, std::string_view what) {
  return Error{"store", fmt::format("{}: {}", what, failure.message)};
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& url, const std::string& schema) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (conn == nullptr) return Error{"store", "cannot connect to PostgreSQL: out of memory"};
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    PQfinish(conn);
    return Error{"store", fmt::format("cannot connect to PostgreSQL: {}", message)};
  }
  std::unique_ptr<Connection> c(new Connection(conn, schema));
  if (!c->reset()) return Error{"store", "cannot set up the PostgreSQL session"};
  return c;
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::healthy() const { return PQstatus(conn_) == CONNECTION_OK; }

bool Connection::in_transaction() const { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }

bool Connection::reset() {
  if (!healthy()) {
    PQreset(conn_);
    if (!healthy()) return false;
  }
  prepared_.clear();
  // Settings every statement relies on, whatever the server's defaults.
  std::string setup =
      "SET bytea_output = 'hex'; SET client_encoding = 'UTF8'; SET TIME ZONE 'UTC'; SET client_min_messages = warning";
  if (!schema_.empty()) {
    char* quoted = PQescapeIdentifier(conn_, schema_.data(), schema_.size());
    if (quoted == nullptr) return false;
    setup += fmt::format("; SET search_path TO {}", quoted);
    PQfreemem(quoted);
  }
  return exec(setup).ok();
}

Connection::Outcome Connection::take(pg_result* result) {
  Outcome out;
  ExecStatusType status = result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    out.rows = std::make_unique<Rows>(result);
    return out;
  }
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  out.failure.sqlstate = state != nullptr ? state : "";
  out.failure.message = primary != nullptr ? primary : PQerrorMessage(conn_);
  while (!out.failure.message.empty() && out.failure.message.back() == '\n') out.failure.message.pop_back();
  if (out.failure.message.empty()) out.failure.message = "the connection to PostgreSQL failed";
  if (result != nullptr) PQclear(result);
  return out;
}

Connection::Outcome Connection::run(const std::string& sql, const Params& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = fmt::format("s{}", prepared_.size() + 1);
    Outcome prepared = take(PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr));
    if (!prepared.ok()) return prepared;
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  const size_t n = params.size();
  std::vector<const char*> values(n);
  std::vector<int> lengths(n);
  for (size_t i = 0; i < n; ++i) {
    values[i] = params.nulls()[i] ? nullptr : params.values()[i].data();
    lengths[i] = static_cast<int>(params.values()[i].size());
  }
  return take(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(n), values.data(), lengths.data(),
                             params.formats().data(), 0));
}

Connection::Outcome Connection::exec(const std::string& sql) { return take(PQexec(conn_, sql.c_str())); }

}  // namespace banshi::store::postgres
