// User tasks: create the task for people (assignment, due date, form) and
// wait for its completion.
#include "core/behaviors/behaviors.h"
#include "core/processor.h"

namespace banshi::core {

void UserTaskBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const {
  p.create_user_task(ei, node);
}

}  // namespace banshi::core
