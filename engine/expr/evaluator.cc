// Tree-walking evaluation of compiled FEEL, and the Expression facade.
#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "expr/ast.h"

namespace banshi::expr {

namespace {

// A lexical scope: binds one name, or every key of a context (filters on
// lists of contexts, context literals that refer to earlier entries).
struct Frame {
  const Frame* parent = nullptr;
  std::string_view name;
  const Value* value = nullptr;
  const ContextEntries* context = nullptr;
};

Value to_value(std::optional<bool> b) { return b ? Value::boolean(*b) : Value(); }

// The budget of the outermost evaluation on this thread: functions called from
// an expression (closures, business knowledge models) spend from it too.
thread_local EvalBudget* t_budget = nullptr;
thread_local int t_call_depth = 0;

class Evaluator;

// A FEEL `function(a, b) body`: the body stays in the compiled tree (kept
// alive by `tree_`), the names visible where it was defined are copied.
class Closure final : public Function {
 public:
  Closure(std::shared_ptr<const Node> tree, const Node* definition, ContextEntries captured)
      : tree_(std::move(tree)), definition_(definition), captured_(std::move(captured)) {}
  const std::vector<std::string>& parameters() const override { return definition_->names; }
  Value invoke(std::vector<Value>& args, const EvalContext& ctx) const override;

 private:
  std::shared_ptr<const Node> tree_;
  const Node* definition_;
  ContextEntries captured_;
};

class Evaluator {
 public:
  Evaluator(const EvalContext& ctx, std::shared_ptr<const Node> tree)
      : ctx_(ctx), tree_(std::move(tree)), owns_budget_(t_budget == nullptr),
        budget_(owns_budget_ ? own_budget_ : *t_budget) {
    if (owns_budget_) t_budget = &own_budget_;
  }
  ~Evaluator() {
    if (owns_budget_) t_budget = nullptr;
  }
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  Value apply_closure(const Node& definition, const ContextEntries& captured, std::vector<Value>& args) {
    Frame outer{nullptr, {}, nullptr, &captured};
    ContextEntries params;
    params.reserve(definition.names.size());
    for (size_t i = 0; i < definition.names.size(); ++i) {
      params.emplace_back(definition.names[i], i < args.size() ? std::move(args[i]) : Value());
    }
    Frame inner{&outer, {}, nullptr, &params};
    return eval(*definition.children[0], &inner);
  }

  // Calls a function value; `names` (when not empty) names each argument.
  Value call(const Value& callee, std::vector<Value>& args, const std::vector<std::string>& names) {
    if (callee.kind() != ValueKind::kFunction) {
      if (callee.is_null() && !callee.null_reason().empty()) return callee;
      return Value::null(fmt::format("a {} cannot be called", kind_name(callee.kind())));
    }
    const Function& fn = callee.as_function();
    const auto& params = fn.parameters();
    if (!names.empty()) {
      std::vector<Value> ordered(params.size());
      for (size_t i = 0; i < names.size(); ++i) {
        auto it = std::find(params.begin(), params.end(), names[i]);
        if (it == params.end()) return Value::null(fmt::format("the function has no parameter named '{}'", names[i]));
        ordered[static_cast<size_t>(it - params.begin())] = std::move(args[i]);
      }
      args = std::move(ordered);
    } else if (args.size() != params.size()) {
      return Value::null(fmt::format("the function takes {} argument{}, not {}", params.size(),
                                     params.size() == 1 ? "" : "s", args.size()));
    }
    if (t_call_depth >= kMaxCallDepth) {
      return Value::null(fmt::format("functions call each other more than {} levels deep", kMaxCallDepth));
    }
    ++t_call_depth;
    Value result = fn.invoke(args, ctx_);
    --t_call_depth;
    if (budget_.exhausted) return exhausted();
    return result;
  }

