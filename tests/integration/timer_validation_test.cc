// Validating a model without deploying it (POST /api/v1/definitions?validateOnly=true
// and /api/v1/definitions/validate) evaluates its timer start events as a
// deploy at the engine's current time would: what the report calls valid
// deploys, what a deploy refuses with BS207 the report names at the same line
// and column, and nothing is stored either way.
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "api_fixture.h"
#include "model/iso8601.h"

namespace banshi::api {
namespace {

namespace json = boost::json;

std::string timer_start(const std::string& process_id, const std::string& timer_value) {
  return fmt::format(R"(
  <process id="{0}" isExecutable="true">
    <startEvent id="{0}Tick"><timerEventDefinition><timeCycle>{1}</timeCycle></timerEventDefinition></startEvent>
    <sequenceFlow id="{0}F" sourceRef="{0}Tick" targetRef="{0}End"/><endEvent id="{0}End"/>
  </process>)",
                     process_id, timer_value);
}

std::string model(const std::string& processes) {
  return R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="urn:t">)" +
         processes + "\n</definitions>";
}

// "line:column" of the first occurrence of `text` in `xml` (1-based).
std::string position(const std::string& xml, const std::string& text) {
  size_t at = xml.find(text);
  EXPECT_NE(at, std::string::npos) << text;
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < at; ++i) {
    if (xml[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return fmt::format("{}:{}", line, at - line_start + 1);
}

class TimerValidationTest : public testing::ApiFixture {
 protected:
  void SetUp() override {
    open_api();
    clock_->set(*model::parse_date_time("2026-03-02T09:00:00+08:00"));
    add_user("des", {"designer"});
    as("des");
  }

  // Everything a validation or a refused deploy must leave as it was.
  std::string stored() {
    auto defs = engine_->store().definitions("");
    auto timers = engine_->store().start_timers("");
    auto audit = users_->audit_chain(0, 1000);
    EXPECT_TRUE(defs.ok() && timers.ok() && audit.ok());
    return fmt::format("{} definitions, {} start timers, {} audit rows", defs.ok() ? defs->size() : 0,
                       timers.ok() ? timers->size() : 0, audit.ok() ? audit->size() : 0);
  }

  static std::vector<std::string> lines(const json::object& report) {
    std::vector<std::string> out;
    for (const json::value& v : report.at("diagnostics").as_array()) out.emplace_back(v.as_string());
    return out;
  }
};

TEST_F(TimerValidationTest, ValidateOnlyReportsTheTimerStartValuesADeployWouldRefuse) {
  // An ISO 8601 series whose two occurrences are over by the engine's now,
  // and FEEL that gives a cron that never fires (no 31st of June): neither is
  // wrong as written, both are wrong when evaluated.
  const std::string xml = model(timer_start("pastSeries", "R2/2026-01-01T06:00:00+08:00/P1D") +
                                timer_start("noJune31", "=\"0 0 0 31 \" + \"6 ?\""));
  const std::string before = stored();
  for (const char* target : {"/api/v1/definitions?resource=timers.bpmn&validateOnly=true",
                                   "/api/v1/definitions/validate"}) {
    Fields headers{{"x-banshi-resource", "timers.bpmn"}};
    Response r = call("POST", target, xml, "application/xml", headers);
    ASSERT_EQ(r.status, 200) << target << ": " << r.body;
    json::object report = doc(r);
    EXPECT_EQ(report["valid"], json::value(false)) << r.body;
    EXPECT_EQ(report["errors"], json::value(2)) << r.body;
    std::vector<std::string> got = lines(report);
    ASSERT_EQ(got.size(), 2u) << r.body;
    EXPECT_EQ(got[0].rfind(fmt::format("timers.bpmn:{}: error BS207: ", position(xml, "R2/2026")), 0), 0u) << got[0];
    EXPECT_NE(got[0].find("lies before now"), std::string::npos) << got[0];
    EXPECT_EQ(got[1].rfind(fmt::format("timers.bpmn:{}: error BS207: ", position(xml, "=\"0 0 0 31")), 0), 0u)
        << got[1];
    EXPECT_NE(got[1].find("it never fires"), std::string::npos) << got[1];
    const json::object& item = report["items"].as_array()[1].as_object();
    EXPECT_EQ(item.at("code"), json::value("BS207"));
    EXPECT_EQ(item.at("elementId"), json::value("noJune31Tick"));
    EXPECT_GT(item.at("line").as_int64(), 1);
    EXPECT_GT(item.at("column").as_int64(), 1);
    EXPECT_EQ(stored(), before) << target << " stored something";

    // A deploy refuses the file with the very same lines.
    Response deploy = call("POST", "/api/v1/definitions?resource=timers.bpmn", xml, "application/xml");
    EXPECT_EQ(deploy.status / 100, 4) << deploy.body;
    for (const std::string& line : got) EXPECT_NE(deploy.body.find(line), std::string::npos) << deploy.body;
    EXPECT_EQ(stored(), before);
  }
}

TEST_F(TimerValidationTest, ABadCronFieldIsReportedAtItsValue) {
  const std::string xml = model(timer_start("mornings", "0 0 6 * * MON-FRY"));
  const std::string before = stored();
  Response r = call("POST", "/api/v1/definitions?resource=cron.bpmn&validateOnly=true", xml, "application/xml");
  ASSERT_EQ(r.status, 200) << r.body;
  json::object report = doc(r);
  EXPECT_EQ(report["valid"], json::value(false));
  std::vector<std::string> got = lines(report);
  ASSERT_EQ(got.size(), 1u) << r.body;
  EXPECT_EQ(got[0].rfind(fmt::format("cron.bpmn:{}: error BS207: ", position(xml, "0 0 6 * *")), 0), 0u) << got[0];
  EXPECT_NE(got[0].find("the day-of-week field 'MON-FRY' has 'FRY'"), std::string::npos) << got[0];
  EXPECT_EQ(stored(), before);
}

TEST_F(TimerValidationTest, TimerValuesAreEvaluatedAtTheEnginesCurrentTime) {
  // Two days from 2026-03-05: still ahead on 2026-03-02, over on 2026-03-09.
  const std::string xml = model(timer_start("twice", "R2/2026-03-05T06:00:00+08:00/P1D") +
                                timer_start("weekdays", "0 0 6 * * MON-FRI"));
  const std::string target = "/api/v1/definitions?resource=t.bpmn&validateOnly=true";
  Response ahead = call("POST", target, xml, "application/xml");
  ASSERT_EQ(ahead.status, 200) << ahead.body;
  EXPECT_EQ(doc(ahead)["valid"], json::value(true)) << ahead.body;
  clock_->set(*model::parse_date_time("2026-03-09T09:00:00+08:00"));
  add_user("des-next-week", {"designer"});  // the first session has expired by now
  as("des-next-week");
  Response over = call("POST", target, xml, "application/xml");
  ASSERT_EQ(over.status, 200) << over.body;
  json::object report = doc(over);
  EXPECT_EQ(report["valid"], json::value(false)) << over.body;
  ASSERT_EQ(lines(report).size(), 1u) << over.body;
  EXPECT_NE(lines(report)[0].find("(twiceTick)"), std::string::npos) << over.body;
  EXPECT_EQ(engine_->store().start_timers("")->size(), 0u) << "validating schedules nothing";
}

}  // namespace
}  // namespace banshi::api
