// End events: the token ends here. Terminate ends the whole scope; error and
// escalation ends throw; message and signal ends send first.
#include <vector>

#include "core/behaviors/behaviors.h"
#include "core/behaviors/throw_effects.h"

namespace banshi::core {

using model::EventKind;

void EndEventBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const {
  const model::Definitions& defs = p.process().definitions();
  Key key = ei.key;
  switch (node.event_kind) {
    case EventKind::kError: {
      const model::ErrorDef& e = defs.errors[node.events.front().ref];
      p.throw_error(key, e.code, e.name);
      return;  // caught: the catcher terminated this scope; uncaught: an incident holds the token here
    }
    case EventKind::kEscalation: {
      p.throw_escalation(key, defs.escalations[node.events.front().ref].code);
      if (p.state().find(key)) p.enqueue_complete(key);
      return;
    }
    case EventKind::kMessage:
      if (node.job) {
        p.create_job(ei, node);
        return;
      }
      if (node.events.front().ref != model::kNoIndex && !publish_message(p, ei, node, node.events.front().ref)) return;
      break;
    case EventKind::kSignal: throw_signal(p, ei, node); break;
    case EventKind::kCompensate:
      p.compensate(key, ei.scope, node.events.front().activity_ref);
      return;
    case EventKind::kCancel: {
      // Cancel the transaction: end everything else in it, compensate what it
      // completed, then leave by its cancel boundary event (on_left).
      Key transaction = ei.scope;
      std::vector<Key> others;
      for (const auto& [k, e] : p.state().elements) {
        if (e.scope == transaction && k != key) others.push_back(k);
      }
      for (Key k : others) p.terminate(k);
      std::erase_if(p.state().joins, [&](const JoinState& j) { return j.scope == transaction; });
      p.compensate(key, transaction, {});
      return;
    }
    default: break;
  }
  p.enqueue_complete(key);
}

void EndEventBehavior::on_left(Processor& p, Key scope, const model::FlowNode& node) const {
  if (node.event_kind == EventKind::kCancel) {
    const ElementInstance* transaction = p.state().find(scope);
    if (!transaction || transaction->element == model::kNoIndex) return;
    for (model::Index b : p.node(transaction->element).boundary_events) {
      if (p.node(b).event_kind == EventKind::kCancel) {
        p.trigger_event(scope, b, {});
        return;
      }
    }
    return;  // no cancel boundary: the transaction just ends
  }
  if (node.event_kind != EventKind::kTerminate) return;
  // Terminate: everything else in the scope ends now; the scope then completes.
  std::vector<Key> others;
  for (const auto& [k, e] : p.state().elements) {
    if (e.scope == scope) others.push_back(k);
  }
  for (Key k : others) p.terminate(k);
  auto& joins = p.state().joins;
  std::erase_if(joins, [&](const JoinState& j) { return j.scope == scope; });
}

}  // namespace banshi::core
