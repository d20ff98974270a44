// api/report_routes.cc — ratings, reports and data comparison runs
// (report_routes.h, docs/reports.md).
#include "api/report_routes.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/core.h>

#include "api/api.h"
#include "api/input.h"
#include "api/mask.h"
#include "api/problem.h"
#include "api/roles.h"
#include "expr/json_text.h"
#include "model/iso8601.h"
#include "reports/comparison.h"
#include "reports/reports.h"
#include "store/store.h"

namespace banshi::api {

namespace json = boost::json;

namespace {

constexpr const char* kFollowUpProcess = "rating-follow-up";
constexpr size_t kMaxComment = 1500;  // bytes: 500 Chinese characters
constexpr int64_t kDayMs = 86400000;

Response report_json(int status, const json::value& v) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = expr::json_text(v);
  return r;
}

Response report_input_problem(const InputError& e) {
  if (e.status == 415) return problem(ProblemKind::kUnsupportedMediaType, e.detail, e.field);
  return problem(ProblemKind::kBadRequest, e.detail, e.field);
}

// The region prefixes whose figures the caller may see, as for the monitor.
std::vector<std::string> report_prefixes(const Principal& who) {
  if (who.has("admin") || (who.has("monitor") && who.regions.empty())) return {""};
  std::vector<std::string> out;
  for (const std::string& r : who.regions) out.push_back(region_prefix(r));
  return out;
}

bool covers_case(const Principal& who, const std::string& region) {
  if (who.has("admin") || (who.has("monitor") && who.regions.empty())) return true;
  return regions_cover(who.regions, region, false);
}

// A time parameter: milliseconds since the epoch, an ISO 8601 date-time, or
// a date (its midnight in China Standard Time unless a zone is given).
int64_t report_time(QueryReader& q, const Request& request, std::string_view name, int64_t fallback) {
  auto v = request.param(name);
  if (!v) return fallback;
  if (auto ms = parse_int(*v, 0, INT64_MAX)) return *ms;
  std::string text(*v);
  if (text.size() == 10) text += "T00:00:00";
  auto parsed = model::parse_date_time(text);
  if (!parsed.ok()) {
    q.fail(name, "This parameter must be milliseconds since the epoch, an ISO 8601 date or an ISO 8601 date-time.");
    return fallback;
  }
  return *parsed;
}

json::object rating_json(const store::RatingRecord& r) {
  json::object o{{"instanceId", r.instance_id},
                 {"processId", r.process_id},
                 {"businessKey", mask_key(r.business_key)},
                 {"region", r.region},
                 {"level", reports::level_word(r.level)},
                 {"comment", r.comment},
                 {"ratedBy", r.rated_by},
                 {"onBehalf", r.on_behalf},
                 {"ratedAt", r.rated_at}};
  if (r.follow_up_id != 0) o["followUpInstanceId"] = r.follow_up_id;
  return o;
}

struct ReportRequest {
  std::vector<std::string> names;
  std::string format;  // json, csv, xlsx
  reports::Options options;
  int64_t from = 0, to = 0;
};

}  // namespace

// The region a comparison finding concerns: its own, or its applicant's.
std::string finding_region(const json::value& finding) {
  const json::object* o = finding.if_object();
  if (o == nullptr) return {};
  if (const json::value* r = o->if_contains("region"); r && r->is_string()) return std::string(r->get_string());
  if (const json::value* a = o->if_contains("applicant"); a && a->is_object()) {
    if (const json::value* r = a->get_object().if_contains("region"); r && r->is_string()) {
      return std::string(r->get_string());
    }
  }
  return {};
}

