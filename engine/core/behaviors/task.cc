// Plain and manual tasks: nothing for the engine to do; the token passes.
#include "core/behaviors/behaviors.h"
#include "core/processor.h"

namespace banshi::core {

void TaskBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode&) const {
  p.enqueue_complete(ei.key);
}

}  // namespace banshi::core
