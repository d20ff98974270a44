// SLA policies driven by the pure core, on a manual clock, against the
// shipped 2025 and 2026 calendars: due dates in working days across 春节,
// reminders, overdue, escalation up the administrative levels, breaches,
// pauses, the process deadline, restarts (through the stored format) and
// what the loader refuses.
#include "core/sla.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "calendar/business_calendar.h"
#include "core/serialize.h"
#include "core/step.h"
#include "model/iso8601.h"
#include "model/load.h"

namespace banshi::core {
namespace {

namespace json = boost::json;

int64_t at(const char* text) { return *model::parse_date_time(text); }

std::string local(int64_t ms) {
  int64_t local_ms = ms + 480 * 60000;
  int64_t days = local_ms >= 0 ? local_ms / 86400000 : (local_ms - 86399999) / 86400000;
  int64_t rest = local_ms - days * 86400000;
  int64_t y;
  unsigned m, d;
  model::civil_from_days(days, y, m, d);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}", y, m, d, rest / 3600000, rest / 60000 % 60);
}

const calendar::BusinessCalendar& shipped() {
  static const calendar::BusinessCalendar cal = [] {
    auto c = calendar::BusinessCalendar::load_directory(BANSHI_CALENDARS);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return std::move(c).value();
  }();
  return cal;
}

std::string task_model(const std::string& sla, const std::string& region = "220102",
                       const std::string& extra = "") {
  return fmt::format(R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d" targetNamespace="t">
  <process id="p" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="fork"/>
    <parallelGateway id="fork"/>
    <sequenceFlow id="f2" sourceRef="fork" targetRef="review"/>
    <userTask id="review" name="County DPF review" bs:candidateGroups="dpf-county" bs:region="{}">
      <extensionElements>
        {}
      </extensionElements>
    </userTask>
    <sequenceFlow id="f3" sourceRef="review" targetRef="end"/>
    <endEvent id="end"/>
    {}
  </process>
</definitions>)",
                     region, sla, extra);
}

// One instance on a manual clock, fired like the engine fires timers.
class Case {
 public:
  explicit Case(const std::string& xml, int64_t now, bool with_calendar = true) : now_(now) {
    auto r = model::load_bpmn(xml);
    std::string why;
    for (const auto& d : r.diagnostics) why += model::format_diagnostic(d, "model.bpmn") + "\n";
    EXPECT_TRUE(r.ok()) << why;
    if (!r.ok()) return;
    defs_ = r.definitions;
    process_ = std::make_unique<ExecutableProcess>(defs_, defs_->processes.front());
    calendar_ = with_calendar ? &shipped() : nullptr;
  }

  bool send(Command c) {
    StepEnv env;
    env.now_ms = now_;
    env.working_days = calendar_;
    std::vector<Record> out;
    auto r = step(*process_, state_, c, env, out);
    if (!r.ok()) {
      ADD_FAILURE() << r.error().message;
      return false;
    }
    for (Record& rec : out) records_.push_back(std::move(rec));
    return true;
  }
  void start() {
    Command c{CommandKind::kStart};
    send(c);
  }
  // Fires every timer due up to `until`, moving the clock to each.
  void advance_to(int64_t until) {
    for (int guard = 0; guard < 1000; ++guard) {
      Key best = 0;
      int64_t due = until + 1;
      for (const auto& [k, t] : state_.timers) {
        if (t.due_at < due) {
          due = t.due_at;
          best = k;
        }
      }
      if (best == 0) break;
      now_ = std::max(now_, due);
      Command c{CommandKind::kFireTimer};
      c.key = best;
      send(c);
    }
    now_ = std::max(now_, until);
  }
  void restart() {
    std::string bytes = encode(state_);
    auto decoded = decode(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    ASSERT_EQ(encode(*decoded), bytes);
    state_ = std::move(decoded).value();
  }
  Key task_of(const std::string& element) const {
    for (const auto& [k, t] : state_.user_tasks) {
      const ElementInstance* ei = state_.find(t.element_instance);
      if (ei && process_->node(ei->element).id == element) return k;
    }
    return 0;
  }
  void complete(const std::string& element) {
    Command c{CommandKind::kCompleteUserTask};
    c.key = task_of(element);
    ASSERT_NE(c.key, 0u) << "no task at " << element;
    send(c);
  }
  // SLA records so far as "KIND local-time level region group".
  std::vector<std::string> sla_log() const {
    std::vector<std::string> out;
    for (const Record& r : records_) {
      if (r.kind < RecordKind::kSlaWarning || r.kind > RecordKind::kSlaResumed) continue;
      const json::object& p = r.payload.as_object();
      out.push_back(fmt::format("{} {} L{} {} {}", record_kind_name(r.kind), local(p.at("at").as_int64()),
                                p.at("level").as_int64(), r.text, r.name));
    }
    return out;
  }
  void set_calendar(const expr::WorkingDays* calendar) { calendar_ = calendar; }
  // Resolves the newest open incident; its key, 0 when none is open.
  Key resolve_incident() {
    if (state_.incidents.empty()) return 0;
    Command c{CommandKind::kResolveIncident};
    c.key = state_.incidents.rbegin()->first;
    send(c);
    return c.key;
  }
  size_t count(RecordKind kind) const {
    size_t n = 0;
    for (const Record& r : records_) n += r.kind == kind;
    return n;
  }
  const Record* last(RecordKind kind) const {
    for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
      if (it->kind == kind) return &*it;
    }
    return nullptr;
  }

