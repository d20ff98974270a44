// expr/feel.h — FEEL expressions: compiled once (at deploy), evaluated many times.
//
// Contract
// - Expression::compile() parses text into an immutable tree. It never throws
//   on bad input: a syntax error comes back as a CompileError with the 1-based
//   line and column (columns count Unicode code points) and one plain sentence.
// - Expression::evaluate() is pure: it reads only the EvalContext (variables,
//   the instant that now()/today() see) and never throws for a FEEL-level
//   failure. Such a failure (wrong types, unknown function argument, division
//   by zero) yields a null Value that carries the reason (Value::null_reason()).
// - A compiled Expression is immutable and may be evaluated from many threads
//   at once. Copies share the compiled tree.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/fwd.hpp>

#include "banshi/result.h"
#include "expr/value.h"

namespace banshi::expr {

struct SourcePos {
  uint32_t line = 1;
  uint32_t column = 1;
  friend bool operator==(const SourcePos&, const SourcePos&) = default;
};

struct CompileError {
  SourcePos pos;
  std::string message;
};

// "line:column: message", e.g. "1:7: expected ')' after the arguments of 'contains'".
std::string to_string(const CompileError& error);

enum class Mode : uint8_t {
  kExpression,  // a full FEEL expression
  kUnaryTests,  // a decision-table input entry: "< 18", "[1..2]", "\"a\",\"b\"", "-", "not(...)"
};

// The variables an expression can see. Implementations decide the scoping;
// find() returns nullptr when a name is unbound.
class Variables {
 public:
  virtual ~Variables() = default;
  virtual const boost::json::value* find(std::string_view name) const = 0;
  // Variables that already are FEEL values (a date stays a date); consulted
  // before find(). The default has none.
  virtual const Value* find_value(std::string_view /*name*/) const { return nullptr; }
};

// Variables read from one JSON object (not owned; must outlive evaluation).
class JsonVariables final : public Variables {
 public:
  explicit JsonVariables(const boost::json::object& object) : object_(object) {}
  const boost::json::value* find(std::string_view name) const override;

 private:
  const boost::json::object& object_;
};

// Working-day arithmetic an embedder supplies (a business calendar), for the
// built-ins `add working days(from, n)` and `working days between(from, to)`.
// Instants are milliseconds since the Unix epoch; `why` explains a failure
// (a year no calendar covers).
class WorkingDays {
 public:
  virtual ~WorkingDays() = default;
  virtual std::optional<int64_t> add(int64_t epoch_ms, int64_t n, std::string& why) const = 0;
  virtual std::optional<int64_t> between(int64_t from_ms, int64_t to_ms, std::string& why) const = 0;
};

struct EvalContext {
  const Variables* variables = nullptr;  // may be null: no variables
  int64_t now_epoch_ms = 0;              // the instant now() and today() read
  int32_t utc_offset_minutes = 480;      // local zone for today(); China Standard Time by default
  const WorkingDays* working_days = nullptr;  // null: the working-day built-ins give null with a reason
};

// Names in scope that the plain FEEL grammar cannot spell or that may be
// called as functions: DMN element names such as "Date-Time" or "values in a
// list", business knowledge models, earlier context entries. Built once and
// shared by every expression of a model, so compiling stays linear in the
// model's size.
class KnownNames {
 public:
  explicit KnownNames(const std::vector<std::string>& names);
  // A name that may be called (a known name that is not also a built-in).
  bool callable(std::string_view name) const { return callable_.find(name) != callable_.end(); }
  // Known names the tokens do not spell, keyed by their first word, longest first.
  const std::vector<std::string>* special(std::string_view first_word) const {
    auto it = special_.find(first_word);
    return it == special_.end() ? nullptr : &it->second;
  }

 private:
  std::set<std::string, std::less<>> callable_;
  std::map<std::string, std::vector<std::string>, std::less<>> special_;
};

struct CompileOptions {
  std::shared_ptr<const KnownNames> names;
  // Convenience for a few names: used when `names` is null.
  std::vector<std::string> known_names;
  // A built-in called with the wrong number or names of arguments is a
  // compile error; with this set it compiles to null carrying the message
  // (DMN: such a decision evaluates to null, the model still loads).
  bool call_errors_yield_null = false;
};

class Expression {
 public:
  static Result<Expression, CompileError> compile(std::string_view text, Mode mode = Mode::kExpression);
  static Result<Expression, CompileError> compile(std::string_view text, Mode mode, const CompileOptions& options);

  // Full expression mode: the value of the expression.
  Value evaluate(const EvalContext& ctx) const;

  // Unary-tests mode: whether `input` satisfies the tests. In expression mode,
  // true when the expression evaluates to true (or, if it evaluates to a
  // non-boolean, equals `input`), matching DMN input-entry semantics.
  bool test(const Value& input, const EvalContext& ctx) const;

  std::string_view source() const;
  Mode mode() const;

  struct Node;  // the compiled tree (defined in the implementation)

 private:
  std::shared_ptr<const Node> root_;
  std::shared_ptr<const std::string> source_;
  Mode mode_ = Mode::kExpression;
};

}  // namespace banshi::expr
