// The loader: structure, encodings, extensions, diagram, positions and hostile input.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/load.h"
#include "test_util.h"

namespace banshi::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::codes;
using testing::dump;
using testing::wrap;

const char* kStraightThrough = R"(
  <bpmn:startEvent id="start"/>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check"/>
  <bpmn:serviceTask id="check" name="核验户籍" bs:connector="data-sharing.check-household" bs:retries="5"/>
  <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="gw"/>
  <bpmn:exclusiveGateway id="gw" default="f4"/>
  <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="ok">
    <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=matched = true</bpmn:conditionExpression>
  </bpmn:sequenceFlow>
  <bpmn:sequenceFlow id="f4" sourceRef="gw" targetRef="no"/>
  <bpmn:endEvent id="ok"/>
  <bpmn:endEvent id="no"/>)";

TEST(Load, StraightThroughProcess) {
  LoadResult r = load_bpmn(wrap(kStraightThrough));
  ASSERT_TRUE(r.ok()) << dump(r);
  ASSERT_EQ(r.definitions->processes.size(), 1u);
  const Process& p = r.definitions->processes[0];
  EXPECT_EQ(p.id, "p");
  EXPECT_TRUE(p.executable);
  EXPECT_EQ(p.nodes.size(), 5u);
  EXPECT_EQ(p.flows.size(), 4u);
  ASSERT_EQ(p.start_events.size(), 1u);
  const FlowNode* check = p.find("check");
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(check->type, ElementType::kServiceTask);
  EXPECT_EQ(check->name, "核验户籍");
  ASSERT_TRUE(check->job.has_value());
  EXPECT_EQ(check->job->type, "data-sharing.check-household");
  EXPECT_EQ(check->job->retries.text, "5");
  const FlowNode* gw = p.find("gw");
  ASSERT_NE(gw, nullptr);
  ASSERT_EQ(gw->outgoing.size(), 2u);
  EXPECT_EQ(p.flows[gw->default_flow].id, "f4");
  const SequenceFlow& f3 = p.flows[gw->outgoing[0]];
  EXPECT_EQ(f3.id, "f3");
  EXPECT_TRUE(f3.condition.is_feel);
  EXPECT_EQ(f3.condition.text, "matched = true");
  EXPECT_TRUE(f3.condition.compiled.has_value());
  EXPECT_TRUE(p.flows[gw->default_flow].is_default);
}

TEST(Load, AnyPrefixAndDefaultNamespace) {
  std::string xml = R"(<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
    <process id="p1" isExecutable="false"><startEvent id="s"/></process></definitions>)";
  LoadResult r = load_bpmn(xml);
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.definitions->processes[0].nodes[0].type, ElementType::kStartEvent);
  std::string other = R"(<semantic:definitions xmlns:semantic="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
    <semantic:process id="p1"><semantic:task id="t"/></semantic:process></semantic:definitions>)";
  LoadResult r2 = load_bpmn(other);
  ASSERT_TRUE(r2.ok()) << dump(r2);
  EXPECT_EQ(r2.definitions->processes[0].nodes[0].type, ElementType::kTask);
}

TEST(Load, ElementsInAForeignNamespaceAreNotBpmn) {
  std::string xml = R"(<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:x="urn:x" id="d">
    <bpmn:process id="p1"><x:task id="t"/><bpmn:task id="t2"/></bpmn:process></bpmn:definitions>)";
  LoadResult r = load_bpmn(xml);
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.definitions->processes[0].nodes.size(), 1u);
}

