// Reads BPMN 2.0 XML into Definitions. Structure here; the executable rules
// live in validate.cc. See load.h for the contract.
#include "model/load.h"

#include <charconv>
#include <cstring>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "model/iso8601.h"
#include "model/validate.h"
#include "model/xml_document.h"

namespace banshi::model {
namespace {

struct TypeName {
  std::string_view xml;
  ElementType type;
};
constexpr TypeName kFlowNodeTypes[] = {
    {"startEvent", ElementType::kStartEvent},
    {"endEvent", ElementType::kEndEvent},
    {"intermediateCatchEvent", ElementType::kIntermediateCatchEvent},
    {"intermediateThrowEvent", ElementType::kIntermediateThrowEvent},
    {"boundaryEvent", ElementType::kBoundaryEvent},
    {"task", ElementType::kTask},
    {"userTask", ElementType::kUserTask},
    {"serviceTask", ElementType::kServiceTask},
    {"sendTask", ElementType::kSendTask},
    {"receiveTask", ElementType::kReceiveTask},
    {"businessRuleTask", ElementType::kBusinessRuleTask},
    {"scriptTask", ElementType::kScriptTask},
    {"manualTask", ElementType::kManualTask},
    {"exclusiveGateway", ElementType::kExclusiveGateway},
    {"parallelGateway", ElementType::kParallelGateway},
    {"inclusiveGateway", ElementType::kInclusiveGateway},
    {"eventBasedGateway", ElementType::kEventBasedGateway},
    {"complexGateway", ElementType::kComplexGateway},
    {"subProcess", ElementType::kSubProcess},
    {"transaction", ElementType::kTransaction},
    {"adHocSubProcess", ElementType::kAdHocSubProcess},
    {"callActivity", ElementType::kCallActivity},
};

struct EventName {
  std::string_view xml;
  EventKind kind;
};
constexpr EventName kEventDefinitions[] = {
    {"messageEventDefinition", EventKind::kMessage},
    {"timerEventDefinition", EventKind::kTimer},
    {"errorEventDefinition", EventKind::kError},
    {"escalationEventDefinition", EventKind::kEscalation},
    {"cancelEventDefinition", EventKind::kCancel},
    {"compensateEventDefinition", EventKind::kCompensate},
    {"conditionalEventDefinition", EventKind::kConditional},
    {"linkEventDefinition", EventKind::kLink},
    {"signalEventDefinition", EventKind::kSignal},
    {"terminateEventDefinition", EventKind::kTerminate},
};

// banshi extension attributes each element kind accepts (docs/designer-guide.md).
const std::unordered_map<std::string_view, std::vector<std::string_view>>& allowed_banshi_attributes() {
  static const std::unordered_map<std::string_view, std::vector<std::string_view>> kAllowed = {
      {"serviceTask", {"connector", "topic", "retries", "retryBackoff", "timeout"}},
      {"sendTask", {"connector", "topic", "retries", "retryBackoff", "timeout", "correlationKey"}},
      {"intermediateThrowEvent", {"connector", "topic", "retries", "retryBackoff", "timeout", "correlationKey"}},
      {"endEvent", {"connector", "topic", "retries", "retryBackoff", "timeout", "correlationKey"}},
      {"userTask",
       {"assignee", "candidateGroups", "candidateUsers", "dueDate", "followUpDate", "formKey", "priority", "region"}},
      {"scriptTask", {"expression", "resultVariable"}},
      {"businessRuleTask", {"decisionRef", "resultVariable", "connector", "topic", "retries", "retryBackoff", "timeout"}},
      {"callActivity", {"processId", "versionBinding", "version", "propagateAllChildVariables",
                        "propagateAllParentVariables"}},
      {"receiveTask", {"correlationKey"}},
      {"intermediateCatchEvent", {"correlationKey"}},
      {"boundaryEvent", {"correlationKey"}},
      {"startEvent", {"correlationKey"}},
      {"message", {"correlationKey"}},
      {"multiInstanceLoopCharacteristics", {"collection", "elementVariable", "outputCollection", "outputElement"}},
  };
  return kAllowed;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// A QName-typed reference ("tns:Message_1") names an id; drop the prefix.
std::string strip_prefix(std::string_view ref) {
  size_t colon = ref.find(':');
  return std::string(colon == std::string_view::npos ? ref : ref.substr(colon + 1));
}

class Reader {
 public:
  Reader(const XmlDocument& doc, std::vector<Diagnostic>& diagnostics) : doc_(doc), diags_(diagnostics) {}

  std::shared_ptr<Definitions> read() {
    pugi::xml_node root = doc_.root();
    check_names_and_ids(root, 0);
    ns_.push(root);
    auto name = ns_.element_name(root);
    if (name.ns != kBpmnModelNs || name.local != "definitions") {
      error("BS002", doc_.pos(root), "",
            fmt::format("this is not a BPMN 2.0 document: the root element is '{}'{}, expected 'definitions' in "
                        "the namespace {}",
                        root.name(), name.ns.empty() ? std::string() : fmt::format(" in namespace {}", name.ns),
                        kBpmnModelNs));
      return nullptr;
    }
    auto defs = std::make_shared<Definitions>();
    defs_ = defs.get();
    defs->id = root.attribute("id").value();
    defs->name = root.attribute("name").value();
    defs->target_namespace = root.attribute("targetNamespace").value();
    // Messages, signals, errors and escalations first: processes refer to them.
    for_each_child(root, [&](pugi::xml_node child, const NamespaceScope::Name& n) {
      if (n.ns != kBpmnModelNs) return;
      if (n.local == "message") read_message(child);
      if (n.local == "signal") defs->signals.push_back({child.attribute("id").value(), child.attribute("name").value(), doc_.pos(child)});
      if (n.local == "error") {
        defs->errors.push_back({child.attribute("id").value(), child.attribute("name").value(),
                                child.attribute("errorCode").value(), doc_.pos(child)});
      }
      if (n.local == "escalation") {
        defs->escalations.push_back({child.attribute("id").value(), child.attribute("name").value(),
                                     child.attribute("escalationCode").value(), doc_.pos(child)});
      }
    });
    for_each_child(root, [&](pugi::xml_node child, const NamespaceScope::Name& n) {
      if (n.ns == kBpmnModelNs && n.local == "process") read_process(child);
      if (n.ns == kBpmnModelNs && n.local == "collaboration") read_collaboration(child);
      if (n.ns == kBpmnDiNs && n.local == "BPMNDiagram") read_diagram(child);
    });
    ns_.pop();
    return defs;
  }

 private:
  void error(std::string code, SourcePos pos, std::string element_id, std::string message) {
    diags_.push_back(Diagnostic{Severity::kError, std::move(code), pos, std::move(element_id), std::move(message)});
  }
  void warning(std::string code, SourcePos pos, std::string element_id, std::string message) {
    diags_.push_back(Diagnostic{Severity::kWarning, std::move(code), pos, std::move(element_id), std::move(message)});
  }

  // Calls fn for each child element with its resolved name, keeping the
  // namespace scope right for anything fn reads.
  template <typename Fn>
  void for_each_child(pugi::xml_node parent, Fn&& fn) {
    for (pugi::xml_node child = parent.first_child(); child; child = child.next_sibling()) {
      if (child.type() != pugi::node_element) continue;
      ns_.push(child);
      fn(child, ns_.element_name(child));
      ns_.pop();
    }
  }

  // One pass over every element: namespace prefixes are bound, BPMN ids are unique.
  // Depth is bounded by LoadLimits::max_depth, checked before this runs.
  void check_names_and_ids(pugi::xml_node node, size_t depth) {
    ns_.push(node);
    auto name = ns_.element_name(node);
    if (!name.bound) {
      std::string_view full = node.name();
      error("BS003", doc_.pos(node), node.attribute("id").value(),
            fmt::format("the namespace prefix '{}' of <{}> is not declared", full.substr(0, full.find(':')), full));
    }
    for (pugi::xml_attribute a : node.attributes()) {
      if (!ns_.attribute_name(a).bound) {
        std::string_view full = a.name();
        error("BS003", doc_.attribute_pos(node, a.name()), node.attribute("id").value(),
              fmt::format("the namespace prefix '{}' of attribute '{}' is not declared", full.substr(0, full.find(':')),
                          full));
      }
    }
    // Ids are unique among BPMN and BPMN DI elements; other vendors' extension
    // elements may repeat them (they often point back at the BPMN id).
    bool ours = name.bound && (name.ns == kBpmnModelNs || name.ns == kBpmnDiNs);
    if (pugi::xml_attribute id = node.attribute("id"); id && ours) {
      std::string value = id.value();
      auto [it, inserted] = ids_.emplace(value, doc_.pos(node));
      if (!inserted) {
        error("BS101", doc_.pos(node), value,
              fmt::format("the id '{}' is used twice; it was first used at line {}", value, it->second.line));
      }
    }
    for (pugi::xml_node child = node.first_child(); child; child = child.next_sibling()) {
      if (child.type() == pugi::node_element) check_names_and_ids(child, depth + 1);
    }
    ns_.pop();
  }

  // Attributes of the banshi namespace on an element, by local name. Unknown
  // ones are errors: a typo must not silently change what a process does.
  std::unordered_map<std::string, std::string> banshi_attributes(pugi::xml_node node, std::string_view kind) {
    std::unordered_map<std::string, std::string> out;
    const auto& allowed = allowed_banshi_attributes();
    auto it = allowed.find(kind);
    for (pugi::xml_attribute a : node.attributes()) {
      auto n = ns_.attribute_name(a);
      if (n.ns != kBanshiNs) continue;
      bool ok = it != allowed.end() &&
                std::find(it->second.begin(), it->second.end(), n.local) != it->second.end();
      if (!ok) {
        error("BS218", doc_.attribute_pos(node, a.name()), node.attribute("id").value(),
              fmt::format("'{}' is not a banshi attribute of <{}>", a.name(), kind));
        continue;
      }
      out.emplace(std::string(n.local), a.value());
      attr_names_[std::string(n.local)] = a.name();
    }
    return out;
  }

  // Builds an Expr from an attribute value: '=' starts FEEL; otherwise a literal.
  Expr attribute_expr(pugi::xml_node node, std::string_view qualified_name, std::string_view value,
                      bool always_feel = false) {
    Expr e;
    e.pos = doc_.attribute_pos(node, qualified_name);
    if (!value.empty() && value.front() == '=') {
      e.is_feel = true;
      e.text = std::string(value.substr(1));
      compile(e, node, 1);
    } else if (always_feel) {
      e.is_feel = true;
      e.text = std::string(value);
      compile(e, node, 0);
    } else {
      e.text = std::string(value);
    }
    return e;
  }

  // Builds an Expr from element text (conditions, scripts, loop cardinality):
  // always FEEL; a leading '=' is allowed.
  Expr text_expr(pugi::xml_node element, pugi::xml_node owner) {
    Expr e;
    e.pos = doc_.text_pos(element);
    std::string raw = element.text().get();
    // Step the position over leading white space so it points at the expression.
    size_t lead = 0;
    for (; lead < raw.size() && std::isspace(static_cast<unsigned char>(raw[lead])); ++lead) {
      if (raw[lead] == '\n') {
        ++e.pos.line;
        e.pos.column = 1;
      } else {
        ++e.pos.column;
      }
    }
    std::string body = trim(raw);
    uint32_t skip = 0;
    if (!body.empty() && body.front() == '=') {
      body.erase(0, 1);
      skip = 1;
    }
    e.is_feel = true;
    e.text = body;
    if (body.rfind("${", 0) == 0 || body.rfind("#{", 0) == 0) {
      error("BS208", e.pos, owner.attribute("id").value(),
            fmt::format("'{}' is a JUEL/UEL expression; banshi expressions are FEEL (write e.g. =amount > 1000)", body));
      return e;
    }
    compile(e, owner, skip);
    return e;
  }

  void compile(Expr& e, pugi::xml_node owner, uint32_t column_shift) {
    if (e.text.empty()) return;
    auto compiled = expr::Expression::compile(e.text);
    if (compiled.ok()) {
      e.compiled = std::move(compiled).value();
      return;
    }
    const auto& err = compiled.error();
    SourcePos at = e.pos;
    if (err.pos.line <= 1) {
      at.column += column_shift + err.pos.column - 1;
    } else {
      at.line += err.pos.line - 1;
      at.column = err.pos.column;
    }
    error("BS208", at, owner.attribute("id").value(),
          fmt::format("the expression '{}' does not compile: {}", e.text, err.message));
  }

  void read_message(pugi::xml_node node) {
    Message m{node.attribute("id").value(), node.attribute("name").value(), {}, doc_.pos(node)};
    auto attrs = banshi_attributes(node, "message");
    if (auto it = attrs.find("correlationKey"); it != attrs.end()) {
      m.correlation_key = attribute_expr(node, attr_names_["correlationKey"], it->second);
    }
    for_extension(node, [&](pugi::xml_node ext, const NamespaceScope::Name& n) {
      if (n.ns == kZeebeNs && n.local == "subscription") {
        m.correlation_key = attribute_expr(ext, "correlationKey", ext.attribute("correlationKey").value());
      }
    });
    defs_->messages.push_back(std::move(m));
  }

  template <typename Fn>
  void for_extension(pugi::xml_node node, Fn&& fn) {
    for_each_child(node, [&](pugi::xml_node child, const NamespaceScope::Name& n) {
      if (n.ns == kBpmnModelNs && n.local == "extensionElements") {
        for_each_child(child, [&](pugi::xml_node ext, const NamespaceScope::Name& en) { fn(ext, en); });
      }
    });
  }

  void read_process(pugi::xml_node node) {
    defs_->processes.emplace_back();
    Process& p = defs_->processes.back();
    process_ = &p;
    p.id = node.attribute("id").value();
    p.name = node.attribute("name").value();
    p.executable = node.attribute("isExecutable").as_bool(false);
    p.pos = doc_.pos(node);
    if (p.id.empty()) error("BS102", p.pos, "", "a process has no id");
    pending_flows_.clear();
    pending_associations_.clear();
    for_extension(node, [&](pugi::xml_node ext, const NamespaceScope::Name& n) {
      if (n.ns == kBanshiNs && n.local == "sla") p.sla = read_sla(ext, p.id);
    });
    read_container(node, kNoIndex);
    link_process(p);
    process_ = nullptr;
  }

  struct PendingFlow {
    Index flow;
    std::string source, target;
    Index scope;
    pugi::xml_node xml;
  };
  struct PendingAssociation {
    std::string source, target;
  };

  void read_container(pugi::xml_node container, Index scope) {
    Process& p = *process_;
    for_each_child(container, [&](pugi::xml_node child, const NamespaceScope::Name& n) {
      if (n.ns != kBpmnModelNs) return;
      for (const auto& t : kFlowNodeTypes) {
        if (n.local == t.xml) {
          read_flow_node(child, t.type, scope);
          return;
        }
      }
      if (n.local == "sequenceFlow") {
        SequenceFlow f;
        f.index = static_cast<Index>(p.flows.size());
        f.id = child.attribute("id").value();
        f.name = child.attribute("name").value();
        f.pos = doc_.pos(child);
        if (f.id.empty()) error("BS102", f.pos, "", "a sequence flow has no id");
        for_each_child(child, [&](pugi::xml_node c, const NamespaceScope::Name& cn) {
          if (cn.ns == kBpmnModelNs && cn.local == "conditionExpression") f.condition = text_expr(c, child);
        });
        pending_flows_.push_back({f.index, child.attribute("sourceRef").value(), child.attribute("targetRef").value(),
                                  scope, child});
        p.flows.push_back(std::move(f));
      } else if (n.local == "association") {
        pending_associations_.push_back(
            {strip_prefix(child.attribute("sourceRef").value()), strip_prefix(child.attribute("targetRef").value())});
      } else if (n.local == "laneSet" && scope == kNoIndex) {
        read_lanes(child, p.lanes);
      }
    });
  }

  void read_lanes(pugi::xml_node lane_set, std::vector<Lane>& out) {
    for_each_child(lane_set, [&](pugi::xml_node lane, const NamespaceScope::Name& n) {
      if (n.ns != kBpmnModelNs || n.local != "lane") return;
      Lane l{lane.attribute("id").value(), lane.attribute("name").value(), {}, {}};
      for_each_child(lane, [&](pugi::xml_node c, const NamespaceScope::Name& cn) {
        if (cn.ns != kBpmnModelNs) return;
        if (cn.local == "flowNodeRef") l.flow_node_refs.push_back(trim(c.text().get()));
        if (cn.local == "childLaneSet") read_lanes(c, l.children);
      });
      out.push_back(std::move(l));
    });
  }

  Index read_flow_node(pugi::xml_node node, ElementType type, Index scope) {
    Process& p = *process_;
    if (type == ElementType::kSubProcess && node.attribute("triggeredByEvent").as_bool(false)) {
      type = ElementType::kEventSubProcess;
    }
    Index index = static_cast<Index>(p.nodes.size());
    p.nodes.emplace_back();
    {
      FlowNode& f = p.nodes.back();
      f.index = index;
      f.type = type;
      f.id = node.attribute("id").value();
      f.name = node.attribute("name").value();
      f.pos = doc_.pos(node);
      f.scope = scope;
      if (f.id.empty()) {
        error("BS102", f.pos, "", fmt::format("a <{}> has no id", node.name()));
      } else if (!p.node_by_id.emplace(f.id, index).second) {
        // Duplicate ids are reported by check_names_and_ids; keep the first.
      }
    }
    std::string_view kind = xml_name(type);
    auto attrs = banshi_attributes(node, kind);
    FlowNode node_data = std::move(p.nodes.back());
    FlowNode& f = node_data;

    if (pugi::xml_attribute d = node.attribute("default")) default_refs_[index] = d.value();
    f.is_for_compensation = node.attribute("isForCompensation").as_bool(false);
    if (is_event(type)) read_events(node, f);
    if (type == ElementType::kBoundaryEvent) {
      f.attached_to_id = strip_prefix(node.attribute("attachedToRef").value());
      f.interrupting = node.attribute("cancelActivity").as_bool(true);
    }
    if (type == ElementType::kStartEvent) {
      f.interrupting = node.attribute("isInterrupting").as_bool(true);
    }
    if (attrs.count("correlationKey")) {
      f.correlation_key = attribute_expr(node, attr_names_["correlationKey"], attrs["correlationKey"]);
    }
    if (type == ElementType::kReceiveTask || type == ElementType::kSendTask) {
      f.message_ref_id = strip_prefix(node.attribute("messageRef").value());
    }
    read_task_extensions(node, f, attrs);

    for_each_child(node, [&](pugi::xml_node child, const NamespaceScope::Name& n) {
      if (n.ns != kBpmnModelNs) return;
      if (n.local == "multiInstanceLoopCharacteristics") read_multi_instance(child, f);
      if (n.local == "standardLoopCharacteristics") f.has_standard_loop = true;
      if (n.local == "script" && type == ElementType::kScriptTask && f.script.empty()) {
        f.script_format = node.attribute("scriptFormat").value();
        std::string lowered = f.script_format;
        for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lowered.empty() || lowered == "feel" || lowered == "text/feel" || lowered == "application/feel") {
          f.script = text_expr(child, node);
        }
      }
    });
    if (type == ElementType::kScriptTask && f.result_variable.empty()) {
      // Camunda 7 spelling is not ours, but the standard has no attribute for it: accept the plain one too.
      f.result_variable = node.attribute("resultVariable").value();
    }
    if (type == ElementType::kCallActivity) {
      if (!f.call) f.call.emplace();
      if (f.call->process_id.empty()) {
        if (pugi::xml_attribute called = node.attribute("calledElement")) {
          f.call->process_id = attribute_expr(node, "calledElement", called.value());
        }
      }
    }
    p.nodes[index] = std::move(node_data);
    if (is_container(type)) read_container(node, index);
    return index;
  }

  void read_events(pugi::xml_node node, FlowNode& f) {
    for_each_child(node, [&](pugi::xml_node child, const NamespaceScope::Name& n) {
      if (n.ns != kBpmnModelNs) return;
      for (const auto& e : kEventDefinitions) {
        if (n.local != e.xml) continue;
        EventDefinition def;
        def.kind = e.kind;
        def.id = child.attribute("id").value();
        def.pos = doc_.pos(child);
        switch (e.kind) {
          case EventKind::kMessage: def.ref_id = strip_prefix(child.attribute("messageRef").value()); break;
          case EventKind::kSignal: def.ref_id = strip_prefix(child.attribute("signalRef").value()); break;
          case EventKind::kError: {
            def.ref_id = strip_prefix(child.attribute("errorRef").value());
            if (pugi::xml_attribute v = child.attribute("errorCodeVariable")) def.error_code_variable.text = v.value();
            break;
          }
          case EventKind::kEscalation: def.ref_id = strip_prefix(child.attribute("escalationRef").value()); break;
          case EventKind::kLink: def.link_name = child.attribute("name").value(); break;
          case EventKind::kCompensate:
            def.activity_ref = strip_prefix(child.attribute("activityRef").value());
            def.wait_for_completion = child.attribute("waitForCompletion").as_bool(true);
            break;
          case EventKind::kTimer:
            for_each_child(child, [&](pugi::xml_node t, const NamespaceScope::Name& tn) {
              if (tn.ns != kBpmnModelNs) return;
              TimerKind k = tn.local == "timeDate"       ? TimerKind::kDate
                            : tn.local == "timeDuration" ? TimerKind::kDuration
                            : tn.local == "timeCycle"    ? TimerKind::kCycle
                                                         : TimerKind::kNone;
              if (k == TimerKind::kNone) return;
              def.timer.kind = k;
              std::string raw = trim(t.text().get());
              def.timer.value.pos = doc_.text_pos(t);
              if (!raw.empty() && raw.front() == '=') {
                def.timer.value.is_feel = true;
                def.timer.value.text = raw.substr(1);
                compile(def.timer.value, node, 1);
              } else {
                def.timer.value.text = raw;
              }
            });
            break;
          case EventKind::kConditional:
            for_each_child(child, [&](pugi::xml_node c, const NamespaceScope::Name& cn) {
              if (cn.ns == kBpmnModelNs && cn.local == "condition") def.condition = text_expr(c, node);
            });
            break;
          default: break;
        }
        f.events.push_back(std::move(def));
      }
    });
    f.parallel_multiple = node.attribute("parallelMultiple").as_bool(false);
    if (f.events.size() == 1) f.event_kind = f.events.front().kind;
    else if (f.events.size() > 1) f.event_kind = f.parallel_multiple ? EventKind::kParallelMultiple : EventKind::kMultiple;
  }

  void read_task_extensions(pugi::xml_node node, FlowNode& f, std::unordered_map<std::string, std::string>& attrs) {
    auto attr_expr = [&](const char* local) {
      return attribute_expr(node, attr_names_[local], attrs[local]);
    };
    auto ensure_job = [&]() -> JobDefinition& {
      if (!f.job) f.job.emplace();
      return *f.job;
    };
    auto ensure_user = [&]() -> UserTaskSpec& {
      if (!f.user_task) f.user_task.emplace();
      return *f.user_task;
    };
    for (const char* k : {"connector", "topic"}) {
      if (attrs.count(k)) ensure_job().type = attrs[k];
    }
    if (attrs.count("retries")) ensure_job().retries = attr_expr("retries");
    if (attrs.count("timeout")) ensure_job().timeout = attr_expr("timeout");
    if (attrs.count("retryBackoff")) ensure_job().retry_backoff = attr_expr("retryBackoff");
    static const std::pair<const char*, Expr UserTaskSpec::*> kUserAttrs[] = {
        {"assignee", &UserTaskSpec::assignee},         {"candidateGroups", &UserTaskSpec::candidate_groups},
        {"candidateUsers", &UserTaskSpec::candidate_users}, {"dueDate", &UserTaskSpec::due_date},
        {"followUpDate", &UserTaskSpec::follow_up_date}, {"formKey", &UserTaskSpec::form_key},
        {"priority", &UserTaskSpec::priority},         {"region", &UserTaskSpec::region},
    };
    if (f.type == ElementType::kUserTask) {
      ensure_user();
      for (const auto& [key, member] : kUserAttrs) {
        if (attrs.count(key)) ensure_user().*member = attr_expr(key);
      }
    }
    if (attrs.count("expression")) f.script = attribute_expr(node, attr_names_["expression"], attrs["expression"], true);
    if (attrs.count("resultVariable")) f.result_variable = attrs["resultVariable"];
    if (attrs.count("decisionRef")) f.decision_id = attr_expr("decisionRef");
    if (f.type == ElementType::kCallActivity) {
      f.call.emplace();
      if (attrs.count("processId")) f.call->process_id = attr_expr("processId");
      if (attrs.count("versionBinding")) {
        const std::string& b = attrs["versionBinding"];
        if (b == "latest") f.call->binding = VersionBinding::kLatest;
        else if (b == "deployment") f.call->binding = VersionBinding::kDeployment;
        else if (b == "version") f.call->binding = VersionBinding::kVersion;
        else {
          error("BS219", doc_.attribute_pos(node, attr_names_["versionBinding"]), f.id,
                fmt::format("versionBinding must be latest, deployment or version, not '{}'", b));
        }
      }
      if (attrs.count("version")) {
        int v = 0;
        const std::string& s = attrs["version"];
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc{} || ptr != s.data() + s.size() || v < 1) {
          error("BS219", doc_.attribute_pos(node, attr_names_["version"]), f.id,
                fmt::format("version must be a whole number from 1, not '{}'", s));
        } else {
          f.call->version = v;
        }
      }
      if (attrs.count("propagateAllChildVariables")) {
        f.call->propagate_all_child_variables = attrs["propagateAllChildVariables"] != "false";
      }
      if (attrs.count("propagateAllParentVariables")) {
        f.call->propagate_all_parent_variables = attrs["propagateAllParentVariables"] != "false";
      }
    }

    for_extension(node, [&](pugi::xml_node ext, const NamespaceScope::Name& n) {
      bool zeebe = n.ns == kZeebeNs;
      bool ours = n.ns == kBanshiNs;
      if (!zeebe && !ours) return;
      auto a = [&](const char* name) { return std::string_view(ext.attribute(name).value()); };
      auto e = [&](const char* name, bool always_feel = false) {
        return attribute_expr(ext, name, ext.attribute(name).value(), always_feel);
      };
      if (n.local == "ioMapping") {
        for_each_child(ext, [&](pugi::xml_node m, const NamespaceScope::Name& mn) {
          if (mn.ns != n.ns) return;
          Mapping mapping{attribute_expr(m, "source", m.attribute("source").value()), m.attribute("target").value(),
                          doc_.pos(m)};
          if (mn.local == "input") f.inputs.push_back(std::move(mapping));
          if (mn.local == "output") f.outputs.push_back(std::move(mapping));
        });
      } else if (n.local == "taskHeaders") {
        for_each_child(ext, [&](pugi::xml_node h, const NamespaceScope::Name& hn) {
          if (hn.ns == n.ns && hn.local == "header") ensure_job().headers[h.attribute("key").value()] = h.attribute("value").value();
        });
      } else if (n.local == "properties") {
        for_each_child(ext, [&](pugi::xml_node h, const NamespaceScope::Name& hn) {
          if (hn.ns == n.ns && hn.local == "property") f.properties[h.attribute("name").value()] = h.attribute("value").value();
        });
      } else if (zeebe && n.local == "taskDefinition") {
        JobDefinition& job = ensure_job();
        job.type = a("type");
        if (!a("retries").empty()) job.retries = e("retries");
      } else if (zeebe && n.local == "assignmentDefinition" && f.type == ElementType::kUserTask) {
        if (!a("assignee").empty()) ensure_user().assignee = e("assignee");
        if (!a("candidateGroups").empty()) ensure_user().candidate_groups = e("candidateGroups");
        if (!a("candidateUsers").empty()) ensure_user().candidate_users = e("candidateUsers");
      } else if (zeebe && n.local == "taskSchedule" && f.type == ElementType::kUserTask) {
        if (!a("dueDate").empty()) ensure_user().due_date = e("dueDate");
        if (!a("followUpDate").empty()) ensure_user().follow_up_date = e("followUpDate");
      } else if (zeebe && n.local == "formDefinition" && f.type == ElementType::kUserTask) {
        ensure_user().form_key = e(a("formKey").empty() ? "formId" : "formKey");
      } else if (zeebe && n.local == "priorityDefinition" && f.type == ElementType::kUserTask) {
        ensure_user().priority = e("priority");
      } else if (zeebe && n.local == "calledElement" && f.type == ElementType::kCallActivity) {
        if (!f.call) f.call.emplace();
        f.call->process_id = e("processId");
        f.call->propagate_all_child_variables = a("propagateAllChildVariables") != "false";
        f.call->propagate_all_parent_variables = a("propagateAllParentVariables") != "false";
        if (a("bindingType") == "deployment") f.call->binding = VersionBinding::kDeployment;
      } else if (zeebe && n.local == "calledDecision") {
        f.decision_id = e("decisionId");
        f.result_variable = a("resultVariable");
      } else if (zeebe && n.local == "script") {
        f.script = e("expression", true);
        f.result_variable = a("resultVariable");
      } else if (zeebe && n.local == "subscription") {
        f.correlation_key = e("correlationKey");
      } else if (ours && n.local == "sla") {
        if (f.type != ElementType::kUserTask) {
          error("BS240", doc_.pos(ext), f.id,
                fmt::format("<{}> is an SLA policy of a user task or a process, not of a <{}>", ext.name(),
                            xml_name(f.type)));
        } else {
          f.sla = read_sla(ext, f.id);
        }
      }
    });
  }

