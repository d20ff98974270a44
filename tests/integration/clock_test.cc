// The controlled clock (clock_routes.cc, docs/operations.md "The clock"): an
// admin moves the engine's time forward by a duration or to a time, a timer
// that falls due fires at once on the running engine, every move is audited,
// bad input is refused with nothing moved, and without a controlled clock the
// route is not there.
#include <chrono>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "api/api.h"
#include "api/password.h"
#include "model/iso8601.h"
#include "store/sqlite/sqlite_store.h"

namespace banshi::api {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kTimerModel = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <process id="notice" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>
    <intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration>P5D</timeDuration></timerEventDefinition></intermediateCatchEvent>
    <sequenceFlow id="f2" sourceRef="wait" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>)";

class ControlledClockTest : public ::testing::Test {
 protected:
  void open(bool controlled) {
    store::sqlite::SqliteOptions o;
    o.path = ":memory:";
    auto s = store::sqlite::SqliteStore::open(o);
    ASSERT_TRUE(s.ok());
    clock_ = std::make_shared<ManualClock>(*model::parse_date_time("2026-03-02T09:00:00+08:00"));
    auto e = Engine::open(EngineConfig{}, std::move(s).value(), clock_);
    ASSERT_TRUE(e.ok()) << e.error().message;
    engine_ = std::move(e).value();
    users_ = dynamic_cast<store::AuthStore*>(&engine_->store());
    ApiOptions options;
    options.auth.password_iterations = 1000;
    if (controlled) options.controlled_clock = clock_;
    api_ = std::make_unique<Api>(*engine_, options);
    for (const auto& [name, role] : {std::pair{"adm", "admin"}, std::pair{"des", "designer"}}) {
      store::UserRecord u;
      u.name = name;
      u.password_hash = hash_password(std::string(name) + "-password-1", 1000);
      u.roles = {role};
      ASSERT_TRUE(users_->add_user(u).ok());
      std::string token = random_token(), csrf = random_token();
      const int64_t now = SystemClock().now_ms();
      ASSERT_TRUE(users_->add_session(store::SessionRecord{sha256_hex(token), name, csrf, "127.0.0.1", now, now}).ok());
      sessions_[name] = {token, csrf};
    }
  }
  void TearDown() override {
    if (started_) engine_->stop();
  }

  Response call(const std::string& who, const std::string& method, const std::string& target,
                const std::string& body = {}, const std::string& content_type = "application/json") {
    Fields headers{{"content-type", content_type},
                   {"cookie", "banshi_session=" + sessions_[who].first},
                   {"x-csrf-token", sessions_[who].second}};
    Request request = Request::make(method, target, body, headers);
    request.remote_address = "10.0.0.7";
    return api_->handle(request);
  }
  static json::object doc(const Response& r) { return json::parse(r.body).as_object(); }
  void expect_refused(const std::string& body, const std::string& field) {
    const int64_t before = clock_->now_ms();
    Response r = call("adm", "POST", "/api/v1/admin/clock", body);
    EXPECT_EQ(r.status, 400) << body << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/problem+json");
    EXPECT_EQ(doc(r)["field"], json::value(field)) << body << ": " << r.body;
    EXPECT_EQ(clock_->now_ms(), before) << body << " moved the clock";
  }

  std::shared_ptr<ManualClock> clock_;
  std::unique_ptr<Engine> engine_;
  store::AuthStore* users_ = nullptr;
  std::unique_ptr<Api> api_;
  std::map<std::string, std::pair<std::string, std::string>> sessions_;
  bool started_ = false;
};

TEST_F(ControlledClockTest, AnAdvanceFiresTheTimersThatFallDueAtOnce) {
  open(true);
  engine_->start();
  started_ = true;
  ASSERT_EQ(call("des", "POST", "/api/v1/definitions?resource=notice.bpmn", kTimerModel, "application/xml").status,
            201);
  Response started = call("des", "POST", "/api/v1/instances", R"({"processId":"notice"})");
  ASSERT_EQ(started.status, 201) << started.body;
  const int64_t id = doc(started)["id"].as_int64();
  auto status = [&] { return (*engine_->store().instance(static_cast<InstanceId>(id)))->status; };

  // Four days: the five-day timer still waits, however long real time runs.
  const int64_t start = clock_->now_ms();
  Response r = call("adm", "POST", "/api/v1/admin/clock", R"({"advance":"P4D"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(doc(r)["now"].as_int64(), start + 4 * 86'400'000LL);
  EXPECT_EQ(doc(r)["movedMs"].as_int64(), 4 * 86'400'000LL);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(status(), 1) << "the timer fired before it was due";

  // To a time past the due date: it fires within moments.
  r = call("adm", "POST", "/api/v1/admin/clock", R"({"to":"2026-03-07T09:00:01+08:00"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(doc(r)["nowText"], json::value("2026-03-07T01:00:01.000Z"));
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (status() == 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_NE(status(), 1) << "the due timer did not fire within 2 s of the move";

  r = call("adm", "GET", "/api/v1/admin/clock");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(doc(r)["now"].as_int64(), clock_->now_ms());
  EXPECT_EQ(doc(r)["mode"], json::value("controlled"));

  // Both moves are in the audit trail, by the admin.
  auto audit = users_->audit(store::AuditQuery{});
  ASSERT_TRUE(audit.ok());
  int moves = 0;
  for (const auto& a : *audit) {
    if (a.action == "clock-move") {
      ++moves;
      EXPECT_EQ(a.actor, "adm");
    }
  }
  EXPECT_EQ(moves, 2);
}

TEST_F(ControlledClockTest, BadMovesAreRefusedWithNothingMoved) {
  open(true);
  expect_refused(R"({})", "advance");
  expect_refused(R"({"advance":"PT1H","to":"2027-01-01T00:00:00Z"})", "to");
  expect_refused(R"({"advance":"eight hours"})", "advance");
  expect_refused(R"({"advance":"-PT1H"})", "advance");
  expect_refused(R"({"advance":"PT0S"})", "advance");
  expect_refused(R"({"advance":"P11Y"})", "advance");
  expect_refused(R"({"advance":8})", "advance");
  expect_refused(R"({"to":"2026-03-01T09:00:00+08:00"})", "to");  // the past
  expect_refused(R"({"to":"2026-03-02T09:00:00+08:00"})", "to");  // now
  expect_refused(R"({"to":"next tuesday"})", "to");
  expect_refused(R"({"to":"2046-03-02T09:00:00+08:00"})", "to");  // beyond ten years
  expect_refused(R"({"advance":"PT1H","speed":2})", "speed");
  Response r = call("adm", "POST", "/api/v1/admin/clock", "[1,");
  EXPECT_EQ(r.status, 400);
  // Only admins move it.
  const int64_t before = clock_->now_ms();
  EXPECT_EQ(call("des", "POST", "/api/v1/admin/clock", R"({"advance":"PT1H"})").status, 403);
  EXPECT_EQ(call("des", "GET", "/api/v1/admin/clock").status, 403);
  EXPECT_EQ(clock_->now_ms(), before);
}

TEST_F(ControlledClockTest, WithoutAControlledClockTheRouteIsNotThere) {
  open(false);
  const int64_t before = clock_->now_ms();
  EXPECT_EQ(call("adm", "POST", "/api/v1/admin/clock", R"({"advance":"PT1H"})").status, 404);
  EXPECT_EQ(call("adm", "GET", "/api/v1/admin/clock").status, 404);
  EXPECT_EQ(clock_->now_ms(), before);
}

}  // namespace
}  // namespace banshi::api