  Value eval(const Node& node, const Frame* frame) {
    if (!budget_.charge(1)) return exhausted();
    Value result = eval_node(node, frame);
    // Shared parts (a context entry used twice, then twice again...) can make
    // a value whose printed or JSON form grows exponentially with the text.
    if (result.weight() > kMaxValueWeight) {
      return Value::null(fmt::format("the value would hold more than {} items", kMaxValueWeight));
    }
    return result;
  }

  Value eval_node(const Node& node, const Frame* frame) {
    switch (node.kind) {
      case NodeKind::kLiteral: return node.literal;
      case NodeKind::kName: return lookup(node.name, frame);
      case NodeKind::kPath: return eval_path(node, frame);
      case NodeKind::kFilter: return eval_filter(node, frame);
      case NodeKind::kCall: {
        std::vector<Value> args;
        args.reserve(node.children.size());
        if (!node.builtin) {
          Value callee = eval(*node.children[0], frame);
          for (size_t i = 1; i < node.children.size(); ++i) args.push_back(eval(*node.children[i], frame));
          if (budget_.exhausted) return exhausted();
          return call(callee, args, node.names);
        }
        for (const auto& child : node.children) args.push_back(eval(*child, frame));
        if (budget_.exhausted) return exhausted();
        CallContext call{ctx_, budget_};
        Value result = node.builtin->fn(args, call);
        if (budget_.exhausted) return exhausted();
        return result;
      }
      case NodeKind::kNegate: {
        Value v = eval(*node.children[0], frame);
        switch (v.kind()) {
          case ValueKind::kNumber: return Value::number(v.as_number().negated());
          case ValueKind::kDaysTimeDuration:
            return Value::duration(DaysTimeDuration{v.as_days_time_duration().seconds.negated()});
          case ValueKind::kYearsMonthsDuration:
            return Value::duration(YearsMonthsDuration{-v.as_years_months_duration().months});
          case ValueKind::kNull: return v;
          default: return Value::null(fmt::format("cannot negate a {}", kind_name(v.kind())));
        }
      }
      case NodeKind::kBinary: {
        Value a = eval(*node.children[0], frame);
        Value b = eval(*node.children[1], frame);
        switch (node.op) {
          case BinaryOp::kEq: return to_value(feel_equal(a, b));
          case BinaryOp::kNe: {
            auto e = feel_equal(a, b);
            return e ? Value::boolean(!*e) : Value();
          }
          case BinaryOp::kLt:
          case BinaryOp::kLe:
          case BinaryOp::kGt:
          case BinaryOp::kGe: return compare(node.op, a, b);
          default: return arithmetic(node.op, a, b);
        }
      }
      case NodeKind::kAnd: {
        Value a = eval(*node.children[0], frame);
        if (a.is_boolean() && !a.as_boolean()) return Value::boolean(false);
        Value b = eval(*node.children[1], frame);
        if (b.is_boolean() && !b.as_boolean()) return Value::boolean(false);
        if (a.is_boolean() && b.is_boolean()) return Value::boolean(true);
        return Value();
      }
      case NodeKind::kOr: {
        Value a = eval(*node.children[0], frame);
        if (a.is_boolean() && a.as_boolean()) return Value::boolean(true);
        Value b = eval(*node.children[1], frame);
        if (b.is_boolean() && b.as_boolean()) return Value::boolean(true);
        if (a.is_boolean() && b.is_boolean()) return Value::boolean(false);
        return Value();
      }
      case NodeKind::kBetween: {
        Value v = eval(*node.children[0], frame);
        Value low = eval(*node.children[1], frame);
        Value high = eval(*node.children[2], frame);
        Value above = compare(BinaryOp::kGe, v, low);
        Value below = compare(BinaryOp::kLe, v, high);
        if ((above.is_boolean() && !above.as_boolean()) || (below.is_boolean() && !below.as_boolean())) {
          return Value::boolean(false);
        }
        if (above.is_boolean() && below.is_boolean()) return Value::boolean(true);
        return Value();
      }
      case NodeKind::kIn: {
        Value input = eval(*node.children[0], frame);
        return to_value(check(*node.children[1], input, frame));
      }
      case NodeKind::kIf: {
        Value condition = eval(*node.children[0], frame);
        bool yes = condition.is_boolean() && condition.as_boolean();
        return eval(*node.children[yes ? 1 : 2], frame);
      }
      case NodeKind::kList: {
        List items;
        items.reserve(node.children.size());
        for (const auto& child : node.children) items.push_back(eval(*child, frame));
        return Value::list(std::move(items));
      }
      case NodeKind::kContext: {
        ContextEntries entries;
        entries.reserve(node.children.size());
        Frame scope{frame, {}, nullptr, &entries};
        for (size_t i = 0; i < node.children.size(); ++i) {
          Value v = eval(*node.children[i], &scope);
          entries.emplace_back(node.names[i], std::move(v));
        }
        return Value::context(std::move(entries));
      }
      case NodeKind::kRange: {
        Range range;
        range.start = eval(*node.children[0], frame);
        range.end = eval(*node.children[1], frame);
        range.start_included = node.flag_a;
        range.end_included = node.flag_b;
        if (!range.start.is_null() && !range.end.is_null() && range.start.kind() != range.end.kind()) {
          return Value::null("the endpoints of the range have different types");
        }
        if (!is_range_endpoint(range.start) || !is_range_endpoint(range.end)) {
          return Value::null("a range endpoint must be a number, a string, a date, a time or a duration");
        }
        return Value::range(std::move(range));
      }
      case NodeKind::kFunction: {
        if (!tree_) return Value::null("the function definition cannot be evaluated here");
        ContextEntries captured;
        for (const Frame* f = frame; f; f = f->parent) {
          auto add = [&](std::string_view key, const Value& value) {
            for (const auto& entry : captured) {
              if (entry.first == key) return;
            }
            captured.emplace_back(std::string(key), value);
          };
          if (f->context) {
            for (const auto& [key, value] : *f->context) add(key, value);
          } else if (f->value) {
            add(f->name, *f->value);
          }
        }
        if (!budget_.charge(captured.size())) return exhausted();
        return Value::function(std::make_shared<const Closure>(tree_, &node, std::move(captured)));
      }
      case NodeKind::kFor: return eval_for(node, frame);
      case NodeKind::kSome:
      case NodeKind::kEvery: return eval_quantified(node, frame);
      case NodeKind::kInstanceOf: return Value::boolean(instance_of(eval(*node.children[0], frame), *node.type));
      case NodeKind::kOpenRange: {
        Value endpoint = eval(*node.children[0], frame);
        if (node.op == BinaryOp::kNe) return Value::null("'!=' cannot be used as a range");
        if (!is_range_endpoint(endpoint)) {
          return Value::null("a range endpoint must be a number, a string, a date, a time or a duration");
        }
        Range range;
        bool upper = node.op == BinaryOp::kLt || node.op == BinaryOp::kLe;
        bool inclusive = node.op != BinaryOp::kLt && node.op != BinaryOp::kGt;
        if (node.op == BinaryOp::kEq) {
          range.start = range.end = endpoint;
          range.single_point = true;
        } else if (upper) {
          range.has_start = false;
          range.end = endpoint;
          range.end_included = inclusive;
        } else {
          range.has_end = false;
          range.start = endpoint;
          range.start_included = inclusive;
        }
        return Value::range(std::move(range));
      }
      case NodeKind::kIterRange:
        return Value::null("a range with '..' is only allowed as the domain of 'for'");
      case NodeKind::kTestCompare:
      case NodeKind::kTestExpr:
      case NodeKind::kTestAny:
      case NodeKind::kTestNot:
      case NodeKind::kTestList: {
        const Value* input = find_in_frames("?", frame);
        return to_value(check(node, input ? *input : Value(), frame));
      }
    }
    return Value();
  }