  InstanceState state_;
  std::vector<Record> records_;
  int64_t now_;

 private:
  std::shared_ptr<const model::Definitions> defs_;
  std::unique_ptr<ExecutableProcess> process_;
  const expr::WorkingDays* calendar_ = nullptr;
};

TEST(SlaRegions, ClimbCountyCityProvince) {
  EXPECT_EQ(parent_region("220102").value_or("-"), "220100");
  EXPECT_EQ(parent_region("220100").value_or("-"), "220000");
  EXPECT_FALSE(parent_region("220000").has_value());
  EXPECT_EQ(parent_region("220421").value_or("-"), "220400");
  EXPECT_FALSE(parent_region("22010").has_value());
  EXPECT_FALSE(parent_region("22O102").has_value());
}

TEST(SlaDue, FiveWorkingDaysFromTheFridayBeforeSpringFestival) {
  // 02-14 (Saturday) is a make-up working day; 02-15..02-23 are 春节.
  Case c(task_model(R"(<bs:sla due="5WD"/>)"), at("2026-02-13T10:00:00+08:00"));
  c.start();
  const Record* created = c.last(RecordKind::kUserTaskCreated);
  ASSERT_NE(created, nullptr);
  EXPECT_EQ(local(created->due_at), "2026-02-27T10:00");
  ASSERT_EQ(c.state_.sla_clocks.size(), 1u);
  EXPECT_EQ(local(c.state_.sla_clocks.begin()->second.due_at), "2026-02-27T10:00");
}

TEST(SlaDue, SixWorkingDaysCountTheMakeUpSaturday) {
  Case c(task_model(R"(<bs:sla due="6WD"/>)"), at("2026-02-13T10:00:00+08:00"));
  c.start();
  EXPECT_EQ(local(c.last(RecordKind::kUserTaskCreated)->due_at), "2026-02-28T10:00");
}

TEST(SlaDue, DurationAndFeel) {
  Case d(task_model(R"(<bs:sla due="PT36H"/>)"), at("2026-02-13T10:00:00+08:00"));
  d.start();
  EXPECT_EQ(local(d.last(RecordKind::kUserTaskCreated)->due_at), "2026-02-14T22:00");
  Case f(task_model(R"(<bs:sla due="=if true then &quot;3WD&quot; else &quot;P1D&quot;"/>)"),
         at("2026-02-13T10:00:00+08:00"));
  f.start();
  EXPECT_EQ(local(f.last(RecordKind::kUserTaskCreated)->due_at), "2026-02-25T10:00");
  Case n(task_model(R"(<bs:sla due="=2"/>)"), at("2026-02-13T10:00:00+08:00"));
  n.start();
  EXPECT_EQ(local(n.last(RecordKind::kUserTaskCreated)->due_at), "2026-02-24T10:00");
}

TEST(SlaStages, RemindOverdueEscalateClimbAndBreachAtTheirMoments) {
  Case c(task_model(R"(<bs:sla due="5WD" remindAt="80%" escalateTo="dpf-supervisors" escalateAfter="2WD"
                               breachAfter="10WD"/>)"),
         at("2026-02-13T10:00:00+08:00"));
  c.start();
  // Nothing before the reminder: 80% of the 5 working days (02-14, the
  // make-up Saturday, and 02-24..27 after 春节) is 4 of them. A share of
  // the 14 calendar days would have reminded on 02-24, the first working day
  // after the holiday, with four of the five still to come.
  c.advance_to(at("2026-02-26T09:59:59+08:00"));
  EXPECT_TRUE(c.sla_log().empty());
  c.advance_to(at("2026-02-27T09:59:59+08:00"));
  EXPECT_EQ(c.sla_log(), (std::vector<std::string>{"SLA_WARNING 2026-02-26T10:00 L0 220102 "}));
  EXPECT_EQ(c.state_.sla_clocks.begin()->second.state, SlaState::kDueSoon);
  c.restart();  // the clock survives the stored format
  c.advance_to(at("2026-03-12T10:00:00+08:00"));
  EXPECT_EQ(c.sla_log(), (std::vector<std::string>{
                             "SLA_WARNING 2026-02-26T10:00 L0 220102 ",
                             "SLA_OVERDUE 2026-02-27T10:00 L0 220102 ",
                             "SLA_ESCALATED 2026-02-27T10:00 L1 220102 dpf-supervisors",
                             // 2 working days on: Saturday 02-28 (make-up day) and Monday 03-02.
                             "SLA_ESCALATED 2026-03-02T10:00 L2 220100 dpf-supervisors",
                             "SLA_ESCALATED 2026-03-04T10:00 L3 220000 dpf-supervisors",
                             // 10 working days after 02-27.
                             "SLA_BREACHED 2026-03-12T10:00 L3 220000 dpf-supervisors",
                         }));
  EXPECT_EQ(c.state_.sla_clocks.begin()->second.state, SlaState::kBreached);
  EXPECT_TRUE(c.state_.timers.empty()) << "nothing is left to fire";
  // Completing the task ends its clock.
  c.complete("review");
  EXPECT_TRUE(c.state_.sla_clocks.empty());
  EXPECT_EQ(c.state_.status, InstanceStatus::kCompleted);
}

