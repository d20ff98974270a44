// One case per validation rule: the smallest process that breaks it, and the
// code and element the error must name. A rule without a case here is untested.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/load.h"
#include "test_util.h"

namespace banshi::model {
namespace {

using testing::codes;
using testing::dump;
using testing::wrap;

struct RuleCase {
  const char* name;
  const char* body;
  const char* extra;
  std::vector<std::string> expected_errors;  // "CODE@element"
};

const char* kTimerStart = R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="e"/><bpmn:endEvent id="e"/>)";

const RuleCase kCases[] = {
    {"no start event", R"(<bpmn:task id="t"/>)", "", {"BS201@p"}},
    {"gateway flow without condition",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
        <bpmn:exclusiveGateway id="g"/>
        <bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="e"><bpmn:conditionExpression>=x</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e"/><bpmn:endEvent id="e"/>)",
     "", {"BS202@f2"}},
    {"inclusive gateway flow without condition",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
        <bpmn:inclusiveGateway id="g"/>
        <bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="e"/>
        <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e"/><bpmn:endEvent id="e"/>)",
     "", {"BS202@f1", "BS202@f2"}},
    {"parallel gateway flow with condition",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
        <bpmn:parallelGateway id="g"/>
        <bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="e"><bpmn:conditionExpression>=x</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:endEvent id="e"/>)",
     "", {"BS203@f1"}},
    {"default flow that does not leave the gateway",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
        <bpmn:exclusiveGateway id="g" default="f0"/>
        <bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="e"/><bpmn:endEvent id="e"/>)",
     "", {"BS204@g"}},
    {"user task without assignment",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="u"/><bpmn:userTask id="u"/>)", "",
     {"BS205@u"}},
    {"service task without connector",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="t"/><bpmn:serviceTask id="t"/>)", "",
     {"BS206@t"}},
    {"send task without connector or message",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="t"/><bpmn:sendTask id="t"/>)", "",
     {"BS206@t"}},
    {"bad timer duration",
     R"(<bpmn:startEvent id="s"><bpmn:timerEventDefinition><bpmn:timeDuration>10 days</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>)",
     "", {"BS207@s"}},
    {"bad timer date",
     R"(<bpmn:startEvent id="s"><bpmn:timerEventDefinition><bpmn:timeDate>2026-02-30T09:00:00</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:startEvent>)",
     "", {"BS207@s"}},
    {"bad timer cycle",
     R"(<bpmn:startEvent id="s"><bpmn:timerEventDefinition><bpmn:timeCycle>every day</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>)",
     "", {"BS207@s"}},
    {"bad cron field in a timer cycle",
     R"(<bpmn:startEvent id="s"><bpmn:timerEventDefinition><bpmn:timeCycle>0 0 25 * * *</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>)",
     "", {"BS207@s"}},
    {"cron cycle of a boundary timer that never fires",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="u"/><bpmn:userTask id="u" bs:candidateGroups="dpf"/>
        <bpmn:boundaryEvent id="b" attachedToRef="u" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeCycle>0 0 0 30 2 ?</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="b" targetRef="e"/><bpmn:endEvent id="e"/>)",
     "", {"BS207@b"}},
    {"timer without value",
     R"(<bpmn:startEvent id="s"><bpmn:timerEventDefinition/></bpmn:startEvent>)", "", {"BS207@s"}},
    {"bad due date literal",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="u"/>
        <bpmn:userTask id="u" bs:candidateGroups="dpf" bs:dueDate="next friday"/>)",
     "", {"BS207@u"}},
    {"bad job timeout",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="t"/>
        <bpmn:serviceTask id="t" bs:connector="dpf.x" bs:timeout="30s"/>)",
     "", {"BS207@t"}},
    {"expression that does not compile",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="u"/>
        <bpmn:userTask id="u" bs:candidateGroups="=[&quot;dpf&quot;"/>)",
     "", {"BS208@u"}},
    {"JUEL condition",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="g"/><bpmn:exclusiveGateway id="g" default="f2"/>
        <bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="e"><bpmn:conditionExpression>${x > 1}</bpmn:conditionExpression></bpmn:sequenceFlow>
        <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e"/><bpmn:endEvent id="e"/>)",
     "", {"BS208@f1"}},
    {"boundary event on a gateway",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="g"/><bpmn:parallelGateway id="g"/>
        <bpmn:boundaryEvent id="b" attachedToRef="g"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
        <bpmn:sequenceFlow id="f1" sourceRef="b" targetRef="e"/><bpmn:endEvent id="e"/>)",
     "", {"BS209@b"}},
    {"call activity without process",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="c"/><bpmn:callActivity id="c"/>)", "",
     {"BS210@c"}},
    {"version binding without version",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="c"/>
        <bpmn:callActivity id="c" calledElement="child" bs:versionBinding="version"/>)",
     "", {"BS210@c"}},
    {"complex gateway", R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="g"/><bpmn:complexGateway id="g"/>)",
     "", {"BS211@g"}},
    {"standard loop",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="t"/>
        <bpmn:task id="t"><bpmn:standardLoopCharacteristics/></bpmn:task>)",
     "", {"BS211@t"}},
    {"timer end event",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="e"/>
        <bpmn:endEvent id="e"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:endEvent>)",
     "", {"BS211@e"}},
    {"multiple event definitions",
     R"(<bpmn:startEvent id="s"><bpmn:signalEventDefinition signalRef="sig"/><bpmn:messageEventDefinition messageRef="m"/></bpmn:startEvent>)",
     R"(<bpmn:signal id="sig" name="x"/><bpmn:message id="m" name="y"/>)", {"BS211@s"}},
    {"cancel end event outside a transaction",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="e"/>
        <bpmn:endEvent id="e"><bpmn:cancelEventDefinition/></bpmn:endEvent>)",
     "", {"BS211@e"}},
    {"message catch without correlation key",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="m"/>
        <bpmn:intermediateCatchEvent id="m"><bpmn:messageEventDefinition messageRef="msg"/></bpmn:intermediateCatchEvent>)",
     R"(<bpmn:message id="msg" name="reply"/>)", {"BS212@m"}},
    {"message without name",
     R"(<bpmn:startEvent id="s"><bpmn:messageEventDefinition messageRef="msg"/></bpmn:startEvent>)",
     R"(<bpmn:message id="msg"/>)", {"BS212@msg"}},
    {"receive task without message",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="r"/><bpmn:receiveTask id="r"/>)", "",
     {"BS212@r"}},
    {"error end event without code",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="e"/>
        <bpmn:endEvent id="e"><bpmn:errorEventDefinition errorRef="err"/></bpmn:endEvent>)",
     R"(<bpmn:error id="err" name="x"/>)", {"BS212@e"}},
    {"escalation throw without code",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="e"/>
        <bpmn:endEvent id="e"><bpmn:escalationEventDefinition/></bpmn:endEvent>)",
     "", {"BS212@e"}},
    {"signal event without signal",
     R"(<bpmn:startEvent id="s"><bpmn:signalEventDefinition/></bpmn:startEvent>)", "", {"BS212@s"}},
    {"start event in subprocess with a trigger",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="sub"/>
        <bpmn:subProcess id="sub"><bpmn:startEvent id="s2"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent></bpmn:subProcess>)",
     "", {"BS213@sub", "BS213@s2"}},
    {"event-based gateway leading to a task",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="g"/><bpmn:eventBasedGateway id="g"/>
        <bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="t"/><bpmn:task id="t"/>
        <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="c"/>
        <bpmn:intermediateCatchEvent id="c"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>)",
     "", {"BS214@f1"}},
    {"end event with outgoing flow",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="e"/><bpmn:endEvent id="e"/>
        <bpmn:sequenceFlow id="f1" sourceRef="e" targetRef="t"/><bpmn:task id="t"/>)",
     "", {"BS216@e"}},
    {"start event with incoming flow",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="t"/><bpmn:task id="t"/>
        <bpmn:sequenceFlow id="f1" sourceRef="t" targetRef="s"/>)",
     "", {"BS216@s"}},
    {"unknown banshi attribute",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="u"/>
        <bpmn:userTask id="u" bs:candidateGroup="dpf"/>)",
     "", {"BS205@u", "BS218@u"}},
    {"non-numeric retries",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="t"/>
        <bpmn:serviceTask id="t" bs:connector="x" bs:retries="many"/>)",
     "", {"BS219@t"}},
    {"bad version binding",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="c"/>
        <bpmn:callActivity id="c" calledElement="x" bs:versionBinding="newest"/>)",
     "", {"BS219@c"}},
    {"business rule task without decision",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="b"/><bpmn:businessRuleTask id="b"/>)", "",
     {"BS220@b"}},
    {"script task in another language",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="t"/>
        <bpmn:scriptTask id="t" scriptFormat="groovy"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>)",
     "", {"BS221@t"}},
    {"script task without result variable",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="t"/>
        <bpmn:scriptTask id="t" bs:expression="=1 + 1"/>)",
     "", {"BS221@t"}},
    {"multi-instance without cardinality or collection",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="t"/>
        <bpmn:task id="t"><bpmn:multiInstanceLoopCharacteristics/></bpmn:task>)",
     "", {"BS222@t"}},
    {"link throw without catch",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="l"/>
        <bpmn:intermediateThrowEvent id="l"><bpmn:linkEventDefinition name="A"/></bpmn:intermediateThrowEvent>)",
     "", {"BS223@l"}},
    {"event subprocess with a none start event",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="e"/><bpmn:endEvent id="e"/>
        <bpmn:subProcess id="es" triggeredByEvent="true"><bpmn:startEvent id="es1"/></bpmn:subProcess>)",
     "", {"BS224@es1"}},
    {"conditional event without condition",
     R"(<bpmn:startEvent id="s"><bpmn:conditionalEventDefinition/></bpmn:startEvent>)", "", {"BS225@s"}},
    {"compensation boundary without handler",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="t"/><bpmn:task id="t"/>
        <bpmn:boundaryEvent id="b" attachedToRef="t"><bpmn:compensateEventDefinition/></bpmn:boundaryEvent>)",
     "", {"BS227@b"}},
    {"flow node without id",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="e"/><bpmn:endEvent id="e"/><bpmn:task name="x"/>)",
     "", {"BS102@"}},
    {"cancel end event nested deeper than its transaction",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="tx"/>
        <bpmn:transaction id="tx"><bpmn:startEvent id="ts"/><bpmn:sequenceFlow id="t1" sourceRef="ts" targetRef="inner"/>
          <bpmn:subProcess id="inner"><bpmn:startEvent id="is"/><bpmn:sequenceFlow id="i1" sourceRef="is" targetRef="c"/>
            <bpmn:endEvent id="c"><bpmn:cancelEventDefinition/></bpmn:endEvent></bpmn:subProcess></bpmn:transaction>)",
     "", {"BS211@c"}},
    {"compensation event subprocess",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="e"/><bpmn:endEvent id="e"/>
        <bpmn:subProcess id="es" triggeredByEvent="true"><bpmn:startEvent id="cs"><bpmn:compensateEventDefinition/></bpmn:startEvent></bpmn:subProcess>)",
     "", {"BS211@cs"}},
    {"sequence flow across a subprocess boundary",
     R"(<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="inner"/>
        <bpmn:subProcess id="sub"><bpmn:startEvent id="s2"/><bpmn:task id="inner"/></bpmn:subProcess>)",
     "", {"BS104@f0"}},
};