  // Whether `input` satisfies a unary test; nullopt when it cannot be decided.
  std::optional<bool> check(const Node& test, const Value& input, const Frame* frame) {
    if (!budget_.charge(1)) return std::nullopt;
    Frame scope{frame, "?", &input, nullptr};
    switch (test.kind) {
      case NodeKind::kTestAny: return true;
      case NodeKind::kTestList: {
        bool unknown = false;
        for (const auto& child : test.children) {
          auto r = check(*child, input, frame);
          if (r && *r) return true;
          if (!r) unknown = true;
        }
        if (unknown) return std::nullopt;
        return false;
      }
      case NodeKind::kTestNot: {
        auto r = check(*test.children[0], input, frame);
        if (!r) return std::nullopt;
        return !*r;
      }
      case NodeKind::kTestCompare: {
        Value endpoint = eval(*test.children[0], &scope);
        if (test.op == BinaryOp::kEq) return feel_equal(input, endpoint);
        if (test.op == BinaryOp::kNe) {
          auto e = feel_equal(input, endpoint);
          if (!e) return std::nullopt;
          return !*e;
        }
        Value r = compare(test.op, input, endpoint);
        if (!r.is_boolean()) return std::nullopt;
        return r.as_boolean();
      }
      case NodeKind::kTestExpr: {
        Value v = eval(*test.children[0], &scope);
        if (test.flag_a && v.is_boolean()) return v.as_boolean();
        // A test on `?` that gives null (`? >= 18` with no input) is not
        // met; comparing that null with a null input would say it is.
        if (test.flag_a && v.is_null()) return false;
        return matches(input, v);
      }
      default: {
        Value v = eval(test, &scope);
        return matches(input, v);
      }
    }
  }