TEST(SlaStages, ARestartBetweenEveryStageChangesNothing) {
  const std::string model = task_model(
      R"(<bs:sla due="5WD" remindAt="80%" escalateTo="dpf-supervisors" escalateAfter="2WD" breachAfter="10WD"/>)");
  Case straight(model, at("2026-02-13T10:00:00+08:00"));
  straight.start();
  straight.advance_to(at("2026-03-20T00:00:00+08:00"));
  Case restarted(model, at("2026-02-13T10:00:00+08:00"));
  restarted.start();
  for (int64_t t = at("2026-02-14T00:00:00+08:00"); t < at("2026-03-20T00:00:00+08:00"); t += 86400000 / 2) {
    restarted.advance_to(t);
    restarted.restart();
  }
  restarted.advance_to(at("2026-03-20T00:00:00+08:00"));
  EXPECT_EQ(restarted.sla_log(), straight.sla_log());
  EXPECT_EQ(straight.sla_log().size(), 6u);
}

TEST(SlaStages, CompletedInTimeRecordsNothingAndCancelsTheTimer) {
  Case c(task_model(R"(<bs:sla due="5WD" remindAt="80%" escalateTo="dpf-supervisors"/>)"),
         at("2026-02-13T10:00:00+08:00"));
  c.start();
  c.advance_to(at("2026-02-24T09:00:00+08:00"));
  c.complete("review");
  EXPECT_TRUE(c.sla_log().empty());
  EXPECT_TRUE(c.state_.timers.empty());
  EXPECT_TRUE(c.state_.sla_clocks.empty());
  EXPECT_NE(c.last(RecordKind::kTimerCanceled), nullptr);
}

TEST(SlaStages, EscalationStopsAtTheProvince) {
  Case c(task_model(R"(<bs:sla due="P1D" escalateTo="sup" escalateAfter="P1D"/>)", "220000"),
         at("2026-03-02T10:00:00+08:00"));
  c.start();
  c.advance_to(at("2026-03-20T10:00:00+08:00"));
  EXPECT_EQ(c.sla_log(), (std::vector<std::string>{"SLA_OVERDUE 2026-03-03T10:00 L0 220000 ",
                                                   "SLA_ESCALATED 2026-03-03T10:00 L1 220000 sup"}));
}

TEST(SlaPause, WaitingForTheApplicantStopsTheClockAndMovesTheDueDate) {
  // The supplement task runs beside the review; while it is active the
  // review's clock stands still.
  const std::string extra = R"(
    <sequenceFlow id="f4" sourceRef="fork" targetRef="supplement"/>
    <userTask id="supplement" name="补正材料" bs:candidateGroups="applicant"/>
    <sequenceFlow id="f5" sourceRef="supplement" targetRef="end2"/>
    <endEvent id="end2"/>)";
  Case c(task_model(R"(<bs:sla due="5WD" escalateTo="sup" pauseWhile="supplement"/>)", "220102", extra),
         at("2026-03-02T10:00:00+08:00"));
  c.start();
  ASSERT_EQ(c.state_.sla_clocks.size(), 1u);
  EXPECT_NE(c.state_.sla_clocks.begin()->second.paused_at, 0);
  c.advance_to(at("2026-03-09T12:00:00+08:00"));  // past the unpaused due date
  EXPECT_EQ(c.sla_log(), (std::vector<std::string>{"SLA_PAUSED 2026-03-02T10:00 L0 220102 "}));
  c.restart();
  // The applicant owed materials Monday to Monday: 5 working days.
  c.complete("supplement");
  const SlaClock& clock = c.state_.sla_clocks.begin()->second;
  EXPECT_EQ(clock.paused_at, 0);
  EXPECT_EQ(local(clock.due_at), "2026-03-16T10:00");
  const Record* resumed = c.last(RecordKind::kSlaResumed);
  ASSERT_NE(resumed, nullptr);
  EXPECT_EQ(local(resumed->due_at), "2026-03-16T10:00");
  c.advance_to(at("2026-03-16T09:59:00+08:00"));
  EXPECT_EQ(c.sla_log().size(), 2u);
  c.advance_to(at("2026-03-16T10:00:00+08:00"));
  EXPECT_EQ(c.sla_log().back(), "SLA_ESCALATED 2026-03-16T10:00 L1 220102 sup");
}

