// Exclusive gateway: the first outgoing flow whose condition holds, else the
// default flow, else an incident (nothing is guessed).
#include <fmt/format.h>

#include "core/behaviors/behaviors.h"
#include "core/processor.h"

namespace banshi::core {

void ExclusiveGatewayBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode&) const {
  p.enqueue_complete(ei.key);
}

bool ExclusiveGatewayBehavior::select_outgoing(Processor& p, ElementInstance& ei, const model::FlowNode& node,
                                               std::vector<model::Index>& flows) const {
  if (node.outgoing.size() == 1 && p.process().flow(node.outgoing[0]).condition.empty()) {
    flows.push_back(node.outgoing[0]);
    return true;
  }
  for (model::Index f : node.outgoing) {
    if (f == node.default_flow) continue;
    const model::SequenceFlow& flow = p.process().flow(f);
    if (flow.condition.empty()) continue;
    auto holds = p.evaluate_condition(flow.condition, ei.scope, ei.key);
    if (!holds) return false;
    if (*holds) {
      flows.push_back(f);
      return true;
    }
  }
  if (node.default_flow != model::kNoIndex) {
    flows.push_back(node.default_flow);
    return true;
  }
  if (node.outgoing.empty()) return true;
  p.raise_incident(ei.key, IncidentKind::kNoFlowMatched,
                   fmt::format("no condition of an outgoing flow of '{}' is true and it has no default flow", node.id));
  return false;
}

}  // namespace banshi::core