  const EvalBudget& budget() const { return budget_; }

 private:
  static bool is_range_endpoint(const Value& v) {
    return !(v.is_list() || v.is_context() || v.kind() == ValueKind::kRange || v.is_boolean());
  }

  static Value exhausted() {
    return Value::null(fmt::format("the evaluation needs more than {} steps", kMaxEvaluationSteps));
  }

  // How a plain value acts as a test: a list matches its members (or an
  // equal list), a range its contents, anything else equality.
  std::optional<bool> matches(const Value& input, const Value& v) {
    if (v.kind() == ValueKind::kRange) return range_contains(v.as_range(), input);
    if (v.is_list()) {
      if (input.is_list()) {
        auto e = feel_equal(input, v);
        if (e && *e) return true;
      }
      budget_.charge(v.as_list().size());
      for (const auto& item : v.as_list()) {
        std::optional<bool> r = item.kind() == ValueKind::kRange ? range_contains(item.as_range(), input)
                                                                 : feel_equal(input, item);
        if (r && *r) return true;
      }
      return false;
    }
    return feel_equal(input, v);
  }

  static Value compare(BinaryOp op, const Value& a, const Value& b) {
    auto c = feel_compare(a, b);
    if (!c) {
      if (a.is_null() || b.is_null()) return Value();
      return Value::null(fmt::format("cannot compare a {} with a {}", kind_name(a.kind()), kind_name(b.kind())));
    }
    switch (op) {
      case BinaryOp::kLt: return Value::boolean(*c < 0);
      case BinaryOp::kLe: return Value::boolean(*c <= 0);
      case BinaryOp::kGt: return Value::boolean(*c > 0);
      case BinaryOp::kGe: return Value::boolean(*c >= 0);
      default: return Value();
    }
  }

  static const Value* find_in_frames(std::string_view name, const Frame* frame) {
    for (; frame; frame = frame->parent) {
      if (frame->context) {
        for (const auto& [key, value] : *frame->context) {
          if (key == name) return &value;
        }
      } else if (frame->name == name) {
        return frame->value;
      }
    }
    return nullptr;
  }

  Value lookup(std::string_view name, const Frame* frame) {
    if (const Value* v = find_in_frames(name, frame)) return *v;
    if (ctx_.variables) {
      if (const Value* value = ctx_.variables->find_value(name)) return *value;
      if (const boost::json::value* json = ctx_.variables->find(name)) return from_json(*json);
    }
    return Value::null(fmt::format("no variable named '{}'", name));
  }

