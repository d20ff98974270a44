// dmn/model.h — DMN 1.1–1.5 XML in, an immutable decision model and diagnostics out.
//
// load_dmn() never throws for bad input and reports every problem it finds,
// compiler-style, with line:column (the same XML safety as the BPMN loader:
// size and depth limits, no DTD). Namespace prefixes do not matter: elements
// are matched by local name under a DMN `definitions` root. Every FEEL text is
// compiled at load, so a syntax error is a deploy-time diagnostic.
//
// What a model holds: decisions (decision tables with every hit policy,
// literal expressions, contexts, lists, relations, invocations, function
// definitions), business knowledge models, input data with item definitions,
// and the requirements between them. See evaluate.h for evaluation.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "expr/feel.h"
#include "model/diagnostic.h"
#include "model/load.h"

namespace banshi::dmn {

using model::Diagnostic;
using model::SourcePos;

enum class HitPolicy : uint8_t { kUnique, kAny, kPriority, kFirst, kRuleOrder, kOutputOrder, kCollect };
enum class Aggregation : uint8_t { kNone, kSum, kMin, kMax, kCount };

std::string_view hit_policy_name(HitPolicy policy);

struct ItemDefinition {
  std::string name;
  std::string type_ref;  // a base type or another item definition; empty when it has components
  bool is_collection = false;
  std::optional<expr::Expression> allowed_values;  // unary tests
  std::vector<ItemDefinition> components;
};

struct BoxedExpression;
struct DecisionTable;

enum class BoxedKind : uint8_t { kLiteral, kContext, kList, kRelation, kInvocation, kFunction, kDecisionTable };

// One boxed expression. Which members are used depends on `kind`:
// - kLiteral: `feel`.
// - kContext: `names[i]`/`type_refs[i]` name entry i (empty name: the result
//   entry), `children[i]` its value.
// - kList: `children` are the items.
// - kRelation: `names` are the columns, `children` the cells row by row.
// - kInvocation: `callee` names the function, `names[i]` binds parameter i to `children[i]`.
// - kFunction: `names` are the parameters (`type_refs` their types), `children[0]` the body.
// - kDecisionTable: `table`.
struct BoxedExpression {
  BoxedKind kind = BoxedKind::kLiteral;
  SourcePos pos;
  std::string type_ref;
  expr::Expression feel;
  std::string callee;
  std::vector<std::string> names;
  std::vector<std::string> type_refs;
  std::vector<std::unique_ptr<BoxedExpression>> children;
  std::unique_ptr<DecisionTable> table;
};

struct TableInput {
  std::string label;
  std::string type_ref;
  expr::Expression expression;
  std::optional<expr::Expression> input_values;  // unary tests the input must satisfy
};

struct TableOutput {
  std::string name;
  std::string type_ref;
  std::optional<expr::Expression> output_values;  // unary tests an output must satisfy
  std::vector<expr::Value> priorities;            // the output values in order (PRIORITY, OUTPUT ORDER)
  std::optional<expr::Expression> default_output;
};

struct Rule {
  std::string id;
  SourcePos pos;
  std::vector<expr::Expression> input_entries;   // unary tests, one per input
  std::vector<expr::Expression> output_entries;  // expressions, one per output
};

struct DecisionTable {
  HitPolicy hit_policy = HitPolicy::kUnique;
  Aggregation aggregation = Aggregation::kNone;
  std::string output_label;
  std::vector<TableInput> inputs;
  std::vector<TableOutput> outputs;
  std::vector<Rule> rules;
};

struct Requirements {
  std::vector<size_t> decisions;  // indexes into Definitions::decisions
  std::vector<size_t> inputs;     // indexes into Definitions::inputs
  std::vector<size_t> knowledge;  // indexes into Definitions::bkms
};

struct Decision {
  std::string id;
  std::string name;
  SourcePos pos;
  std::string type_ref;
  Requirements requirements;
  std::unique_ptr<BoxedExpression> logic;  // null: the decision has no logic
};

struct InputData {
  std::string id;
  std::string name;
  std::string type_ref;
};

struct BusinessKnowledgeModel {
  std::string id;
  std::string name;
  SourcePos pos;
  std::string type_ref;
  std::vector<size_t> knowledge;             // other models it invokes
  std::unique_ptr<BoxedExpression> logic;    // a kFunction expression
};

struct Definitions {
  std::string id;
  std::string name;
  std::string namespace_uri;
  std::vector<ItemDefinition> item_definitions;
  std::vector<Decision> decisions;
  std::vector<InputData> inputs;
  std::vector<BusinessKnowledgeModel> bkms;

  // A decision by id, else by name; nullptr when there is none.
  const Decision* find_decision(std::string_view id_or_name) const;
  const ItemDefinition* find_item_definition(std::string_view type_name) const;
};

struct LoadResult {
  std::shared_ptr<const Definitions> definitions;
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return definitions != nullptr && !model::has_errors(diagnostics); }
};

struct LoadOptions {
  model::LoadLimits limits;
  // Off (deploying): a FEEL syntax error is an error diagnostic and the model
  // does not load. On (the conformance runner, where a model deliberately holds
  // invalid expressions): it is a warning and that expression evaluates to
  // null carrying the compile error, as the DMN specification describes.
  bool invalid_expressions_evaluate_to_null = false;
};

LoadResult load_dmn(std::string_view bytes, const LoadOptions& options = {});

// Whether the bytes look like a DMN document (a `definitions` root in a DMN
// namespace) rather than BPMN; used to route a deployed resource.
bool looks_like_dmn(std::string_view bytes);

}  // namespace banshi::dmn
