// store/auth_store.h — who may use the server: users, login sessions, API
// tokens, login failures and the audit trail.
//
// A separate interface from Store: the engine never needs it, and a Store
// wrapper (a test double, a timing decorator) need not forward it. The SQLite
// store implements both on the same database file.
//
// Contract
// - Secrets are never stored: a user's password only as a self-describing
//   hash (api/password.h), session and API tokens only as their SHA-256.
// - Every method is one transaction; audited() makes several changes and
//   their audit rows one. Missing rows are Error{"not-found"}
//   on updates; a second user or token with the same name is
//   Error{"duplicate"}; anything the database reports is Error{"store", ...}.
// - Lists (roles, regions, topics) are stored as JSON arrays of strings.
// - The audit table is append-only: rows are never updated or deleted, and
//   each row is hash-chained to the one before it (store/audit_chain.h).
// - Threads: every method may be called from any thread.
// - Times are milliseconds since the Unix epoch (UTC).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "banshi/result.h"

namespace banshi::store {

struct UserRecord {
  std::string name;                   // the login name, unique
  std::string password_hash;          // api/password.h format
  std::vector<std::string> roles;     // staff, supervisor, monitor, designer, admin
  std::string department;             // e.g. "dpf"; empty for roles without one
  std::vector<std::string> regions;   // region codes, e.g. "220102"; empty: none (monitor: all)
  bool disabled = false;
  int64_t created_at = 0;
  int64_t password_changed_at = 0;
};

struct SessionRecord {
  std::string token_hash;             // SHA-256 of the cookie value, hex
  std::string user;
  std::string csrf_token;             // sent back in X-CSRF-Token on state-changing calls
  std::string address;                // where the login came from
  int64_t created_at = 0;
  int64_t last_seen_at = 0;
};

struct ApiTokenRecord {
  int64_t id = 0;                     // assigned by the store
  std::string name;                   // unique, e.g. "civil-affairs-connector"
  std::string token_hash;             // SHA-256 of the bearer token, hex
  std::vector<std::string> topics;    // job topics / connectors it may serve
  std::string created_by;
  int64_t created_at = 0;
  bool revoked = false;
};

struct AuditRecord {
  int64_t id = 0;                     // assigned by the store
  int64_t at = 0;
  std::string actor;                  // user or "token:<name>"; the attempted name for a failed login
  std::string action;                 // login, login-failed, logout, claim, complete, deploy, cancel, ...
  std::string target;                 // e.g. "task 42", "instance 7", "user li"
  std::string address;                // the client's address
  std::string detail;                 // free text; never a password or token
  // The hash chain (store/audit_chain.h), filled in by the store on append.
  std::string prev_hash = {};         // the previous row's hash; 64 zeros for the first row
  std::string hash = {};              // SHA-256 of this row's canonical content, hex
};

struct AuditQuery {
  std::string actor;                  // exact; empty: any
  std::string action;                 // exact; empty: any
  int64_t since = 0;                  // at >= since
  size_t offset = 0;
  size_t limit = 50;                  // at most 1000; newest first
};

class AuthStore {
 public:
  virtual ~AuthStore() = default;

  virtual Result<void> add_user(const UserRecord& user) = 0;
  // Replaces everything but name and created_at.
  virtual Result<void> update_user(const UserRecord& user) = 0;
  virtual Result<std::optional<UserRecord>> user(const std::string& name) = 0;
  virtual Result<std::vector<UserRecord>> users() = 0;  // by name

  virtual Result<void> add_session(const SessionRecord& session) = 0;
  virtual Result<std::optional<SessionRecord>> session(const std::string& token_hash) = 0;
  virtual Result<void> touch_session(const std::string& token_hash, int64_t last_seen_at) = 0;
  virtual Result<void> delete_session(const std::string& token_hash) = 0;
  // Ends every session of a user (password change, disabling); returns how many.
  virtual Result<int64_t> delete_sessions_of(const std::string& user) = 0;

  // Returns the token's id.
  virtual Result<int64_t> add_api_token(const ApiTokenRecord& token) = 0;
  virtual Result<std::optional<ApiTokenRecord>> api_token(const std::string& token_hash) = 0;

  // Failed logins by attempted name (whether or not such a user exists).
  virtual Result<void> add_login_failure(const std::string& name, int64_t at) = 0;
  // The times of failures at or after `since`, oldest first.
  virtual Result<std::vector<int64_t>> login_failures(const std::string& name, int64_t since) = 0;
  virtual Result<void> clear_login_failures(const std::string& name) = 0;

  // Appends a row to the hash chain, in its own transaction; the store
  // assigns id, prev_hash and hash. Changes that the engine commits write
  // their rows in the same transaction instead (WriteBatch::audit).
  virtual Result<int64_t> append_audit(const AuditRecord& record) = 0;
  // Runs `change` and appends `rows` to the chain in one transaction: when
  // either fails, neither is kept. `change` writes through this store's own
  // methods on the calling thread (they join the transaction); a read inside
  // it does not see what it wrote.
  virtual Result<void> audited(const std::function<Result<void>()>& change, const std::vector<AuditRecord>& rows) = 0;
  virtual Result<std::vector<AuditRecord>> audit(const AuditQuery& query) = 0;
  // The rows with id > after_id, oldest first, at most `limit` (banshi audit
  // verify walks the chain with it).
  virtual Result<std::vector<AuditRecord>> audit_chain(int64_t after_id, size_t limit) {
    (void)after_id, (void)limit;
    return Error{"unsupported", "this store cannot walk the audit chain"};
  }
};

}  // namespace banshi::store
