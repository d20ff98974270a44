// Timer start events and whole deployments in the engine service, on SQLite
// and PostgreSQL (when BANSHI_TEST_PG_URL is set): start timers are stored at
// deploy, fire once per occurrence across restarts and nodes, are replaced by
// a new version; a deployment of several files is stored all or nothing.
// Cron cycles, of start events and of a boundary timer, fire at each match.
#include <algorithm>
#include <atomic>
#include <thread>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "banshi/engine.h"
#include "model/iso8601.h"
#include "test_util.h"

namespace banshi {
namespace {

namespace json = boost::json;

const std::string kHeader = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">)";

std::string timer_process(const std::string& id, const std::string& timer) {
  return kHeader + R"(
  <process id=")" + id + R"(" isExecutable="true">
    <startEvent id="tick">)" + timer + R"(</startEvent>
    <sequenceFlow id="f1" sourceRef="tick" targetRef="work"/>
    <userTask id="work" bs:candidateGroups="dpf-county"/>
    <sequenceFlow id="f2" sourceRef="work" targetRef="e"/><endEvent id="e"/>
  </process></definitions>)";
}

std::string cycle(const std::string& value) {
  return "<timerEventDefinition><timeCycle>" + value + "</timeCycle></timerEventDefinition>";
}

const std::string kDecision = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="rules" name="rules" namespace="urn:t">
  <decision id="fee" name="fee">
    <decisionTable id="t">
      <input id="i"><inputExpression id="ie" typeRef="number"><text>amount</text></inputExpression></input>
      <output id="o" name="fee" typeRef="number"/>
      <rule id="r"><inputEntry id="e1"><text>-</text></inputEntry><outputEntry id="e2"><text>5</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>)";

constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kHour = 60 * kMinute;

class StartTimerTest : public ::testing::TestWithParam<store::testing::Backend> {
 protected:
  void SetUp() override {
    if (!db_.available()) GTEST_SKIP() << store::testing::kNoPostgres;
    clock_ = std::make_shared<ManualClock>(*model::parse_date_time("2026-03-02T09:00:00+08:00"));
  }

  std::unique_ptr<Engine> open(const std::string& node = "banshi-1") {
    auto s = db_.open();
    EXPECT_NE(s, nullptr);
    EngineConfig config;
    config.node_id = node;
    auto e = Engine::open(config, std::move(s), clock_);
    EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
    return std::move(e).value();
  }

  static std::vector<store::InstanceRecord> instances_of(Engine& e, const std::string& process_id) {
    store::InstanceQuery q;
    q.process_id = process_id;
    q.limit = 1000;
    auto found = e.store().instances(q);
    EXPECT_TRUE(found.ok());
    return found.ok() ? *found : std::vector<store::InstanceRecord>{};
  }

  static std::vector<store::StartTimerRecord> start_timers(Engine& e, const std::string& process_id = "") {
    auto found = e.store().start_timers(process_id);
    EXPECT_TRUE(found.ok()) << (found.ok() ? "" : found.error().message);
    return found.ok() ? *found : std::vector<store::StartTimerRecord>{};
  }

  int64_t at(const char* text) { return *model::parse_date_time(text); }

  store::testing::TestDatabase db_{GetParam()};
  std::shared_ptr<ManualClock> clock_;
};
BANSHI_BOTH_STORES(StartTimerTest);

