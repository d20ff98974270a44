// Embedded subprocess (and transaction, without cancellation yet): a new
// variable scope whose none start event begins; it completes when nothing in
// it runs any more.
#include "core/behaviors/behaviors.h"
#include "core/processor.h"

namespace banshi::core {

void SubProcessBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const {
  p.enter_scope(ei, &node);
}

}  // namespace banshi::core