  // <bs:sla>: every attribute is checked here; pauseWhile ids once the
  // process is read (validate.cc).
  SlaSpec read_sla(pugi::xml_node ext, const std::string& owner) {
    SlaSpec sla;
    sla.pos = doc_.pos(ext);
    static constexpr std::string_view kKnown[] = {"due",         "remindAt",   "escalateTo", "escalateAfter",
                                                  "breachAfter", "pauseWhile", "region"};
    for (pugi::xml_attribute a : ext.attributes()) {
      std::string_view name = a.name();
      if (name.rfind("xmlns", 0) == 0) continue;
      if (std::find(std::begin(kKnown), std::end(kKnown), name) == std::end(kKnown)) {
        error("BS240", doc_.attribute_pos(ext, a.name()), owner,
              fmt::format("'{}' is not an attribute of <{}>; it has due, remindAt, escalateTo, escalateAfter, "
                          "breachAfter, pauseWhile and region",
                          name, ext.name()));
      }
    }
    auto period = [&](const char* name) {
      std::string value = trim(ext.attribute(name).value());
      if (value.empty() && !ext.attribute(name)) return value;
      auto parsed = parse_sla_period(value);
      if (!parsed.ok()) error("BS241", doc_.attribute_pos(ext, name), owner, fmt::format("{}: {}", name, parsed.error().message));
      return value;
    };
    if (pugi::xml_attribute due = ext.attribute("due")) {
      sla.due = attribute_expr(ext, "due", due.value());
      if (!sla.due.is_feel) (void)period("due");
    }
    if (pugi::xml_attribute remind = ext.attribute("remindAt")) {
      std::string v = trim(remind.value());
      int pct = 0;
      bool ok = v.size() >= 2 && v.back() == '%';
      if (ok) {
        auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size() - 1, pct);
        ok = ec == std::errc{} && ptr == v.data() + v.size() - 1 && pct >= 1 && pct <= 99;
      }
      if (!ok) {
        error("BS241", doc_.attribute_pos(ext, "remindAt"), owner,
              fmt::format("remindAt: '{}' is not a share of the time: write a percentage from 1% to 99%, as in 80%", v));
      } else {
        sla.remind_percent = pct;
      }
    }
    sla.escalate_to = trim(ext.attribute("escalateTo").value());
    if (ext.attribute("escalateTo") && sla.escalate_to.empty()) {
      error("BS241", doc_.attribute_pos(ext, "escalateTo"), owner, "escalateTo names no group");
    }
    sla.escalate_after = period("escalateAfter");
    sla.breach_after = period("breachAfter");
    std::string pauses = ext.attribute("pauseWhile").value();
    size_t start = 0;
    while (start <= pauses.size()) {
      size_t comma = pauses.find(',', start);
      std::string id = trim(std::string_view(pauses).substr(start, comma == std::string::npos ? std::string::npos
                                                                                               : comma - start));
      if (!id.empty()) sla.pause_while.push_back(id);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (pugi::xml_attribute region = ext.attribute("region")) sla.region = attribute_expr(ext, "region", region.value());
    return sla;
  }