class RuleTest : public ::testing::TestWithParam<RuleCase> {};

TEST_P(RuleTest, ReportsExactlyTheExpectedErrors) {
  const RuleCase& c = GetParam();
  LoadResult r = load_bpmn(wrap(c.body, c.extra));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(codes(r), ::testing::UnorderedElementsAreArray(c.expected_errors)) << dump(r);
}

std::string case_name(const ::testing::TestParamInfo<RuleCase>& info) {
  std::string out;
  for (const char* p = info.param.name; *p; ++p) out += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
  return out;
}

INSTANTIATE_TEST_SUITE_P(Rules, RuleTest, ::testing::ValuesIn(kCases), case_name);

TEST(Validate, NonExecutableProcessesGetStructuralChecksOnly) {
  LoadResult r = load_bpmn(wrap(R"(<bpmn:userTask id="u"/><bpmn:serviceTask id="t"/>)", "", false));
  EXPECT_TRUE(r.ok()) << dump(r);
  LoadResult dup = load_bpmn(wrap(R"(<bpmn:task id="t"/><bpmn:task id="t"/>)", "", false));
  EXPECT_FALSE(dup.ok());
}

TEST(Validate, UnreachableElementIsAWarning) {
  LoadResult r = load_bpmn(wrap(std::string(kTimerStart) + R"(<bpmn:task id="lonely"/>)"));
  EXPECT_TRUE(r.ok()) << dump(r);
  EXPECT_THAT(codes(r, Severity::kWarning), ::testing::ElementsAre("BS215@lonely"));
}