TEST_P(StartTimerTest, ACycleStartsAnInstancePerOccurrenceAndSurvivesARestart) {
  {
    auto e = open();
    auto deployed = e->deploy("hourly.bpmn", timer_process("hourly", cycle("R/PT1H")), "designer");
    ASSERT_TRUE(deployed.ok()) << deployed.error().message;
    auto timers = start_timers(*e, "hourly");
    ASSERT_EQ(timers.size(), 1u);
    EXPECT_EQ(timers[0].element_id, "tick");
    EXPECT_EQ(timers[0].due_at, at("2026-03-02T10:00:00+08:00"));
    EXPECT_EQ(timers[0].definition_key, deployed->front().definition_key);
    EXPECT_EQ(timers[0].repetitions_left, -1);
    e->run_until_idle();
    EXPECT_TRUE(instances_of(*e, "hourly").empty()) << "nothing fires before its time";
  }
  // The engine is gone; 90 minutes pass. A new engine finds the overdue
  // occurrence in the store and starts one instance for it, once.
  clock_->advance(90 * kMinute);
  auto e = open();
  e->run_until_idle();
  e->run_until_idle();
  auto started = instances_of(*e, "hourly");
  ASSERT_EQ(started.size(), 1u);
  // Started at the timer start event, as a start by hand records its start event.
  auto history = e->store().history(started[0].id);
  ASSERT_TRUE(history.ok() && !history->empty());
  EXPECT_NE(history->front().records.find("\"tick\""), std::string::npos) << history->front().records;
  auto tasks = e->store().tasks(store::TaskQuery{});
  ASSERT_TRUE(tasks.ok());
  EXPECT_EQ(tasks->size(), 1u);
  // The next occurrence was scheduled in the same transaction.
  auto timers = start_timers(*e, "hourly");
  ASSERT_EQ(timers.size(), 1u);
  EXPECT_EQ(timers[0].due_at, at("2026-03-02T11:00:00+08:00"));
  clock_->advance(30 * kMinute);
  e->run_until_idle();
  EXPECT_EQ(instances_of(*e, "hourly").size(), 2u);
  EXPECT_EQ(e->metrics().timers_fired.load(), 2u);
}

TEST_P(StartTimerTest, ABoundedCycleStopsAfterItsCountAndMissedOccurrencesAreNotRepeated) {
  auto e = open();
  ASSERT_TRUE(e->deploy("three.bpmn", timer_process("three", cycle("R3/PT1H")), "designer").ok());
  clock_->advance(kHour);  // 10:00, the first
  e->run_until_idle();
  EXPECT_EQ(instances_of(*e, "three").size(), 1u);
  ASSERT_EQ(start_timers(*e, "three").size(), 1u);
  EXPECT_EQ(start_timers(*e, "three")[0].repetitions_left, 1);
  clock_->advance(kHour);  // 11:00, the second
  e->run_until_idle();
  EXPECT_EQ(instances_of(*e, "three").size(), 2u);
  clock_->advance(kHour);  // 12:00, the last
  e->run_until_idle();
  EXPECT_EQ(instances_of(*e, "three").size(), 3u);
  EXPECT_TRUE(start_timers(*e, "three").empty()) << "the series has ended";
  clock_->advance(24 * kHour);
  e->run_until_idle();
  EXPECT_EQ(instances_of(*e, "three").size(), 3u);

  // A late firing starts one instance, not one per occurrence it missed.
  ASSERT_TRUE(e->deploy("late.bpmn", timer_process("late", cycle("R/PT1H")), "designer").ok());
  clock_->advance(5 * kHour + 30 * kMinute);
  e->run_until_idle();
  EXPECT_EQ(instances_of(*e, "late").size(), 1u);
  ASSERT_EQ(start_timers(*e, "late").size(), 1u);
  EXPECT_GT(start_timers(*e, "late")[0].due_at, clock_->now_ms());
}

TEST_P(StartTimerTest, ANewVersionReplacesTheStartTimersAndTheSameFileDoesNotDoubleThem) {
  auto e = open();
  const std::string v1 = timer_process("report", cycle("R/PT1H"));
  ASSERT_TRUE(e->deploy("report.bpmn", v1, "designer").ok());
  auto first = start_timers(*e);
  ASSERT_EQ(first.size(), 1u);
  auto again = e->deploy("report.bpmn", v1, "designer");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->front().new_version);
  auto same = start_timers(*e);
  ASSERT_EQ(same.size(), 1u) << "the same file again schedules nothing twice";
  EXPECT_EQ(same[0].id, first[0].id);

  auto v2 = e->deploy("report.bpmn", timer_process("report", cycle("R/2026-01-01T06:00:00+08:00/P1D")), "designer");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->front().version, 2);
  auto replaced = start_timers(*e);
  ASSERT_EQ(replaced.size(), 1u) << "version 1's hourly timer is gone";
  EXPECT_EQ(replaced[0].definition_key, v2->front().definition_key);
  EXPECT_EQ(replaced[0].due_at, at("2026-03-03T06:00:00+08:00"));
  clock_->advance(22 * kHour);  // past version 1's hourly occurrences and version 2's first
  e->run_until_idle();
  auto started = instances_of(*e, "report");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].definition_version, 2);

  // A version without a timer start event stops the schedule.
  const std::string manual = kHeader + R"(
  <process id="report" isExecutable="true"><startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="e"/>
  <endEvent id="e"/></process></definitions>)";
  ASSERT_TRUE(e->deploy("report.bpmn", manual, "designer").ok());
  EXPECT_TRUE(start_timers(*e).empty());
  clock_->advance(48 * kHour);
  e->run_until_idle();
  EXPECT_EQ(instances_of(*e, "report").size(), 1u);
}

