// api/monitor_routes.cc — the monitor's figures (docs/sla.md, "Monitoring"):
// counts by SLA state, overdue tasks by lateness, breach rate and median
// handling time per step, and which calendar years are covered. Roles
// monitor, supervisor and admin; every figure is filtered by the caller's
// regions (admins, and monitors without regions, see all of them).
#include <algorithm>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "api/api.h"
#include "api/input.h"
#include "api/problem.h"
#include "api/roles.h"
#include "calendar/business_calendar.h"
#include "expr/json_text.h"
#include "model/iso8601.h"

namespace banshi::api {

namespace json = boost::json;

namespace {

Response monitor_json(const json::value& v) {
  Response r;
  r.status = 200;
  r.content_type = "application/json";
  r.body = expr::json_text(v);
  return r;
}

Response monitor_input_problem(const InputError& e) { return problem(ProblemKind::kBadRequest, e.detail, e.field); }

// The region prefixes whose tasks the caller may count.
std::vector<std::string> visible_prefixes(const Principal& who) {
  if (who.has("admin") || (who.has("monitor") && who.regions.empty())) return {""};
  std::vector<std::string> out;
  for (const std::string& r : who.regions) out.push_back(region_prefix(r));
  return out;
}

// A time parameter: milliseconds since the epoch or an ISO 8601 date-time.
int64_t monitor_time(QueryReader& q, const Request& request, std::string_view name, int64_t fallback) {
  auto v = request.param(name);
  if (!v) return fallback;
  if (auto ms = parse_int(*v, 0, INT64_MAX)) return *ms;
  auto parsed = model::parse_date_time(*v);
  if (!parsed.ok()) {
    q.fail(name, "This parameter must be milliseconds since the epoch or an ISO 8601 date-time.");
    return fallback;
  }
  return *parsed;
}

std::string_view state_word(uint8_t s) {
  static constexpr std::string_view kWords[] = {"on_time", "due_soon", "escalated", "breached", "overdue"};
  return s < 5 ? kWords[s] : std::string_view("on_time");
}

}  // namespace

void Api::add_monitor_routes() {
  const std::vector<std::string> who_may = {"monitor", "supervisor", "admin"};

  add("GET", "/api/v1/monitor/summary", roles(who_may), [this](const Request& req, const PathParams&, const Principal& who) {
    QueryReader q(req, {"groupBy"});
    std::string group_by = q.string("groupBy");
    if (group_by.empty()) group_by = "state";
    if (group_by != "department" && group_by != "region" && group_by != "process" && group_by != "state") {
      q.fail("groupBy", "groupBy must be department, region, process or state.");
    }
    if (!q.ok()) return monitor_input_problem(q.error());
    auto groups = engine_.store().monitor_summary(visible_prefixes(who), group_by, engine_.clock().now_ms());
    if (!groups.ok()) return problem_from_error(groups.error());
    json::array out;
    for (const store::MonitorGroup& g : *groups) {
      out.push_back(json::object{{"key", g.key},           {"onTime", g.on_time},       {"dueSoon", g.due_soon},
                                 {"overdue", g.overdue},   {"escalated", g.escalated},  {"breached", g.breached},
                                 {"total", g.total}});
    }
    return monitor_json(json::object{{"groups", std::move(out)}});
  });

  add("GET", "/api/v1/monitor/overdue", roles(who_may), [this](const Request& req, const PathParams&, const Principal& who) {
    QueryReader q(req, {"limit", "offset"});
    const int64_t limit = q.integer("limit", 1, 1000, 50);
    const int64_t offset = q.integer("offset", 0, 1'000'000'000, 0);
    if (!q.ok()) return monitor_input_problem(q.error());
    const int64_t now = engine_.clock().now_ms();
    int64_t total = 0;
    auto tasks = engine_.store().monitor_overdue(visible_prefixes(who), now, static_cast<size_t>(offset),
                                                 static_cast<size_t>(limit), total);
    if (!tasks.ok()) return problem_from_error(tasks.error());
    json::array items;
    for (const store::TaskRecord& t : *tasks) {
      // A task with a due date and no policy is overdue once the date has passed.
      uint8_t state = t.sla_state == 0 ? 4 : t.sla_state;
      json::object o{{"taskId", t.id},
                     {"instanceId", t.instance_id},
                     {"processId", t.process_id},
                     {"elementId", t.element_id},
                     {"name", t.name},
                     {"department", t.department},
                     {"region", t.region},
                     {"dueAt", t.due_at},
                     {"lateMs", now - t.due_at},
                     {"slaState", state_word(state)},
                     {"escalationLevel", t.escalation_level}};
      if (!t.escalated_to.empty()) o["escalatedTo"] = t.escalated_to;
      if (!t.escalated_region.empty()) o["escalatedRegion"] = t.escalated_region;
      items.push_back(std::move(o));
    }
    return monitor_json(json::object{{"items", std::move(items)}, {"total", total}});
  });

  add("GET", "/api/v1/monitor/steps", roles(who_may), [this](const Request& req, const PathParams&, const Principal& who) {
    QueryReader q(req, {"from", "to"});
    const int64_t now = engine_.clock().now_ms();
    const int64_t to = monitor_time(q, req, "to", now + 1);
    const int64_t from = monitor_time(q, req, "from", to - 30LL * 86400000);
    if (q.ok() && from >= to) q.fail("from", "from must be earlier than to.");
    if (!q.ok()) return monitor_input_problem(q.error());
    auto steps = engine_.store().monitor_steps(visible_prefixes(who), from, to);
    if (!steps.ok()) return problem_from_error(steps.error());
    json::array items;
    for (const store::MonitorStep& s : *steps) {
      const double rate = s.completed == 0 ? 0.0 : static_cast<double>(s.breached) / static_cast<double>(s.completed);
      items.push_back(json::object{{"processId", s.process_id},
                                   {"elementId", s.element_id},
                                   {"name", s.name},
                                   {"completed", s.completed},
                                   {"breached", s.breached},
                                   {"breachRate", rate},
                                   {"medianHandlingMs", s.median_handling_ms}});
    }
    return monitor_json(json::object{{"items", std::move(items)}, {"from", from}, {"to", to}});
  });

  add("GET", "/api/v1/monitor/calendar", roles(who_may), [this](const Request& req, const PathParams&, const Principal&) {
    QueryReader q(req, {});
    if (!q.ok()) return monitor_input_problem(q.error());
    json::array years;
    const auto* cal = dynamic_cast<const calendar::BusinessCalendar*>(engine_.working_days());
    std::vector<int> covered = cal ? cal->years() : std::vector<int>{};
    for (int y : covered) years.push_back(y);
    // The year of "now" in China Standard Time; next year's calendar is due
    // each November, so its absence is worth a warning all year.
    int64_t y = 0;
    unsigned m = 0, d = 0;
    const int64_t now = engine_.clock().now_ms() + 480LL * 60000;
    model::civil_from_days(now >= 0 ? now / 86400000 : (now - 86399999) / 86400000, y, m, d);
    const bool missing = std::find(covered.begin(), covered.end(), static_cast<int>(y + 1)) == covered.end();
    return monitor_json(json::object{{"coveredYears", std::move(years)}, {"missingNextYear", missing}});
  });
}

}  // namespace banshi::api