TEST(Validate, NoProcessAtAll) {
  LoadResult r = load_bpmn(R"(<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"/>)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(codes(r), ::testing::ElementsAre("BS105@d"));
}

TEST(Validate, ValidProcessWithEveryExecutableConstructPasses) {
  std::string body = R"(
  <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="split"/>
  <bpmn:parallelGateway id="split"/>
  <bpmn:sequenceFlow id="f1" sourceRef="split" targetRef="u"/>
  <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="wait"/>
  <bpmn:userTask id="u" bs:candidateGroups="dpf" bs:dueDate="2026-12-01T17:00:00+08:00"/>
  <bpmn:boundaryEvent id="late" attachedToRef="u" cancelActivity="false">
    <bpmn:timerEventDefinition><bpmn:timeCycle>R3/P1D</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
  <bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="remind"/>
  <bpmn:intermediateThrowEvent id="remind"><bpmn:escalationEventDefinition escalationRef="esc"/></bpmn:intermediateThrowEvent>
  <bpmn:sequenceFlow id="f3b" sourceRef="remind" targetRef="remindEnd"/><bpmn:endEvent id="remindEnd"/>
  <bpmn:receiveTask id="wait" messageRef="msg"/>
  <bpmn:sequenceFlow id="f4" sourceRef="u" targetRef="join"/>
  <bpmn:sequenceFlow id="f5" sourceRef="wait" targetRef="join"/>
  <bpmn:parallelGateway id="join"/>
  <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="rule"/>
  <bpmn:businessRuleTask id="rule" bs:decisionRef="eligibility" bs:resultVariable="eligible"/>
  <bpmn:sequenceFlow id="f7" sourceRef="rule" targetRef="done"/>
  <bpmn:endEvent id="done"><bpmn:errorEventDefinition errorRef="err"/></bpmn:endEvent>)";
  std::string extra = R"(<bpmn:message id="msg" name="assessment-done" bs:correlationKey="=applicationId"/>
    <bpmn:escalation id="esc" name="overdue" escalationCode="OVERDUE"/>
    <bpmn:error id="err" name="rejected" errorCode="REJECTED"/>)";
  LoadResult r = load_bpmn(wrap(body, extra));
  EXPECT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(codes(r, Severity::kWarning).empty()) << dump(r);
}

}  // namespace
}  // namespace banshi::model