TEST(Load, UserTaskBanshiAndZeebeExtensions) {
  std::string body = R"xml(
  <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
  <bpmn:userTask id="review" bs:candidateGroups="dpf-county" bs:dueDate="=now() + duration(&quot;P10D&quot;)"
                 bs:formKey="dpf-review" bs:region="=applicant.region">
    <bpmn:extensionElements>
      <bs:ioMapping><bs:input source="=applicant.name" target="name"/><bs:output source="=approved" target="reviewApproved"/></bs:ioMapping>
    </bpmn:extensionElements>
  </bpmn:userTask>
  <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="zt"/>
  <bpmn:userTask id="zt">
    <bpmn:extensionElements>
      <zeebe:assignmentDefinition candidateGroups="civil-affairs" assignee="=initiator"/>
      <zeebe:taskSchedule dueDate="2026-12-31T17:00:00+08:00"/>
      <zeebe:formDefinition formKey="subsidy"/>
    </bpmn:extensionElements>
  </bpmn:userTask>
  <bpmn:sequenceFlow id="f3" sourceRef="zt" targetRef="e"/><bpmn:endEvent id="e"/>)xml";
  LoadResult r = load_bpmn(wrap(body));
  ASSERT_TRUE(r.ok()) << dump(r);
  const Process& p = r.definitions->processes[0];
  const FlowNode* review = p.find("review");
  ASSERT_TRUE(review && review->user_task);
  EXPECT_EQ(review->user_task->candidate_groups.text, "dpf-county");
  EXPECT_FALSE(review->user_task->candidate_groups.is_feel);
  EXPECT_TRUE(review->user_task->due_date.is_feel);
  EXPECT_EQ(review->user_task->due_date.text, "now() + duration(\"P10D\")");
  EXPECT_TRUE(review->user_task->region.is_feel);
  EXPECT_EQ(review->user_task->form_key.text, "dpf-review");
  ASSERT_EQ(review->inputs.size(), 1u);
  EXPECT_EQ(review->inputs[0].target, "name");
  EXPECT_EQ(review->inputs[0].source.text, "applicant.name");
  ASSERT_EQ(review->outputs.size(), 1u);
  EXPECT_EQ(review->outputs[0].target, "reviewApproved");
  const FlowNode* zt = p.find("zt");
  ASSERT_TRUE(zt && zt->user_task);
  EXPECT_EQ(zt->user_task->candidate_groups.text, "civil-affairs");
  EXPECT_EQ(zt->user_task->assignee.text, "initiator");
  EXPECT_TRUE(zt->user_task->assignee.is_feel);
  EXPECT_EQ(zt->user_task->due_date.text, "2026-12-31T17:00:00+08:00");
  EXPECT_EQ(zt->user_task->form_key.text, "subsidy");
}

TEST(Load, ZeebeServiceTaskCallActivityScriptAndMultiInstance) {
  std::string body = R"(
  <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="job"/>
  <bpmn:serviceTask id="job"><bpmn:extensionElements>
      <zeebe:taskDefinition type="dpf.issue-certificate" retries="3"/>
      <zeebe:taskHeaders><zeebe:header key="channel" value="window"/></zeebe:taskHeaders>
      <zeebe:ioMapping><zeebe:input source="=id" target="certificateId"/></zeebe:ioMapping>
  </bpmn:extensionElements></bpmn:serviceTask>
  <bpmn:sequenceFlow id="f2" sourceRef="job" targetRef="call"/>
  <bpmn:callActivity id="call"><bpmn:extensionElements>
      <zeebe:calledElement processId="subsidy-application" propagateAllChildVariables="false"/>
  </bpmn:extensionElements></bpmn:callActivity>
  <bpmn:sequenceFlow id="f3" sourceRef="call" targetRef="sum"/>
  <bpmn:scriptTask id="sum"><bpmn:extensionElements>
      <zeebe:script expression="=a + b" resultVariable="total"/>
  </bpmn:extensionElements></bpmn:scriptTask>
  <bpmn:sequenceFlow id="f4" sourceRef="sum" targetRef="each"/>
  <bpmn:serviceTask id="each" bs:connector="civil-affairs.notify">
    <bpmn:multiInstanceLoopCharacteristics isSequential="true"><bpmn:extensionElements>
      <zeebe:loopCharacteristics inputCollection="=departments" inputElement="department"
                                 outputCollection="replies" outputElement="=reply"/>
    </bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>
  </bpmn:serviceTask>
  <bpmn:sequenceFlow id="f5" sourceRef="each" targetRef="e"/><bpmn:endEvent id="e"/>)";
  LoadResult r = load_bpmn(wrap(body));
  ASSERT_TRUE(r.ok()) << dump(r);
  const Process& p = r.definitions->processes[0];
  const FlowNode* job = p.find("job");
  ASSERT_TRUE(job && job->job);
  EXPECT_EQ(job->job->type, "dpf.issue-certificate");
  EXPECT_EQ(job->job->headers.at("channel"), "window");
  ASSERT_EQ(job->inputs.size(), 1u);
  const FlowNode* call = p.find("call");
  ASSERT_TRUE(call && call->call);
  EXPECT_EQ(call->call->process_id.text, "subsidy-application");
  EXPECT_FALSE(call->call->propagate_all_child_variables);
  const FlowNode* sum = p.find("sum");
  ASSERT_TRUE(sum);
  EXPECT_EQ(sum->script.text, "a + b");
  EXPECT_TRUE(sum->script.compiled.has_value());
  EXPECT_EQ(sum->result_variable, "total");
  const FlowNode* each = p.find("each");
  ASSERT_TRUE(each && each->multi_instance);
  EXPECT_TRUE(each->multi_instance->sequential);
  EXPECT_EQ(each->multi_instance->input_collection.text, "departments");
  EXPECT_EQ(each->multi_instance->input_element, "department");
  EXPECT_EQ(each->multi_instance->output_collection, "replies");
  EXPECT_EQ(each->multi_instance->output_element.text, "reply");
}

