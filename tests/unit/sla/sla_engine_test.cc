// SLA clocks through the engine service on a real SQLite file and a manual
// clock: the task row's SLA columns, stages that fire at their moments across
// a restart, and the monitor's figures filtered by region.
#include <filesystem>
#include <memory>
#include <string>
#include <mutex>
#include <thread>
#include <vector>
#include <chrono>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include "banshi/engine.h"
#include "calendar/business_calendar.h"
#include "model/iso8601.h"
#include "store/sqlite/sqlite_store.h"

namespace banshi {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

int64_t at(const char* text) { return *model::parse_date_time(text); }

const std::string kModel = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="review" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="check"/>
    <userTask id="check" name="County DPF review" bs:candidateGroups="dpf-county" bs:region="=region">
      <extensionElements>
        <bs:sla due="5WD" remindAt="80%" escalateTo="dpf-supervisors" escalateAfter="2WD" breachAfter="10WD"/>
      </extensionElements>
    </userTask>
    <sequenceFlow id="f2" sourceRef="check" targetRef="e"/><endEvent id="e"/>
  </process></definitions>)";

class SlaEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("banshi-sla-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    clock_ = std::make_shared<ManualClock>(at("2026-02-13T10:00:00+08:00"));
    auto cal = calendar::BusinessCalendar::load_directory(BANSHI_CALENDARS);
    ASSERT_TRUE(cal.ok()) << cal.error().message;
    calendar_ = std::make_shared<calendar::BusinessCalendar>(std::move(cal).value());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Engine> open() {
    store::sqlite::SqliteOptions o;
    o.path = (dir_ / "banshi.db").string();
    auto s = store::sqlite::SqliteStore::open(o);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    EngineConfig config;
    config.working_days = calendar_;
    auto e = Engine::open(config, std::move(s).value(), clock_);
    EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
    return std::move(e).value();
  }

  InstanceId start(Engine& e, const char* region) {
    StartRequest req;
    req.process_id = "review";
    req.variables["region"] = region;
    auto id = e.start_instance(req);
    EXPECT_TRUE(id.ok()) << (id.ok() ? "" : id.error().message);
    e.run_until_idle();
    return id.ok() ? *id : 0;
  }

  static store::TaskRecord task_of(Engine& e, InstanceId id) {
    store::TaskQuery q;
    auto tasks = e.store().tasks(q);
    EXPECT_TRUE(tasks.ok());
    for (const auto& t : *tasks) {
      if (t.instance_id == id) return t;
    }
    ADD_FAILURE() << "no task of instance " << id;
    return {};
  }

  void advance_to(Engine& e, int64_t t) {
    clock_->set(t);
    e.run_until_idle();
  }

  fs::path dir_;
  std::shared_ptr<ManualClock> clock_;
  std::shared_ptr<calendar::BusinessCalendar> calendar_;
};

TEST_F(SlaEngineTest, StagesReachTheTaskRowAtTheirMomentsAcrossARestart) {
  InstanceId id = 0;
  {
    auto e = open();
    ASSERT_TRUE(e->deploy("review.bpmn", kModel, "designer").ok());
    id = start(*e, "220102");
    store::TaskRecord t = task_of(*e, id);
    EXPECT_EQ(t.due_at, at("2026-02-27T10:00:00+08:00"));
    EXPECT_EQ(t.sla_state, 0);
    EXPECT_EQ(t.department, "dpf");
    advance_to(*e, at("2026-02-26T09:59:00+08:00"));
    EXPECT_EQ(task_of(*e, id).sla_state, 0) << "a minute before the reminder";
    advance_to(*e, at("2026-02-26T10:00:00+08:00"));
    EXPECT_EQ(task_of(*e, id).sla_state, 1) << "due soon at 80% of the working days";
  }
  // The engine is down while the due time and the first climb pass.
  clock_->set(at("2026-03-02T11:00:00+08:00"));
  {
    auto e = open();
    e->run_until_idle();
    store::TaskRecord t = task_of(*e, id);
    EXPECT_EQ(t.sla_state, 2);
    EXPECT_EQ(t.escalation_level, 2);
    EXPECT_EQ(t.escalated_to, "dpf-supervisors");
    EXPECT_EQ(t.escalated_region, "220100");
    advance_to(*e, at("2026-03-04T10:00:00+08:00"));
    t = task_of(*e, id);
    EXPECT_EQ(t.escalation_level, 3);
    EXPECT_EQ(t.escalated_region, "220000");
    advance_to(*e, at("2026-03-12T09:59:00+08:00"));
    EXPECT_EQ(task_of(*e, id).sla_state, 2);
    advance_to(*e, at("2026-03-12T10:00:00+08:00"));
    EXPECT_EQ(task_of(*e, id).sla_state, 3) << "breached 10 working days after the due time";

    // Every stage is in the instance's history, in order.
    auto history = e->store().history(id);
    ASSERT_TRUE(history.ok());
    EXPECT_FALSE(history->empty());
  }
}

