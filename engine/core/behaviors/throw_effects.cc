#include "core/behaviors/throw_effects.h"

#include "expr/json_text.h"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace banshi::core {

bool publish_message(Processor& p, ElementInstance& ei, const model::FlowNode& node, model::Index message) {
  const model::Message& m = p.process().definitions().messages[message];
  const model::Expr& key_expr = !node.correlation_key.empty() ? node.correlation_key : m.correlation_key;
  std::string correlation;
  if (!key_expr.empty()) {
    auto v = p.evaluate(key_expr, ei.key, "correlation key");
    if (!v) return false;
    correlation = v->is_string() ? std::string(v->as_string()) : expr::json_text(*v);
  }
  Record r{RecordKind::kMessagePublished, ei.key, ei.element, ei.scope};
  r.name = m.name;
  r.text = correlation;
  boost::json::object vars;
  for (const auto& [k, v] : ei.variables) vars[k] = v;
  r.payload = std::move(vars);
  p.emit(std::move(r));
  return true;
}

void throw_signal(Processor& p, ElementInstance& ei, const model::FlowNode& node) {
  model::Index ref = node.events.front().ref;
  Record r{RecordKind::kSignalThrown, ei.key, ei.element, ei.scope};
  r.name = ref == model::kNoIndex ? std::string() : p.process().definitions().signals[ref].name;
  boost::json::object vars;
  for (const auto& [k, v] : ei.variables) vars[k] = v;
  r.payload = std::move(vars);
  p.emit(std::move(r));
}

void not_supported(Processor& p, ElementInstance& ei, const model::FlowNode& node, const char* what) {
  p.raise_incident(ei.key, IncidentKind::kExpressionFailed,
                   fmt::format("'{}': {} cannot be executed by this version of the engine", node.id, what));
}

}  // namespace banshi::core
