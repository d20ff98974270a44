#include "api/auth.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "api/password.h"
#include "api/roles.h"

namespace banshi::api {

namespace {

constexpr int64_t kTouchEveryMs = 60'000;  // last_seen_at is written at most once a minute per session

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of one cookie in a Cookie header, or empty.
std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view part = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    size_t eq = part.find('=');
    if (eq != std::string_view::npos && trim(part.substr(0, eq)) == name) return std::string(trim(part.substr(eq + 1)));
  }
  return {};
}

bool is_token_text(std::string_view t) {
  if (t.size() != 64) return false;
  return std::all_of(t.begin(), t.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Principal user_principal(const store::UserRecord& u) {
  Principal p;
  p.kind = Principal::Kind::kUser;
  p.name = u.name;
  p.roles = u.roles;
  p.department = u.department;
  p.regions = u.regions;
  return p;
}

}  // namespace

bool Principal::has(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

std::string Principal::actor() const {
  if (kind == Kind::kApplicant) return "applicant:" + name.substr(0, 12);
  return kind == Kind::kToken ? "token:" + name : name;
}

Auth::Auth(store::AuthStore* store, std::shared_ptr<Clock> clock, AuthOptions options)
    : store_(store), clock_(clock ? std::move(clock) : std::make_shared<SystemClock>()), options_(options),
      dummy_hash_(hash_password(random_token(), options.password_iterations)) {}

Result<std::optional<Principal>> Auth::authenticate(const Request& request) {
  if (store_ == nullptr) return std::optional<Principal>();
  if (auto authorization = request.header("authorization")) {
    std::string_view value = trim(*authorization);
    if (value.size() > 7 && (value.substr(0, 7) == "Bearer " || value.substr(0, 7) == "bearer ")) {
      std::string_view secret = trim(value.substr(7));
      if (!is_token_text(secret)) return std::optional<Principal>();
      auto token = store_->api_token(sha256_hex(secret));
      if (!token.ok()) return token.error();
      if (!*token || (*token)->revoked) return std::optional<Principal>();
      Principal p;
      p.kind = Principal::Kind::kToken;
      p.name = (*token)->name;
      p.topics = (*token)->topics;
      return std::optional<Principal>(std::move(p));
    }
    return std::optional<Principal>();
  }
  auto cookies = request.header("cookie");
  if (!cookies) return std::optional<Principal>();
  std::string secret = cookie_value(*cookies, kSessionCookie);
  if (!is_token_text(secret)) return std::optional<Principal>();
  return session_principal(sha256_hex(secret));
}

Result<std::optional<Principal>> Auth::session_principal(const std::string& hash, bool touch) {
  if (store_ == nullptr) return std::optional<Principal>();
  auto session = store_->session(hash);
  if (!session.ok()) return session.error();
  if (!*session) return std::optional<Principal>();
  int64_t now = clock_->now_ms();
  const store::SessionRecord& s = **session;
  if (now - s.last_seen_at > options_.session_idle_ms || now - s.created_at >= options_.session_absolute_ms) {
    (void)store_->delete_session(hash);
    return std::optional<Principal>();
  }
  auto user = store_->user(s.user);
  if (!user.ok()) return user.error();
  if (!*user || (*user)->disabled) {
    (void)store_->delete_session(hash);
    return std::optional<Principal>();
  }
  if (touch && now - s.last_seen_at >= kTouchEveryMs) {
    if (auto t = store_->touch_session(hash, now); !t.ok()) return t.error();
  }
  Principal p = user_principal(**user);
  p.session_hash = hash;
  p.csrf_token = s.csrf_token;
  return std::optional<Principal>(std::move(p));
}

bool Auth::locked(const std::vector<int64_t>& failures, int64_t now) const {
  // Locked while some run of max_failures failures within the window ended
  // less than `lockout` ago.
  size_t n = static_cast<size_t>(std::max(1, options_.max_failures));
  for (size_t i = n - 1; i < failures.size(); ++i) {
    if (failures[i] - failures[i + 1 - n] <= options_.failure_window_ms && now - failures[i] < options_.lockout_ms) {
      return true;
    }
  }
  return false;
}

Result<std::optional<LoginResult>> Auth::login(const std::string& name, const std::string& password,
                                               const std::string& address) {
  if (store_ == nullptr) return std::optional<LoginResult>();
  int under_way = 0;  // other attempts at this name not yet over (attempts_)
  {
    std::lock_guard lock(attempts_mu_);
    under_way = attempts_[name]++;
  }
  struct Over {
    Auth& auth;
    const std::string& name;
    ~Over() {
      std::lock_guard lock(auth.attempts_mu_);
      if (--auth.attempts_[name] <= 0) auth.attempts_.erase(name);
    }
  } over{*this, name};
  int64_t now = clock_->now_ms();
  auto failures = store_->login_failures(name, now - options_.failure_window_ms - options_.lockout_ms);
  if (!failures.ok()) return failures.error();
  failures->insert(failures->end(), static_cast<size_t>(under_way), now);  // as if each failed now
  if (locked(*failures, now)) {
    verify_password(password, dummy_hash_);  // the same work as any other refusal
    audit(name, "login-failed", "user " + name, address, "locked");
    return std::optional<LoginResult>();
  }
  auto user = store_->user(name);
  if (!user.ok()) return user.error();
  bool ok = false;
  if (*user) {
    ok = verify_password(password, (*user)->password_hash) && !(*user)->disabled;
  } else {
    verify_password(password, dummy_hash_);
  }
  if (!ok) {
    auto failed = audited([&] { return store_->add_login_failure(name, now); }, name, "login-failed",
                          "user " + name, address);
    if (!failed.ok()) return failed.error();
    return std::optional<LoginResult>();
  }
  LoginResult result;
  result.cookie_token = random_token();
  result.principal = user_principal(**user);
  result.principal.session_hash = sha256_hex(result.cookie_token);
  result.principal.csrf_token = random_token();
  store::SessionRecord s{result.principal.session_hash, name, result.principal.csrf_token, address, now, now};
  auto logged_in = audited(
      [&]() -> Result<void> {
        if (auto r = store_->clear_login_failures(name); !r.ok()) return r;
        return store_->add_session(s);
      },
      name, "login", "user " + name, address);
  if (!logged_in.ok()) return logged_in.error();
  return std::optional<LoginResult>(std::move(result));
}

Result<void> Auth::logout(const Principal& who, const std::string& address) {
  if (store_ == nullptr || !who.via_session()) return {};
  return audited([&] { return store_->delete_session(who.session_hash); }, who.actor(), "logout", "user " + who.name,
                 address);
}

std::string Auth::set_cookie(const std::string& token) const {
  std::string c = std::string(kSessionCookie) + "=" + token + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                  std::to_string(options_.session_absolute_ms / 1000);
  if (options_.secure_cookie) c += "; Secure";
  return c;
}

std::string Auth::clear_cookie() const {
  std::string c = std::string(kSessionCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";
  if (options_.secure_cookie) c += "; Secure";
  return c;
}

namespace {

store::AuditRecord audit_record(int64_t at, const std::string& actor, std::string action, std::string target,
                                const std::string& address, std::string detail) {
  store::AuditRecord r;
  r.at = at;
  r.actor = actor;
  r.action = std::move(action);
  r.target = std::move(target);
  r.address = address;
  r.detail = std::move(detail);
  return r;
}

}  // namespace

Result<void> Auth::audited(const std::function<Result<void>()>& change, const std::string& actor, std::string action,
                           std::string target, const std::string& address, std::string detail) {
  if (store_ == nullptr) return change();
  return store_->audited(change, {audit_record(clock_->now_ms(), actor, std::move(action), std::move(target), address,
                                               std::move(detail))});
}

void Auth::audit(const std::string& actor, std::string action, std::string target, const std::string& address,
                 std::string detail) {
  if (store_ == nullptr) return;
  store::AuditRecord r =
      audit_record(clock_->now_ms(), actor, std::move(action), std::move(target), address, std::move(detail));
  if (auto written = store_->append_audit(r); !written.ok()) {
    spdlog::error("cannot write the audit trail ({} {}): {}", r.action, r.target, written.error().message);
  }
}

AuditNote Auth::note(const Principal& who, std::string action, std::string target, const std::string& address,
                     std::string detail) const {
  AuditNote n;
  n.at = clock_->now_ms();
  n.actor = who.actor();
  n.action = std::move(action);
  n.target = std::move(target);
  n.address = address;
  n.detail = std::move(detail);
  return n;
}

bool regions_cover(const std::vector<std::string>& regions, const std::string& region, bool empty_means_all) {
  if (regions.empty()) return empty_means_all;
  for (const std::string& r : regions) {
    std::string prefix = region_prefix(r);
    if (region.compare(0, prefix.size(), prefix) == 0 && region.size() >= prefix.size()) return true;
  }
  return false;
}

namespace {

bool in_department_and_region(const Principal& who, const store::TaskRecord& t) {
  bool mine = !t.assignee.empty() && t.assignee == who.name;
  bool offered = mine || std::find(t.candidate_users.begin(), t.candidate_users.end(), who.name) !=
                             t.candidate_users.end();
  for (const std::string& g : t.candidate_groups) offered = offered || group_of_department(g, who.department);
  return offered && regions_cover(who.regions, t.region, false);
}

}  // namespace

bool may_work_on_task(const Principal& who, const store::TaskRecord& t) {
  if (who.kind != Principal::Kind::kUser) return false;
  if (who.has("supervisor") && in_department_and_region(who, t)) return true;
  if (who.has("staff") && in_department_and_region(who, t)) {
    bool escalated = t.sla_state == store::TaskQuery::Visibility::kEscalatedState ||
                     t.sla_state == store::TaskQuery::Visibility::kBreachedState;
    return !escalated || t.assignee == who.name;
  }
  return false;
}

bool may_serve_topic(const Principal& who, std::string_view topic) {
  if (who.kind != Principal::Kind::kToken) return false;
  return std::find(who.topics.begin(), who.topics.end(), topic) != who.topics.end();
}

bool may_see_case(const Principal& who, const std::string& case_region) {
  if (who.kind != Principal::Kind::kUser) return false;
  if (who.has("designer") || who.has("admin") || (who.has("monitor") && who.regions.empty())) return true;
  return regions_cover(who.regions, case_region, false);
}

bool may_see_task(const Principal& who, const store::TaskRecord& t) {
  if (may_work_on_task(who, t)) return true;
  return who.kind == Principal::Kind::kUser && who.has("monitor") && regions_cover(who.regions, t.region, true);
}

}  // namespace banshi::api