TEST(SlaPause, ADurationPolicyMovesByThePausedTime) {
  const std::string extra = R"(
    <sequenceFlow id="f4" sourceRef="fork" targetRef="supplement"/>
    <userTask id="supplement" bs:candidateGroups="applicant"/>
    <sequenceFlow id="f5" sourceRef="supplement" targetRef="end2"/>
    <endEvent id="end2"/>)";
  Case c(task_model(R"(<bs:sla due="PT8H" pauseWhile="supplement"/>)", "220102", extra),
         at("2026-03-02T10:00:00+08:00"));
  c.start();
  c.advance_to(at("2026-03-02T13:30:00+08:00"));
  c.complete("supplement");
  EXPECT_EQ(local(c.state_.sla_clocks.begin()->second.due_at), "2026-03-02T21:30");
}

TEST(SlaProcess, TheCaseDeadlineRunsAcrossTasksAndEndsWithTheInstance) {
  const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d" targetNamespace="t">
  <process id="case" isExecutable="true">
    <extensionElements><bs:sla due="10WD" remindAt="50%" region="=region"/></extensionElements>
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="accept"/>
    <userTask id="accept" bs:candidateGroups="dpf"/>
    <sequenceFlow id="f2" sourceRef="accept" targetRef="review"/>
    <userTask id="review" bs:candidateGroups="dpf"/>
    <sequenceFlow id="f3" sourceRef="review" targetRef="end"/>
    <endEvent id="end"/>
  </process>
</definitions>)";
  Case c(xml, at("2026-02-13T10:00:00+08:00"));
  Command start{CommandKind::kStart};
  start.variables["region"] = "220102";
  c.send(start);
  ASSERT_EQ(c.state_.sla_clocks.size(), 1u);
  const SlaClock& clock = c.state_.sla_clocks.begin()->second;
  EXPECT_EQ(clock.task, 0u);
  // 10 working days from 02-13: 02-14, 02-24..27, 02-28, 03-02..05.
  EXPECT_EQ(local(clock.due_at), "2026-03-05T10:00");
  c.complete("accept");
  EXPECT_EQ(c.state_.sla_clocks.size(), 1u) << "the case clock outlives the task";
  c.advance_to(at("2026-03-06T10:00:00+08:00"));
  // Half of the 10 working days: 5 working days on.
  EXPECT_EQ(c.sla_log(), (std::vector<std::string>{"SLA_WARNING 2026-02-27T10:00 L0 220102 ",
                                                   "SLA_OVERDUE 2026-03-05T10:00 L0 220102 "}));
  const Record* overdue = c.last(RecordKind::kSlaOverdue);
  EXPECT_EQ(overdue->element, model::kNoIndex);
  c.complete("review");
  EXPECT_EQ(c.state_.status, InstanceStatus::kCompleted);
  EXPECT_TRUE(c.state_.sla_clocks.empty());
  EXPECT_TRUE(c.state_.timers.empty());
}

TEST(SlaCalendar, AMissingYearIsAClearIncident) {
  Case c(task_model(R"(<bs:sla due="10WD"/>)"), at("2026-12-24T10:00:00+08:00"));
  c.start();
  EXPECT_TRUE(c.state_.user_tasks.empty()) << "no task without a due date";
  const Record* inc = c.last(RecordKind::kIncidentCreated);
  ASSERT_NE(inc, nullptr);
  EXPECT_NE(inc->text.find("2027"), std::string::npos) << inc->text;
  EXPECT_NE(inc->text.find("SLA due"), std::string::npos) << inc->text;
}

TEST(SlaCalendar, WorkingDaysWithoutACalendarAreAnIncident) {
  Case c(task_model(R"(<bs:sla due="5WD"/>)"), at("2026-03-02T10:00:00+08:00"), false);
  c.start();
  const Record* inc = c.last(RecordKind::kIncidentCreated);
  ASSERT_NE(inc, nullptr);
  EXPECT_NE(inc->text.find("no business calendar"), std::string::npos) << inc->text;
}

TEST(SlaStages, AReminderWithinOneWorkingDaySkipsTheWeekend) {
  // One working day from Friday 10:00 is Monday 10:00; 80% of that day of
  // working time is 14 h of Friday and 5 h 12 min of Monday.
  Case c(task_model(R"(<bs:sla due="1WD" remindAt="80%"/>)"), at("2026-03-06T10:00:00+08:00"));
  c.start();
  EXPECT_EQ(local(c.state_.sla_clocks.begin()->second.remind_at), "2026-03-09T05:12");
  // Created on a Saturday, a working day's share starts on Monday.
  Case sat(task_model(R"(<bs:sla due="1WD" remindAt="50%"/>)"), at("2026-03-07T10:00:00+08:00"));
  sat.start();
  EXPECT_EQ(local(sat.state_.sla_clocks.begin()->second.remind_at), "2026-03-09T05:00");
  // A duration policy keeps the share of elapsed time.
  Case d(task_model(R"(<bs:sla due="P3D" remindAt="50%"/>)"), at("2026-03-06T10:00:00+08:00"));
  d.start();
  EXPECT_EQ(local(d.state_.sla_clocks.begin()->second.remind_at), "2026-03-07T22:00");
}