  Value member(const Value& v, std::string_view name) {
    switch (v.kind()) {
      case ValueKind::kNull: return v;
      case ValueKind::kContext: {
        if (const Value* found = v.find(name)) return *found;
        return Value::null(fmt::format("the context has no entry '{}'", name));
      }
      case ValueKind::kList: {
        List out;
        out.reserve(v.as_list().size());
        if (!budget_.charge(v.as_list().size())) return exhausted();
        for (const auto& item : v.as_list()) out.push_back(member(item, name));
        return Value::list(std::move(out));
      }
      default: return temporal_property(v, name);
    }
  }

  // a.b.c: when `a` is a variable, walk its JSON directly and convert only
  // the part that is reached.
  Value eval_path(const Node& node, const Frame* frame) {
    std::vector<const std::string*> segments;
    const Node* base = &node;
    while (base->kind == NodeKind::kPath) {
      segments.push_back(&base->name);
      base = base->children[0].get();
    }
    std::reverse(segments.begin(), segments.end());
    size_t next = 0;
    Value current;
    if (base->kind == NodeKind::kName && !find_in_frames(base->name, frame) && ctx_.variables &&
        !ctx_.variables->find_value(base->name)) {
      const boost::json::value* json = ctx_.variables->find(base->name);
      if (!json) return Value::null(fmt::format("no variable named '{}'", base->name));
      while (next < segments.size() && json->is_object()) {
        const boost::json::value* child = json->get_object().if_contains(*segments[next]);
        if (!child) return Value::null(fmt::format("the context has no entry '{}'", *segments[next]));
        json = child;
        ++next;
      }
      current = from_json(*json);
    } else {
      current = eval(*base, frame);
    }
    for (; next < segments.size(); ++next) current = member(current, *segments[next]);
    return current;
  }

  Value eval_filter(const Node& node, const Frame* frame) {
    Value base = eval(*node.children[0], frame);
    if (base.is_null()) return base;
    List single;
    if (!base.is_list()) single.push_back(base);
    const List& items = base.is_list() ? base.as_list() : single;
    const Node& filter = *node.children[1];
    if (filter.kind == NodeKind::kLiteral && filter.literal.is_number()) {
      return index(items, filter.literal.as_number());
    }
    List out;
    for (size_t i = 0; i < items.size(); ++i) {
      const Value& item = items[i];
      Frame item_frame{frame, "item", &item, nullptr};
      Frame keys_frame{&item_frame, {}, nullptr, item.is_context() ? &item.as_context() : nullptr};
      Value keep = eval(filter, item.is_context() ? &keys_frame : &item_frame);
      if (budget_.exhausted) return exhausted();
      if (i == 0 && keep.is_number()) return index(items, keep.as_number());
      if (keep.is_boolean() && keep.as_boolean()) out.push_back(item);
    }
    return Value::list(std::move(out));
  }

  static Value index(const List& items, const Decimal& position) {
    auto i = position.to_int64();
    if (!i || *i == 0) return Value::null(fmt::format("{} is not a valid list index", position.to_string()));
    int64_t size = static_cast<int64_t>(items.size());
    int64_t at = *i > 0 ? *i - 1 : size + *i;
    if (at < 0 || at >= size) return Value::null(fmt::format("the index {} is outside the list", *i));
    return items[static_cast<size_t>(at)];
  }

  static bool integer_of(const Value& v, int64_t& out) {
    if (!v.is_number()) return false;
    auto n = v.as_number().to_int64();
    if (!n) return false;
    out = *n;
    return true;
  }

  // Calls `visit` with from, from±1, ..., to (at most kMaxRangeItems of them).
  template <typename Visit>
  static std::optional<std::string> for_each_integer(int64_t from, int64_t to, Visit& visit) {
    Int128 count = (from <= to ? Int128{to} - from : Int128{from} - to) + 1;
    if (count > static_cast<Int128>(kMaxRangeItems)) {
      return fmt::format("the range {}..{} has more than {} items", from, to, kMaxRangeItems);
    }
    int64_t step = from <= to ? 1 : -1;
    for (int64_t i = from;; i += step) {
      Value item = Value::number(i);
      if (!visit(item) || i == to) break;
    }
    return std::nullopt;
  }

