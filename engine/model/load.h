// model/load.h — BPMN 2.0 XML in, an immutable Definitions and diagnostics out.
//
// load_bpmn() never throws for bad input and never crashes, whatever the bytes
// hold. It reports every problem it finds, compiler-style, rather than
// stopping at the first. The result is deployable only when no diagnostic is
// an error. `definitions` is set whenever the XML could be read as BPMN (even
// with executable-rule errors, so tools can still inspect it) and null when it
// could not (malformed XML, wrong root, limits exceeded).
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "model/definition.h"
#include "model/diagnostic.h"

namespace banshi::model {

struct LoadLimits {
  size_t max_bytes = 16u << 20;        // the whole document
  size_t max_depth = 128;              // element nesting
  size_t max_attribute_bytes = 64u << 10;
  size_t max_elements = 500000;
};

struct LoadResult {
  std::shared_ptr<const Definitions> definitions;
  std::vector<Diagnostic> diagnostics;

  bool ok() const { return definitions != nullptr && !has_errors(diagnostics); }
};

LoadResult load_bpmn(std::string_view bytes, const LoadLimits& limits = {});

// Well-known namespaces.
inline constexpr std::string_view kBpmnModelNs = "http://www.omg.org/spec/BPMN/20100524/MODEL";
inline constexpr std::string_view kBpmnDiNs = "http://www.omg.org/spec/BPMN/20100524/DI";
inline constexpr std::string_view kDcNs = "http://www.omg.org/spec/DD/20100524/DC";
inline constexpr std::string_view kDiNs = "http://www.omg.org/spec/DD/20100524/DI";
inline constexpr std::string_view kBanshiNs = "urn:banshi:bpmn:1";
inline constexpr std::string_view kZeebeNs = "http://camunda.org/schema/zeebe/1.0";
inline constexpr std::string_view kXsiNs = "http://www.w3.org/2001/XMLSchema-instance";

}  // namespace banshi::model
