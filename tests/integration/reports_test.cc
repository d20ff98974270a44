// Ratings, reports (JSON, CSV, Excel) and the data comparison: the pure
// report builders, and the routes over a real engine and SQLite store with
// the shipped workflows (rating-follow-up, data-comparison,
// certificate-cancellation, pension-eligibility).
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <zlib.h>

#include "api/api.h"
#include "api/mask.h"
#include "api/report_routes.h"
#include "calendar/business_calendar.h"
#include "reports/comparison.h"
#include "reports/reports.h"
#include "api_fixture.h"
#include "store/sqlite/sqlite_store.h"

namespace banshi {
namespace {

namespace json = boost::json;
using api::Fields;
using api::Request;
using api::Response;

constexpr int64_t kHour = 3600 * 1000;
// Monday 2026-03-02 09:00 China Standard Time.
constexpr int64_t kStart = 1772413200000;

store::TaskQuery tasks_of(int64_t instance) {
  store::TaskQuery q;
  q.instance_id = instance;
  return q;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// One entry of a zip file, inflated: found through the central directory
// (local headers may leave the sizes to a data descriptor).
std::string zip_entry(const std::string& zip, const std::string& wanted) {
  auto u16 = [&](size_t o) -> uint32_t {
    return static_cast<uint32_t>(static_cast<uint8_t>(zip[o])) | static_cast<uint32_t>(static_cast<uint8_t>(zip[o + 1])) << 8;
  };
  auto u32 = [&](size_t o) { return u16(o) | u16(o + 2) << 16; };
  const size_t eocd = zip.rfind(std::string("PK\x05\x06", 4));
  if (eocd == std::string::npos) return {};
  size_t at = u32(eocd + 16);
  const uint32_t entries = u16(eocd + 10);
  for (uint32_t i = 0; i < entries && at + 46 <= zip.size(); ++i) {
    const uint32_t method = u16(at + 10), compressed = u32(at + 20), size = u32(at + 24);
    const uint32_t name_len = u16(at + 28), extra = u16(at + 30), comment = u16(at + 32), local = u32(at + 42);
    const std::string name = zip.substr(at + 46, name_len);
    at += 46 + name_len + extra + comment;
    if (name != wanted) continue;
    const size_t data = local + 30 + u16(local + 26) + u16(local + 28);
    if (method == 0) return zip.substr(data, compressed);
    std::string out(size, '\0');
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return {};
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zip.data() + data));
    z.avail_in = compressed;
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = size;
    const int rc = inflate(&z, Z_FINISH);
    inflateEnd(&z);
    return rc == Z_STREAM_END ? out : std::string();
  }
  return {};
}

// --- the pure pieces ----------------------------------------------------------

TEST(ReportMath, MedianAndNearestRankPercentile) {
  EXPECT_EQ(reports::median({}), 0);
  EXPECT_EQ(reports::median({5}), 5);
  EXPECT_EQ(reports::median({1, 3}), 2);
  EXPECT_EQ(reports::median({1, 2, 9}), 2);
  const std::vector<int64_t> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(reports::percentile(ten, 0.9), 9);   // rank ceil(9.0) = 9
  EXPECT_EQ(reports::percentile(ten, 0.5), 5);
  EXPECT_EQ(reports::percentile({1, 2, 3, 4, 100}, 0.9), 100);  // rank ceil(4.5) = 5
  EXPECT_EQ(reports::percentile({7}, 0.9), 7);
  EXPECT_EQ(reports::percentile({}, 0.9), 0);
}

TEST(ReportMath, StepsReportPerStepFromEveryRow) {
  std::vector<store::ReportTask> tasks;
  for (int64_t h : {4, 1, 3, 10, 2}) {
    store::ReportTask t;
    t.process_id = "p";
    t.element_id = "review";
    t.name = "审核";
    t.created_at = kStart;
    t.completed_at = kStart + h * kHour;
    tasks.push_back(t);
  }
  store::ReportTask open;
  open.process_id = "p";
  open.element_id = "review";
  open.created_at = kStart;
  tasks.push_back(open);
  reports::Table t = reports::steps_report(tasks, {});
  ASSERT_EQ(t.rows.size(), 1u);
  const auto& row = t.rows[0];
  EXPECT_EQ(std::get<int64_t>(row[3]), 5);    // completed
  EXPECT_EQ(std::get<int64_t>(row[4]), 1);    // open
  EXPECT_DOUBLE_EQ(std::get<double>(row[5]), 3.0);   // median hours
  EXPECT_DOUBLE_EQ(std::get<double>(row[6]), 10.0);  // p90 hours
  EXPECT_DOUBLE_EQ(std::get<double>(row[7]), 10.0);  // longest
}

// An open step whose SLA clock is paused (the applicant owes documents) is
// not "overdue now" by the due time the pause will move, unless it was
// overdue before the pause.
TEST(ReportMath, APausedStepIsNotOverdueNow) {
  reports::Options o;
  o.now = kStart + 100 * kHour;
  store::ReportTask late;
  late.process_id = "p";
  late.department = "dpf";
  late.region = "220102";
  late.created_at = kStart;
  late.due_at = kStart + 10 * kHour;
  store::ReportTask paused = late;
  paused.sla_paused_at = kStart + 5 * kHour;
  store::ReportTask paused_late = late;
  paused_late.sla_state = 4;
  paused_late.sla_paused_at = kStart + 20 * kHour;
  reports::Table t = reports::sla_report({late, paused, paused_late}, o);
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(t.rows[0][2]), 3);  // steps
  EXPECT_EQ(std::get<int64_t>(t.rows[0][5]), 2);  // overdue now: the running one and the one paused late
}