  // Calls `visit` with each element of an iteration domain; false stops early.
  template <typename Visit>
  std::optional<std::string> for_each_in_domain(const Node& domain, const Frame* frame, Visit&& visit) {
    if (domain.kind == NodeKind::kIterRange) {
      Value start = eval(*domain.children[0], frame);
      Value end = eval(*domain.children[1], frame);
      int64_t first = 0;
      int64_t last = 0;
      if (!integer_of(start, first) || !integer_of(end, last)) {
        return std::string("the bounds of a '..' range must be integers");
      }
      return for_each_integer(first, last, visit);
    }
    Value v = eval(domain, frame);
    if (v.is_list()) {
      for (const auto& item : v.as_list()) {
        if (!visit(item)) return std::nullopt;
      }
      return std::nullopt;
    }
    if (v.kind() == ValueKind::kRange) {
      const Range& r = v.as_range();
      int64_t first = 0;
      int64_t last = 0;
      if (!r.has_start || !r.has_end || !integer_of(r.start, first) || !integer_of(r.end, last) ||
          first == INT64_MIN || first == INT64_MAX || last == INT64_MIN || last == INT64_MAX) {
        return std::string("only ranges of integers can be iterated");
      }
      int64_t step = first <= last ? 1 : -1;
      int64_t from = r.start_included ? first : first + step;
      int64_t to = r.end_included ? last : last - step;
      if ((step > 0 && from > to) || (step < 0 && from < to)) return std::nullopt;
      return for_each_integer(from, to, visit);
    }
    if (v.is_null()) return std::string("cannot iterate over null");
    visit(v);  // a single value iterates as a one-item list
    return std::nullopt;
  }

  // Walks the cartesian product of the iteration contexts of node[0..n).
  template <typename Body>
  std::optional<std::string> iterate(const Node& node, size_t level, const Frame* frame, bool& stop, Body&& body) {
    if (level + 1 == node.children.size()) {
      if (!body(frame)) stop = true;
      return std::nullopt;
    }
    std::optional<std::string> nested_error;
    auto error = for_each_in_domain(*node.children[level], frame, [&](const Value& item) {
      if (!budget_.charge(1)) {
        stop = true;
        return false;
      }
      Frame scope{frame, node.names[level], &item, nullptr};
      nested_error = iterate(node, level + 1, &scope, stop, body);
      return !stop && !nested_error;
    });
    return error ? error : nested_error;
  }

  Value eval_for(const Node& node, const Frame* frame) {
    List results;
    bool stop = false;
    auto error = iterate(node, 0, frame, stop, [&](const Frame* scope) {
      results.push_back(eval(*node.children.back(), scope));
      return !budget_.exhausted;
    });
    if (budget_.exhausted) return exhausted();
    if (error) return Value::null(*error);
    return Value::list(std::move(results));
  }

  Value eval_quantified(const Node& node, const Frame* frame) {
    bool some = node.kind == NodeKind::kSome;
    bool decided = false;
    bool stop = false;
    auto error = iterate(node, 0, frame, stop, [&](const Frame* scope) {
      Value v = eval(*node.children.back(), scope);
      bool truth = v.is_boolean() && v.as_boolean();
      if (some ? truth : !truth) {
        decided = true;
        return false;
      }
      return !budget_.exhausted;
    });
    if (budget_.exhausted) return exhausted();
    if (error) return Value::null(*error);
    return Value::boolean(some ? decided : !decided);
  }

