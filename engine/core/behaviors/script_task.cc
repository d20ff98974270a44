// Script tasks evaluate one FEEL expression into their result variable.
#include "core/behaviors/behaviors.h"
#include "core/processor.h"

namespace banshi::core {

void ScriptTaskBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const {
  auto result = p.evaluate(node.script, ei.key, "script");
  if (!result) return;
  boost::json::object vars;
  vars[node.result_variable] = std::move(*result);
  p.merge_completion_variables(ei, vars);
  p.enqueue_complete(ei.key);
}

}  // namespace banshi::core