TEST(ReportMath, CasesGroupByMonthInChinaStandardTime) {
  store::ReportCase a;
  a.process_id = "certificate-renewal";
  a.region = "220102";
  a.status = 2;
  a.started_at = 1772294400000 + 3600 * 1000;  // 2026-02-28T17:00 UTC = 2026-03-01T01:00+08:00
  store::ReportCase b = a;
  b.status = 1;
  b.started_at = 1772294400000 - 3600 * 1000;  // 2026-02-28T15:00 UTC = 23:00+08:00, still February
  store::ReportCase internal = a;
  internal.process_id = "data-comparison";
  reports::Options o;
  o.process_names["certificate-renewal"] = "残疾人证换领";
  reports::Table t = reports::cases_report({a, b, internal}, o);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(std::get<std::string>(t.rows[0][3]), "2026-02");
  EXPECT_EQ(std::get<int64_t>(t.rows[0][7]), 1);  // running
  EXPECT_EQ(std::get<std::string>(t.rows[1][3]), "2026-03");
  EXPECT_EQ(std::get<std::string>(t.rows[1][1]), "残疾人证换领");
  EXPECT_EQ(std::get<int64_t>(t.rows[1][5]), 1);  // completed
}

TEST(ReportExport, CsvHasBomCrlfQuotingAndNoFormulas) {
  reports::Table t{"x", "x", {{"a", "名称", reports::ColumnKind::kText}, {"b", "率", reports::ColumnKind::kPercent}}, {}};
  t.rows.push_back({std::string("=cmd|' /C calc'!A0"), 0.5});
  t.rows.push_back({std::string("a,\"b\"\nc"), 1.0});
  const std::string csv = reports::to_csv(t);
  EXPECT_EQ(csv.substr(0, 3), "\xEF\xBB\xBF");
  EXPECT_EQ(csv.substr(3), "名称,率\r\n'=cmd|' /C calc'!A0,0.5000\r\n\"a,\"\"b\"\"\nc\",1.0000\r\n");
}