TEST(SlaDue, ADateWithoutATimeIsDueByTheEndOfThatDay) {
  Case c(task_model(R"x(<bs:sla due="=date(&quot;2026-03-10&quot;)"/>)x"), at("2026-03-02T10:00:00+08:00"));
  c.start();
  EXPECT_EQ(local(c.last(RecordKind::kUserTaskCreated)->due_at), "2026-03-10T23:59");
  c.advance_to(at("2026-03-10T23:59:59+08:00"));
  EXPECT_TRUE(c.sla_log().empty()) << "not overdue on the day itself";
  c.advance_to(at("2026-03-11T00:00:00+08:00"));
  EXPECT_EQ(c.sla_log(), (std::vector<std::string>{"SLA_OVERDUE 2026-03-10T23:59 L0 220102 "}))
      << "overdue at the day's last millisecond";
  // The same for a plain due date without a policy.
  const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d" targetNamespace="t">
  <process id="p" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <userTask id="review" bs:candidateGroups="dpf" bs:dueDate="2026-03-10"/>
    <sequenceFlow id="f2" sourceRef="review" targetRef="end"/>
    <endEvent id="end"/>
  </process>
</definitions>)";
  Case plain(xml, at("2026-03-02T10:00:00+08:00"));
  plain.start();
  EXPECT_EQ(local(plain.last(RecordKind::kUserTaskCreated)->due_at), "2026-03-10T23:59");
}

// The shipped calendars and a 2027 with only 元旦 (Friday 01-01) off.
const calendar::BusinessCalendar& with_2027() {
  static const calendar::BusinessCalendar cal = [] {
    auto c = calendar::BusinessCalendar::load_directory(BANSHI_CALENDARS);
    EXPECT_TRUE(c.ok());
    calendar::BusinessCalendar out = std::move(c).value();
    auto added = out.add_year(R"(year = 2027
holidays = [ { from = "2027-01-01", to = "2027-01-01", name = "元旦" } ])",
                              "2027.toml");
    EXPECT_TRUE(added.ok()) << (added.ok() ? "" : added.error().message);
    return out;
  }();
  return cal;
}

TEST(SlaCalendar, APauseEndingInAYearNoCalendarCoversWaitsForItsIncident) {
  const std::string extra = R"(
    <sequenceFlow id="f4" sourceRef="fork" targetRef="supplement"/>
    <userTask id="supplement" bs:candidateGroups="applicant"/>
    <sequenceFlow id="f5" sourceRef="supplement" targetRef="end2"/>
    <endEvent id="end2"/>)";
  Case c(task_model(R"(<bs:sla due="5WD" pauseWhile="supplement"/>)", "220102", extra),
         at("2026-12-01T10:00:00+08:00"));
  c.start();
  const Key review = c.task_of("review");
  EXPECT_EQ(local(c.state_.sla_clocks.begin()->second.due_at), "2026-12-08T10:00");
  c.advance_to(at("2027-01-05T10:00:00+08:00"));
  c.complete("supplement");
  // The paused working days reach into 2027: nothing moves, the clock stays
  // paused, and the incident names the year.
  const Record* inc = c.last(RecordKind::kIncidentCreated);
  ASSERT_NE(inc, nullptr);
  EXPECT_NE(inc->text.find("SLA pause"), std::string::npos) << inc->text;
  EXPECT_NE(inc->text.find("2027"), std::string::npos) << inc->text;
  const SlaClock& clock = c.state_.sla_clocks.begin()->second;
  EXPECT_NE(clock.paused_at, 0);
  EXPECT_EQ(clock.retry, SlaRetry::kResume);
  EXPECT_EQ(c.count(RecordKind::kSlaResumed), 0u);
  c.restart();  // format 5 keeps what the incident will retry
  // Resolved after the calendar is added: the pause counts to its end
  // (01-05), not to the resolution. 24 working days (12-02..12-31 and
  // 01-04, 01-05) move the due time from 12-08 to 01-12.
  c.now_ = at("2027-01-08T09:00:00+08:00");
  c.set_calendar(&with_2027());
  ASSERT_NE(c.resolve_incident(), 0u);
  EXPECT_EQ(c.task_of("review"), review) << "the task is not created again";
  EXPECT_EQ(c.count(RecordKind::kUserTaskCanceled), 0u);
  EXPECT_EQ(c.state_.sla_clocks.begin()->second.paused_at, 0);
  EXPECT_EQ(c.state_.sla_clocks.begin()->second.retry, SlaRetry::kNone);
  EXPECT_EQ(local(c.state_.sla_clocks.begin()->second.due_at), "2027-01-12T10:00");
  EXPECT_EQ(local(c.last(RecordKind::kSlaResumed)->due_at), "2027-01-12T10:00");
}

