// Event-based gateway: waits for the first of the events after it; that branch
// goes on and the others are withdrawn (the Processor routes the trigger).
#include "core/behaviors/behaviors.h"
#include "core/processor.h"

namespace banshi::core {

void EventBasedGatewayBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const {
  for (model::Index f : node.outgoing) {
    const model::FlowNode& target = p.node(p.process().flow(f).target);
    if (!p.subscribe_event(ei.key, target)) return;
  }
}

}  // namespace banshi::core
