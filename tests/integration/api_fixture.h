// tests/integration/api_fixture.h — an Api over an engine on an in-memory
// SQLite store with a manual clock, users with open sessions, and calls made
// as one of them; shared by the API test files.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "api/api.h"
#include "api/password.h"
#include "store/sqlite/sqlite_store.h"

namespace banshi::api::testing {

class ApiFixture : public ::testing::Test {
 protected:
  // Opens the engine (with `config`, its clock at `start_ms`) and the Api;
  // `options` gets the test clock (also as the controlled clock behind the
  // admin clock routes when asked) and fast password hashes.
  void open_api(ApiOptions options = {}, bool controlled_clock = false, EngineConfig config = {},
                int64_t start_ms = 1'770'000'000'000) {
    store::sqlite::SqliteOptions o;
    o.path = ":memory:";
    auto s = store::sqlite::SqliteStore::open(o);
    ASSERT_TRUE(s.ok());
    clock_ = std::make_shared<ManualClock>(start_ms);
    auto e = Engine::open(std::move(config), std::move(s).value(), clock_);
    ASSERT_TRUE(e.ok()) << e.error().message;
    engine_ = std::move(e).value();
    users_ = dynamic_cast<store::AuthStore*>(&engine_->store());
    ASSERT_NE(users_, nullptr);
    options.clock = clock_;
    if (controlled_clock) options.controlled_clock = clock_;
    options.auth.password_iterations = 1000;  // fast hashes in tests
    api_ = std::make_unique<Api>(*engine_, options);
  }

  // Adds a user with the password "<name>-password-1" and opens a session for it.
  void add_user(const std::string& name, std::vector<std::string> roles, const std::string& department = {},
                std::vector<std::string> regions = {}) {
    store::UserRecord u;
    u.name = name;
    u.password_hash = hash_password(name + "-password-1", 1000);
    u.roles = std::move(roles);
    u.department = department;
    u.regions = std::move(regions);
    ASSERT_TRUE(users_->add_user(u).ok());
    std::string token = random_token();
    std::string csrf = random_token();
    int64_t now = clock_->now_ms();
    ASSERT_TRUE(users_->add_session(store::SessionRecord{sha256_hex(token), name, csrf, "127.0.0.1", now, now}).ok());
    sessions_[name] = {token, csrf};
  }
  // Later calls are made as this user (empty: without any credential).
  void as(const std::string& name) { caller_ = name; }

  // One request through the Api as the current caller (its session cookie,
  // beside another cookie, and its CSRF token), then the engine runs until idle.
  Response call(const std::string& method, const std::string& target, const std::string& body = {},
                const std::string& content_type = "application/json", Fields headers = {}) {
    if (!content_type.empty()) headers.emplace_back("content-type", content_type);
    if (!caller_.empty()) {
      headers.emplace_back("cookie", "theme=dark; banshi_session=" + sessions_[caller_].first);
      headers.emplace_back("x-csrf-token", sessions_[caller_].second);
    }
    Request request = Request::make(method, target, body, headers);
    request.remote_address = "10.0.0.9";
    Response r = api_->handle(request);
    engine_->run_until_idle();
    return r;
  }
  static boost::json::object doc(const Response& r) {
    boost::json::error_code ec;
    auto v = boost::json::parse(r.body, ec);
    if (ec || !v.is_object()) return {};
    return v.as_object();
  }

  std::shared_ptr<ManualClock> clock_;
  std::unique_ptr<Engine> engine_;
  store::AuthStore* users_ = nullptr;
  std::unique_ptr<Api> api_;
  std::map<std::string, std::pair<std::string, std::string>> sessions_;  // name → cookie, CSRF token
  std::string caller_;
};

}  // namespace banshi::api::testing
