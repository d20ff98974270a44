// api/auth.h — who is calling and what they may do.
//
// Contract
// - Two credentials: a session cookie (`banshi_session`, from POST
//   /api/v1/auth/login) and a bearer API token (`Authorization: Bearer ...`,
//   created by an admin). Both are 256-bit random values stored only as
//   their SHA-256; lookups compare hashes, never the secrets.
// - A session ends when it has been idle longer than `session_idle` or has
//   lived longer than `session_absolute`, at logout, when the user is
//   disabled, and when the password changes.
// - Login failures are counted per attempted name, whether or not the user
//   exists: `max_failures` within `failure_window` locks the name for
//   `lockout`. A locked name, an unknown name, a disabled user and a wrong
//   password all give the same answer.
// - A session's CSRF token is random and returned by login and GET
//   /api/v1/me; every call other than GET/HEAD made with the cookie must send
//   it in X-CSRF-Token.
// - authenticate() returns std::nullopt when no valid credential is present;
//   expected failures are values, store failures are Errors.
// Threads: every method may run on many threads at once (the store is
// thread-safe; nothing here is cached).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"
#include "banshi/clock.h"
#include "banshi/engine.h"
#include "banshi/result.h"
#include "store/auth_store.h"
#include "store/store.h"

namespace banshi::api {

inline constexpr std::string_view kSessionCookie = "banshi_session";

struct AuthOptions {
  int64_t session_idle_ms = 30 * 60 * 1000;          // a session unused this long ends
  int64_t session_absolute_ms = 12 * 60 * 60 * 1000;  // and none lives longer than this
  bool secure_cookie = false;                         // add Secure to the cookie (TLS in front)
  int max_failures = 5;
  int64_t failure_window_ms = 15 * 60 * 1000;
  int64_t lockout_ms = 15 * 60 * 1000;
  uint32_t password_iterations = 310'000;            // for new hashes; stored hashes keep theirs
};

struct Principal {
  enum class Kind { kUser, kToken, kApplicant };  // kApplicant: api/frontdoor_routes.h
  Kind kind = Kind::kUser;
  std::string name;                   // user name, the token's name, or an applicant's phone hash
  std::vector<std::string> roles;     // users only
  std::string department;
  std::vector<std::string> regions;
  std::vector<std::string> topics;    // tokens only: the job topics it may serve
  std::string session_hash;           // set when authenticated by cookie
  std::string csrf_token;             // the session's CSRF token

  bool has(std::string_view role) const;
  bool via_session() const { return !session_hash.empty(); }
  // "token:<name>" for tokens, the user name otherwise (the audit actor).
  std::string actor() const;
};

struct LoginResult {
  Principal principal;
  std::string cookie_token;           // the secret for the Set-Cookie header
};

class Auth {
 public:
  Auth(store::AuthStore* store, std::shared_ptr<Clock> clock, AuthOptions options);

  bool available() const { return store_ != nullptr; }
  const AuthOptions& options() const { return options_; }
  store::AuthStore& store() { return *store_; }
  int64_t now() const { return clock_->now_ms(); }

  Result<std::optional<Principal>> authenticate(const Request& request);
  // The principal of a session (by its hash) as it is now: nothing once the
  // session ended (logout, expiry, a password change) or its user is
  // disabled; the user's present roles, department and regions otherwise.
  // `touch`: this counts as the session's activity (a request does; an open
  // event stream looked at again does not, so it cannot keep an idle session).
  Result<std::optional<Principal>> session_principal(const std::string& session_hash, bool touch = true);
  // std::nullopt: wrong name or password, disabled, or locked (indistinguishable).
  Result<std::optional<LoginResult>> login(const std::string& name, const std::string& password,
                                           const std::string& address);
  // Ends the session and writes the logout row, in one transaction.
  Result<void> logout(const Principal& who, const std::string& address);

  std::string set_cookie(const std::string& token) const;
  std::string clear_cookie() const;

  // Makes `change` (calls of store()) and writes its audit row in one store
  // transaction: when either fails, neither is kept and the error returned.
  Result<void> audited(const std::function<Result<void>()>& change, const std::string& actor, std::string action,
                       std::string target, const std::string& address, std::string detail = {});
  // Appends a row that records no change (a refused attempt, a view); a
  // failure is logged, never fatal to the call.
  void audit(const std::string& actor, std::string action, std::string target, const std::string& address,
             std::string detail = {});
  // The audit row of a change the engine makes: written in the change's own
  // transaction (banshi/engine.h, AuditNote), timed by this clock.
  AuditNote note(const Principal& who, std::string action, std::string target, const std::string& address,
                 std::string detail = {}) const;

 private:
  bool locked(const std::vector<int64_t>& failures, int64_t now) const;

  store::AuthStore* store_;
  std::shared_ptr<Clock> clock_;
  AuthOptions options_;
  std::string dummy_hash_;  // verified against for unknown names, so timing does not tell
  // Logins of each name under way on this node: each counts as a failure
  // until it is over, so guesses sent at once cannot all be tried before
  // the first failure is stored (past the lockout), and none waits for
  // another's password check.
  std::mutex attempts_mu_;
  std::map<std::string, int> attempts_;
};

// --- what a principal may see ------------------------------------------------

// Whether a monitor's regions cover a region (no regions: all of them).
bool regions_cover(const std::vector<std::string>& regions, const std::string& region, bool empty_means_all);

// Whether `who` may see (and, for staff and supervisors, work on) a task:
// - staff and supervisors: one of the task's candidate groups belongs to
//   their department (api/roles.h), or they are a candidate user or the
//   assignee; and the task's region is one of theirs or below. Escalated and
//   breached tasks are seen by staff only when assigned to them; supervisors
//   see them all.
// - monitors: tasks in their regions (all regions when they have none).
bool may_see_task(const Principal& who, const store::TaskRecord& task);
// Whether `who` may claim, unclaim or complete it (staff and supervisors only).
bool may_work_on_task(const Principal& who, const store::TaskRecord& task);

// Whether `who` may read or act on a case (an instance) as a whole, as the
// case search finds them: designers, admins and monitors without regions
// every case; staff, supervisors and monitors with regions the cases of
// their regions or below.
bool may_see_case(const Principal& who, const std::string& case_region);

// Whether an API token may fetch and report jobs of a topic: the topic is one
// of the token's. Users serve no topics.
bool may_serve_topic(const Principal& who, std::string_view topic);

}  // namespace banshi::api