void Api::add_report_routes() {
  // The engine keeps these connectors and may run them after this Api is
  // gone: they hold the engine, not `this`.
  Engine* engine = &engine_;
  engine_.register_connector(reports::kRecordComparisonRun, [engine](const JobContext& job) {
    return reports::record_comparison_run(engine->store(), job, engine->clock().now_ms());
  });
  engine_.register_connector(reports::kListComparisonSubjects,
                             [engine](const JobContext& job) { return reports::list_comparison_subjects(*engine, job); });

  // --- ratings ----------------------------------------------------------------
  // Rates a finished case once: staff at the window record it for the
  // applicant (on behalf), an applicant rates their own case from the
  // applicant channel. `may_rate` says whether the caller may rate a case of
  // that region; a bad rating opens the supervisors' follow-up.
  auto rate = [this](const Request& req, InstanceId id, const Principal& who, bool on_behalf,
                     const std::function<std::optional<Response>(const store::ReportCase&)>& may_rate) -> Response {
    json::object body;
    if (auto e = parse_json_body(req, body)) return report_input_problem(*e);
    BodyReader b(body, {"level", "comment"});
    const std::string word = b.string("level", true, 64);
    const std::string comment = b.string("comment", false, kMaxComment);
    const int32_t level = reports::level_of(word);
    if (b.ok() && level == 0) {
      b.fail("level",
             "level must be very_satisfied, satisfied, basically_satisfied, dissatisfied or very_dissatisfied.");
    }
    if (b.ok() && reports::is_bad_level(level) && comment.find_first_not_of(" \t\r\n") == std::string::npos) {
      b.fail("comment", "A dissatisfied rating needs a comment saying what went wrong.");
    }
    if (!b.ok()) return report_input_problem(b.error());

    auto c = engine_.store().report_case(id);
    if (!c.ok()) return problem_from_error(c.error());
    if (auto refused = may_rate(*c)) return *refused;
    if (reports::is_internal_process(c->process_id)) {
      return problem(ProblemKind::kConflict, "Only an applicant's case can be rated, not " + c->process_id + ".");
    }
    if (c->status == 1) {
      return problem(ProblemKind::kConflict, "The case is still running; it can be rated once it has ended.");
    }
    auto existing = engine_.store().rating(id);
    if (!existing.ok()) return problem_from_error(existing.error());
    if (*existing) return problem(ProblemKind::kConflict, "This case has been rated already; a case is rated once.");
    auto instance = engine_.store().instance(id);
    if (!instance.ok()) return problem_from_error(instance.error());
    if (!*instance) return problem(ProblemKind::kNotFound, fmt::format("There is no instance {}.", id));

    store::RatingRecord r;
    r.instance_id = id;
    r.process_id = c->process_id;
    r.business_key = (*instance)->business_key;
    r.region = c->region;
    r.level = level;
    r.comment = comment;
    r.rated_by = on_behalf ? who.name : who.actor();
    r.on_behalf = on_behalf;
    r.rated_at = engine_.clock().now_ms();

    if (reports::is_bad_level(level)) {
      StartRequest start;
      start.process_id = kFollowUpProcess;
      start.business_key = fmt::format("rating-{}", id);
      const std::string department = c->department.empty() ? std::string("dpf") : c->department;
      start.variables = json::object{
          {"rating", json::object{{"instanceId", id},
                                  {"processId", r.process_id},
                                  {"businessKey", r.business_key},
                                  {"level", reports::level_word(level)},
                                  {"comment", comment},
                                  {"ratedAt", r.rated_at},
                                  {"channel", on_behalf ? "window" : "online"}}},
          {"department", department},
          {"region", c->region}};
      auto follow_up = engine_.start_instance(start);
      if (!follow_up.ok()) {
        if (follow_up.error().code == "not-found") {
          return problem(ProblemKind::kConflict,
                         "A dissatisfied rating opens a follow-up, but the process rating-follow-up is not "
                         "deployed; nothing was stored.");
        }
        return problem_from_error(follow_up.error());
      }
      r.follow_up_id = *follow_up;
    }
    auto added = engine_.store().add_rating(r);
    if (!added.ok()) {
      // Rated meanwhile by someone else: the follow-up this call started is not needed.
      if (r.follow_up_id != 0) (void)engine_.cancel_instance(r.follow_up_id, "the case was rated twice at once");
      return problem_from_error(added.error());
    }
    auth_.audit(who.actor(), "rate", "instance " + std::to_string(id), req.remote_address,
                std::string(reports::level_word(level)) + (on_behalf ? "" : " (online)"));
    return report_json(201, rating_json(r));
  };

  add("POST", "/api/v1/instances/{id}/rating", roles({"staff", "supervisor"}),
      [rate](const Request& req, const PathParams& p, const Principal& who) {
        auto id = parse_int(p.at("id"), 1, INT64_MAX);
        if (!id) return problem(ProblemKind::kBadRequest, "The id in the path must be a positive integer.", "id");
        return rate(req, *id, who, true, [&who](const store::ReportCase& c) -> std::optional<Response> {
          if (!covers_case(who, c.region)) return problem(ProblemKind::kForbidden, "This case is not in your region.");
          return std::nullopt;
        });
      });

  // The applicant rates their own finished case (the operation's process)
  // from the applicant channel; another's case is a 404, as on every
  // applicant route.
  add("POST", "/api/v1/applicant/cases/{key}/rating", applicant(),
      [this, rate](const Request& req, const PathParams& p, const Principal& who) {
        auto intake = frontdoor_store_ ? frontdoor_store_->intake(p.at("key"))
                                       : Result<std::optional<store::IntakeRecord>>(std::nullopt);
        if (!intake.ok()) return problem_from_error(intake.error());
        if (!*intake || !applicant_owns(who, p.at("key"))) {
          return problem(ProblemKind::kNotFound, "You have no case " + p.at("key") + ".");
        }
        const InstanceId id = (*intake)->instance_id;
        return rate(req, id, who, false, [](const store::ReportCase&) { return std::optional<Response>(); });
      });

  add("GET", "/api/v1/instances/{id}/rating", roles({"staff", "supervisor", "monitor"}),
      [this](const Request&, const PathParams& p, const Principal& who) {
        auto id = parse_int(p.at("id"), 1, INT64_MAX);
        if (!id) return problem(ProblemKind::kBadRequest, "The id in the path must be a positive integer.", "id");
        auto r = engine_.store().rating(*id);
        if (!r.ok()) return problem_from_error(r.error());
        if (!*r || !covers_case(who, (*r)->region)) {
          return problem(ProblemKind::kNotFound, fmt::format("Case {} has no rating you may see.", *id));
        }
        return report_json(200, rating_json(**r));
      });

  // --- reports ----------------------------------------------------------------
  const std::vector<std::string> who_may = {"monitor", "supervisor", "admin"};

  // Reads the parameters shared by both report routes; a problem when they are bad.
  auto read_request = [this](const Request& req, QueryReader& q, ReportRequest& out) {
    const int64_t now = engine_.clock().now_ms();
    out.to = report_time(q, req, "to", now + 1);
    out.from = report_time(q, req, "from", out.to - 90 * kDayMs);
    if (q.ok() && out.from >= out.to) q.fail("from", "from must be earlier than to.");
    out.format = q.string("format", 8);
    if (out.format.empty()) out.format = "json";
    const std::string lang = q.string("lang", 8);
    if (q.ok() && !lang.empty() && lang != "zh" && lang != "en") q.fail("lang", "lang must be zh or en.");
    out.options.language = lang == "en" ? reports::Language::kEn : reports::Language::kZh;
    out.options.now = now;
    out.options.utc_offset_minutes = 480;
  };

  auto build = [this](const ReportRequest& rr, const Principal& who) -> Result<std::vector<reports::Table>> {
    const std::vector<std::string> prefixes = report_prefixes(who);
    reports::Options o = rr.options;
    auto defs = engine_.store().definitions("");
    if (!defs.ok()) return defs.error();
    for (const store::DefinitionRecord& d : *defs) o.process_names.emplace(d.process_id, d.name);
    auto wants = [&](std::string_view n) { return std::find(rr.names.begin(), rr.names.end(), n) != rr.names.end(); };
    std::vector<store::ReportTask> tasks;
    if (wants("on-time") || wants("steps") || wants("sla")) {
      auto t = engine_.store().report_tasks(prefixes, rr.from, rr.to);
      if (!t.ok()) return t.error();
      tasks = std::move(t).value();
    }
    std::vector<reports::Table> out;
    for (const std::string& n : rr.names) {
      if (n == "cases") {
        auto c = engine_.store().report_cases(prefixes, rr.from, rr.to);
        if (!c.ok()) return c.error();
        out.push_back(reports::cases_report(*c, o));
      } else if (n == "on-time") {
        out.push_back(reports::on_time_report(tasks, o));
      } else if (n == "steps") {
        out.push_back(reports::steps_report(tasks, o));
      } else if (n == "sla") {
        out.push_back(reports::sla_report(tasks, o));
      } else if (n == "ratings") {
        auto r = engine_.store().ratings(prefixes, rr.from, rr.to);
        if (!r.ok()) return r.error();
        out.push_back(reports::ratings_report(*r, o));
      }
    }
    return out;
  };

  auto answer = [](const ReportRequest& rr, std::vector<reports::Table> tables) -> Response {
    const std::string stem = fmt::format("banshi-{}", rr.names.size() == 1 ? rr.names.front() : "reports");
    if (rr.format == "xlsx") {
      auto bytes = reports::to_xlsx(tables);
      if (!bytes.ok()) return problem_from_error(bytes.error());  // a 500 with a reference; the cause is logged
      Response r;
      r.content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
      r.body = std::move(bytes).value();
      r.headers.emplace_back("Content-Disposition", fmt::format("attachment; filename=\"{}.xlsx\"", stem));
      r.headers.emplace_back("Cache-Control", "no-store");
      return r;
    }
    if (rr.format == "csv") {
      Response r;
      r.content_type = "text/csv; charset=utf-8";
      r.body = reports::to_csv(tables.front());
      r.headers.emplace_back("Content-Disposition", fmt::format("attachment; filename=\"{}.csv\"", stem));
      r.headers.emplace_back("Cache-Control", "no-store");
      return r;
    }
    json::array items;
    for (const reports::Table& t : tables) items.push_back(reports::to_json(t));
    if (tables.size() == 1) {
      json::value one = std::move(items.front());
      one.as_object()["from"] = rr.from;
      one.as_object()["to"] = rr.to;
      return report_json(200, one);
    }
    return report_json(200, json::object{{"from", rr.from}, {"to", rr.to}, {"reports", std::move(items)}});
  };

  add("GET", "/api/v1/reports", roles(who_may),
      [read_request, build, answer](const Request& req, const PathParams&, const Principal& who) {
        QueryReader q(req, {"from", "to", "format", "lang"});
        ReportRequest rr;
        read_request(req, q, rr);
        if (q.ok() && rr.format != "json" && rr.format != "xlsx") {
          q.fail("format", "format must be json or xlsx here; CSV is one report at a time (/api/v1/reports/{report}).");
        }
        if (!q.ok()) return report_input_problem(q.error());
        for (const char* n : reports::kReportNames) rr.names.emplace_back(n);
        auto tables = build(rr, who);
        if (!tables.ok()) return problem_from_error(tables.error());
        return answer(rr, std::move(tables).value());
      });

  add("GET", "/api/v1/reports/{report}", roles(who_may),
      [read_request, build, answer](const Request& req, const PathParams& p, const Principal& who) {
        const std::string& name = p.at("report");
        if (!reports::known_report(name)) {
          return problem(ProblemKind::kNotFound,
                         "There is no report '" + name + "'; the reports are cases, on-time, steps, sla and ratings.");
        }
        QueryReader q(req, {"from", "to", "format", "lang"});
        ReportRequest rr;
        read_request(req, q, rr);
        if (q.ok() && rr.format != "json" && rr.format != "csv" && rr.format != "xlsx") {
          q.fail("format", "format must be json, csv or xlsx.");
        }
        if (!q.ok()) return report_input_problem(q.error());
        rr.names = {name};
        auto tables = build(rr, who);
        if (!tables.ok()) return problem_from_error(tables.error());
        return answer(rr, std::move(tables).value());
      });

  // --- data comparison runs -----------------------------------------------------
  add("GET", "/api/v1/comparison-runs", roles(who_may), [this](const Request& req, const PathParams&, const Principal& who) {
    QueryReader q(req, {"limit", "offset"});
    const int64_t limit = q.integer("limit", 1, 1000, 50);
    const int64_t offset = q.integer("offset", 0, 1'000'000'000, 0);
    if (!q.ok()) return report_input_problem(q.error());
    int64_t total = 0;
    auto runs = engine_.store().comparison_runs(static_cast<size_t>(offset), static_cast<size_t>(limit), total);
    if (!runs.ok()) return problem_from_error(runs.error());
    json::array items;
    for (const store::ComparisonRunRecord& r : *runs) {
      boost::system::error_code ec;
      json::value found = json::parse(r.found, ec);
      if (ec) found = json::array();
      json::value started = json::parse(r.started, ec);
      if (ec) started = json::array();
      // A caller kept to regions sees the findings of those regions only
      // (the reports' rule: admins and monitors without regions see all).
      const bool everywhere = who.has("admin") || (who.has("monitor") && who.regions.empty());
      for (json::value* list : {&found, &started}) {
        if (!list->is_array()) {
          *list = json::array();
          continue;
        }
        if (everywhere) continue;
        json::array& items_of = list->get_array();
        json::array kept;
        for (json::value& f : items_of) {
          const std::string region = finding_region(f);
          // One without a region only for callers whose regions cover the country.
          if (regions_cover(who.regions, region, false)) kept.push_back(std::move(f));
        }
        items_of = std::move(kept);
      }
      mask_personal(found);
      mask_personal(started);
      const auto count = [&](const json::value& list, int64_t stored) {
        return everywhere ? stored : static_cast<int64_t>(list.get_array().size());
      };
      items.push_back(json::object{{"id", r.id},
                                   {"instanceId", r.instance_id},
                                   {"at", r.at},
                                   {"foundCount", count(found, r.found_count)},
                                   {"startedCount", count(started, r.started_count)},
                                   {"found", std::move(found)},
                                   {"started", std::move(started)}});
    }
    Response out = report_json(200, json::object{{"items", std::move(items)}, {"total", total}});
    out.headers.emplace_back("Cache-Control", "no-store");
    return out;
  });
}

}  // namespace banshi::api
