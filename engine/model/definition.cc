#include "model/definition.h"

#include <fmt/format.h>

namespace banshi::model {

std::string_view xml_name(ElementType type) {
  switch (type) {
    case ElementType::kStartEvent: return "startEvent";
    case ElementType::kEndEvent: return "endEvent";
    case ElementType::kIntermediateCatchEvent: return "intermediateCatchEvent";
    case ElementType::kIntermediateThrowEvent: return "intermediateThrowEvent";
    case ElementType::kBoundaryEvent: return "boundaryEvent";
    case ElementType::kTask: return "task";
    case ElementType::kUserTask: return "userTask";
    case ElementType::kServiceTask: return "serviceTask";
    case ElementType::kSendTask: return "sendTask";
    case ElementType::kReceiveTask: return "receiveTask";
    case ElementType::kBusinessRuleTask: return "businessRuleTask";
    case ElementType::kScriptTask: return "scriptTask";
    case ElementType::kManualTask: return "manualTask";
    case ElementType::kExclusiveGateway: return "exclusiveGateway";
    case ElementType::kParallelGateway: return "parallelGateway";
    case ElementType::kInclusiveGateway: return "inclusiveGateway";
    case ElementType::kEventBasedGateway: return "eventBasedGateway";
    case ElementType::kComplexGateway: return "complexGateway";
    case ElementType::kSubProcess: return "subProcess";
    case ElementType::kEventSubProcess: return "subProcess";
    case ElementType::kTransaction: return "transaction";
    case ElementType::kAdHocSubProcess: return "adHocSubProcess";
    case ElementType::kCallActivity: return "callActivity";
    case ElementType::kUnknown: break;
  }
  return "unknown";
}

bool is_activity(ElementType t) {
  switch (t) {
    case ElementType::kTask:
    case ElementType::kUserTask:
    case ElementType::kServiceTask:
    case ElementType::kSendTask:
    case ElementType::kReceiveTask:
    case ElementType::kBusinessRuleTask:
    case ElementType::kScriptTask:
    case ElementType::kManualTask:
    case ElementType::kSubProcess:
    case ElementType::kEventSubProcess:
    case ElementType::kTransaction:
    case ElementType::kAdHocSubProcess:
    case ElementType::kCallActivity: return true;
    default: return false;
  }
}

bool is_gateway(ElementType t) {
  return t == ElementType::kExclusiveGateway || t == ElementType::kParallelGateway ||
         t == ElementType::kInclusiveGateway || t == ElementType::kEventBasedGateway ||
         t == ElementType::kComplexGateway;
}

bool is_event(ElementType t) {
  return t == ElementType::kStartEvent || t == ElementType::kEndEvent || t == ElementType::kIntermediateCatchEvent ||
         t == ElementType::kIntermediateThrowEvent || t == ElementType::kBoundaryEvent;
}

bool is_container(ElementType t) {
  return t == ElementType::kSubProcess || t == ElementType::kEventSubProcess || t == ElementType::kTransaction ||
         t == ElementType::kAdHocSubProcess;
}

std::string_view event_kind_name(EventKind kind) {
  switch (kind) {
    case EventKind::kNone: return "none";
    case EventKind::kMessage: return "message";
    case EventKind::kTimer: return "timer";
    case EventKind::kError: return "error";
    case EventKind::kEscalation: return "escalation";
    case EventKind::kCancel: return "cancel";
    case EventKind::kCompensate: return "compensation";
    case EventKind::kConditional: return "conditional";
    case EventKind::kLink: return "link";
    case EventKind::kSignal: return "signal";
    case EventKind::kTerminate: return "terminate";
    case EventKind::kMultiple: return "multiple";
    case EventKind::kParallelMultiple: return "parallel multiple";
  }
  return "unknown";
}

const FlowNode* Process::find(std::string_view node_id) const {
  auto it = node_by_id.find(std::string(node_id));
  return it == node_by_id.end() ? nullptr : &nodes[it->second];
}

const std::vector<Index>& Process::children_of(Index scope) const {
  return scope == kNoIndex ? top_level : nodes[scope].children;
}

const Process* Definitions::find_process(std::string_view process_id) const {
  for (const Process& p : processes) {
    if (p.id == process_id) return &p;
  }
  return nullptr;
}

std::string format_diagnostic(const Diagnostic& d, std::string_view file) {
  std::string out = fmt::format("{}:{}:{}: {} {}: {}", file, d.pos.line, d.pos.column,
                                d.severity == Severity::kError ? "error" : "warning", d.code, d.message);
  if (!d.element_id.empty()) out += fmt::format(" ({})", d.element_id);
  return out;
}

bool has_errors(const std::vector<Diagnostic>& diagnostics) {
  for (const Diagnostic& d : diagnostics) {
    if (d.severity == Severity::kError) return true;
  }
  return false;
}

}  // namespace banshi::model
