// api/clock_routes.cc — the controlled clock (clock.mode = "controlled",
// docs/operations.md "The clock"): for tests and training, the engine's time
// stands still and moves only when an admin says so, like Zeebe's controlled
// clock. Timers that fall due by the new time fire at once (the engine looks
// at a controlled clock every 50 ms).
//
//   GET  /api/v1/admin/clock                          what the clock shows
//   POST /api/v1/admin/clock {"advance": "PT8H"}      moves it forward by an ISO 8601 duration
//   POST /api/v1/admin/clock {"to": "2026-03-10T09:00:00+08:00"}   moves it forward to a time
//
// The routes exist only on a server with a controlled clock (404 elsewhere),
// for admins only; every move is audited. The clock never goes back.
#include <ctime>
#include <string>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "api/api.h"
#include "api/input.h"
#include "api/problem.h"
#include "expr/json_text.h"
#include "model/iso8601.h"

namespace banshi::api {

namespace json = boost::json;

namespace {

// Days in a duration and a date-time without an offset count in China Standard Time.
constexpr int32_t kZoneMinutes = 480;
// The furthest one move may take the clock: ten years.
constexpr int64_t kMaxMoveMs = 10LL * 366 * 24 * 3600 * 1000;

std::string utc_text(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char at[40];
  std::strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", at, static_cast<int>(ms % 1000));
}

Response clock_json(int64_t now, int64_t previous = -1) {
  json::object o{{"mode", "controlled"}, {"now", now}, {"nowText", utc_text(now)}};
  if (previous >= 0) o["movedMs"] = now - previous;
  Response r;
  r.status = 200;
  r.content_type = "application/json";
  r.body = expr::json_text(o);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace

void Api::add_clock_routes() {
  if (!options_.controlled_clock) return;  // only a controlled clock can be moved

  add("GET", "/api/v1/admin/clock", roles({"admin"}), [this](const Request&, const PathParams&, const Principal&) {
    return clock_json(options_.controlled_clock->now_ms());
  });

  add("POST", "/api/v1/admin/clock", roles({"admin"}), [this](const Request& req, const PathParams&, const Principal& who) {
    json::object body;
    if (auto e = parse_json_body(req, body)) {
      if (e->status == 415) return problem(ProblemKind::kUnsupportedMediaType, e->detail, e->field);
      return problem(ProblemKind::kBadRequest, e->detail, e->field);
    }
    BodyReader b(body, {"advance", "to"});
    const std::string advance = b.string("advance", false, 64);
    const std::string to = b.string("to", false, 64);
    if (b.ok() && advance.empty() == to.empty()) {
      b.fail(advance.empty() ? "advance" : "to",
             "Give either advance (an ISO 8601 duration such as PT8H) or to (an ISO 8601 date-time), not both.");
    }
    if (!b.ok()) return problem(ProblemKind::kBadRequest, b.error().detail, b.error().field);

    const int64_t now = options_.controlled_clock->now_ms();
    int64_t target = now;
    if (!advance.empty()) {
      auto d = model::parse_duration(advance);
      if (!d.ok()) {
        return problem(ProblemKind::kBadRequest,
                       fmt::format("advance is not an ISO 8601 duration ({}); for example PT8H or P5D.",
                                   d.error().message),
                       "advance");
      }
      if (d->negative || d->is_zero()) {
        return problem(ProblemKind::kBadRequest, "advance must move the clock forward: the clock never goes back.",
                       "advance");
      }
      if (d->years > 10 || d->months > 120 || d->days > 3660 || d->milliseconds > kMaxMoveMs) {
        return problem(ProblemKind::kBadRequest, "advance may move the clock by ten years at most.", "advance");
      }
      target = model::add_duration(now, *d, kZoneMinutes);
    } else {
      auto t = model::parse_date_time(to, kZoneMinutes);
      if (!t.ok()) {
        return problem(ProblemKind::kBadRequest,
                       fmt::format("to is not an ISO 8601 date-time ({}); for example 2026-03-10T09:00:00+08:00.",
                                   t.error().message),
                       "to");
      }
      target = *t;
      if (target <= now) {
        return problem(ProblemKind::kBadRequest,
                       fmt::format("to must be later than the clock's time, {}: the clock never goes back.",
                                   utc_text(now)),
                       "to");
      }
    }
    if (target - now > kMaxMoveMs) {
      return problem(ProblemKind::kBadRequest, "One move may take the clock ten years ahead at most.",
                     advance.empty() ? "to" : "advance");
    }
    const int64_t shown = options_.controlled_clock->move_forward_to(target);
    auth_.audit(who.actor(), "clock-move", "clock", req.remote_address,
                fmt::format("from {} to {}", utc_text(now), utc_text(shown)));
    return clock_json(shown, now);
  });
}

}  // namespace banshi::api
