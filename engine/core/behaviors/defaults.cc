// The default lifecycle every behaviour starts from.
#include "core/behavior.h"
#include "core/processor.h"

namespace banshi::core {

bool ElementBehavior::accept_token(Processor&, Key, const model::FlowNode&, model::Index) const { return true; }

void ElementBehavior::on_triggered(Processor& p, ElementInstance& ei, const model::FlowNode&,
                                   const boost::json::object& variables) const {
  p.merge_completion_variables(ei, variables);
  p.enqueue_complete(ei.key);
}

void ElementBehavior::on_children_done(Processor& p, ElementInstance& ei, const model::FlowNode&) const {
  p.enqueue_complete(ei.key);
}

bool ElementBehavior::select_outgoing(Processor& p, ElementInstance& ei, const model::FlowNode& node,
                                      std::vector<model::Index>& flows) const {
  return p.select_default_outgoing(ei, node, flows);
}

void ElementBehavior::on_left(Processor&, Key, const model::FlowNode&) const {}

void ElementBehavior::on_scope_changed(Processor&, Key, const model::FlowNode&) const {}

void ElementBehavior::on_terminated(Processor&, ElementInstance&, const model::FlowNode&) const {}

}  // namespace banshi::core