  // Whether `v` conforms to `type`. Null is an instance of `Null` (or
  // `null`) only; a list's items, a range's ends and a context's named
  // entries must conform too (an empty list is a list of anything; a
  // context may have more entries than the type names). FEEL functions carry
  // no declared types, so any function is an instance of any function type.
  static bool instance_of(const Value& v, const TypeSpec& type) {
    if (!type.composite) {
      if (type.name == "Any") return !v.is_null();
      if (type.name == "null" || type.name == "Null") return v.is_null();
      return kind_name(v.kind()) == type.name;
    }
    if (type.name == "list") {
      if (!v.is_list()) return false;
      for (const Value& item : v.as_list()) {
        if (!instance_of(item, type.members[0])) return false;
      }
      return true;
    }
    if (type.name == "range") {
      if (v.kind() != ValueKind::kRange) return false;
      const Range& r = v.as_range();
      for (const Value* end : {&r.start, &r.end}) {
        if (!end->is_null() && !instance_of(*end, type.members[0])) return false;
      }
      return true;
    }
    if (type.name == "context") {
      if (!v.is_context()) return false;
      for (size_t i = 0; i < type.members.size(); ++i) {
        const Value* entry = v.find(type.keys[i]);
        if (entry == nullptr || !instance_of(*entry, type.members[i])) return false;
      }
      return true;
    }
    return v.kind() == ValueKind::kFunction;
  }

  const EvalContext& ctx_;
  std::shared_ptr<const Node> tree_;
  bool owns_budget_;
  EvalBudget own_budget_;
  EvalBudget& budget_;
};

Value Closure::invoke(std::vector<Value>& args, const EvalContext& ctx) const {
  Evaluator evaluator(ctx, tree_);
  return evaluator.apply_closure(*definition_, captured_, args);
}

}  // namespace

Value call_function(const Value& fn, std::vector<Value> args, CallContext& call) {
  Evaluator evaluator(call.eval, nullptr);
  return evaluator.call(fn, args, {});
}

const boost::json::value* JsonVariables::find(std::string_view name) const {
  return object_.if_contains(name);
}

Result<Expression, CompileError> Expression::compile(std::string_view text, Mode mode) {
  return compile(text, mode, CompileOptions{});
}

Result<Expression, CompileError> Expression::compile(std::string_view text, Mode mode, const CompileOptions& options) {
  if (text.size() > kMaxSourceBytes) {
    return CompileError{SourcePos{}, fmt::format("the expression is longer than {} bytes", kMaxSourceBytes)};
  }
  std::shared_ptr<const KnownNames> names = options.names;
  if (!names && !options.known_names.empty()) names = std::make_shared<const KnownNames>(options.known_names);
  auto tree = parse(text, mode, names.get(), options.call_errors_yield_null);
  if (!tree.ok()) return tree.error();
  Expression expression;
  expression.root_ = std::shared_ptr<const Node>(std::move(tree).value());
  expression.source_ = std::make_shared<const std::string>(text);
  expression.mode_ = mode;
  return expression;
}

Value Expression::evaluate(const EvalContext& ctx) const {
  if (!root_) return Value::null("the expression was not compiled");
  Evaluator evaluator(ctx, root_);
  if (mode_ == Mode::kUnaryTests) {
    // Without an input the tests see '?' as null.
    return evaluator.eval(*root_, nullptr);
  }
  return evaluator.eval(*root_, nullptr);
}

bool Expression::test(const Value& input, const EvalContext& ctx) const {
  if (!root_) return false;
  Evaluator evaluator(ctx, root_);
  if (mode_ == Mode::kUnaryTests) {
    auto r = evaluator.check(*root_, input, nullptr);
    return r && *r;
  }
  Frame scope{nullptr, "?", &input, nullptr};
  Value v = evaluator.eval(*root_, &scope);
  if (v.is_boolean()) return v.as_boolean();
  auto e = feel_equal(input, v);
  return e && *e;
}

std::string_view Expression::source() const { return source_ ? std::string_view(*source_) : std::string_view(); }

Mode Expression::mode() const { return mode_; }

std::string to_string(const CompileError& error) {
  return fmt::format("{}:{}: {}", error.pos.line, error.pos.column, error.message);
}

}  // namespace banshi::expr
