// expr/value.h — the values FEEL expressions compute with.
//
// Contract
// - A Value is an immutable-by-convention value type, cheap to copy: lists,
//   contexts and ranges share their contents (copy-on-build, never mutated
//   after construction).
// - null may carry a reason: the sentence that explains why an evaluation
//   produced null (wrong types, division by zero, a missing variable). A null
//   read from data has an empty reason.
// - to_json()/from_json() convert to and from Boost.JSON. Temporal values and
//   durations become ISO-8601 strings; a JSON string always becomes a FEEL
//   string (no guessing of dates). JSON integers convert exactly, doubles
//   through their shortest round-trip text.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/json/fwd.hpp>

#include "expr/decimal.h"
#include "expr/temporal.h"

namespace banshi::expr {

enum class ValueKind : uint8_t {
  kNull,
  kBoolean,
  kNumber,
  kString,
  kDate,
  kTime,
  kDateTime,
  kDaysTimeDuration,
  kYearsMonthsDuration,
  kList,
  kContext,
  kRange,
  kFunction,
};

// A FEEL type name for messages: "number", "date and time", "list", ...
std::string_view kind_name(ValueKind kind);

class Value;
using List = std::vector<Value>;
// A FEEL context keeps its entries in insertion order; keys are unique.
using ContextEntries = std::vector<std::pair<std::string, Value>>;
struct Range;
class Function;

class Value {
 public:
  Value() = default;  // null without a reason

  static Value null(std::string reason = {});
  static Value boolean(bool b);
  static Value number(Decimal n);
  static Value number(int64_t n) { return number(Decimal::from_int(n)); }
  static Value string(std::string s);
  static Value date(Date d);
  static Value time(Time t);
  static Value date_time(DateTime dt);
  static Value duration(DaysTimeDuration d);
  static Value duration(YearsMonthsDuration d);
  static Value list(List items);
  static Value context(ContextEntries entries);
  static Value range(Range r);
  static Value function(std::shared_ptr<const Function> fn);

  ValueKind kind() const { return static_cast<ValueKind>(data_.index()); }
  bool is_null() const { return kind() == ValueKind::kNull; }
  bool is_boolean() const { return kind() == ValueKind::kBoolean; }
  bool is_number() const { return kind() == ValueKind::kNumber; }
  bool is_string() const { return kind() == ValueKind::kString; }
  bool is_list() const { return kind() == ValueKind::kList; }
  bool is_context() const { return kind() == ValueKind::kContext; }

  // Accessors require the matching kind (checked with assert in debug builds).
  const std::string& null_reason() const;
  bool as_boolean() const;
  const Decimal& as_number() const;
  const std::string& as_string() const;
  const Date& as_date() const;
  const Time& as_time() const;
  const DateTime& as_date_time() const;
  const DaysTimeDuration& as_days_time_duration() const;
  const YearsMonthsDuration& as_years_months_duration() const;
  const List& as_list() const;
  const ContextEntries& as_context() const;
  const Range& as_range() const;
  const Function& as_function() const;

  // The value of a context entry, or nullptr when absent or not a context.
  const Value* find(std::string_view key) const;

  // How many values this one holds, counting shared parts each time they
  // appear (1 for a scalar). Kept at construction, so O(1); the evaluator uses
  // it to refuse values whose printed or JSON form would be enormous.
  uint64_t weight() const;

  // FEEL-like text for people and tests: null, true, 1.5, "text", [1, 2],
  // {a: 1}, 2024-01-31, P1D, [1..10].
  std::string to_string() const;

  // Structural equality (not FEEL's three-valued '='): same kind and contents;
  // null reasons are ignored.
  friend bool operator==(const Value& a, const Value& b);

 private:
  struct Null {
    std::shared_ptr<const std::string> reason;
    friend bool operator==(const Null&, const Null&) { return true; }  // reasons do not count
  };
  struct ListBox {
    List items;
    uint64_t weight = 1;
  };
  struct ContextBox {
    ContextEntries entries;
    uint64_t weight = 1;
  };
  using Data = std::variant<Null, bool, Decimal, std::string, Date, Time, DateTime, DaysTimeDuration,
                            YearsMonthsDuration, std::shared_ptr<const ListBox>, std::shared_ptr<const ContextBox>,
                            std::shared_ptr<const Range>, std::shared_ptr<const Function>>;
  Data data_;
};

// A range such as [1..10] or (a..b]; an absent endpoint is unbounded (used by
// the unary tests "< 10", ">= 5").
struct Range {
  Value start;
  Value end;
  bool has_start = true;
  bool has_end = true;
  bool start_included = true;
  bool end_included = true;
  // "=x" as a range: it holds only x, like [x..x], but is not equal to it.
  bool single_point = false;
};

struct EvalContext;

// A function value: a FEEL `function(a, b) body`, or one an embedder supplies
// (a DMN business knowledge model). Called with positional arguments already
// matched to parameters() (missing ones are null). A function is equal only
// to itself; its JSON form is null.
class Function {
 public:
  virtual ~Function() = default;
  virtual const std::vector<std::string>& parameters() const = 0;
  virtual Value invoke(std::vector<Value>& args, const EvalContext& ctx) const = 0;
};

boost::json::value to_json(const Value& value);
Value from_json(const boost::json::value& json);

}  // namespace banshi::expr