TEST(SlaCalendar, AnEscalationTheCalendarCannotCountWaitsForItsIncident) {
  Case c(task_model(R"(<bs:sla due="2WD" escalateTo="sup" escalateAfter="5WD" breachAfter="P20D"/>)"),
         at("2026-12-24T10:00:00+08:00"));
  c.start();
  const Key review = c.task_of("review");
  c.advance_to(at("2027-01-18T10:00:00+08:00"));
  // Escalated at the due time; the next level needs 2027. The breach, a
  // duration, still comes while the incident is open.
  EXPECT_EQ(c.sla_log(), (std::vector<std::string>{"SLA_OVERDUE 2026-12-28T10:00 L0 220102 ",
                                                   "SLA_ESCALATED 2026-12-28T10:00 L1 220102 sup",
                                                   "SLA_BREACHED 2027-01-17T10:00 L1 220102 sup"}));
  const Record* inc = c.last(RecordKind::kIncidentCreated);
  ASSERT_NE(inc, nullptr);
  EXPECT_NE(inc->text.find("SLA escalateAfter"), std::string::npos) << inc->text;
  EXPECT_NE(inc->text.find("2027"), std::string::npos) << inc->text;
  c.restart();
  // Resolving it before the calendar is added raises it again.
  ASSERT_NE(c.resolve_incident(), 0u);
  EXPECT_EQ(c.count(RecordKind::kIncidentCreated), 2u);
  EXPECT_EQ(c.state_.incidents.size(), 1u);
  c.set_calendar(&with_2027());
  ASSERT_NE(c.resolve_incident(), 0u);
  EXPECT_TRUE(c.state_.incidents.empty());
  c.advance_to(at("2027-01-18T10:00:00+08:00"));
  // Levels 2 and 3 were due 5 working days after 12-28 (01-05) and after
  // that (01-12): both come now, in order.
  EXPECT_EQ(c.sla_log().size(), 5u);
  EXPECT_EQ(c.sla_log()[3], "SLA_ESCALATED 2027-01-18T10:00 L2 220100 sup");
  EXPECT_EQ(c.sla_log()[4], "SLA_ESCALATED 2027-01-18T10:00 L3 220000 sup");
  EXPECT_EQ(c.task_of("review"), review) << "the task is not created again";
  EXPECT_EQ(c.count(RecordKind::kUserTaskCanceled), 0u);
}

// An escalation level waiting for its incident holds nothing else up: a
// pause that begins and ends meanwhile moves the breach, which comes at its
// moment.
TEST(SlaCalendar, APauseWhileAnEscalationWaitsForItsIncidentStillCounts) {
  const std::string extra = R"(
    <sequenceFlow id="f4" sourceRef="fork" targetRef="wait"/>
    <intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration>P5D</timeDuration></timerEventDefinition></intermediateCatchEvent>
    <sequenceFlow id="f5" sourceRef="wait" targetRef="supplement"/>
    <userTask id="supplement" bs:candidateGroups="applicant"/>
    <sequenceFlow id="f6" sourceRef="supplement" targetRef="end2"/>
    <endEvent id="end2"/>)";
  Case c(task_model(R"(<bs:sla due="2WD" escalateTo="sup" escalateAfter="30WD" breachAfter="P20D" pauseWhile="supplement"/>)",
                    "220102", extra),
         at("2026-12-01T10:00:00+08:00"));
  c.start();
  // Due 12-03; the next level, 30 working days on, needs 2027.
  c.advance_to(at("2026-12-08T10:00:00+08:00"));
  ASSERT_EQ(c.state_.incidents.size(), 1u);
  EXPECT_EQ(c.state_.sla_clocks.begin()->second.retry, SlaRetry::kNextLevel);
  EXPECT_NE(c.state_.sla_clocks.begin()->second.paused_at, 0) << "paused since Sunday 12-06";
  // The documents come on Tuesday: 2 working days paused, the breach moves
  // from 12-23 to 12-25.
  c.complete("supplement");
  EXPECT_EQ(c.state_.sla_clocks.begin()->second.paused_at, 0);
  EXPECT_EQ(local(c.state_.sla_clocks.begin()->second.breach_at), "2026-12-25T10:00");
  c.advance_to(at("2026-12-26T10:00:00+08:00"));
  EXPECT_EQ(c.sla_log().back(), "SLA_BREACHED 2026-12-25T10:00 L1 220102 sup");
  // With 2027's calendar the level comes 30 working days after 12-03.
  c.set_calendar(&with_2027());
  ASSERT_NE(c.resolve_incident(), 0u);
  EXPECT_EQ(local(c.state_.sla_clocks.begin()->second.next_level_at), "2027-01-15T10:00");
  c.advance_to(at("2027-01-15T10:00:00+08:00"));
  EXPECT_EQ(c.sla_log().back(), "SLA_ESCALATED 2027-01-15T10:00 L2 220100 sup");
}