TEST(Load, SubprocessScopesBoundaryAndEventSubprocess) {
  std::string body = R"(
  <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="sub"/>
  <bpmn:subProcess id="sub">
    <bpmn:startEvent id="s2"/><bpmn:sequenceFlow id="f2" sourceRef="s2" targetRef="t"/>
    <bpmn:task id="t"/><bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="e2"/><bpmn:endEvent id="e2"/>
  </bpmn:subProcess>
  <bpmn:boundaryEvent id="late" attachedToRef="sub" cancelActivity="false">
    <bpmn:timerEventDefinition><bpmn:timeDuration>P5D</bpmn:timeDuration></bpmn:timerEventDefinition>
  </bpmn:boundaryEvent>
  <bpmn:sequenceFlow id="f4" sourceRef="late" targetRef="e3"/><bpmn:endEvent id="e3"/>
  <bpmn:sequenceFlow id="f5" sourceRef="sub" targetRef="e"/><bpmn:endEvent id="e"/>
  <bpmn:subProcess id="onCancel" triggeredByEvent="true">
    <bpmn:startEvent id="cs" isInterrupting="true">
      <bpmn:messageEventDefinition messageRef="withdraw"/>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="f6" sourceRef="cs" targetRef="ce"/><bpmn:endEvent id="ce"/>
  </bpmn:subProcess>)";
  std::string extra = R"(<bpmn:message id="withdraw" name="application-withdrawn" bs:correlationKey="=applicationId"/>)";
  LoadResult r = load_bpmn(wrap(body, extra));
  ASSERT_TRUE(r.ok()) << dump(r);
  const Process& p = r.definitions->processes[0];
  const FlowNode* sub = p.find("sub");
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->children.size(), 3u);
  ASSERT_EQ(sub->start_events.size(), 1u);
  EXPECT_EQ(p.nodes[sub->start_events[0]].id, "s2");
  ASSERT_EQ(sub->boundary_events.size(), 1u);
  const FlowNode& late = p.nodes[sub->boundary_events[0]];
  EXPECT_EQ(late.id, "late");
  EXPECT_FALSE(late.interrupting);
  EXPECT_EQ(late.event_kind, EventKind::kTimer);
  EXPECT_EQ(late.events[0].timer.kind, TimerKind::kDuration);
  EXPECT_EQ(late.events[0].timer.value.text, "P5D");
  ASSERT_EQ(p.event_subprocesses.size(), 1u);
  const FlowNode& on_cancel = p.nodes[p.event_subprocesses[0]];
  EXPECT_EQ(on_cancel.type, ElementType::kEventSubProcess);
  ASSERT_EQ(on_cancel.start_events.size(), 1u);
  const FlowNode& cs = p.nodes[on_cancel.start_events[0]];
  EXPECT_EQ(cs.event_kind, EventKind::kMessage);
  EXPECT_EQ(r.definitions->messages[cs.events[0].ref].name, "application-withdrawn");
  EXPECT_EQ(r.definitions->messages[0].correlation_key.text, "applicationId");
  // The process-level start events exclude those of subprocesses.
  ASSERT_EQ(p.start_events.size(), 1u);
  EXPECT_EQ(p.nodes[p.start_events[0]].id, "s");
}