TEST(ReportExport, LevelsAndMasking) {
  EXPECT_EQ(reports::level_of("very_dissatisfied"), 5);
  EXPECT_EQ(reports::level_of("satisfied"), 2);
  EXPECT_EQ(reports::level_of("good"), 0);
  EXPECT_TRUE(reports::is_bad_level(4));
  EXPECT_FALSE(reports::is_bad_level(3));
  // Comparison runs mask as every other view does (api/mask.h).
  json::value v = json::parse(R"([{"idNumber":"220102198001010013","name":"张伟","phone":"13800000000","x":{"name":"李"}}])");
  api::mask_personal(v);
  EXPECT_EQ(json::serialize(v),
            R"([{"idNumber":"220102********0013","name":"张*","phone":"138****0000","x":{"name":"*"}}])");
}

// --- the routes over a real engine --------------------------------------------

// A case with one step in a region: the step is due 5 hours after it opens.
const std::string kCaseModel = R"xml(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="certificate-renewal" name="残疾人证换领" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="accept"/>
    <userTask id="accept" name="受理换领" bs:candidateGroups="dpf-county" bs:region="=applicant.region"
              bs:dueDate="=now() + duration(&quot;PT5H&quot;)"/>
    <sequenceFlow id="f2" sourceRef="accept" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>)xml";

// Stands in for the linked-services case of a certificate holder: it holds
// what the engine recorded about the holder and waits.
const std::string kHolderModel = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="h">
  <message id="m" name="holder-done" bs:correlationKey="=applicant.idNumber"/>
  <process id="linked-services" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="w"/>
    <receiveTask id="w" messageRef="m"/><sequenceFlow id="f2" sourceRef="w" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>)";

class ReportsTest : public api::testing::ApiFixture {
 protected:
  void SetUp() override {
    // The shipped calendars: the follow-up's limits are working days.
    auto calendar = calendar::BusinessCalendar::load_directory(std::string(BANSHI_WORKFLOWS_DIR) + "/calendars");
    ASSERT_TRUE(calendar.ok()) << calendar.error().message;
    EngineConfig config;
    config.working_days = std::make_shared<calendar::BusinessCalendar>(std::move(calendar).value());
    ASSERT_NO_FATAL_FAILURE(open_api({}, false, std::move(config), kStart));
    add_user("window", {"staff"}, "dpf", {"220102"});
    add_user("liaoyuan", {"staff"}, "dpf", {"220400"});
    add_user("lead", {"supervisor", "monitor", "designer"}, "dpf", {"000000"});
    add_user("city", {"monitor"}, "", {"220400"});
    as("lead");
  }

  void deploy(const std::string& name, const std::string& xml) {
    as("lead");
    Response r = call("POST", "/api/v1/definitions?resource=" + name, xml, "application/xml");
    ASSERT_TRUE(r.status == 201 || r.status == 200) << name << ": " << r.body;
  }
  void deploy_workflow(const std::string& file) {
    deploy(file, read_file(std::string(BANSHI_WORKFLOWS_DIR) + "/" + file));
  }
  // Starts a case in a region and completes its one step after `hours`.
  int64_t finished_case(const std::string& region, int64_t hours) {
    as("lead");
    Response r = call("POST", "/api/v1/instances",
                      R"({"processId":"certificate-renewal","businessKey":"R-)" + std::to_string(++cases_) +
                          R"(","variables":{"applicant":{"region":")" + region + R"("}}})");
    EXPECT_EQ(r.status, 201) << r.body;
    const int64_t id = doc(r)["id"].as_int64();
    auto tasks = engine_->store().tasks(tasks_of(id));
    EXPECT_EQ(tasks->size(), 1u);
    clock_->advance(hours * kHour);
    EXPECT_TRUE(engine_->complete_task(tasks->front().id, {}, "lead").ok());
    engine_->run_until_idle();
    clock_->set(kStart);
    return id;
  }
  // The report's rows by the values of `key`.
  static std::map<std::string, json::object> rows_by(const json::object& report, const std::string& key) {
    std::map<std::string, json::object> out;
    for (const auto& row : report.at("rows").as_array()) {
      const json::object& o = row.as_object();
      out[json::value_to<std::string>(o.at(key))] = o;
    }
    return out;
  }

  int cases_ = 0;
};

