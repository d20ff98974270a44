// Helpers shared by the model tests.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "model/load.h"

namespace banshi::model::testing {

// Wraps flow elements in a definitions/process pair with the usual namespaces.
// `extra_root` is added inside <definitions> after the process (messages, errors...).
inline std::string wrap(std::string_view process_body, std::string_view extra_root = {}, bool executable = true) {
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"\n"
      "    xmlns:bs=\"urn:banshi:bpmn:1\" xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\"\n"
      "    xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" id=\"defs\" targetNamespace=\"urn:test\">\n"
      "<bpmn:process id=\"p\" isExecutable=\"";
  out += executable ? "true" : "false";
  out += "\">\n";
  out += process_body;
  out += "\n</bpmn:process>\n";
  out += extra_root;
  out += "\n</bpmn:definitions>\n";
  return out;
}

inline std::vector<std::string> codes(const LoadResult& r, Severity severity = Severity::kError) {
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics) {
    if (d.severity == severity) out.push_back(d.code + "@" + d.element_id);
  }
  return out;
}

inline std::string dump(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) out += format_diagnostic(d, "t.bpmn") + "\n";
  return out;
}

}  // namespace banshi::model::testing