TEST(Load, CollaborationLanesAndDiagram) {
  std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="d">
  <bpmn:collaboration id="c">
    <bpmn:participant id="pa" name="残联" processRef="p1"/>
    <bpmn:participant id="pb" name="民政" processRef="p2"/>
    <bpmn:messageFlow id="mf" sourceRef="t1" targetRef="t2"/>
  </bpmn:collaboration>
  <bpmn:process id="p1">
    <bpmn:laneSet id="ls"><bpmn:lane id="l1" name="受理"><bpmn:flowNodeRef>t1</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:task id="t1"/>
  </bpmn:process>
  <bpmn:process id="p2"><bpmn:task id="t2"/></bpmn:process>
  <bpmndi:BPMNDiagram id="dia"><bpmndi:BPMNPlane id="pl" bpmnElement="c">
    <bpmndi:BPMNShape id="t1_di" bpmnElement="t1"><dc:Bounds x="10" y="20.5" width="100" height="80"/></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="mf_di" bpmnElement="mf"><di:waypoint x="60" y="100"/><di:waypoint x="60" y="300"/></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>)";
  LoadResult r = load_bpmn(xml);
  ASSERT_TRUE(r.ok()) << dump(r);
  const Definitions& d = *r.definitions;
  ASSERT_EQ(d.collaborations.size(), 1u);
  EXPECT_EQ(d.collaborations[0].participants.size(), 2u);
  EXPECT_EQ(d.collaborations[0].participants[1].process_ref, "p2");
  ASSERT_EQ(d.collaborations[0].message_flows.size(), 1u);
  EXPECT_EQ(d.collaborations[0].message_flows[0].target_ref, "t2");
  ASSERT_EQ(d.processes[0].lanes.size(), 1u);
  EXPECT_THAT(d.processes[0].lanes[0].flow_node_refs, ElementsAre("t1"));
  ASSERT_EQ(d.diagrams.size(), 1u);
  ASSERT_EQ(d.diagrams[0].shapes.size(), 1u);
  EXPECT_EQ(d.diagrams[0].shapes[0].element_id, "t1");
  EXPECT_DOUBLE_EQ(d.diagrams[0].shapes[0].bounds.y, 20.5);
  ASSERT_EQ(d.diagrams[0].edges.size(), 1u);
  EXPECT_EQ(d.diagrams[0].edges[0].waypoints.size(), 2u);
}

// ---- encodings -------------------------------------------------------------

std::string to_utf16(const std::string& ascii_or_utf8, bool big_endian, bool bom) {
  // Enough for the test documents: ASCII plus a few BMP characters.
  std::u32string cps;
  for (size_t i = 0; i < ascii_or_utf8.size();) {
    unsigned char c = static_cast<unsigned char>(ascii_or_utf8[i]);
    char32_t cp;
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(ascii_or_utf8[i + k]) & 0x3F);
    cps.push_back(cp);
    i += len;
  }
  std::string out;
  auto put = [&](uint16_t u) {
    char hi = static_cast<char>(u >> 8), lo = static_cast<char>(u & 0xFF);
    if (big_endian) {
      out += hi;
      out += lo;
    } else {
      out += lo;
      out += hi;
    }
  };
  if (bom) put(0xFEFF);
  for (char32_t cp : cps) put(static_cast<uint16_t>(cp));
  return out;
}

const char* kTiny = R"(<?xml version="1.0" encoding="UTF-16"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"><process id="p"><task id="t" name="审核"/></process></definitions>)";

TEST(LoadEncoding, Utf16AllForms) {
  for (bool be : {false, true}) {
    for (bool bom : {false, true}) {
      LoadResult r = load_bpmn(to_utf16(kTiny, be, bom));
      ASSERT_TRUE(r.ok()) << "be=" << be << " bom=" << bom << "\n" << dump(r);
      EXPECT_EQ(r.definitions->processes[0].nodes[0].name, "审核");
    }
  }
}

TEST(LoadEncoding, Latin1IsConverted) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n"
                    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\">"
                    "<process id=\"p\"><task id=\"t\" name=\"Pr\xFC" "fung\"/></process></definitions>";
  LoadResult r = load_bpmn(xml);
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.definitions->processes[0].nodes[0].name, "Pr\xC3\xBC" "fung");
}

TEST(LoadEncoding, Gb18030IsConverted) {
  // "审核" in GBK is C9 F3 BA CB.
  std::string xml = "<?xml version=\"1.0\" encoding=\"GBK\"?>\n"
                    "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\">"
                    "<process id=\"p\"><task id=\"t\" name=\"\xC9\xF3\xBA\xCB\"/></process></definitions>";
  LoadResult r = load_bpmn(xml);
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.definitions->processes[0].nodes[0].name, "审核");
}

TEST(LoadEncoding, Utf8BomIsAccepted) {
  std::string xml = "\xEF\xBB\xBF<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"d\">"
                    "<process id=\"p\"><task id=\"t\"/></process></definitions>";
  EXPECT_TRUE(load_bpmn(xml).ok());
}

// ---- hostile and broken input ---------------------------------------------

Diagnostic only_error(const LoadResult& r) {
  EXPECT_EQ(r.definitions, nullptr);
  EXPECT_EQ(r.diagnostics.size(), 1u) << dump(r);
  return r.diagnostics.empty() ? Diagnostic{} : r.diagnostics[0];
}

