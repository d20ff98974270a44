// Intermediate catch events wait for a timer, message or signal; a link catch
// passes on the token its throw sent.
#include "core/behaviors/behaviors.h"
#include "core/behaviors/throw_effects.h"

namespace banshi::core {

void IntermediateCatchEventBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const {
  switch (node.event_kind) {
    case model::EventKind::kTimer:
    case model::EventKind::kMessage:
    case model::EventKind::kSignal: p.subscribe_event(ei.key, node); return;
    case model::EventKind::kConditional: not_supported(p, ei, node, "conditional events"); return;
    default: p.enqueue_complete(ei.key); return;
  }
}

}  // namespace banshi::core
