// Parallel gateway: a join waits for one token on every incoming flow (counted
// per flow, so loops that send several tokens down one flow stay correct); a
// fork takes every outgoing flow.
#include <algorithm>

#include "core/behaviors/behaviors.h"
#include "core/behaviors/join.h"
#include "core/processor.h"

namespace banshi::core {

bool ParallelGatewayBehavior::accept_token(Processor& p, Key scope, const model::FlowNode& node,
                                           model::Index flow) const {
  if (node.incoming.size() <= 1 || flow == model::kNoIndex) return true;
  record_arrival(p.state(), scope, node, flow);
  JoinState& j = join_state(p.state(), scope, node);
  if (!std::all_of(j.arrived.begin(), j.arrived.end(), [](uint32_t a) { return a > 0; })) return false;
  for (uint32_t& a : j.arrived) --a;
  drop_if_empty(p.state(), scope, node.index);
  return true;
}

void ParallelGatewayBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode&) const {
  p.enqueue_complete(ei.key);
}

bool ParallelGatewayBehavior::select_outgoing(Processor&, ElementInstance&, const model::FlowNode& node,
                                              std::vector<model::Index>& flows) const {
  flows = node.outgoing;
  return true;
}

}  // namespace banshi::core
