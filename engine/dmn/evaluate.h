// dmn/evaluate.h — evaluating a decision of a loaded model.
//
// Contract
// - evaluate() is pure: it reads the model, the inputs and the options, and
//   never throws for bad input. A decision first evaluates the decisions it
//   requires (each once), binds its input data (coerced to their types: a JSON
//   string becomes a date when the input is typed date), makes its business
//   knowledge models callable, then evaluates its logic.
// - A name that is not a requirement falls back to the caller's variables, so
//   a table may read process variables without declaring input data.
// - What DMN calls an error (a UNIQUE table with two matches, an output
//   outside its output values, a result that does not conform to its type)
//   makes the decision's value null and is listed in `errors`, with the
//   decision's id. FEEL-level nulls (a missing variable) are not errors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dmn/model.h"
#include "expr/feel.h"

namespace banshi::dmn {

struct MatchedRules {
  std::string decision_id;
  std::string decision_name;
  std::vector<size_t> rules;          // 1-based rule numbers, in table order
  std::vector<std::string> rule_ids;  // the rules' ids (may be empty strings)
};

struct DecisionResult {
  expr::Value value;
  std::vector<MatchedRules> matched;  // every decision table evaluated, required decisions included
  std::vector<std::string> errors;    // "decision id: sentence"
};

struct EvalOptions {
  int64_t now_epoch_ms = 0;
  int32_t utc_offset_minutes = 480;
  const expr::WorkingDays* working_days = nullptr;
};

// Evaluates the decision with this id (or, failing that, this name). The
// model must outlive any function value in the result.
DecisionResult evaluate(const Definitions& definitions, std::string_view decision, const expr::Variables& inputs,
                        const EvalOptions& options = {});

}  // namespace banshi::dmn
