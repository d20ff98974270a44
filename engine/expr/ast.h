// expr/ast.h — internal: the compiled tree shared by the parser, the
// evaluator and the built-ins. Not part of the public API.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "expr/feel.h"
#include "expr/value.h"

namespace banshi::expr {

// Limits that keep hostile input from exhausting the stack, memory or time.
inline constexpr size_t kMaxSourceBytes = 64 * 1024;
inline constexpr uint32_t kMaxNestingDepth = 256;
inline constexpr uint64_t kMaxEvaluationSteps = 10'000'000;
inline constexpr size_t kMaxRangeItems = 1'000'000;
inline constexpr size_t kMaxStringBytes = 1 << 20;
inline constexpr uint64_t kMaxValueWeight = 1'000'000;  // values nested in a result, see Value::weight()
inline constexpr int kMaxCallDepth = 48;                  // nested calls of function values

enum class NodeKind : uint8_t {
  kLiteral,
  kName,        // a variable; `name`
  kPath,        // children[0].name
  kFilter,      // children[0][children[1]]
  kCall,        // builtin(children...); without a builtin: children[0](children[1..]), names: argument names
  kFunction,    // function(names...) children[0]
  kNegate,      // -children[0]
  kBinary,      // children[0] op children[1]
  kAnd,
  kOr,
  kBetween,     // children[0] between children[1] and children[2]
  kIn,          // children[0] in (children[1..]) — the tests
  kIf,          // if children[0] then children[1] else children[2]
  kList,
  kContext,     // names[i]: children[i]
  kRange,       // children[0]..children[1]; flag_a/flag_b: start/end included
  kIterRange,   // children[0]..children[1] as an iteration domain of for
  kOpenRange,   // "< e", ">= e", "= e", "!= e" used as a value: op children[0]
  kFor,         // names[i] in children[i], return children.back()
  kSome,
  kEvery,
  kInstanceOf,  // children[0] instance of `name`
  // Unary tests; each is checked against the input value ('?').
  kTestCompare,  // ? op children[0]
  kTestExpr,     // children[0]: a value the input must equal / lie in / a boolean when flag_a ('?' used)
  kTestAny,      // -
  kTestNot,      // not(children...)
  kTestList,     // children... joined by ',' (any matches)
};

enum class BinaryOp : uint8_t { kAdd, kSubtract, kMultiply, kDivide, kPower, kEq, kNe, kLt, kLe, kGt, kGe };

struct Builtin;

// The type on the right of `instance of`: a plain name (`number`, `date and
// time`, `Any`, `Null`, an item definition's name) or a composite one:
// `list<T>` and `range<T>` have one member type, `context<k: T, ...>` one per
// entry (named in `keys`), `function<T, ...> -> R` its parameters' types and
// then its result's. (Two vectors rather than one of pairs: a pair cannot
// hold the type it is declared in.)
struct TypeSpec {
  std::string name;
  bool composite = false;
  std::vector<TypeSpec> members;
  std::vector<std::string> keys;  // context entries' names, one per member
};

struct Expression::Node {
  NodeKind kind = NodeKind::kLiteral;
  BinaryOp op = BinaryOp::kAdd;
  bool flag_a = false;
  bool flag_b = false;
  uint32_t height = 1;  // longest path to a leaf, bounded by kMaxNestingDepth
  SourcePos pos;
  Value literal;
  std::string name;
  std::vector<std::string> names;
  std::vector<std::unique_ptr<Node>> children;
  const Builtin* builtin = nullptr;
  std::shared_ptr<const TypeSpec> type;  // kInstanceOf
};

using Node = Expression::Node;

// Parses `text` (already checked for size) in the given mode.
Result<std::unique_ptr<Node>, CompileError> parse(std::string_view text, Mode mode,
                                                  const KnownNames* known_names = nullptr,
                                                  bool lenient_calls = false);

// Evaluation budget shared by the evaluator and the built-ins.
struct EvalBudget {
  uint64_t steps = 0;
  bool exhausted = false;
  // Charges `cost` steps; false once the budget is used up.
  bool charge(uint64_t cost) {
    steps += cost;
    if (steps > kMaxEvaluationSteps) exhausted = true;
    return !exhausted;
  }
};

struct CallContext {
  const EvalContext& eval;
  EvalBudget& budget;
};

using BuiltinFn = Value (*)(std::vector<Value>& args, CallContext& call);

struct Builtin {
  std::string_view name;
  std::vector<std::string_view> params;  // for named arguments
  int min_args = 0;
  int max_args = 0;  // -1: any number
  BuiltinFn fn = nullptr;
  std::vector<std::string_view> other_params = {};  // names of a second form, e.g. date(year, month, day)
};

// Calls a function value with positional arguments (built-ins that take a
// function, such as sort()); null with a reason when `fn` is not a function.
Value call_function(const Value& fn, std::vector<Value> args, CallContext& call);

std::span<const Builtin> builtins();
const Builtin* find_builtin(std::string_view name);

// FEEL '=': nullopt is FEEL null (incomparable kinds).
std::optional<bool> feel_equal(const Value& a, const Value& b);
// FEEL ordering: nullopt when the values are not comparable.
std::optional<int> feel_compare(const Value& a, const Value& b);
// Membership of `input` in a range value.
std::optional<bool> range_contains(const Range& range, const Value& input);
// FEEL '+', '-', '*', '/' on any kinds (numbers, strings, temporals).
Value arithmetic(BinaryOp op, const Value& a, const Value& b);
// Properties of temporal values (year, month, days, hours, ...).
Value temporal_property(const Value& value, std::string_view name);

// UTF-8 helpers (strings count code points).
size_t utf8_length(std::string_view text);
// Byte offset of code point `index` (clamped to the end).
size_t utf8_offset(std::string_view text, size_t index);
// Appends code point `cp` (at most U+10FFFF) as UTF-8.
void append_utf8(std::string& out, uint32_t cp);

}  // namespace banshi::expr
