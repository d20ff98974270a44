// Intermediate throw events: none passes through; message, signal and
// escalation throw and go on; a link throw jumps to its catch.
#include "core/behaviors/behaviors.h"
#include "core/behaviors/throw_effects.h"
#include "core/processor.h"

namespace banshi::core {

using model::EventKind;

void IntermediateThrowEventBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const {
  const model::Definitions& defs = p.process().definitions();
  Key key = ei.key;
  switch (node.event_kind) {
    case EventKind::kMessage:
      if (node.job) {
        p.create_job(ei, node);
        return;
      }
      if (node.events.front().ref != model::kNoIndex && !publish_message(p, ei, node, node.events.front().ref)) return;
      break;
    case EventKind::kSignal: throw_signal(p, ei, node); break;
    case EventKind::kEscalation:
      p.throw_escalation(key, defs.escalations[node.events.front().ref].code);
      if (!p.state().find(key)) return;  // an interrupting catcher ended this scope
      break;
    case EventKind::kCompensate:
      p.compensate(key, ei.scope, node.events.front().activity_ref);
      return;
    default: break;
  }
  p.enqueue_complete(key);
}

void IntermediateThrowEventBehavior::on_left(Processor& p, Key scope, const model::FlowNode& node) const {
  if (node.event_kind != EventKind::kLink) return;
  const std::string& name = node.events.front().link_name;
  for (const model::FlowNode& other : p.process().process().nodes) {
    if (other.type == model::ElementType::kIntermediateCatchEvent && other.scope == node.scope &&
        other.event_kind == EventKind::kLink && other.events.front().link_name == name) {
      p.enqueue_activate(other.index, scope, model::kNoIndex, {}, true);
      return;
    }
  }
}

}  // namespace banshi::core
