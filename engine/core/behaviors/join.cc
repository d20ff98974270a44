#include "core/behaviors/join.h"

#include <algorithm>

namespace banshi::core {

JoinState& join_state(InstanceState& state, Key scope, const model::FlowNode& gateway) {
  for (JoinState& j : state.joins) {
    if (j.scope == scope && j.gateway == gateway.index) return j;
  }
  state.joins.push_back(JoinState{scope, gateway.index, std::vector<uint32_t>(gateway.incoming.size(), 0)});
  return state.joins.back();
}

void record_arrival(InstanceState& state, Key scope, const model::FlowNode& gateway, model::Index flow) {
  JoinState& j = join_state(state, scope, gateway);
  for (size_t i = 0; i < gateway.incoming.size(); ++i) {
    if (gateway.incoming[i] == flow) {
      ++j.arrived[i];
      return;
    }
  }
}

void drop_if_empty(InstanceState& state, Key scope, model::Index gateway) {
  std::erase_if(state.joins, [&](const JoinState& j) {
    return j.scope == scope && j.gateway == gateway &&
           std::all_of(j.arrived.begin(), j.arrived.end(), [](uint32_t a) { return a == 0; });
  });
}

}  // namespace banshi::core
