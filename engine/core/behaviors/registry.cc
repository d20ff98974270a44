// The table from element type to behaviour. Adding an element type is adding
// a behaviour file and a row here.
#include <stdexcept>
#include <string>

#include "core/behavior.h"
#include "core/behaviors/behaviors.h"

namespace banshi::core {

const ElementBehavior& behavior_for(model::ElementType type) {
  using model::ElementType;
  static const StartEventBehavior start_event;
  static const EndEventBehavior end_event;
  static const IntermediateCatchEventBehavior catch_event;
  static const IntermediateThrowEventBehavior throw_event;
  static const BoundaryEventBehavior boundary_event;
  static const TaskBehavior task;
  static const UserTaskBehavior user_task;
  static const ServiceTaskBehavior service_task;
  static const ReceiveTaskBehavior receive_task;
  static const ScriptTaskBehavior script_task;
  static const BusinessRuleTaskBehavior business_rule_task;
  static const ExclusiveGatewayBehavior exclusive_gateway;
  static const ParallelGatewayBehavior parallel_gateway;
  static const InclusiveGatewayBehavior inclusive_gateway;
  static const EventBasedGatewayBehavior event_based_gateway;
  static const SubProcessBehavior sub_process;
  static const EventSubProcessBehavior event_sub_process;
  static const CallActivityBehavior call_activity;
  switch (type) {
    case ElementType::kStartEvent: return start_event;
    case ElementType::kEndEvent: return end_event;
    case ElementType::kIntermediateCatchEvent: return catch_event;
    case ElementType::kIntermediateThrowEvent: return throw_event;
    case ElementType::kBoundaryEvent: return boundary_event;
    case ElementType::kTask:
    case ElementType::kManualTask: return task;
    case ElementType::kUserTask: return user_task;
    case ElementType::kServiceTask:
    case ElementType::kSendTask: return service_task;
    case ElementType::kReceiveTask: return receive_task;
    case ElementType::kScriptTask: return script_task;
    case ElementType::kBusinessRuleTask: return business_rule_task;
    case ElementType::kExclusiveGateway: return exclusive_gateway;
    case ElementType::kParallelGateway: return parallel_gateway;
    case ElementType::kInclusiveGateway: return inclusive_gateway;
    case ElementType::kEventBasedGateway: return event_based_gateway;
    case ElementType::kSubProcess:
    case ElementType::kTransaction: return sub_process;
    case ElementType::kEventSubProcess: return event_sub_process;
    case ElementType::kCallActivity: return call_activity;
    case ElementType::kComplexGateway:
    case ElementType::kAdHocSubProcess:
    case ElementType::kUnknown: break;
  }
  throw std::logic_error("no behaviour for element type " + std::string(model::xml_name(type)) +
                         "; validation should have refused the model");
}

}  // namespace banshi::core
