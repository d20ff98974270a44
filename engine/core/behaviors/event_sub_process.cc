// Event subprocess: started by its start event's trigger (the Processor
// interrupts the enclosing scope first when it is interrupting).
#include "core/behaviors/behaviors.h"
#include "core/processor.h"

namespace banshi::core {

void EventSubProcessBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const {
  p.enter_scope(ei, &node);
  if (!node.start_events.empty()) p.enqueue_activate(node.start_events.front(), ei.key, model::kNoIndex, {}, true);
}

}  // namespace banshi::core
