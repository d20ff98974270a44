// Call activity: asks the engine service to start the called process and
// waits for the child's completion (kChildCompleted) or error (kChildError).
#include <boost/json.hpp>

#include "core/behaviors/behaviors.h"
#include "core/processor.h"

namespace banshi::core {

void CallActivityBehavior::on_activated(Processor& p, ElementInstance& ei, const model::FlowNode& node) const {
  const model::CallSpec& call = *node.call;
  auto id = p.evaluate(call.process_id, ei.key, "called process");
  if (!id) return;
  if (!id->is_string() || id->as_string().empty()) {
    p.raise_incident(ei.key, IncidentKind::kCalledProcessFailed, "the called process id must be a non-empty string");
    return;
  }
  boost::json::object variables;
  if (call.propagate_all_parent_variables) {
    variables = p.visible_variables(ei.key);
  } else {
    for (const auto& [k, v] : ei.variables) variables[k] = v;
  }
  Record r{RecordKind::kChildInstanceRequested, ei.key, ei.element, ei.scope};
  r.name = std::string(id->as_string());
  boost::json::object payload;
  payload["binding"] = call.binding == model::VersionBinding::kLatest       ? "latest"
                       : call.binding == model::VersionBinding::kDeployment ? "deployment"
                                                                            : "version";
  if (call.version) payload["version"] = *call.version;
  payload["variables"] = std::move(variables);
  r.payload = std::move(payload);
  p.emit(std::move(r));
}

void CallActivityBehavior::on_terminated(Processor& p, ElementInstance& ei, const model::FlowNode&) const {
  p.emit(Record{RecordKind::kChildInstanceCanceled, ei.key, ei.element, ei.scope});
}

}  // namespace banshi::core