TEST(LoadHostile, NotXml) {
  Diagnostic d = only_error(load_bpmn("this is not XML at all"));
  EXPECT_EQ(d.code, "BS001");
  d = only_error(load_bpmn(""));
  EXPECT_EQ(d.code, "BS001");
  d = only_error(load_bpmn("\x89PNG\r\n\x1a\n"));
  EXPECT_EQ(d.code, "BS007");
}

TEST(LoadHostile, MalformedXmlHasLineAndColumn) {
  std::string xml = "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">\n"
                    "  <process id=\"p\">\n"
                    "    <task id=\"t\">\n"
                    "  </process>\n"
                    "</definitions>\n";
  Diagnostic d = only_error(load_bpmn(xml));
  EXPECT_EQ(d.code, "BS001");
  EXPECT_EQ(d.pos.line, 4u);
  EXPECT_THAT(d.message, HasSubstr("malformed XML"));
  EXPECT_EQ(format_diagnostic(d, "x.bpmn").rfind("x.bpmn:4:", 0), 0u) << format_diagnostic(d, "x.bpmn");
}

TEST(LoadHostile, WrongRoot) {
  Diagnostic d = only_error(load_bpmn("<definitions xmlns=\"https://www.omg.org/spec/DMN/20191111/MODEL/\"/>"));
  EXPECT_EQ(d.code, "BS002");
  d = only_error(load_bpmn("<html><body/></html>"));
  EXPECT_EQ(d.code, "BS002");
}

