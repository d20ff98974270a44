// core/behaviors/behaviors.h — the behaviour of each element type, one .cc each.
#pragma once

#include "core/behavior.h"

namespace banshi::core {

#define BANSHI_BEHAVIOR_ACTIVATED \
  void on_activated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const override

class StartEventBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
};

class EndEventBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
  void on_left(Processor& p, Key scope, const model::FlowNode& node) const override;
};

class IntermediateCatchEventBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
};

class IntermediateThrowEventBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
  void on_left(Processor& p, Key scope, const model::FlowNode& node) const override;
};

class BoundaryEventBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
};

class TaskBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
};

class UserTaskBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
};

class ServiceTaskBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
};

class ReceiveTaskBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
};

class ScriptTaskBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
};

class BusinessRuleTaskBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
};

class ExclusiveGatewayBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
  bool select_outgoing(Processor& p, ElementInstance& ei, const model::FlowNode& node,
                       std::vector<model::Index>& flows) const override;
};

class ParallelGatewayBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
  bool accept_token(Processor& p, Key scope, const model::FlowNode& node, model::Index flow) const override;
  bool select_outgoing(Processor& p, ElementInstance& ei, const model::FlowNode& node,
                       std::vector<model::Index>& flows) const override;
};

class InclusiveGatewayBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
  bool accept_token(Processor& p, Key scope, const model::FlowNode& node, model::Index flow) const override;
  bool select_outgoing(Processor& p, ElementInstance& ei, const model::FlowNode& node,
                       std::vector<model::Index>& flows) const override;
  void on_scope_changed(Processor& p, Key scope, const model::FlowNode& node) const override;
};

class EventBasedGatewayBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
};

class SubProcessBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
};

class EventSubProcessBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
};

class CallActivityBehavior final : public ElementBehavior {
 public:
  BANSHI_BEHAVIOR_ACTIVATED;
  void on_terminated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const override;
};

#undef BANSHI_BEHAVIOR_ACTIVATED

}  // namespace banshi::core