TEST_F(ReportsTest, BadRatingOpensAFollowUpForTheDepartmentsSupervisors) {
  deploy("case.bpmn", kCaseModel);
  deploy_workflow("rating-follow-up.bpmn");
  const int64_t id = finished_case("220102", 2);

  as("window");
  Response r = call("POST", "/api/v1/instances/" + std::to_string(id) + "/rating",
                    R"({"level":"very_dissatisfied","comment":"材料告知不清，跑了两次"})");
  ASSERT_EQ(r.status, 201) << r.body;
  json::object rating = doc(r);
  EXPECT_EQ(rating["level"], "very_dissatisfied");
  EXPECT_EQ(rating["region"], "220102");
  EXPECT_EQ(rating["ratedBy"], "window");
  EXPECT_EQ(rating["onBehalf"], true);
  ASSERT_TRUE(rating["followUpInstanceId"].is_int64());
  const int64_t follow_up = rating["followUpInstanceId"].as_int64();

  // The follow-up waits for the DPF supervisors of 南关区.
  auto tasks = engine_->store().tasks(tasks_of(follow_up));
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 1u);
  EXPECT_EQ(tasks->front().element_id, "followUp");
  EXPECT_EQ(tasks->front().candidate_groups, std::vector<std::string>{"dpf-supervisors"});
  EXPECT_EQ(tasks->front().region, "220102");
  auto vars = engine_->inspect_instance(follow_up);
  ASSERT_TRUE(vars.ok());
  EXPECT_EQ(vars->variables.at("rating").as_object().at("comment"), "材料告知不清，跑了两次");

  // Once per case; the rating reads back.
  r = call("POST", "/api/v1/instances/" + std::to_string(id) + "/rating", R"({"level":"satisfied"})");
  EXPECT_EQ(r.status, 409) << r.body;
  r = call("GET", "/api/v1/instances/" + std::to_string(id) + "/rating");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(doc(r)["followUpInstanceId"], follow_up);

  // A good rating opens nothing.
  const int64_t other = finished_case("220102", 1);
  as("window");
  r = call("POST", "/api/v1/instances/" + std::to_string(other) + "/rating", R"({"level":"satisfied"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_FALSE(doc(r).contains("followUpInstanceId"));
}