TEST(LoadHostile, DuplicateIdsAreAllReported) {
  LoadResult r = load_bpmn(wrap(R"(<bpmn:startEvent id="x"/><bpmn:endEvent id="x"/>
    <bpmn:sequenceFlow id="x" sourceRef="x" targetRef="x"/>)"));
  EXPECT_FALSE(r.ok());
  int dups = 0;
  for (const auto& d : r.diagnostics) dups += d.code == "BS101";
  EXPECT_EQ(dups, 2) << dump(r);
}

TEST(LoadHostile, UnboundPrefix) {
  LoadResult r = load_bpmn(wrap(R"(<bpmn:startEvent id="s" foo:bar="1"/><nope:task id="t"/>)"));
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(codes(r), ElementsAre("BS003@s", "BS003@t")) << dump(r);
  LoadResult root = load_bpmn("<bpmn:definitions id=\"d\"/>");
  EXPECT_FALSE(root.ok());
}

TEST(LoadHostile, DanglingReferences) {
  LoadResult r = load_bpmn(wrap(R"(
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="ghost"/>
    <bpmn:boundaryEvent id="b" attachedToRef="nothing"><bpmn:timerEventDefinition>
      <bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:intermediateCatchEvent id="m"><bpmn:messageEventDefinition messageRef="nomsg"/></bpmn:intermediateCatchEvent>)"));
  EXPECT_FALSE(r.ok());
  auto c = codes(r);
  EXPECT_THAT(c, ::testing::IsSupersetOf({"BS103@f", "BS209@b", "BS103@m"})) << dump(r);
}

TEST(LoadHostile, DeepNestingIsRefused) {
  std::string xml = "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"><process id=\"p\">";
  for (int i = 0; i < 100000; ++i) xml += "<subProcess>";
  Diagnostic d = only_error(load_bpmn(xml));
  // Unclosed tags are malformed; closed ones are refused for depth.
  EXPECT_TRUE(d.code == "BS001" || d.code == "BS005") << d.code;
  std::string closed = "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"><process id=\"p\">";
  for (int i = 0; i < 5000; ++i) closed += "<subProcess id=\"s" + std::to_string(i) + "\">";
  for (int i = 0; i < 5000; ++i) closed += "</subProcess>";
  closed += "</process></definitions>";
  d = only_error(load_bpmn(closed));
  EXPECT_EQ(d.code, "BS005");
}

TEST(LoadHostile, HugeAttributeAndDocument) {
  std::string big(100000, 'a');
  Diagnostic d = only_error(load_bpmn(wrap("<bpmn:task id=\"t\" name=\"" + big + "\"/>")));
  EXPECT_EQ(d.code, "BS004");
  EXPECT_EQ(d.pos.line, 6u);
  LoadLimits small;
  small.max_bytes = 100;
  d = only_error(load_bpmn(wrap("<bpmn:task id=\"t\"/>"), small));
  EXPECT_EQ(d.code, "BS004");
}

TEST(LoadHostile, EntityExpansionIsRefused) {
  std::string lol = R"(<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"><task id="t" name="&lol3;"/></process></definitions>)";
  Diagnostic d = only_error(load_bpmn(lol));
  EXPECT_EQ(d.code, "BS006");
  EXPECT_EQ(d.pos.line, 2u);
  std::string external = R"(<?xml version="1.0"?><!DOCTYPE d SYSTEM "file:///etc/passwd"><definitions/>)";
  EXPECT_EQ(only_error(load_bpmn(external)).code, "BS006");
}

TEST(LoadHostile, InvalidEncodings) {
  std::string bad_utf8 = "<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">\n<process id=\"\xC3\x28\"/></definitions>";
  Diagnostic d = only_error(load_bpmn(bad_utf8));
  EXPECT_EQ(d.code, "BS007");
  EXPECT_EQ(d.pos.line, 2u);
  EXPECT_EQ(d.pos.column, 14u);
  std::string overlong = "<definitions name=\"\xC0\xAF\"/>";
  EXPECT_EQ(only_error(load_bpmn(overlong)).code, "BS007");
  std::string nul = std::string("<definitions name=\"a") + '\0' + "b\"/>";
  EXPECT_EQ(only_error(load_bpmn(nul)).code, "BS007");
  std::string unknown = "<?xml version=\"1.0\" encoding=\"EBCDIC-XYZ\"?><definitions/>";
  d = only_error(load_bpmn(unknown));
  EXPECT_EQ(d.code, "BS007");
  EXPECT_THAT(d.message, HasSubstr("ebcdic-xyz"));
  std::string lying = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><definitions/>";
  EXPECT_EQ(only_error(load_bpmn(lying)).code, "BS007");
  std::string bad_gbk = "<?xml version=\"1.0\" encoding=\"GBK\"?>\n<definitions name=\"\xFF\xFF\"/>";
  d = only_error(load_bpmn(bad_gbk));
  EXPECT_EQ(d.code, "BS007");
  EXPECT_EQ(d.pos.line, 2u);
  std::string utf32 = std::string("\x00\x00\xFE\xFF", 4) + std::string("\x00\x00\x00<", 4);
  EXPECT_EQ(only_error(load_bpmn(utf32)).code, "BS007");
}

// ---- positions --------------------------------------------------------------

TEST(LoadPositions, ExpressionErrorsPointIntoTheAttribute) {
  // Line 6 of the wrapped document; the '=' is followed by "a +" which ends early.
  LoadResult r = load_bpmn(wrap(R"(<bpmn:userTask id="u" bs:candidateGroups="dpf" bs:assignee="=a +"/>)"));
  ASSERT_FALSE(r.ok());
  const Diagnostic* found = nullptr;
  for (const auto& d : r.diagnostics) {
    if (d.code == "BS208") found = &d;
  }
  ASSERT_NE(found, nullptr) << dump(r);
  EXPECT_EQ(found->pos.line, 6u);
  // Column of the attribute value is 62; the error is at or after the '+'.
  EXPECT_GE(found->pos.column, 63u) << format_diagnostic(*found, "t");
  EXPECT_EQ(found->element_id, "u");
}

TEST(LoadPositions, ConditionErrorsPointIntoTheText) {
  LoadResult r = load_bpmn(wrap(R"(<bpmn:startEvent id="s"/>
<bpmn:exclusiveGateway id="g" default="f2"/>
<bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="e">
  <bpmn:conditionExpression>
     = x + * 3</bpmn:conditionExpression>
</bpmn:sequenceFlow><bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e"/><bpmn:endEvent id="e"/>)"));
  ASSERT_FALSE(r.ok());
  const Diagnostic* found = nullptr;
  for (const auto& d : r.diagnostics) {
    if (d.code == "BS208") found = &d;
  }
  ASSERT_NE(found, nullptr) << dump(r);
  EXPECT_EQ(found->pos.line, 10u);
  EXPECT_GE(found->pos.column, 8u);
  EXPECT_EQ(found->element_id, "f1");
}

TEST(LoadPositions, ElementPositionsAreLineAndColumnOfTheTag) {
  LoadResult r = load_bpmn(wrap("<bpmn:task id=\"t\"/>\n   <bpmn:userTask id=\"u\"/>"));
  const FlowNode* u = r.definitions->processes[0].find("u");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->pos.line, 7u);
  EXPECT_EQ(u->pos.column, 4u);
}

}  // namespace
}  // namespace banshi::model
