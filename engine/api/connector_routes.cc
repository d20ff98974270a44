// api/connector_routes.cc — GET /api/v1/connectors/health: each department's
// connector circuit breaker (docs/connectors.md), so the monitor page can
// say "department unreachable since …" once per department instead of one
// incident per waiting job. Roles monitor, supervisor and admin.
#include <ctime>
#include <string>

#include <boost/json.hpp>

#include "api/api.h"
#include "expr/json_text.h"

namespace banshi::api {

namespace json = boost::json;

namespace {

std::string utc_text(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char at[32];
  std::strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return at;
}

}  // namespace

void Api::add_connector_routes() {
  add("GET", "/api/v1/connectors/health", roles({"monitor", "supervisor", "admin"}),
      [this](const Request&, const PathParams&, const Principal&) {
        json::array departments;
        bool all_reachable = true;
        if (options_.connector_health) {
          for (const ConnectorHealth& h : options_.connector_health()) {
            json::object o;
            o["department"] = h.department;
            o["state"] = h.state;
            o["consecutiveFailures"] = h.consecutive_failures;
            o["timesOpened"] = h.times_opened;
            o["lastError"] = h.last_error;
            if (h.unreachable_since_ms > 0 && h.state != "closed") {
              o["unreachableSince"] = utc_text(h.unreachable_since_ms);
              o["summary"] = h.summary;
              all_reachable = false;
            } else {
              o["unreachableSince"] = nullptr;
              o["summary"] = nullptr;
            }
            departments.push_back(std::move(o));
          }
        }
        json::object body;
        body["enabled"] = static_cast<bool>(options_.connector_health);
        body["allReachable"] = all_reachable;
        body["departments"] = std::move(departments);
        Response r;
        r.status = 200;
        r.content_type = "application/json";
        r.body = expr::json_text(body);
        return r;
      });
}

}  // namespace banshi::api
