// core/behavior.h — one behaviour per BPMN element type.
//
// A behaviour says what its element does at each point of the lifecycle the
// Processor (processor.h) drives: activated, triggered by an event, completing,
// leaving, terminated. Shared logic lives in the Processor; a behaviour is
// usually a dozen lines. Behaviours are stateless singletons registered in a
// table keyed by element type (behaviors/registry.cc); an element type with no
// behaviour fails loudly.
#pragma once

#include <vector>

#include <boost/json/object.hpp>

#include "core/state.h"
#include "model/definition.h"

namespace banshi::core {

class Processor;

class ElementBehavior {
 public:
  virtual ~ElementBehavior() = default;

  // Before an element instance is created for a token arriving over `flow`:
  // false holds the token back (joins wait for their other flows).
  virtual bool accept_token(Processor& p, Key scope, const model::FlowNode& node, model::Index flow) const;

  // The element instance is active (input mappings applied). Pass-through
  // elements complete at once; waiting elements create their effects.
  virtual void on_activated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const = 0;

  // An event this element waits for happened (job done, timer, message...).
  virtual void on_triggered(Processor& p, ElementInstance& ei, const model::FlowNode& node,
                            const boost::json::object& variables) const;

  // A child of this container ended its path and nothing else runs in it.
  virtual void on_children_done(Processor& p, ElementInstance& ei, const model::FlowNode& node) const;

  // While the element completes (it still exists): the flows it will leave
  // by. The default takes the outgoing flows whose condition holds, else the
  // default flow. False means an incident was raised on `ei`; the completion is
  // retried when the incident is resolved.
  virtual bool select_outgoing(Processor& p, ElementInstance& ei, const model::FlowNode& node,
                               std::vector<model::Index>& flows) const;

  // After the element completed and its flows were taken (end events,
  // link throws and the like act here).
  virtual void on_left(Processor& p, Key scope, const model::FlowNode& node) const;

  // Something ended in `scope` while tokens wait at this element (inclusive
  // joins re-check whether the tokens still missing can arrive at all).
  virtual void on_scope_changed(Processor& p, Key scope, const model::FlowNode& node) const;

  // The element instance is being terminated: cancel what it created.
  virtual void on_terminated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const;
};

// The behaviour for an element type; throws std::logic_error for a type
// without one (validation refuses such models, so reaching it is a bug).
const ElementBehavior& behavior_for(model::ElementType type);

}  // namespace banshi::core
