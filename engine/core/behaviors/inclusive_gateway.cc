// Inclusive gateway. Fork: every outgoing flow whose condition holds (else the
// default; else an incident). Join: waits exactly for the tokens that can still
// arrive — it fires once no other token in the scope (running, queued or held
// at another join) can reach it, the semantics Camunda and Zeebe implement.
#include <algorithm>

#include <fmt/format.h>

#include "core/behaviors/behaviors.h"
#include "core/behaviors/join.h"
#include "core/processor.h"

namespace banshi::core {
namespace {

bool others_can_arrive(Processor& p, Key scope, const model::FlowNode& gateway) {
  const ExecutableProcess& process = p.process();
  for (const auto& [k, e] : p.state().elements) {
    if (e.scope != scope || e.element == model::kNoIndex) continue;
    if (e.element == gateway.index || process.can_reach(e.element, gateway.index)) return true;
  }
  for (const JoinState& j : p.state().joins) {
    if (j.scope != scope || j.gateway == gateway.index) continue;
    bool holds = std::any_of(j.arrived.begin(), j.arrived.end(), [](uint32_t a) { return a > 0; });
    if (holds && process.can_reach(j.gateway, gateway.index)) return true;
  }
  return p.queued_activation_can_reach(scope, gateway.index);
}

// Consumes the tokens held at the join: one per flow that has any.
void consume(Processor& p, Key scope, const model::FlowNode& gateway) {
  JoinState& j = join_state(p.state(), scope, gateway);
  for (uint32_t& a : j.arrived) {
    if (a > 0) --a;
  }
  drop_if_empty(p.state(), scope, gateway.index);
}

}  // namespace

bool InclusiveGatewayBehavior::accept_token(Processor& p, Key scope, const model::FlowNode& node,
                                            model::Index flow) const {
  if (node.incoming.size() <= 1 || flow == model::kNoIndex) return true;
  record_arrival(p.state(), scope, node, flow);
  if (others_can_arrive(p, scope, node)) return false;
  consume(p, scope, node);
  return true;
}

void InclusiveGatewayBehavior::on_scope_changed(Processor& p, Key scope, const model::FlowNode& node) const {
  if (others_can_arrive(p, scope, node)) return;
  consume(p, scope, node);
  p.enqueue_activate(node.index, scope, model::kNoIndex);
}

void InclusiveGatewayBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode&) const {
  p.enqueue_complete(ei.key);
}

bool InclusiveGatewayBehavior::select_outgoing(Processor& p, ElementInstance& ei, const model::FlowNode& node,
                                               std::vector<model::Index>& flows) const {
  for (model::Index f : node.outgoing) {
    if (f == node.default_flow) continue;
    const model::SequenceFlow& flow = p.process().flow(f);
    if (flow.condition.empty()) {
      flows.push_back(f);
      continue;
    }
    auto holds = p.evaluate_condition(flow.condition, ei.scope, ei.key);
    if (!holds) {
      flows.clear();
      return false;
    }
    if (*holds) flows.push_back(f);
  }
  if (flows.empty() && node.default_flow != model::kNoIndex) flows.push_back(node.default_flow);
  if (flows.empty() && !node.outgoing.empty()) {
    p.raise_incident(ei.key, IncidentKind::kNoFlowMatched,
                     fmt::format("no condition of an outgoing flow of '{}' is true and it has no default flow", node.id));
    return false;
  }
  return true;
}

}  // namespace banshi::core