TEST_P(StartTimerTest, OnlyTopLevelStartsOfExecutableProcessesAreScheduled) {
  auto e = open();
  const std::string model = kHeader + R"(
  <process id="live" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="w"/>
    <userTask id="w" bs:candidateGroups="dpf-county"/><sequenceFlow id="f2" sourceRef="w" targetRef="e"/><endEvent id="e"/>
    <subProcess id="esp" triggeredByEvent="true">
      <startEvent id="espTimer" isInterrupting="false"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></startEvent>
      <sequenceFlow id="f3" sourceRef="espTimer" targetRef="espEnd"/><endEvent id="espEnd"/>
    </subProcess>
  </process>
  <process id="sketch" isExecutable="false">
    <startEvent id="sketchTimer"><timerEventDefinition><timeCycle>R/PT1M</timeCycle></timerEventDefinition></startEvent>
  </process></definitions>)";
  auto deployed = e->deploy("mixed.bpmn", model, "designer");
  ASSERT_TRUE(deployed.ok()) << deployed.error().message;
  EXPECT_TRUE(start_timers(*e).empty());
  clock_->advance(2 * kHour);
  e->run_until_idle();
  EXPECT_TRUE(instances_of(*e, "sketch").empty());
  EXPECT_TRUE(instances_of(*e, "live").empty());
}

