// Token bookkeeping shared by the parallel and inclusive joins.
#pragma once

#include "core/state.h"

namespace banshi::core {

// The join state of `gateway` in `scope`, created empty when missing.
JoinState& join_state(InstanceState& state, Key scope, const model::FlowNode& gateway);
// Records a token arriving over `flow`.
void record_arrival(InstanceState& state, Key scope, const model::FlowNode& gateway, model::Index flow);
// Removes the join state when no tokens are left in it.
void drop_if_empty(InstanceState& state, Key scope, model::Index gateway);

}  // namespace banshi::core
