// model/diagnostic.h — what validation says about a model, compiler-style.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace banshi::model {

// 1-based line and column (columns count Unicode code points) in the file as
// written; 0:0 when unknown.
struct SourcePos {
  uint32_t line = 0;
  uint32_t column = 0;
  friend bool operator==(const SourcePos&, const SourcePos&) = default;
};

enum class Severity : uint8_t { kError, kWarning };

// One finding. `code` is stable ("BS201") and documented in
// docs/designer-guide.md; `message` is one plain sentence.
struct Diagnostic {
  Severity severity = Severity::kError;
  std::string code;
  SourcePos pos;
  std::string element_id;  // may be empty
  std::string message;
};

// "file:line:col: error BS123: sentence (element id)"
std::string format_diagnostic(const Diagnostic& d, std::string_view file);

bool has_errors(const std::vector<Diagnostic>& diagnostics);

}  // namespace banshi::model