TEST_P(StartTimerTest, ABadTimerStartFailsTheDeploymentWithItsLineAndColumn) {
  auto e = open();
  // FEEL that needs a variable there is none of at deploy; a cycle of zero repetitions.
  for (const std::string& timer : {cycle("=settings.interval"), cycle("R0/PT1H"),
                                   std::string("<timerEventDefinition><timeDate>=date(\"2026-13-45\")</timeDate>"
                                               "</timerEventDefinition>")}) {
    auto r = e->deploy("bad.bpmn", timer_process("bad", timer), "designer");
    ASSERT_FALSE(r.ok()) << timer;
    EXPECT_EQ(r.error().code, "invalid-model");
    EXPECT_NE(r.error().message.find("bad.bpmn:4:"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("BS207"), std::string::npos) << r.error().message;
  }
  auto defs = e->store().definitions("");
  ASSERT_TRUE(defs.ok());
  EXPECT_TRUE(defs->empty()) << "a refused deployment stores nothing";
  EXPECT_TRUE(start_timers(*e).empty());
}

TEST_P(StartTimerTest, ACronCycleStartsAnInstanceAtEachMatchAndSurvivesARestart) {
  {
    auto e = open();
    // Deployed on Monday 2026-03-02 at 09:00: the first match is Tuesday's 06:00.
    ASSERT_TRUE(e->deploy("mornings.bpmn", timer_process("mornings", cycle("0 0 6 * * MON-FRI")), "designer").ok());
    auto timers = start_timers(*e, "mornings");
    ASSERT_EQ(timers.size(), 1u);
    EXPECT_EQ(timers[0].due_at, at("2026-03-03T06:00:00+08:00"));
    EXPECT_EQ(timers[0].repetitions_left, -1);
    EXPECT_EQ(timers[0].period, "0 0 6 * * MON-FRI");
    clock_->set(at("2026-03-03T06:00:00+08:00"));
    e->run_until_idle();
    EXPECT_EQ(instances_of(*e, "mornings").size(), 1u);
    ASSERT_EQ(start_timers(*e, "mornings").size(), 1u);
    EXPECT_EQ(start_timers(*e, "mornings")[0].due_at, at("2026-03-04T06:00:00+08:00"));
  }
  // Down from Tuesday to Saturday noon: Wednesday's, Thursday's and Friday's
  // matches were missed. One instance starts for them, and the next is Monday's.
  clock_->set(at("2026-03-07T12:00:00+08:00"));
  auto e = open();
  e->run_until_idle();
  EXPECT_EQ(instances_of(*e, "mornings").size(), 2u);
  ASSERT_EQ(start_timers(*e, "mornings").size(), 1u);
  EXPECT_EQ(start_timers(*e, "mornings")[0].due_at, at("2026-03-09T06:00:00+08:00"));
  clock_->set(at("2026-03-09T06:00:00+08:00"));
  e->run_until_idle();
  EXPECT_EQ(instances_of(*e, "mornings").size(), 3u);

  // A FEEL value giving a cron expression is evaluated at deploy, like any other.
  ASSERT_TRUE(e->deploy("month-end.bpmn", timer_process("month-end", cycle("=\"0 0 18 L * ?\"")), "designer").ok());
  ASSERT_EQ(start_timers(*e, "month-end").size(), 1u);
  EXPECT_EQ(start_timers(*e, "month-end")[0].due_at, at("2026-03-31T18:00:00+08:00"));
}

TEST_P(StartTimerTest, ABadCronCycleFailsTheDeploymentWithItsFieldLineAndColumn) {
  auto e = open();
  const std::pair<const char*, const char*> cases[] = {
      {"0 0 25 * * *", "the hour field '25' is out of range 0-23"},
      {"0 0 6 * * MON-FRI 2025", "matches no instant after now"},  // Quartz's year field, in the past
      {"0 0 0 30 2 ?", "it never fires"},
      // Only evaluating the FEEL at deploy finds this one.
      {"=\"0 0 0 31 \" + \"4 ?\"", "it never fires"},
  };
  for (const auto& [value, why] : cases) {
    auto r = e->deploy("bad.bpmn", timer_process("bad", cycle(value)), "designer");
    ASSERT_FALSE(r.ok()) << value;
    EXPECT_EQ(r.error().code, "invalid-model");
    EXPECT_NE(r.error().message.find("bad.bpmn:4:60: error BS207"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().message;
  }
  auto defs = e->store().definitions("");
  ASSERT_TRUE(defs.ok());
  EXPECT_TRUE(defs->empty()) << "a refused deployment stores nothing";
  EXPECT_TRUE(start_timers(*e).empty());
}

TEST_P(StartTimerTest, ACronBoundaryTimerFiresAtEachMatchAcrossARestartAndOnceWhenLate) {
  const std::string model = kHeader + R"(
  <process id="remind" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
    <userTask id="review" bs:candidateGroups="dpf-county"/>
    <sequenceFlow id="f2" sourceRef="review" targetRef="e"/><endEvent id="e"/>
    <boundaryEvent id="nudge" attachedToRef="review" cancelActivity="false">
      <timerEventDefinition><timeCycle>0 0 9 * * MON-FRI</timeCycle></timerEventDefinition>
    </boundaryEvent>
    <sequenceFlow id="f3" sourceRef="nudge" targetRef="count"/>
    <scriptTask id="count" bs:expression="=reminders + 1" bs:resultVariable="reminders"/>
    <sequenceFlow id="f4" sourceRef="count" targetRef="counted"/><endEvent id="counted"/>
  </process></definitions>)";
  auto reminders = [](Engine& e, InstanceId id) {
    auto view = e.inspect_instance(id);
    EXPECT_TRUE(view.ok());
    return view.ok() ? view->variables.at("reminders").to_number<int64_t>() : -1;
  };
  auto due = [](Engine& e) {
    auto timers = e.store().due_timers(INT64_MAX, 10);
    EXPECT_TRUE(timers.ok());
    return timers.ok() && timers->size() == 1 ? timers->front().due_at : 0;
  };
  InstanceId id = 0;
  {
    auto e = open();
    ASSERT_TRUE(e->deploy("remind.bpmn", model, "designer").ok());
    StartRequest req;
    req.process_id = "remind";
    req.variables["reminders"] = 0;
    auto started = e->start_instance(req);
    ASSERT_TRUE(started.ok());
    id = *started;
    e->run_until_idle();
    // Started on Monday at 09:00: the first match is Tuesday's.
    EXPECT_EQ(due(*e), at("2026-03-03T09:00:00+08:00"));
    clock_->set(at("2026-03-03T09:00:00+08:00"));
    e->run_until_idle();
    EXPECT_EQ(reminders(*e, id), 1);
    EXPECT_EQ(due(*e), at("2026-03-04T09:00:00+08:00"));
  }
  // Down from Tuesday to the next Monday noon: Wednesday's to Monday's
  // matches were missed. The timer fires once, and its next is Tuesday's.
  clock_->set(at("2026-03-09T12:00:00+08:00"));
  auto e = open();
  e->run_until_idle();
  e->run_until_idle();
  EXPECT_EQ(reminders(*e, id), 2);
  EXPECT_EQ(due(*e), at("2026-03-10T09:00:00+08:00"));
  clock_->set(at("2026-03-10T09:00:00+08:00"));
  e->run_until_idle();
  EXPECT_EQ(reminders(*e, id), 3);
}

TEST_P(StartTimerTest, TwoNodesNeverBothStartAnInstanceForOneFiring) {
  auto a = open("node-a");
  auto b = open("node-b");
  ASSERT_TRUE(a->deploy("shared.bpmn", timer_process("shared", cycle("R/PT1H")), "designer").ok());
  for (int hour = 1; hour <= 3; ++hour) {
    clock_->advance(kHour);
    std::thread other([&] { b->run_until_idle(); });
    a->run_until_idle();
    other.join();
    a->run_until_idle();
    b->run_until_idle();
    EXPECT_EQ(instances_of(*a, "shared").size(), static_cast<size_t>(hour)) << "after hour " << hour;
  }
}

// Issue #8: a deployment of several files is stored in one transaction. A
// failure while storing the third file (a trigger in the database refuses
// it) leaves no trace of the first two: no process, no decision, no start
// timer, no audit row.
TEST_P(StartTimerTest, AFailureOnTheThirdFileOfADeploymentStoresNothing) {
  auto e = open();
  const bool sqlite = db_.backend() == store::testing::Backend::kSqlite;
  std::string error;
  ASSERT_TRUE(db_.exec(sqlite ? "CREATE TRIGGER refuse_third BEFORE INSERT ON definitions WHEN NEW.process_id = "
                                "'third' BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
                              : "CREATE FUNCTION refuse_third() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION "
                                "'injected failure'; END $$ LANGUAGE plpgsql; CREATE TRIGGER refuse_third BEFORE "
                                "INSERT ON definitions FOR EACH ROW WHEN (NEW.process_id = 'third') EXECUTE FUNCTION "
                                "refuse_third()",
                       &error))
      << error;
  std::vector<DeploymentResource> files = {
      {"first.bpmn", timer_process("first", cycle("R/PT1H"))},
      {"rules.dmn", kDecision},
      {"third.bpmn", timer_process("third", cycle("R/PT2H"))},
  };
  AuditNote note{clock_->now_ms(), "designer", "deploy", "resources first.bpmn, rules.dmn, third.bpmn", "", ""};
  auto failed = e->deploy_resources(files, "designer", &note);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("injected failure"), std::string::npos) << failed.error().message;
  auto defs = e->store().definitions("");
  ASSERT_TRUE(defs.ok());
  EXPECT_TRUE(defs->empty()) << "the first file's process was stored";
  auto decisions = e->store().decisions("");
  ASSERT_TRUE(decisions.ok());
  EXPECT_TRUE(decisions->empty()) << "the second file's decision was stored";
  EXPECT_TRUE(start_timers(*e).empty()) << "the first file's start timer was scheduled";
  auto* trail = dynamic_cast<store::AuthStore*>(&e->store());
  ASSERT_NE(trail, nullptr);
  auto rows = trail->audit_chain(0, 10);
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty()) << "an audit row without its change";
  EXPECT_FALSE(e->start_instance(StartRequest{"first", 0, "", "", {}}).ok());
  clock_->advance(3 * kHour);
  e->run_until_idle();
  EXPECT_TRUE(instances_of(*e, "first").empty());

  // Without the fault the same deployment stores all three files at once.
  ASSERT_TRUE(db_.exec("DROP TRIGGER refuse_third" + std::string(sqlite ? "" : " ON definitions"), &error)) << error;
  auto stored = e->deploy_resources(files, "designer", &note);
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_EQ(stored->processes.size(), 2u);
  EXPECT_EQ(stored->decisions.size(), 1u);
  EXPECT_EQ(start_timers(*e).size(), 2u);
  rows = trail->audit_chain(0, 10);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 1u);
}

}  // namespace
}  // namespace banshi
