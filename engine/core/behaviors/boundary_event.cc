// Boundary events are activated only once their event happened (the
// Processor terminates the activity first when they interrupt).
#include "core/behaviors/behaviors.h"
#include "core/processor.h"

namespace banshi::core {

void BoundaryEventBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode&) const {
  p.enqueue_complete(ei.key);
}

}  // namespace banshi::core
