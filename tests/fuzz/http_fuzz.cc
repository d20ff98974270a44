// The HTTP request path as the server sees it after parsing: arbitrary
// methods, targets, headers and bodies go through routing, authorisation,
// query and JSON body validation and the handlers, on an engine over an
// in-memory store, as a caller holding every role. Nothing may crash, hang
// or trip a sanitizer, and every answer must be a well-formed status.
//
// Input: "METHOD TARGET\n", then "name: value" header lines, then a blank
// line, then the body.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "api/api.h"
#include "api/password.h"
#include "store/sqlite/sqlite_store.h"

namespace {

using namespace banshi;

struct World {
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(1'770'000'000'000);
  std::unique_ptr<Engine> engine;
  std::unique_ptr<api::Api> api;
  std::string cookie;
  std::string csrf;

  World() {
    store::sqlite::SqliteOptions o;
    o.path = ":memory:";
    auto s = store::sqlite::SqliteStore::open(o);
    if (!s.ok()) __builtin_trap();
    auto e = Engine::open(EngineConfig{}, std::move(s).value(), clock);
    if (!e.ok()) __builtin_trap();
    engine = std::move(e).value();
    auto* users = dynamic_cast<store::AuthStore*>(&engine->store());
    api::ApiOptions options;
    options.clock = clock;
    options.auth.password_iterations = 1000;  // user routes must not dominate the run
    options.max_long_polls = 0;               // external-task fetches answer at once
    api = std::make_unique<api::Api>(*engine, options);
    store::UserRecord u;
    u.name = "fuzz";
    u.password_hash = api::hash_password("fuzz-password-1", 1000);
    u.roles = {"staff", "supervisor", "monitor", "designer", "admin"};
    u.department = "dpf";
    u.regions = {"000000"};
    if (!users->add_user(u).ok()) __builtin_trap();
    std::string token = api::random_token();
    csrf = api::random_token();
    int64_t now = clock->now_ms();
    if (!users->add_session(store::SessionRecord{api::sha256_hex(token), "fuzz", csrf, "127.0.0.1", now, now}).ok()) {
      __builtin_trap();
    }
    cookie = "banshi_session=" + token;
  }
};

World& world() {
  static World w;
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (64u << 10)) return 0;
  World& w = world();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t eol = in.find('\n');
  std::string_view first = in.substr(0, eol);
  size_t space = first.find(' ');
  std::string method(first.substr(0, space));
  std::string target(space == std::string_view::npos ? "/" : first.substr(space + 1));
  api::Fields headers;
  std::string_view rest = eol == std::string_view::npos ? std::string_view{} : in.substr(eol + 1);
  while (!rest.empty()) {
    size_t e = rest.find('\n');
    std::string_view line = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e + 1);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  headers.emplace_back("cookie", w.cookie);
  headers.emplace_back("x-csrf-token", w.csrf);
  api::Request request = api::Request::make(method, target, std::string(rest), headers);
  request.remote_address = "10.0.0.9";
  api::Response response = w.api->handle(request);
  if (response.status < 100 || response.status > 599) __builtin_trap();
  w.engine->run_until_idle();
  return 0;
}