TEST_F(SlaEngineTest, MonitorFiguresCountOnlyTheCallersRegions) {
  auto e = open();
  ASSERT_TRUE(e->deploy("review.bpmn", kModel, "designer").ok());
  const InstanceId a = start(*e, "220102");  // 长春 南关区
  const InstanceId b = start(*e, "220402");  // 辽源 龙山区
  clock_->set(at("2026-02-16T10:00:00+08:00"));
  const InstanceId c = start(*e, "220103");  // 长春 宽城区, created later: due 02-28
  advance_to(*e, at("2026-02-27T12:00:00+08:00"));  // a and b escalated; c (due 02-28) due soon

  auto all = e->store().monitor_summary({""}, "state", clock_->now_ms());
  ASSERT_TRUE(all.ok()) << all.error().message;
  int64_t escalated = 0, total = 0;
  for (const auto& g : *all) {
    if (g.key == "escalated") escalated = g.escalated;
    total += g.total;
  }
  EXPECT_EQ(escalated, 2);
  EXPECT_EQ(total, 3);

  auto changchun = e->store().monitor_summary({"2201"}, "region", clock_->now_ms());
  ASSERT_TRUE(changchun.ok());
  ASSERT_EQ(changchun->size(), 2u);
  EXPECT_EQ((*changchun)[0].key, "220102");
  EXPECT_EQ((*changchun)[0].escalated, 1);
  EXPECT_EQ((*changchun)[1].key, "220103");
  EXPECT_EQ((*changchun)[1].escalated + (*changchun)[1].overdue, 0);

  auto by_department = e->store().monitor_summary({"22"}, "department", clock_->now_ms());
  ASSERT_TRUE(by_department.ok());
  ASSERT_EQ(by_department->size(), 1u);
  EXPECT_EQ((*by_department)[0].key, "dpf");
  EXPECT_EQ((*by_department)[0].total, 3);

  int64_t overdue_total = 0;
  auto overdue = e->store().monitor_overdue({"2201"}, clock_->now_ms(), 0, 50, overdue_total);
  ASSERT_TRUE(overdue.ok());
  EXPECT_EQ(overdue_total, 1);
  ASSERT_EQ(overdue->size(), 1u);
  EXPECT_EQ((*overdue)[0].instance_id, a);
  overdue = e->store().monitor_overdue({""}, clock_->now_ms(), 0, 50, overdue_total);
  EXPECT_EQ(overdue_total, 2);
  EXPECT_TRUE(e->store().monitor_overdue({}, clock_->now_ms(), 0, 50, overdue_total)->empty())
      << "no regions, nothing";

  // Completion keeps the outcome: a completed late (breach), c on time.
  ASSERT_TRUE(e->complete_task(task_of(*e, a).id, {}, "zhang").ok());
  ASSERT_TRUE(e->complete_task(task_of(*e, c).id, {}, "li").ok());
  e->run_until_idle();
  auto steps = e->store().monitor_steps({"2201"}, at("2026-02-01T00:00:00+08:00"), clock_->now_ms() + 1);
  ASSERT_TRUE(steps.ok()) << steps.error().message;
  ASSERT_EQ(steps->size(), 1u);
  const store::MonitorStep& s = steps->front();
  EXPECT_EQ(s.element_id, "check");
  EXPECT_EQ(s.completed, 2);
  EXPECT_EQ(s.breached, 1);
  // Handling times: a 14 days 2 h, c 11 days 2 h; the median of two is their mean.
  EXPECT_EQ(s.median_handling_ms, (at("2026-02-27T12:00:00+08:00") - at("2026-02-13T10:00:00+08:00") +
                                   at("2026-02-27T12:00:00+08:00") - at("2026-02-16T10:00:00+08:00")) /
                                      2);
  auto liaoyuan = e->store().monitor_steps({"2204"}, at("2026-02-01T00:00:00+08:00"), clock_->now_ms() + 1);
  ASSERT_TRUE(liaoyuan.ok());
  EXPECT_TRUE(liaoyuan->empty()) << "b is still open";
  (void)b;
}