TEST_F(ReportsTest, RatingsAreRefusedWithNothingStored) {
  deploy("case.bpmn", kCaseModel);
  const int64_t id = finished_case("220102", 1);
  const std::string route = "/api/v1/instances/" + std::to_string(id) + "/rating";
  as("window");
  auto field_of = [](const Response& r) { return doc(r)["field"]; };
  Response r = call("POST", route, R"({"level":"great"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(field_of(r), "level");
  r = call("POST", route, R"({"level":"dissatisfied","comment":"  "})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(field_of(r), "comment");
  r = call("POST", route, R"({"level":"satisfied","stars":5})");
  EXPECT_EQ(r.status, 400);
  r = call("POST", route, R"({"level":"satisfied","comment":")" + std::string(1600, 'x') + R"("})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(call("POST", "/api/v1/instances/999999/rating", R"({"level":"satisfied"})").status, 404);
  // Not deployed: a bad rating cannot open its follow-up, so it is refused.
  r = call("POST", route, R"({"level":"dissatisfied","comment":"太慢"})");
  EXPECT_EQ(r.status, 409) << r.body;
  // Staff of another region may not rate it; monitors may not rate at all.
  as("liaoyuan");
  EXPECT_EQ(call("POST", route, R"({"level":"satisfied"})").status, 403);
  as("city");
  EXPECT_EQ(call("POST", route, R"({"level":"satisfied"})").status, 403);
  as("window");
  EXPECT_EQ(call("GET", route).status, 404);

  // A running case is rated once it has ended.
  as("lead");
  Response started = call("POST", "/api/v1/instances",
                          R"({"processId":"certificate-renewal","variables":{"applicant":{"region":"220102"}}})");
  as("window");
  r = call("POST", "/api/v1/instances/" + std::to_string(doc(started)["id"].as_int64()) + "/rating",
           R"({"level":"satisfied"})");
  EXPECT_EQ(r.status, 409) << r.body;
}

TEST_F(ReportsTest, ReportsCountWhatTheCallersRegionsCover) {
  deploy("case.bpmn", kCaseModel);
  deploy_workflow("rating-follow-up.bpmn");
  // Five cases in 南关区 handled in 4, 1, 3, 10 and 2 hours: the 10-hour one
  // is past its 5-hour due time. One case in 龙山区.
  std::vector<int64_t> ids;
  for (int64_t h : {4, 1, 3, 10, 2}) ids.push_back(finished_case("220102", h));
  finished_case("220402", 6);
  as("window");
  ASSERT_EQ(call("POST", "/api/v1/instances/" + std::to_string(ids[0]) + "/rating", R"({"level":"very_satisfied"})")
                .status,
            201);
  ASSERT_EQ(call("POST", "/api/v1/instances/" + std::to_string(ids[1]) + "/rating",
                 R"({"level":"dissatisfied","comment":"慢"})")
                .status,
            201);

  as("lead");
  const std::string range = "from=2026-03-01&to=2026-04-01";
  Response r = call("GET", "/api/v1/reports?" + range);
  ASSERT_EQ(r.status, 200) << r.body;
  std::map<std::string, json::object> reports;
  const json::object all = doc(r);
  for (const auto& rep : all.at("reports").as_array()) {
    reports[json::value_to<std::string>(rep.at("name"))] = rep.as_object();
  }
  ASSERT_EQ(reports.size(), 5u);

  auto cases = rows_by(reports["cases"], "region");
  ASSERT_EQ(cases.size(), 2u);  // the follow-up is not an applicant's case
  EXPECT_EQ(cases["220102"]["started"], 5);
  EXPECT_EQ(cases["220102"]["completed"], 5);
  EXPECT_EQ(cases["220102"]["month"], "2026-03");
  EXPECT_EQ(cases["220102"]["name"], "残疾人证换领");
  EXPECT_EQ(cases["220402"]["started"], 1);

  auto on_time = rows_by(reports["on-time"], "region");
  EXPECT_EQ(on_time["220102"]["completed"], 5);
  EXPECT_EQ(on_time["220102"]["late"], 1);
  EXPECT_DOUBLE_EQ(on_time["220102"]["onTimeRate"].as_double(), 0.8);
  EXPECT_EQ(on_time["220402"]["late"], 1);
  EXPECT_EQ(on_time["*"]["completed"], 6);

  auto steps = rows_by(reports["steps"], "elementId");
  EXPECT_EQ(steps["accept"]["completed"], 6);
  EXPECT_DOUBLE_EQ(steps["accept"]["medianHours"].as_double(), 3.5);  // 1 2 3 4 6 10
  EXPECT_DOUBLE_EQ(steps["accept"]["p90Hours"].as_double(), 10.0);
  // The follow-up's open task is not an applicant's step.
  EXPECT_FALSE(steps.count("followUp"));

  auto ratings = rows_by(reports["ratings"], "region");
  EXPECT_EQ(ratings["220102"]["ratings"], 2);
  EXPECT_EQ(ratings["220102"]["verySatisfied"], 1);
  EXPECT_EQ(ratings["220102"]["dissatisfied"], 1);
  EXPECT_EQ(ratings["220102"]["followUps"], 1);
  EXPECT_DOUBLE_EQ(ratings["220102"]["satisfactionRate"].as_double(), 0.5);

  // 辽源's monitor sees 龙山区 only.
  as("city");
  r = call("GET", "/api/v1/reports/cases?" + range);
  ASSERT_EQ(r.status, 200) << r.body;
  cases = rows_by(doc(r), "region");
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_TRUE(cases.count("220402"));
  // Staff may not read reports.
  as("window");
  EXPECT_EQ(call("GET", "/api/v1/reports?" + range).status, 403);
}

TEST_F(ReportsTest, ExportsAsCsvAndExcel) {
  deploy("case.bpmn", kCaseModel);
  finished_case("220102", 3);
  as("lead");
  Response csv = call("GET", "/api/v1/reports/steps?from=2026-03-01&to=2026-04-01&format=csv");
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(csv.body.substr(0, 3), "\xEF\xBB\xBF");
  EXPECT_NE(csv.body.find("业务编码,环节编码,环节名称,办结,在办,中位用时,90%用时,最长用时\r\n"), std::string::npos);
  EXPECT_NE(csv.body.find("certificate-renewal,accept,受理换领,1,0,3.00,3.00,3.00\r\n"), std::string::npos) << csv.body;
  Response en = call("GET", "/api/v1/reports/steps?from=2026-03-01&to=2026-04-01&format=csv&lang=en");
  EXPECT_NE(en.body.find("Operation,Step,Name,Completed"), std::string::npos);

  Response xlsx = call("GET", "/api/v1/reports?from=2026-03-01&to=2026-04-01&format=xlsx");
  ASSERT_EQ(xlsx.status, 200) << xlsx.body;
  EXPECT_EQ(xlsx.content_type, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  ASSERT_GT(xlsx.body.size(), 1000u);
  EXPECT_EQ(xlsx.body.substr(0, 2), "PK");
  // One sheet per report, in the zip's directory.
  for (int sheet = 1; sheet <= 5; ++sheet) {
    EXPECT_NE(xlsx.body.find("xl/worksheets/sheet" + std::to_string(sheet) + ".xml"), std::string::npos);
  }
  EXPECT_EQ(xlsx.body.find("xl/worksheets/sheet6.xml"), std::string::npos);
  bool disposition = false;
  for (const auto& [k, v] : xlsx.headers) disposition |= k == "Content-Disposition" && v.find(".xlsx") != std::string::npos;
  EXPECT_TRUE(disposition);

  // The shared strings hold the Chinese headers: inflate that zip entry.
  const std::string shared = zip_entry(xlsx.body, "xl/sharedStrings.xml");
  EXPECT_NE(shared.find("受理换领"), std::string::npos) << shared;
  EXPECT_NE(shared.find("按时办结率"), std::string::npos);
  const std::string workbook = zip_entry(xlsx.body, "xl/workbook.xml");
  for (const char* sheet : {"cases", "on-time", "steps", "sla", "ratings"}) {
    EXPECT_NE(workbook.find(std::string("name=\"") + sheet + "\""), std::string::npos) << workbook;
  }
  // The steps sheet's handling times are numbers with the hours format.
  const std::string steps = zip_entry(xlsx.body, "xl/worksheets/sheet3.xml");
  EXPECT_NE(steps.find("<v>3</v>"), std::string::npos) << steps;

  // Bad parameters change nothing and say which one.
  EXPECT_EQ(doc(call("GET", "/api/v1/reports?format=csv"))["field"], "format");
  EXPECT_EQ(doc(call("GET", "/api/v1/reports/steps?format=pdf"))["field"], "format");
  EXPECT_EQ(doc(call("GET", "/api/v1/reports/steps?from=2026-04-01&to=2026-03-01"))["field"], "from");
  EXPECT_EQ(doc(call("GET", "/api/v1/reports/steps?from=yesterday"))["field"], "from");
  EXPECT_EQ(doc(call("GET", "/api/v1/reports/steps?lang=fr"))["field"], "lang");
  EXPECT_EQ(call("GET", "/api/v1/reports/everything").status, 404);
}

TEST_F(ReportsTest, ComparisonRunIsRecordedOncePerInstance) {
  JobContext job;
  job.instance_id = 77;
  job.job_id = 5;
  job.idempotency_key = "77-9";
  job.variables = json::parse(R"({"findings":[{"kind":"death","applicant":{"idNumber":"220102198001010013","name":"张伟"}}],
                                  "started":[{"kind":"death","idNumber":"220102198001010013","name":"张伟"}]})")
                      .as_object();
  JobOutcome first = reports::record_comparison_run(engine_->store(), job, kStart);
  ASSERT_EQ(first.kind, JobOutcome::Kind::kCompleted) << first.message;
  JobOutcome again = reports::record_comparison_run(engine_->store(), job, kStart + 1000);
  ASSERT_EQ(again.kind, JobOutcome::Kind::kCompleted);
  EXPECT_EQ(first.variables.at("comparisonRunId"), again.variables.at("comparisonRunId"));
  job.idempotency_key = "77-10";  // the next run of the same instance
  JobOutcome next = reports::record_comparison_run(engine_->store(), job, kStart + 86400000);
  ASSERT_EQ(next.kind, JobOutcome::Kind::kCompleted);
  EXPECT_NE(first.variables.at("comparisonRunId"), next.variables.at("comparisonRunId"));
  job.variables["findings"] = "not a list";
  EXPECT_EQ(reports::record_comparison_run(engine_->store(), job, kStart).kind, JobOutcome::Kind::kFailed);

  Response r = call("GET", "/api/v1/comparison-runs");
  ASSERT_EQ(r.status, 200) << r.body;
  json::object d = doc(r);
  EXPECT_EQ(d["total"], 2);
  const json::object& run = d["items"].as_array().at(1).as_object();  // newest first
  EXPECT_EQ(run.at("foundCount"), 1);
  EXPECT_EQ(run.at("found").as_array().at(0).as_object().at("applicant").as_object().at("idNumber"),
            "220102********0013");
  EXPECT_EQ(run.at("started").as_array().at(0).as_object().at("name"), "张*");

  // A monitor of another city sees the runs, but not this finding (it has no
  // region, so only callers of the whole country see it).
  as("city");
  Response theirs = call("GET", "/api/v1/comparison-runs");
  ASSERT_EQ(theirs.status, 200) << theirs.body;
  json::object page = doc(theirs);
  const json::object& seen = page["items"].as_array().at(1).as_object();
  EXPECT_EQ(seen.at("foundCount"), 0);
  EXPECT_TRUE(seen.at("found").as_array().empty());
  EXPECT_EQ(theirs.body.find("0013"), std::string::npos);
}

// The daily comparison end to end: holders recorded by running
// linked-services cases, shared data from department stand-ins registered
// as connectors. Nobody starts it: its timer start event starts a run each
// day at 06:00. A death starts the cancellation, and the next day's run,
// finding the death again while that cancellation still waits for the DPF
// system, starts no second one. Each run is recorded.
TEST_F(ReportsTest, DataComparisonCancelsTheCertificateOfADeadHolderOnce) {
  deploy_workflow("pension-eligibility.dmn");
  deploy_workflow("certificate-cancellation.bpmn");
  deploy_workflow("pension-contribution.bpmn");
  deploy_workflow("data-comparison.bpmn");
  deploy("holder.bpmn", kHolderModel);
  const std::string dead = "220102198001010013", alive = "220402198203030015";
  engine_->register_connector("data-sharing.check-death", [&](const JobContext& job) {
    const bool died = job.variables.at("applicant").as_object().at("idNumber") == json::value(dead);
    json::object out{{"deceased", died}};
    if (died) out["dateOfDeath"] = "2026-02-27";
    return JobOutcome::completed(out);
  });
  engine_->register_connector("data-sharing.check-assistance", [](const JobContext&) {
    return JobOutcome::completed(json::object{{"dibao", false}, {"tekun", false}});
  });
  bool dpf_down = true;
  std::vector<std::string> cancelled;
  engine_->register_connector("dpf.cancel-certificate", [&](const JobContext& job) {
    if (dpf_down) return JobOutcome::failed("the DPF system does not answer");
    cancelled.push_back(json::value_to<std::string>(job.variables.at("certificateNumber")));
    return JobOutcome::completed(json::object{{"certificateStatus", "cancelled"}});
  });
  engine_->register_connector("data-sharing.push-e-certificate",
                              [](const JobContext&) { return JobOutcome::completed(); });
  auto holder = [&](const std::string& id, const std::string& card, const std::string& region) {
    as("lead");
    Response r = call("POST", "/api/v1/instances",
                      R"({"processId":"linked-services","variables":{"applicant":{"name":"持证人","idNumber":")" + id +
                          R"(","region":")" + region + R"("},"certificateNumber":")" + card +
                          R"(","disability":{"category":"肢体","level":"三级"},"dibao":false,"tekun":false,"pensionEligible":false,"birthDate":"1980-01-01"}})");
    ASSERT_EQ(r.status, 201) << r.body;
  };
  holder(dead, "22010219800101001342", "220102");
  holder(alive, "22040219820303001521", "220402");
  auto instances_of = [&](const std::string& process_id) {
    store::InstanceQuery q;
    q.process_id = process_id;
    auto found = engine_->store().instances(q);
    EXPECT_TRUE(found.ok());
    return found.ok() ? *found : std::vector<store::InstanceRecord>{};
  };
  EXPECT_TRUE(instances_of("data-comparison").empty()) << "deployed on Monday after 06:00: the first run is Tuesday's";

  clock_->set(kStart + 21 * kHour);  // Tuesday 06:00
  engine_->run_until_idle();
  ASSERT_EQ(instances_of("data-comparison").size(), 1u);
  EXPECT_EQ(instances_of("data-comparison").front().status, 2);  // the run has ended
  auto cancellations = instances_of("certificate-cancellation");
  ASSERT_EQ(cancellations.size(), 1u);
  EXPECT_EQ(cancellations.front().status, 1) << "waiting for the DPF system";

  clock_->set(kStart + 45 * kHour);  // Wednesday 06:00: the death is in the shared data still
  engine_->run_until_idle();
  ASSERT_EQ(instances_of("data-comparison").size(), 2u);
  EXPECT_EQ(instances_of("certificate-cancellation").size(), 1u) << "a second cancellation for the same death";

  dpf_down = false;
  clock_->set(kStart + 46 * kHour);
  engine_->run_until_idle();
  EXPECT_EQ(cancelled, std::vector<std::string>{"22010219800101001342"});
  cancellations = instances_of("certificate-cancellation");
  ASSERT_EQ(cancellations.size(), 1u);
  EXPECT_EQ(cancellations.front().status, 2);  // completed: no review for a recorded death

  clock_->set(kStart);  // the session was opened at kStart and would have lapsed
  Response r = call("GET", "/api/v1/comparison-runs");
  ASSERT_EQ(r.status, 200) << r.body;
  json::object d = doc(r);
  ASSERT_EQ(d["total"], 2) << r.body;
  const json::object& first = d["items"].as_array().at(1).as_object();  // newest first
  EXPECT_EQ(first.at("foundCount"), 1);
  EXPECT_EQ(first.at("startedCount"), 1);
  EXPECT_EQ(first.at("started").as_array().at(0).as_object().at("kind"), "death");
  EXPECT_EQ(first.at("started").as_array().at(0).as_object().at("started"), "certificate-cancellation");
  const json::object& second = d["items"].as_array().at(0).as_object();
  EXPECT_EQ(second.at("foundCount"), 1);
  EXPECT_EQ(second.at("startedCount"), 0);
  EXPECT_EQ(second.at("found").as_array().at(0).as_object().at("kind"), "death-cancellation-running");
}

}  // namespace
}  // namespace banshi
