// Intermediate catch events wait for a timer, message, signal or condition; a link catch
// passes on the token its throw sent.
#include "core/behaviors/behaviors.h"
#include "core/processor.h"

namespace banshi::core {

void IntermediateCatchEventBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const {
  switch (node.event_kind) {
    case model::EventKind::kTimer:
    case model::EventKind::kMessage:
    case model::EventKind::kSignal:
    case model::EventKind::kConditional: p.subscribe_event(ei.key, node); return;
    default: p.enqueue_complete(ei.key); return;
  }
}

}  // namespace banshi::core