  void read_multi_instance(pugi::xml_node node, FlowNode& f) {
    MultiInstanceSpec mi;
    mi.sequential = node.attribute("isSequential").as_bool(false);
    mi.pos = doc_.pos(node);
    auto attrs = banshi_attributes(node, "multiInstanceLoopCharacteristics");
    if (attrs.count("collection")) {
      mi.input_collection = attribute_expr(node, attr_names_["collection"], attrs["collection"], true);
    }
    if (attrs.count("elementVariable")) mi.input_element = attrs["elementVariable"];
    if (attrs.count("outputCollection")) mi.output_collection = attrs["outputCollection"];
    if (attrs.count("outputElement")) {
      mi.output_element = attribute_expr(node, attr_names_["outputElement"], attrs["outputElement"], true);
    }
    for_each_child(node, [&](pugi::xml_node child, const NamespaceScope::Name& n) {
      if (n.ns == kBpmnModelNs && n.local == "loopCardinality") mi.cardinality = text_expr(child, node);
      if (n.ns == kBpmnModelNs && n.local == "completionCondition") mi.completion_condition = text_expr(child, node);
      if (n.ns == kBpmnModelNs && n.local == "extensionElements") {
        for_each_child(child, [&](pugi::xml_node ext, const NamespaceScope::Name& en) {
          if (en.ns != kZeebeNs || en.local != "loopCharacteristics") return;
          if (pugi::xml_attribute c = ext.attribute("inputCollection")) {
            mi.input_collection = attribute_expr(ext, "inputCollection", c.value(), true);
          }
          mi.input_element = ext.attribute("inputElement").value();
          mi.output_collection = ext.attribute("outputCollection").value();
          if (pugi::xml_attribute o = ext.attribute("outputElement")) {
            mi.output_element = attribute_expr(ext, "outputElement", o.value(), true);
          }
        });
      }
    });
    f.multi_instance = std::move(mi);
  }

