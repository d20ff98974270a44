// Start events. A none start event passes the token on; triggered starts
// (timer, message, signal, and those of event subprocesses) arrive already
// triggered and never wait here.
#include "core/behaviors/behaviors.h"
#include "core/processor.h"

namespace banshi::core {

void StartEventBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode&) const {
  p.enqueue_complete(ei.key);
}

}  // namespace banshi::core