// The case's deadline raises its incident on the root, which holds the
// instance from ending; resolved, the instance ends if its work is done.
TEST(SlaCalendar, ACaseDeadlineIncidentResolvedLetsTheCaseEnd) {
  const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d" targetNamespace="t">
  <process id="case" isExecutable="true">
    <extensionElements><bs:sla due="5WD" pauseWhile="supplement" region="220102"/></extensionElements>
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="supplement"/>
    <userTask id="supplement" bs:candidateGroups="applicant"/>
    <sequenceFlow id="f2" sourceRef="supplement" targetRef="end"/>
    <endEvent id="end"/>
  </process>
</definitions>)";
  Case c(xml, at("2026-12-24T10:00:00+08:00"));
  c.start();
  c.advance_to(at("2027-01-05T10:00:00+08:00"));
  c.complete("supplement");
  ASSERT_EQ(c.state_.incidents.size(), 1u);
  EXPECT_NE(c.last(RecordKind::kIncidentCreated)->text.find("SLA pause"), std::string::npos);
  EXPECT_EQ(c.state_.status, InstanceStatus::kActive) << "the root's incident holds the end";
  c.set_calendar(&with_2027());
  ASSERT_NE(c.resolve_incident(), 0u);
  EXPECT_TRUE(c.state_.incidents.empty());
  EXPECT_EQ(c.state_.status, InstanceStatus::kCompleted);
  EXPECT_TRUE(c.state_.sla_clocks.empty());
  EXPECT_TRUE(c.state_.timers.empty());
}

// ---------------------------------------------------------------------------
// What the loader refuses, with the position of the problem.

std::vector<std::string> problems(const std::string& xml) {
  auto r = model::load_bpmn(xml);
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics) {
    if (d.severity == model::Severity::kError) {
      out.push_back(fmt::format("{} {}:{} {}", d.code, d.pos.line, d.pos.column, d.message));
    }
  }
  return out;
}

TEST(SlaModel, AGoodPolicyLoads) {
  EXPECT_TRUE(problems(task_model(R"(<bs:sla due="5WD" remindAt="80%" escalateTo="g" escalateAfter="P2D"
     breachAfter="10WD" pauseWhile="start"/>)"))
                  .empty());
}

TEST(SlaModel, BadPoliciesAreRefusedWithLineAndColumn) {
  auto p = problems(task_model(R"(<bs:sla due="5 days"/>)"));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].substr(0, 11), "BS241 10:22") << p[0];
  EXPECT_NE(p[0].find("5WD"), std::string::npos);

  p = problems(task_model(R"(<bs:sla due="5WD" remindAt="120%"/>)"));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].substr(0, 5), "BS241");
  EXPECT_NE(p[0].find("1% to 99%"), std::string::npos);

  p = problems(task_model(R"(<bs:sla due="5WD" escalateAfer="P1D"/>)"));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].substr(0, 5), "BS240");
  EXPECT_NE(p[0].find("escalateAfer"), std::string::npos);

  p = problems(task_model(R"(<bs:sla remindAt="50%"/>)"));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].substr(0, 11), "BS243 10:9 ") << p[0];

  p = problems(task_model(R"(<bs:sla due="P1D" pauseWhile="nowhere"/>)"));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].substr(0, 5), "BS242");
  EXPECT_NE(p[0].find("nowhere"), std::string::npos);

  p = problems(task_model(R"(<bs:sla due="P0D"/>)"));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].find("longer than zero"), std::string::npos);

  p = problems(task_model(R"(<bs:sla due="=1 +"/>)"));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].substr(0, 5), "BS208");
}

TEST(SlaModel, OnlyUserTasksAndProcessesHavePolicies) {
  auto p = problems(task_model(R"(<bs:sla due="P1D"/>)", "220102", R"(
    <serviceTask id="svc" bs:connector="x"><extensionElements><bs:sla due="P1D"/></extensionElements></serviceTask>)"));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].substr(0, 5), "BS240");
}

// ---------------------------------------------------------------------------
// Format 3 keeps the clocks.

TEST(SlaFormat, ClocksRoundTripAndCorruptStatesAreRefused) {
  InstanceState s;
  s.process_id = "p";
  s.next_key = 10;
  SlaClock c;
  c.key = 3;
  c.element_instance = 2;
  c.element = 1;
  c.task = 4;
  c.started_at = 1;
  c.due_at = 2;
  c.remind_at = 3;
  c.next_level_at = 4;
  c.breach_at = 5;
  c.paused_at = 6;
  c.state = SlaState::kOverdue;
  c.due_passed = true;
  c.working_days = true;
  c.level = 2;
  c.region = "220100";
  c.escalated_to = "dpf-supervisors";
  c.timer = 9;
  s.sla_clocks[3] = c;
  std::string bytes = encode(s);
  auto back = decode(bytes);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->sla_clocks.size(), 1u);
  const SlaClock& b = back->sla_clocks.at(3);
  EXPECT_EQ(b.state, SlaState::kOverdue);
  EXPECT_EQ(b.region, "220100");
  EXPECT_EQ(b.escalated_to, "dpf-supervisors");
  EXPECT_EQ(b.level, 2);
  EXPECT_EQ(b.timer, 9u);
  EXPECT_TRUE(b.working_days && b.due_passed);
  EXPECT_EQ(encode(*back), bytes);
  for (size_t cut = 1; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(decode(std::string_view(bytes).substr(0, cut)).ok()) << "cut at " << cut;
  }
}

