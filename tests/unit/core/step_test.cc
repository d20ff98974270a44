// Focused tests of core::step that scenario files cannot express: a
// decision evaluator supplied by the embedder, determinism, and rejection
// leaving the state untouched.
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "core/serialize.h"
#include "core/step.h"
#include "model/load.h"

namespace banshi::core {
namespace {

const char* kRuleProcess = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="p" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="rule"/>
    <businessRuleTask id="rule" bs:decisionRef="subsidy-eligibility" bs:resultVariable="eligibility"/>
    <sequenceFlow id="f2" sourceRef="rule" targetRef="gw"/>
    <exclusiveGateway id="gw" default="f4"/>
    <sequenceFlow id="f3" sourceRef="gw" targetRef="grant"><conditionExpression>=eligibility.nursing</conditionExpression></sequenceFlow>
    <sequenceFlow id="f4" sourceRef="gw" targetRef="none"/>
    <endEvent id="grant"/><endEvent id="none"/>
  </process>
</definitions>)";

// A stand-in for the DMN evaluator: 一级/二级 qualify for the nursing subsidy.
class LevelRule final : public DecisionEvaluator {
 public:
  Result<boost::json::value> evaluate(const std::string& decision_id,
                                      const boost::json::object& variables) const override {
    ++calls;
    if (decision_id != "subsidy-eligibility") return Error{"not-found", "no decision " + decision_id};
    const boost::json::value* level = variables.if_contains("level");
    if (!level || !level->is_string()) return Error{"input", "level is missing"};
    boost::json::object out;
    out["nursing"] = level->as_string() == "一级" || level->as_string() == "二级";
    return boost::json::value(out);
  }
  mutable int calls = 0;
};

struct Fixture {
  std::shared_ptr<const model::Definitions> defs;
  std::unique_ptr<ExecutableProcess> process;
  Fixture() {
    model::LoadResult r = model::load_bpmn(kRuleProcess);
    EXPECT_TRUE(r.ok());
    defs = r.definitions;
    process = std::make_unique<ExecutableProcess>(defs, defs->processes[0]);
  }
};

std::string last_end(const std::vector<Record>& out, const ExecutableProcess& p) {
  std::string end;
  for (const Record& r : out) {
    if (r.kind == RecordKind::kElementCompleted && r.element != model::kNoIndex &&
        p.node(r.element).type == model::ElementType::kEndEvent) {
      end = p.node(r.element).id;
    }
  }
  return end;
}

TEST(BusinessRuleTask, UsesTheSuppliedDecisionEvaluator) {
  Fixture f;
  LevelRule rule;
  StepEnv env;
  env.decisions = &rule;
  for (const auto& [level, end] : {std::pair{"二级", "grant"}, std::pair{"四级", "none"}}) {
    InstanceState state;
    std::vector<Record> out;
    Command start{CommandKind::kStart};
    start.variables["level"] = level;
    ASSERT_TRUE(step(*f.process, state, start, env, out).ok());
    EXPECT_EQ(state.status, InstanceStatus::kCompleted) << level;
    EXPECT_EQ(last_end(out, *f.process), end) << level;
  }
  EXPECT_EQ(rule.calls, 2);
}

TEST(BusinessRuleTask, AFailingDecisionIsAnIncidentThatCanBeRetried) {
  Fixture f;
  LevelRule rule;
  StepEnv env;
  env.decisions = &rule;
  InstanceState state;
  std::vector<Record> out;
  ASSERT_TRUE(step(*f.process, state, Command{CommandKind::kStart}, env, out).ok());
  ASSERT_EQ(state.incidents.size(), 1u);
  EXPECT_NE(state.incidents.begin()->second.message.find("level is missing"), std::string::npos);
  Command set{CommandKind::kSetVariables};
  set.variables["level"] = "一级";
  ASSERT_TRUE(step(*f.process, state, set, env, out).ok());
  Command resolve{CommandKind::kResolveIncident};
  resolve.key = state.incidents.begin()->first;
  out.clear();
  ASSERT_TRUE(step(*f.process, state, resolve, env, out).ok());
  EXPECT_EQ(state.status, InstanceStatus::kCompleted);
  EXPECT_EQ(last_end(out, *f.process), "grant");
}

TEST(BusinessRuleTask, WithoutAnEvaluatorTheTaskWaitsBehindAnIncident) {
  Fixture f;
  InstanceState state;
  std::vector<Record> out;
  ASSERT_TRUE(step(*f.process, state, Command{CommandKind::kStart}, StepEnv{}, out).ok());
  ASSERT_EQ(state.incidents.size(), 1u);
  EXPECT_EQ(state.status, InstanceStatus::kActive);
}

TEST(Step, SameInputsGiveTheSameStateAndRecords) {
  Fixture f;
  LevelRule rule;
  StepEnv env;
  env.decisions = &rule;
  env.now_ms = 1772413200000;
  auto run = [&] {
    InstanceState state;
    std::vector<Record> out;
    Command start{CommandKind::kStart};
    start.variables["level"] = "三级";
    (void)step(*f.process, state, start, env, out);
    std::string trace;
    for (const Record& r : out) trace += std::to_string(static_cast<int>(r.kind)) + ":" + std::to_string(r.key) + ";";
    return std::make_pair(encode(state), trace);
  };
  EXPECT_EQ(run(), run());
}

TEST(Step, ARejectedCommandChangesNothing) {
  Fixture f;
  InstanceState state;
  std::vector<Record> out;
  ASSERT_TRUE(step(*f.process, state, Command{CommandKind::kStart}, StepEnv{}, out).ok());
  const std::string before = encode(state);
  const size_t records = out.size();
  for (CommandKind kind : {CommandKind::kCompleteJob, CommandKind::kCompleteUserTask, CommandKind::kFireTimer,
                           CommandKind::kCorrelateMessage, CommandKind::kStart, CommandKind::kChildCompleted,
                           CommandKind::kTerminateElement}) {
    Command c{kind};
    c.key = 999;
    EXPECT_FALSE(step(*f.process, state, c, StepEnv{}, out).ok()) << static_cast<int>(kind);
    EXPECT_EQ(encode(state), before);
    EXPECT_EQ(out.size(), records);
  }
  Command bad_start{CommandKind::kStart};
  bad_start.name = "rule";
  InstanceState fresh;
  EXPECT_FALSE(step(*f.process, fresh, bad_start, StepEnv{}, out).ok());
  EXPECT_EQ(fresh.root, 0u);
}

// A firing carries the occurrence it was armed for: once a repeating timer
// has fired it and is armed for the next one, the same firing queued a
// second time is refused and changes nothing.
TEST(Step, AFiringOfAnOccurrenceAlreadyFiredIsRefused) {
  const char* cycle = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="p" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="check"/>
    <userTask id="check" name="Check" bs:candidateGroups="dpf-county"/>
    <boundaryEvent id="again" attachedToRef="check" cancelActivity="false">
      <timerEventDefinition><timeCycle>R3/PT1H</timeCycle></timerEventDefinition></boundaryEvent>
    <sequenceFlow id="f2" sourceRef="again" targetRef="reminded"/><endEvent id="reminded"/>
    <sequenceFlow id="f3" sourceRef="check" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>)";
  model::LoadResult loaded = model::load_bpmn(cycle);
  std::string problems;
  for (const model::Diagnostic& d : loaded.diagnostics) problems += model::format_diagnostic(d, "cycle.bpmn") + "\n";
  ASSERT_TRUE(loaded.ok()) << problems;
  ExecutableProcess process(loaded.definitions, loaded.definitions->processes[0]);
  StepEnv env;
  env.now_ms = 1772413200000;
  InstanceState state;
  std::vector<Record> out;
  ASSERT_TRUE(step(process, state, Command{CommandKind::kStart}, env, out).ok());
  ASSERT_EQ(state.timers.size(), 1u);
  const Key key = state.timers.begin()->first;
  const int64_t first = state.timers.begin()->second.due_at;
  EXPECT_EQ(first, env.now_ms + 3600 * 1000);

  auto fire = [&](int64_t due) {
    Command c{CommandKind::kFireTimer};
    c.key = key;
    c.due_at = due;
    return step(process, state, c, env, out);
  };
  auto fired = [&] {
    int n = 0;
    for (const Record& r : out) n += r.kind == RecordKind::kTimerFired;
    return n;
  };
  env.now_ms = first;
  ASSERT_TRUE(fire(first).ok());
  EXPECT_EQ(fired(), 1);
  const int64_t second = state.timers.at(key).due_at;
  EXPECT_EQ(second, first + 3600 * 1000);
  const std::string before = encode(state);
  EXPECT_FALSE(fire(first).ok()) << "the occurrence at 1 h fired twice";
  EXPECT_EQ(encode(state), before);
  EXPECT_EQ(fired(), 1);
  env.now_ms = second;
  EXPECT_TRUE(fire(second).ok());
  EXPECT_EQ(fired(), 2);
  // Without an occurrence named, the one armed now fires (the scenario runner's and a test's firing).
  env.now_ms = state.timers.at(key).due_at;
  EXPECT_TRUE(fire(0).ok());
  EXPECT_EQ(fired(), 3);
}

}  // namespace
}  // namespace banshi::core