  // After a process is read: resolve references and fill the derived lists.
  void link_process(Process& p) {
    for (auto& pf : pending_flows_) {
      SequenceFlow& flow = p.flows[pf.flow];
      auto src = p.node_by_id.find(strip_prefix(pf.source));
      auto dst = p.node_by_id.find(strip_prefix(pf.target));
      if (pf.source.empty() || src == p.node_by_id.end()) {
        error("BS103", flow.pos, flow.id,
              pf.source.empty() ? "the sequence flow has no sourceRef"
                                : fmt::format("the sequence flow's sourceRef '{}' names no flow node of this process",
                                              pf.source));
      } else {
        flow.source = src->second;
      }
      if (pf.target.empty() || dst == p.node_by_id.end()) {
        error("BS103", flow.pos, flow.id,
              pf.target.empty() ? "the sequence flow has no targetRef"
                                : fmt::format("the sequence flow's targetRef '{}' names no flow node of this process",
                                              pf.target));
      } else {
        flow.target = dst->second;
      }
      if (flow.source == kNoIndex || flow.target == kNoIndex) continue;
      const FlowNode& s = p.nodes[flow.source];
      const FlowNode& t = p.nodes[flow.target];
      if (s.scope != pf.scope || t.scope != pf.scope) {
        error("BS104", flow.pos, flow.id,
              fmt::format("the sequence flow connects '{}' and '{}', which are not both in the same (sub)process as "
                          "the flow; sequence flows cannot cross a subprocess boundary",
                          s.id, t.id));
        continue;
      }
      p.nodes[flow.source].outgoing.push_back(flow.index);
      p.nodes[flow.target].incoming.push_back(flow.index);
    }
    for (auto& [node_index, ref] : default_refs_) {
      FlowNode& n = p.nodes[node_index];
      std::string id = strip_prefix(ref);
      Index found = kNoIndex;
      for (Index fi : n.outgoing) {
        if (p.flows[fi].id == id) found = fi;
      }
      if (found == kNoIndex) {
        error("BS204", n.pos, n.id, fmt::format("the default flow '{}' is not an outgoing sequence flow of '{}'", id, n.id));
      } else {
        n.default_flow = found;
        p.flows[found].is_default = true;
      }
    }
    default_refs_.clear();
    for (FlowNode& n : p.nodes) {
      if (n.scope == kNoIndex) p.top_level.push_back(n.index);
      else p.nodes[n.scope].children.push_back(n.index);
      Index scope = n.scope;
      if (n.type == ElementType::kStartEvent) {
        // Start events of an event subprocess belong to it, not its parent.
        if (scope == kNoIndex) p.start_events.push_back(n.index);
        else p.nodes[scope].start_events.push_back(n.index);
      }
      if (n.type == ElementType::kEventSubProcess) {
        if (scope == kNoIndex) p.event_subprocesses.push_back(n.index);
        else p.nodes[scope].event_subprocesses.push_back(n.index);
      }
      if (n.type == ElementType::kBoundaryEvent) {
        auto it = p.node_by_id.find(n.attached_to_id);
        if (n.attached_to_id.empty() || it == p.node_by_id.end()) {
          error("BS209", n.pos, n.id,
                n.attached_to_id.empty() ? "the boundary event has no attachedToRef"
                                         : fmt::format("the boundary event is attached to '{}', which is not a flow "
                                                       "node of this process",
                                                       n.attached_to_id));
        } else if (!is_activity(p.nodes[it->second].type)) {
          error("BS209", n.pos, n.id,
                fmt::format("the boundary event is attached to '{}', which is not an activity", n.attached_to_id));
        } else if (p.nodes[it->second].scope != n.scope) {
          error("BS209", n.pos, n.id,
                fmt::format("the boundary event and '{}' it is attached to are in different subprocesses",
                            n.attached_to_id));
        } else {
          n.attached_to = it->second;
          p.nodes[it->second].boundary_events.push_back(n.index);
        }
      }
      resolve_event_refs(n);
      if (!n.message_ref_id.empty()) {
        n.message_ref = find_in(defs_->messages, n.message_ref_id);
        if (n.message_ref == kNoIndex) {
          error("BS103", n.pos, n.id, fmt::format("messageRef '{}' names no message", n.message_ref_id));
        }
      }
    }
    for (const auto& a : pending_associations_) {
      auto src = p.node_by_id.find(a.source);
      auto dst = p.node_by_id.find(a.target);
      if (src == p.node_by_id.end() || dst == p.node_by_id.end()) continue;
      FlowNode& b = p.nodes[src->second];
      if (b.type == ElementType::kBoundaryEvent && b.event_kind == EventKind::kCompensate && b.attached_to != kNoIndex) {
        p.nodes[b.attached_to].compensation_handler = dst->second;
      }
    }
  }

