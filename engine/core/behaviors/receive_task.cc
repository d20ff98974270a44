// Receive tasks wait for their message.
#include "core/behaviors/behaviors.h"
#include "core/processor.h"

namespace banshi::core {

void ReceiveTaskBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const {
  p.subscribe_event(ei.key, node);
}

}  // namespace banshi::core
