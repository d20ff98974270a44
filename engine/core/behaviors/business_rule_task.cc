// Business rule tasks evaluate a decision (through the DecisionEvaluator the
// engine supplies) into their result variable, or run as a job.
#include <fmt/format.h>

#include "core/behaviors/behaviors.h"
#include "core/processor.h"

namespace banshi::core {

void BusinessRuleTaskBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const {
  if (node.decision_id.empty()) {
    p.create_job(ei, node);
    return;
  }
  auto id = p.evaluate(node.decision_id, ei.key, "decision id");
  if (!id) return;
  if (!id->is_string()) {
    p.raise_incident(ei.key, IncidentKind::kExpressionFailed, "the decision id must be a string");
    return;
  }
  if (!p.env().decisions) {
    p.raise_incident(ei.key, IncidentKind::kExpressionFailed,
                     fmt::format("no decision evaluator is configured to evaluate '{}'", std::string(id->as_string())));
    return;
  }
  auto result = p.env().decisions->evaluate(std::string(id->as_string()), p.visible_variables(ei.key));
  if (!result.ok()) {
    p.raise_incident(ei.key, IncidentKind::kExpressionFailed,
                     fmt::format("decision '{}' failed: {}", std::string(id->as_string()), result.error().message));
    return;
  }
  boost::json::object vars;
  vars[node.result_variable] = std::move(result).value();
  p.merge_completion_variables(ei, vars);
  p.enqueue_complete(ei.key);
}

}  // namespace banshi::core
