// Service and send tasks: a job for a connector or an external worker; a send
// task without one publishes its message and goes on.
#include "core/behaviors/behaviors.h"
#include "core/behaviors/throw_effects.h"

namespace banshi::core {

void ServiceTaskBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const {
  if (node.job && !node.job->type.empty()) {
    p.create_job(ei, node);
    return;
  }
  if (node.message_ref != model::kNoIndex) {
    if (publish_message(p, ei, node, node.message_ref)) p.enqueue_complete(ei.key);
    return;
  }
  not_supported(p, ei, node, "a service task without a job type");
}

}  // namespace banshi::core