// While the applicant owes documents the review's clock stands still: the
// task's row says since when, and the monitor does not count the review
// overdue by the due time the pause is going to move.
TEST_F(SlaEngineTest, APausedTaskIsNotOverdueUntilItsClockRunsAgain) {
  const std::string model = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="review" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="fork"/>
    <parallelGateway id="fork"/>
    <sequenceFlow id="f2" sourceRef="fork" targetRef="check"/>
    <userTask id="check" bs:candidateGroups="dpf-county" bs:region="=region">
      <extensionElements><bs:sla due="2WD" pauseWhile="supplement"/></extensionElements>
    </userTask>
    <sequenceFlow id="f3" sourceRef="check" targetRef="e1"/><endEvent id="e1"/>
    <sequenceFlow id="f4" sourceRef="fork" targetRef="supplement"/>
    <userTask id="supplement" bs:candidateGroups="applicant" bs:region="=region"/>
    <sequenceFlow id="f5" sourceRef="supplement" targetRef="e2"/><endEvent id="e2"/>
  </process></definitions>)";
  clock_->set(at("2026-03-02T10:00:00+08:00"));
  auto e = open();
  ASSERT_TRUE(e->deploy("review.bpmn", model, "designer").ok());
  const InstanceId id = start(*e, "220102");
  auto task_at = [&](const std::string& element) {
    store::TaskRecord found;
    auto tasks = e->store().tasks({});
    EXPECT_TRUE(tasks.ok());
    for (const auto& t : *tasks) {
      if (t.instance_id == id && t.element_id == element) found = t;
    }
    return found;
  };
  store::TaskRecord check = task_at("check");
  EXPECT_EQ(check.due_at, at("2026-03-04T10:00:00+08:00"));
  EXPECT_EQ(check.sla_paused_at, at("2026-03-02T10:00:00+08:00"));
  advance_to(*e, at("2026-03-09T10:00:00+08:00"));  // past the due time it had when paused
  auto summary = e->store().monitor_summary({""}, "state", clock_->now_ms());
  ASSERT_TRUE(summary.ok());
  int64_t on_time = 0, overdue = 0;
  for (const auto& g : *summary) {
    on_time += g.on_time;
    overdue += g.overdue;
  }
  EXPECT_EQ(on_time, 2) << "the paused review and the supplement (no due time)";
  EXPECT_EQ(overdue, 0);
  int64_t total = 0;
  EXPECT_TRUE(e->store().monitor_overdue({""}, clock_->now_ms(), 0, 50, total)->empty());
  // The documents arrive after 5 working days: the clock runs again, 2 working days from now.
  ASSERT_TRUE(e->complete_task(task_at("supplement").id, {}, "applicant").ok());
  e->run_until_idle();
  check = task_at("check");
  EXPECT_EQ(check.sla_paused_at, 0);
  EXPECT_EQ(check.due_at, at("2026-03-11T10:00:00+08:00"));
  advance_to(*e, at("2026-03-11T10:00:00+08:00"));
  EXPECT_EQ(e->store().monitor_overdue({""}, clock_->now_ms(), 0, 50, total)->size(), 1u);
  EXPECT_EQ(task_at("check").sla_state, 4);
}

TEST_F(SlaEngineTest, CompletingBeforeTheDueTimeLeavesNoTimerBehind) {
  auto e = open();
  ASSERT_TRUE(e->deploy("review.bpmn", kModel, "designer").ok());
  const InstanceId id = start(*e, "220102");
  ASSERT_TRUE(e->complete_task(task_of(*e, id).id, {}, "zhang").ok());
  e->run_until_idle();
  auto next = e->store().next_timer_due();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
  auto inst = e->store().instance(id);
  ASSERT_TRUE(inst.ok() && *inst);
  EXPECT_EQ((*inst)->status, 2);
}


// The demo's accelerated clock (an hour each real second): a task due in 8
// hours goes due soon, overdue and escalated within ten real seconds, with the
// engine's own threads firing the timers.
TEST_F(SlaEngineTest, AnAcceleratedClockWalksATaskThroughItsStatesWithinAMinute) {
  const std::string fast = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="fast" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="check"/>
    <userTask id="check" bs:candidateGroups="dpf-county" bs:region="220102">
      <extensionElements><bs:sla due="PT8H" remindAt="50%" escalateTo="dpf-supervisors"/></extensionElements>
    </userTask>
    <sequenceFlow id="f2" sourceRef="check" targetRef="e"/><endEvent id="e"/>
  </process></definitions>)";
  store::sqlite::SqliteOptions o;
  o.path = (dir_ / "fast.db").string();
  auto s = store::sqlite::SqliteStore::open(o);
  ASSERT_TRUE(s.ok());
  auto clock = std::make_shared<AcceleratedClock>(at("2026-03-02T09:00:00+08:00"), 3600.0);
  EngineConfig config;
  config.working_days = calendar_;
  auto opened = Engine::open(config, std::move(s).value(), clock);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  Engine& e = **opened;
  ASSERT_TRUE(e.deploy("fast.bpmn", fast, "designer").ok());
  std::mutex mu;
  std::vector<std::string> sla_events;
  e.subscribe([&](const EngineEvent& ev) {
    if (ev.type.rfind("sla.", 0) != 0) return;
    std::lock_guard lock(mu);
    sla_events.push_back(ev.type + " " + ev.region + " " + std::to_string(ev.task_id != 0));
  });
  e.start();
  StartRequest req;
  req.process_id = "fast";
  auto id = e.start_instance(req);
  ASSERT_TRUE(id.ok()) << id.error().message;
  std::vector<int> seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    store::TaskQuery q;
    auto tasks = e.store().tasks(q);
    ASSERT_TRUE(tasks.ok());
    ASSERT_EQ(tasks->size(), 1u);
    int state = tasks->front().sla_state;
    if (seen.empty() || seen.back() != state) seen.push_back(state);
    if (state == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  e.stop();
  // on time (0), due soon (1) after 4 simulated hours, escalated (2) at 8.
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
  // Each stage was published after its commit, with the task's region.
  std::lock_guard lock(mu);
  EXPECT_EQ(sla_events, (std::vector<std::string>{"sla.warning 220102 1", "sla.overdue 220102 1",
                                                  "sla.escalated 220102 1"}));
}

}  // namespace
}  // namespace banshi