// FROZEN: golden/state-v3.bin holds exactly this state (written with BANSHI_WRITE_GOLDEN=3).
InstanceState golden_v3_state() {
  InstanceState s;
  s.process_id = "残疾人证-新办";
  s.next_key = 12;
  s.root = 1;
  ElementInstance root;
  root.key = 1;
  root.state = ElementState::kActivated;
  s.elements[1] = root;
  ElementInstance task;
  task.key = 2;
  task.element = 3;
  task.scope = 1;
  task.state = ElementState::kActivated;
  s.elements[2] = task;
  s.user_tasks[4] = UserTask{4, 2};
  s.timers[11] = Timer{11, 2, 3, 1772766000000, 0, 0, {}};
  SlaClock c;
  c.key = 5;
  c.element_instance = 2;
  c.element = 3;
  c.task = 4;
  c.started_at = 1770948000000;
  c.due_at = 1772157600000;
  c.next_level_at = 1772589600000;
  c.breach_at = 1773280800000;
  c.state = SlaState::kEscalated;
  c.due_passed = true;
  c.working_days = true;
  c.level = 2;
  c.region = "220100";
  c.escalated_to = "dpf-supervisors";
  c.timer = 11;
  s.sla_clocks[5] = c;
  return s;
}

TEST(SlaFormat, TheVersion3GoldenFileStillDecodes) {
  const std::string path = std::string(BANSHI_GOLDEN_DIR) + "/state-v3.bin";
  const char* write = std::getenv("BANSHI_WRITE_GOLDEN");
  if (write != nullptr && std::string_view(write) == "3") {
    ASSERT_EQ(InstanceState::kFormatVersion, 3u) << "state-v3.bin must be written by a version-3 encoder";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    const std::string bytes = encode(golden_v3_state());
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << "cannot write " << path;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "missing golden file state-v3.bin";
  std::ostringstream s;
  s << in.rdbuf();
  auto decoded = decode(s.str());
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  ASSERT_EQ(decoded->sla_clocks.size(), 1u);
  const SlaClock& c = decoded->sla_clocks.begin()->second;
  EXPECT_EQ(c.region, "220100");
  EXPECT_EQ(c.escalated_to, "dpf-supervisors");
  EXPECT_EQ(c.state, SlaState::kEscalated);
  EXPECT_EQ(c.level, 2);
  EXPECT_EQ(c.timer, 11u);
  EXPECT_EQ(decoded->timers.at(11).due_at, 1772766000000);
  if (InstanceState::kFormatVersion == 3) {
    EXPECT_EQ(encode(*decoded), s.str()) << "the version-3 encoding changed; add a new format version instead";
  }
}

// Version 5 added what an SLA clock's incident retries.

// FROZEN: golden/state-v5.bin holds exactly this state (written with BANSHI_WRITE_GOLDEN=5).
InstanceState golden_v5_state() {
  InstanceState s = golden_v3_state();
  s.incidents[12] = Incident{12, 2, IncidentKind::kExpressionFailed, "SLA escalateAfter: 2027 is not covered", 0};
  s.elements[2].incident = 12;
  SlaClock& c = s.sla_clocks.at(5);
  c.next_level_at = 0;
  c.retry = SlaRetry::kNextLevel;
  c.incident = 12;
  c.retry_from = 1772589600000;
  s.next_key = 13;
  return s;
}

TEST(SlaFormat, TheVersion5GoldenFileStillDecodes) {
  const std::string path = std::string(BANSHI_GOLDEN_DIR) + "/state-v5.bin";
  const char* write = std::getenv("BANSHI_WRITE_GOLDEN");
  if (write != nullptr && std::string_view(write) == "5") {
    ASSERT_EQ(InstanceState::kFormatVersion, 5u) << "state-v5.bin must be written by a version-5 encoder";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    const std::string bytes = encode(golden_v5_state());
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << "cannot write " << path;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "missing golden file state-v5.bin";
  std::ostringstream s;
  s << in.rdbuf();
  auto decoded = decode(s.str());
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  const SlaClock& c = decoded->sla_clocks.at(5);
  EXPECT_EQ(c.retry, SlaRetry::kNextLevel);
  EXPECT_EQ(c.incident, 12u);
  EXPECT_EQ(c.retry_from, 1772589600000);
  EXPECT_EQ(decoded->incidents.at(12).message, "SLA escalateAfter: 2027 is not covered");
  if (InstanceState::kFormatVersion == 5) {
    EXPECT_EQ(encode(*decoded), s.str()) << "the version-5 encoding changed; add a new format version instead";
  }
  // A retry naming a clock or an incident that does not exist is corrupt.
  std::string bytes = s.str();
  // The section is last: count 1, clock 5, retry 1, incident 12, then six bytes of retry_from.
  ASSERT_EQ(bytes.substr(bytes.size() - 10, 4), std::string("\x01\x05\x01\x0c"));
  std::string no_clock = bytes;
  no_clock[no_clock.size() - 9] = '\x06';
  auto bad = decode(no_clock);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("SLA clock 6 does not exist"), std::string::npos) << bad.error().message;
  std::string no_incident = bytes;
  no_incident[no_incident.size() - 7] = '\x0d';
  bad = decode(no_incident);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("incident 13 does not exist"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace banshi::core