  template <typename T>
  static Index find_in(const std::vector<T>& items, const std::string& id) {
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].id == id) return static_cast<Index>(i);
    }
    return kNoIndex;
  }

  void resolve_event_refs(FlowNode& n) {
    for (EventDefinition& e : n.events) {
      if (e.ref_id.empty()) continue;
      const char* what = "";
      switch (e.kind) {
        case EventKind::kMessage: e.ref = find_in(defs_->messages, e.ref_id); what = "message"; break;
        case EventKind::kSignal: e.ref = find_in(defs_->signals, e.ref_id); what = "signal"; break;
        case EventKind::kError: e.ref = find_in(defs_->errors, e.ref_id); what = "error"; break;
        case EventKind::kEscalation: e.ref = find_in(defs_->escalations, e.ref_id); what = "escalation"; break;
        default: continue;
      }
      if (e.ref == kNoIndex) {
        error("BS103", e.pos, n.id, fmt::format("the {} reference '{}' names no <{}> of this file", what, e.ref_id, what));
      }
    }
  }

  void read_collaboration(pugi::xml_node node) {
    Collaboration c;
    c.id = node.attribute("id").value();
    for_each_child(node, [&](pugi::xml_node child, const NamespaceScope::Name& n) {
      if (n.ns != kBpmnModelNs) return;
      if (n.local == "participant") {
        c.participants.push_back({child.attribute("id").value(), child.attribute("name").value(),
                                  strip_prefix(child.attribute("processRef").value())});
      } else if (n.local == "messageFlow") {
        c.message_flows.push_back({child.attribute("id").value(), child.attribute("name").value(),
                                   strip_prefix(child.attribute("sourceRef").value()),
                                   strip_prefix(child.attribute("targetRef").value()),
                                   strip_prefix(child.attribute("messageRef").value())});
      }
    });
    defs_->collaborations.push_back(std::move(c));
  }

  static double number(pugi::xml_attribute a) {
    double v = 0;
    std::string_view s = a.value();
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }

  void read_diagram(pugi::xml_node node) {
    Diagram d;
    d.id = node.attribute("id").value();
    d.name = node.attribute("name").value();
    for_each_child(node, [&](pugi::xml_node plane, const NamespaceScope::Name& pn) {
      if (pn.ns != kBpmnDiNs || pn.local != "BPMNPlane") return;
      for_each_child(plane, [&](pugi::xml_node item, const NamespaceScope::Name& n) {
        if (n.ns != kBpmnDiNs) return;
        if (n.local == "BPMNShape") {
          Shape s;
          s.id = item.attribute("id").value();
          s.element_id = strip_prefix(item.attribute("bpmnElement").value());
          s.expanded = item.attribute("isExpanded").as_bool(true);
          for_each_child(item, [&](pugi::xml_node b, const NamespaceScope::Name& bn) {
            if (bn.ns == kDcNs && bn.local == "Bounds") {
              s.bounds = {number(b.attribute("x")), number(b.attribute("y")), number(b.attribute("width")),
                          number(b.attribute("height"))};
            }
          });
          d.shapes.push_back(std::move(s));
        } else if (n.local == "BPMNEdge") {
          Edge e;
          e.id = item.attribute("id").value();
          e.element_id = strip_prefix(item.attribute("bpmnElement").value());
          for_each_child(item, [&](pugi::xml_node w, const NamespaceScope::Name& wn) {
            if (wn.ns == kDiNs && wn.local == "waypoint") {
              e.waypoints.emplace_back(number(w.attribute("x")), number(w.attribute("y")));
            }
          });
          d.edges.push_back(std::move(e));
        }
      });
    });
    defs_->diagrams.push_back(std::move(d));
  }

  const XmlDocument& doc_;
  std::vector<Diagnostic>& diags_;
  NamespaceScope ns_;
  Definitions* defs_ = nullptr;
  Process* process_ = nullptr;
  std::unordered_map<std::string, SourcePos> ids_;
  std::unordered_map<std::string, std::string> attr_names_;  // banshi local name -> qualified name as written
  std::vector<PendingFlow> pending_flows_;
  std::vector<PendingAssociation> pending_associations_;
  std::unordered_map<Index, std::string> default_refs_;
};

}  // namespace

LoadResult load_bpmn(std::string_view bytes, const LoadLimits& limits) {
  LoadResult result;
  auto doc = XmlDocument::load(bytes, limits);
  if (!doc.ok()) {
    result.diagnostics.push_back(doc.error());
    return result;
  }
  Reader reader(doc.value(), result.diagnostics);
  std::shared_ptr<Definitions> defs = reader.read();
  if (!defs) return result;
  validate(*defs, result.diagnostics);
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.pos.line, a.pos.column) < std::tie(b.pos.line, b.pos.column);
  });
  result.definitions = std::move(defs);
  return result;
}

}  // namespace banshi::model
