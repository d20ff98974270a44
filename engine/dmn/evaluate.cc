// Evaluating decisions: the requirements graph, boxed expressions, decision
// tables with their hit policies, and type conformance.
#include "dmn/evaluate.h"

#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "expr/ast.h"  // FEEL equality, ordering and arithmetic

namespace banshi::dmn {

namespace {

using expr::Value;
using expr::ValueKind;

constexpr int kMaxInvocationDepth = 48;
constexpr int kMaxTypeDepth = 32;
constexpr int kMaxRequirementDepth = 128;

// The result of the evaluate() running on this thread, for errors and matched
// rules reported from inside function values.
thread_local DecisionResult* t_result = nullptr;
thread_local int t_depth = 0;

void report_error(std::string_view owner, std::string message) {
  if (t_result) t_result->errors.push_back(fmt::format("{}: {}", owner, message));
}

// Names bound by the model (requirements, context entries, parameters) over
// the caller's variables.
class Scope final : public expr::Variables {
 public:
  Scope(const expr::Variables* base, const Scope* parent) : base_(base), parent_(parent) {}

  void bind(std::string name, Value value) {
    for (auto& entry : bindings_) {
      if (entry.first == name) {
        entry.second = std::move(value);
        return;
      }
    }
    bindings_.emplace_back(std::move(name), std::move(value));
  }

  const Value* find_value(std::string_view name) const override {
    for (const Scope* s = this; s; s = s->parent_) {
      for (const auto& entry : s->bindings_) {
        if (entry.first == name) return &entry.second;
      }
    }
    return base_ ? base_->find_value(name) : nullptr;
  }
  const boost::json::value* find(std::string_view name) const override {
    return base_ ? base_->find(name) : nullptr;
  }

  // Every name this scope and its parents bind (inner names win).
  expr::ContextEntries snapshot() const {
    expr::ContextEntries out;
    for (const Scope* s = this; s; s = s->parent_) {
      for (const auto& entry : s->bindings_) {
        bool seen = std::any_of(out.begin(), out.end(), [&](const auto& e) { return e.first == entry.first; });
        if (!seen) out.push_back(entry);
      }
    }
    return out;
  }

  const expr::Variables* base() const { return base_; }

 private:
  const expr::Variables* base_;
  const Scope* parent_;
  expr::ContextEntries bindings_;
};

// ---- types -----------------------------------------------------------------

// nullopt: not a base type name.
std::optional<bool> base_conforms(const Value& v, std::string_view type) {
  ValueKind k = v.kind();
  if (type == "Any" || type == "any") return true;
  if (type == "number" || type == "decimal" || type == "integer" || type == "double") return k == ValueKind::kNumber;
  if (type == "string") return k == ValueKind::kString;
  if (type == "boolean") return k == ValueKind::kBoolean;
  if (type == "date") return k == ValueKind::kDate;
  if (type == "time") return k == ValueKind::kTime;
  if (type == "dateTime" || type == "date and time") return k == ValueKind::kDateTime;
  if (type == "dayTimeDuration" || type == "days and time duration") return k == ValueKind::kDaysTimeDuration;
  if (type == "yearMonthDuration" || type == "years and months duration") return k == ValueKind::kYearsMonthsDuration;
  if (type == "duration") return k == ValueKind::kDaysTimeDuration || k == ValueKind::kYearsMonthsDuration;
  if (type == "context") return k == ValueKind::kContext;
  if (type == "list") return k == ValueKind::kList;
  if (type == "range") return k == ValueKind::kRange;
  if (type == "function") return k == ValueKind::kFunction;
  return std::nullopt;
}

// The value as the type `type_ref` wants it, or an error sentence. Unknown
// type names (and structural types such as list<number>) are not checked.
Result<Value, std::string> conform(const Definitions& defs, const Value& v, std::string_view type_ref, int depth = 0);

Result<Value, std::string> conform_item(const Definitions& defs, const Value& v, const ItemDefinition& item,
                                        bool as_element, int depth) {
  if (depth > kMaxTypeDepth) return v;
  if (v.is_null()) return v;
  if (item.is_collection && !as_element) {
    if (!v.is_list()) {
      auto single = conform_item(defs, v, item, true, depth + 1);
      if (!single.ok()) return single;
      return Value::list({single.value()});
    }
    expr::List items;
    for (const auto& element : v.as_list()) {
      auto c = conform_item(defs, element, item, true, depth + 1);
      if (!c.ok()) return c;
      items.push_back(std::move(c).value());
    }
    return Value::list(std::move(items));
  }
  Value value = v;
  if (value.is_list() && value.as_list().size() == 1) value = value.as_list()[0];
  if (!item.components.empty()) {
    if (!value.is_context()) {
      return fmt::format("a {} is not a '{}' (a context)", kind_name(value.kind()), item.name);
    }
    expr::ContextEntries entries = value.as_context();
    for (const auto& component : item.components) {
      for (auto& entry : entries) {
        if (entry.first != component.name) continue;
        auto c = conform_item(defs, entry.second, component, false, depth + 1);
        if (!c.ok()) return fmt::format("'{}': {}", component.name, c.error());
        entry.second = std::move(c).value();
      }
    }
    value = Value::context(std::move(entries));
  } else if (!item.type_ref.empty()) {
    auto c = conform(defs, value, item.type_ref, depth + 1);
    if (!c.ok()) return c;
    value = std::move(c).value();
  }
  if (item.allowed_values) {
    expr::EvalContext ctx;
    if (!item.allowed_values->test(value, ctx)) {
      return fmt::format("{} is not one of the allowed values of '{}'", value.to_string(), item.name);
    }
  }
  return value;
}

Result<Value, std::string> conform(const Definitions& defs, const Value& v, std::string_view type_ref, int depth) {
  if (type_ref.empty() || v.is_null()) return v;
  if (const ItemDefinition* item = defs.find_item_definition(type_ref)) {
    return conform_item(defs, v, *item, false, depth);
  }
  auto ok = base_conforms(v, type_ref);
  if (!ok) return v;
  if (*ok) return v;
  if (v.is_list() && v.as_list().size() == 1) {
    auto single = base_conforms(v.as_list()[0], type_ref);
    if (single && *single) return v.as_list()[0];
  }
  return fmt::format("a {} is not a {}", kind_name(v.kind()), type_ref);
}

// The base type an input's typeRef stands for (following item definitions).
std::string base_type(const Definitions& defs, std::string type_ref) {
  for (int i = 0; i < kMaxTypeDepth; ++i) {
    const ItemDefinition* item = defs.find_item_definition(type_ref);
    if (!item || item->is_collection || !item->components.empty()) return type_ref;
    type_ref = item->type_ref;
  }
  return type_ref;
}

// JSON has no dates: a string given for a date, time, date and time or
// duration input becomes one.
Value coerce_input(const Definitions& defs, const Value& v, const std::string& type_ref) {
  if (!v.is_string() || type_ref.empty()) return v;
  std::string type = base_type(defs, type_ref);
  const std::string& text = v.as_string();
  if (type == "date") {
    if (auto d = expr::Date::parse(text)) return Value::date(*d);
  } else if (type == "time") {
    if (auto t = expr::Time::parse(text)) return Value::time(*t);
  } else if (type == "dateTime" || type == "date and time") {
    if (auto dt = expr::DateTime::parse(text)) return Value::date_time(*dt);
    if (auto d = expr::Date::parse(text)) return Value::date_time(expr::DateTime{*d, expr::Time{}});
  } else if (type == "dayTimeDuration" || type == "days and time duration" || type == "duration") {
    if (auto dt = expr::DaysTimeDuration::parse(text)) return Value::duration(*dt);
    if (type == "duration") {
      if (auto ym = expr::YearsMonthsDuration::parse(text)) return Value::duration(*ym);
    }
  } else if (type == "yearMonthDuration" || type == "years and months duration") {
    if (auto ym = expr::YearsMonthsDuration::parse(text)) return Value::duration(*ym);
  }
  return v;
}

// ---- evaluation ------------------------------------------------------------

Value eval_boxed(const Definitions& defs, const BoxedExpression& e, const Scope& scope, const expr::EvalContext& base,
                 std::string_view owner);

// A business knowledge model as a FEEL function.
class BkmFunction final : public expr::Function {
 public:
  BkmFunction(const Definitions& defs, size_t index) : defs_(defs), index_(index) {}
  const std::vector<std::string>& parameters() const override {
    static const std::vector<std::string> kNone;
    const auto& logic = defs_.bkms[index_].logic;
    return logic ? logic->names : kNone;
  }
  Value invoke(std::vector<Value>& args, const expr::EvalContext& ctx) const override;

 private:
  const Definitions& defs_;
  size_t index_;
};

// A boxed function definition (a context entry that defines a function).
class BoxedFunction final : public expr::Function {
 public:
  BoxedFunction(const Definitions& defs, const BoxedExpression& fn, expr::ContextEntries captured, std::string owner)
      : defs_(defs), fn_(fn), captured_(std::move(captured)), owner_(std::move(owner)) {}
  const std::vector<std::string>& parameters() const override { return fn_.names; }
  Value invoke(std::vector<Value>& args, const expr::EvalContext& ctx) const override {
    Scope outer(ctx.variables, nullptr);
    for (const auto& [name, value] : captured_) outer.bind(name, value);
    return call_body(defs_, fn_, outer, args, ctx, owner_);
  }

  static Value call_body(const Definitions& defs, const BoxedExpression& fn, const Scope& outer,
                         std::vector<Value>& args, const expr::EvalContext& ctx, std::string_view owner) {
    if (t_depth >= kMaxInvocationDepth) {
      return Value::null(fmt::format("functions call each other more than {} levels deep", kMaxInvocationDepth));
    }
    Scope params(nullptr, &outer);
    for (size_t i = 0; i < fn.names.size(); ++i) {
      Value arg = i < args.size() ? args[i] : Value();
      std::string_view type = i < fn.type_refs.size() ? std::string_view(fn.type_refs[i]) : std::string_view();
      auto c = conform(defs, arg, type);
      if (!c.ok()) {
        report_error(owner, fmt::format("the argument '{}': {}", fn.names[i], c.error()));
        arg = Value();
      } else {
        arg = std::move(c).value();
      }
      params.bind(fn.names[i], std::move(arg));
    }
    ++t_depth;
    Value result = fn.children.empty() ? Value() : eval_boxed(defs, *fn.children[0], params, ctx, owner);
    --t_depth;
    return result;
  }

 private:
  const Definitions& defs_;
  const BoxedExpression& fn_;
  expr::ContextEntries captured_;
  std::string owner_;
};

void bind_knowledge(const Definitions& defs, const std::vector<size_t>& knowledge, Scope& scope) {
  for (size_t k : knowledge) {
    scope.bind(defs.bkms[k].name, Value::function(std::make_shared<const BkmFunction>(defs, k)));
  }
}

Value BkmFunction::invoke(std::vector<Value>& args, const expr::EvalContext& ctx) const {
  const BusinessKnowledgeModel& bkm = defs_.bkms[index_];
  if (!bkm.logic) return Value::null(fmt::format("the business knowledge model '{}' has no logic", bkm.name));
  Scope outer(ctx.variables, nullptr);
  bind_knowledge(defs_, bkm.knowledge, outer);
  Value result = BoxedFunction::call_body(defs_, *bkm.logic, outer, args, ctx, bkm.id);
  auto c = conform(defs_, result, bkm.logic->type_ref.empty() ? bkm.type_ref : bkm.logic->type_ref);
  if (!c.ok()) {
    report_error(bkm.id, fmt::format("the result of '{}': {}", bkm.name, c.error()));
    return Value::null(c.error());
  }
  return std::move(c).value();
}

expr::EvalContext with_variables(const expr::EvalContext& base, const expr::Variables& variables) {
  expr::EvalContext ctx = base;
  ctx.variables = &variables;
  return ctx;
}

Value eval_table(const Definitions& defs, const DecisionTable& table, const Scope& scope,
                 const expr::EvalContext& base, std::string_view owner);

Value eval_boxed(const Definitions& defs, const BoxedExpression& e, const Scope& scope, const expr::EvalContext& base,
                 std::string_view owner) {
  expr::EvalContext ctx = with_variables(base, scope);
  switch (e.kind) {
    case BoxedKind::kLiteral: {
      Value v = e.feel.evaluate(ctx);
      auto c = conform(defs, v, e.type_ref);
      if (!c.ok()) {
        report_error(owner, c.error());
        return Value::null(c.error());
      }
      return std::move(c).value();
    }
    case BoxedKind::kContext: {
      Scope inner(nullptr, &scope);
      expr::ContextEntries entries;
      for (size_t i = 0; i < e.children.size(); ++i) {
        Value v = eval_boxed(defs, *e.children[i], inner, base, owner);
        auto c = conform(defs, v, e.type_refs[i]);
        if (!c.ok()) {
          report_error(owner, fmt::format("the context entry '{}': {}", e.names[i], c.error()));
          v = Value();
        } else {
          v = std::move(c).value();
        }
        if (e.names[i].empty()) return v;  // the result entry
        inner.bind(e.names[i], v);
        entries.emplace_back(e.names[i], std::move(v));
      }
      return Value::context(std::move(entries));
    }
    case BoxedKind::kList: {
      expr::List items;
      for (const auto& child : e.children) items.push_back(eval_boxed(defs, *child, scope, base, owner));
      return Value::list(std::move(items));
    }
    case BoxedKind::kRelation: {
      expr::List rows;
      size_t columns = e.names.size();
      if (columns == 0) return Value::list({});
      for (size_t r = 0; r + columns <= e.children.size(); r += columns) {
        expr::ContextEntries row;
        for (size_t c = 0; c < columns; ++c) {
          row.emplace_back(e.names[c], eval_boxed(defs, *e.children[r + c], scope, base, owner));
        }
        rows.push_back(Value::context(std::move(row)));
      }
      return Value::list(std::move(rows));
    }
    case BoxedKind::kInvocation: {
      const Value* callee = scope.find_value(e.callee);
      if (!callee || callee->kind() != ValueKind::kFunction) {
        std::string why = fmt::format("'{}' is not a function in scope", e.callee);
        report_error(owner, why);
        return Value::null(why);
      }
      const auto& params = callee->as_function().parameters();
      std::vector<Value> args(params.size());
      for (size_t i = 0; i < e.names.size(); ++i) {
        auto it = std::find(params.begin(), params.end(), e.names[i]);
        if (it == params.end()) {
          std::string why = fmt::format("'{}' has no parameter named '{}'", e.callee, e.names[i]);
          report_error(owner, why);
          return Value::null(why);
        }
        args[static_cast<size_t>(it - params.begin())] = eval_boxed(defs, *e.children[i], scope, base, owner);
      }
      if (t_depth >= kMaxInvocationDepth) {
        return Value::null(fmt::format("functions call each other more than {} levels deep", kMaxInvocationDepth));
      }
      ++t_depth;
      Value result = callee->as_function().invoke(args, ctx);
      --t_depth;
      return result;
    }
    case BoxedKind::kFunction:
      return Value::function(std::make_shared<const BoxedFunction>(defs, e, scope.snapshot(), std::string(owner)));
    case BoxedKind::kDecisionTable:
      if (!e.table) return Value();
      return eval_table(defs, *e.table, scope, base, owner);
  }
  return Value();
}

// The priority of a row for PRIORITY and OUTPUT ORDER: for each output with
// output values, the position of the row's value among them.
std::vector<size_t> priority_key(const DecisionTable& table, const std::vector<Value>& row) {
  std::vector<size_t> key;
  for (size_t o = 0; o < table.outputs.size(); ++o) {
    const auto& priorities = table.outputs[o].priorities;
    if (priorities.empty()) continue;
    size_t at = priorities.size();
    for (size_t p = 0; p < priorities.size(); ++p) {
      auto eq = expr::feel_equal(row[o], priorities[p]);
      if (eq && *eq) {
        at = p;
        break;
      }
    }
    key.push_back(at);
  }
  return key;
}

Value row_value(const DecisionTable& table, const std::vector<Value>& row) {
  if (table.outputs.size() == 1) return row[0];
  expr::ContextEntries entries;
  for (size_t o = 0; o < table.outputs.size(); ++o) entries.emplace_back(table.outputs[o].name, row[o]);
  return Value::context(std::move(entries));
}

Value eval_table(const Definitions& defs, const DecisionTable& table, const Scope& scope,
                 const expr::EvalContext& base, std::string_view owner) {
  expr::EvalContext ctx = with_variables(base, scope);
  auto fail = [&](std::string why) {
    report_error(owner, why);
    return Value::null(std::move(why));
  };
  std::vector<Value> inputs;
  inputs.reserve(table.inputs.size());
  for (size_t i = 0; i < table.inputs.size(); ++i) {
    const TableInput& in = table.inputs[i];
    Value v = coerce_input(defs, in.expression.evaluate(ctx), in.type_ref);
    if (in.input_values && !v.is_null() && !in.input_values->test(v, ctx)) {
      return fail(fmt::format("the input '{}' is {}, which is not one of its input values", in.label, v.to_string()));
    }
    inputs.push_back(std::move(v));
  }
  // Input entries see the input value as '?' and the scope's names.
  std::vector<size_t> matched;
  for (size_t r = 0; r < table.rules.size(); ++r) {
    const Rule& rule = table.rules[r];
    bool match = true;
    for (size_t i = 0; i < rule.input_entries.size() && match; ++i) {
      match = rule.input_entries[i].test(inputs[i], ctx);
    }
    if (match) matched.push_back(r);
  }
  if (t_result) {
    MatchedRules m;
    m.decision_id = std::string(owner);
    for (const auto& d : defs.decisions) {
      if (d.id == owner) m.decision_name = d.name;
    }
    for (const auto& b : defs.bkms) {
      if (b.id == owner) m.decision_name = b.name;
    }
    for (size_t r : matched) {
      m.rules.push_back(r + 1);
      m.rule_ids.push_back(table.rules[r].id);
    }
    t_result->matched.push_back(std::move(m));
  }
  if (matched.empty()) {
    bool has_default = std::any_of(table.outputs.begin(), table.outputs.end(),
                                   [](const TableOutput& o) { return o.default_output.has_value(); });
    if (!has_default) {
      if (table.hit_policy == HitPolicy::kCollect && table.aggregation == Aggregation::kCount) return Value::number(0);
      if (table.hit_policy == HitPolicy::kRuleOrder || table.hit_policy == HitPolicy::kOutputOrder ||
          (table.hit_policy == HitPolicy::kCollect && table.aggregation == Aggregation::kNone)) {
        return Value::list({});
      }
      return Value();
    }
    std::vector<Value> row;
    for (const auto& out : table.outputs) row.push_back(out.default_output ? out.default_output->evaluate(ctx) : Value());
    return row_value(table, row);
  }
  // FIRST's result is its first hit alone: the other rules that matched are
  // not evaluated, so an output of theirs cannot fail the decision.
  if (table.hit_policy == HitPolicy::kFirst) matched.resize(1);
  std::vector<std::vector<Value>> rows;
  rows.reserve(matched.size());
  for (size_t r : matched) {
    const Rule& rule = table.rules[r];
    std::vector<Value> row;
    for (size_t o = 0; o < rule.output_entries.size(); ++o) {
      const TableOutput& out = table.outputs[o];
      Value v = rule.output_entries[o].evaluate(ctx);
      if (out.output_values && !v.is_null() && !out.output_values->test(v, ctx)) {
        return fail(fmt::format("rule {} gives {} for the output '{}', which is not one of its output values", r + 1,
                                v.to_string(), out.name.empty() ? table.output_label : out.name));
      }
      auto c = conform(defs, v, out.type_ref);
      if (!c.ok()) return fail(fmt::format("rule {}: {}", r + 1, c.error()));
      row.push_back(std::move(c).value());
    }
    rows.push_back(std::move(row));
  }
  switch (table.hit_policy) {
    case HitPolicy::kUnique:
      if (rows.size() > 1) {
        std::string list;
        for (size_t r : matched) list += (list.empty() ? "" : ", ") + std::to_string(r + 1);
        return fail(fmt::format("the UNIQUE table matched {} rules ({})", rows.size(), list));
      }
      return row_value(table, rows[0]);
    case HitPolicy::kAny:
      for (size_t r = 1; r < rows.size(); ++r) {
        for (size_t o = 0; o < rows[r].size(); ++o) {
          // FEEL '=': 1 and 1.0, or the same instant in two zones, are the same output.
          auto same = expr::feel_equal(rows[r][o], rows[0][o]);
          if (!(same ? *same : rows[r][o] == rows[0][o])) {
            return fail(fmt::format("the ANY table matched rules {} and {} with different outputs", matched[0] + 1,
                                    matched[r] + 1));
          }
        }
      }
      return row_value(table, rows[0]);
    case HitPolicy::kFirst: return row_value(table, rows[0]);
    case HitPolicy::kPriority:
    case HitPolicy::kOutputOrder: {
      std::vector<size_t> order(rows.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::vector<std::vector<size_t>> keys;
      for (const auto& row : rows) keys.push_back(priority_key(table, row));
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
      if (table.hit_policy == HitPolicy::kPriority) return row_value(table, rows[order[0]]);
      expr::List out;
      for (size_t i : order) out.push_back(row_value(table, rows[i]));
      return Value::list(std::move(out));
    }
    case HitPolicy::kRuleOrder:
    case HitPolicy::kCollect: {
      expr::List out;
      for (const auto& row : rows) out.push_back(row_value(table, row));
      if (table.hit_policy == HitPolicy::kRuleOrder || table.aggregation == Aggregation::kNone) {
        return Value::list(std::move(out));
      }
      if (table.aggregation == Aggregation::kCount) {
        // Distinct values, as the DMN specification defines C#.
        expr::List distinct;
        for (const auto& v : out) {
          if (std::none_of(distinct.begin(), distinct.end(), [&](const Value& d) { return d == v; })) {
            distinct.push_back(v);
          }
        }
        return Value::number(static_cast<int64_t>(distinct.size()));
      }
      if (table.aggregation == Aggregation::kSum) {
        Value sum = Value::number(0);
        for (const auto& v : out) {
          if (!v.is_number()) return fail("COLLECT SUM needs numbers");
          sum = expr::arithmetic(expr::BinaryOp::kAdd, sum, v);
        }
        return sum;
      }
      Value best = out[0];
      for (size_t i = 1; i < out.size(); ++i) {
        auto c = expr::feel_compare(out[i], best);
        if (!c) return fail("COLLECT MIN/MAX needs values that can be compared");
        if ((table.aggregation == Aggregation::kMin && *c < 0) || (table.aggregation == Aggregation::kMax && *c > 0)) {
          best = out[i];
        }
      }
      return best;
    }
  }
  return Value();
}

class Run {
 public:
  Run(const Definitions& defs, const expr::Variables& inputs, const EvalOptions& options)
      : defs_(defs), inputs_(inputs), cache_(defs.decisions.size()), busy_(defs.decisions.size(), false) {
    base_.now_epoch_ms = options.now_epoch_ms;
    base_.utc_offset_minutes = options.utc_offset_minutes;
    base_.working_days = options.working_days;
  }

  Value decision(size_t index) {
    if (cache_[index]) return *cache_[index];
    const Decision& d = defs_.decisions[index];
    if (busy_[index]) return Value::null(fmt::format("the decision '{}' requires itself", d.name));
    if (depth_ >= kMaxRequirementDepth) {
      std::string why = fmt::format("the decisions require each other more than {} levels deep", kMaxRequirementDepth);
      report_error(d.id, why);
      return Value::null(why);
    }
    busy_[index] = true;
    ++depth_;
    Scope scope(&inputs_, nullptr);
    for (size_t r : d.requirements.decisions) scope.bind(defs_.decisions[r].name, decision(r));
    for (size_t i : d.requirements.inputs) {
      const InputData& input = defs_.inputs[i];
      Value v = read_input(input.name);
      auto c = conform(defs_, coerce_input(defs_, v, input.type_ref), input.type_ref);
      if (!c.ok()) {
        report_error(input.id, fmt::format("the input '{}': {}", input.name, c.error()));
        scope.bind(input.name, Value());
      } else {
        scope.bind(input.name, std::move(c).value());
      }
    }
    bind_knowledge(defs_, d.requirements.knowledge, scope);
    Value result;
    if (!d.logic) {
      std::string why = fmt::format("the decision '{}' has no decision logic", d.name);
      report_error(d.id, why);
      result = Value::null(why);
    } else {
      result = eval_boxed(defs_, *d.logic, scope, base_, d.id);
      auto c = conform(defs_, result, d.type_ref);
      if (!c.ok()) {
        report_error(d.id, fmt::format("the result of '{}': {}", d.name, c.error()));
        result = Value::null(c.error());
      } else {
        result = std::move(c).value();
      }
    }
    --depth_;
    busy_[index] = false;
    cache_[index] = result;
    return result;
  }

 private:
  Value read_input(const std::string& name) {
    if (const Value* v = inputs_.find_value(name)) return *v;
    if (const boost::json::value* json = inputs_.find(name)) return expr::from_json(*json);
    return Value();
  }

  const Definitions& defs_;
  const expr::Variables& inputs_;
  expr::EvalContext base_;
  std::vector<std::optional<Value>> cache_;
  std::vector<bool> busy_;
  int depth_ = 0;
};

}  // namespace

DecisionResult evaluate(const Definitions& definitions, std::string_view decision, const expr::Variables& inputs,
                        const EvalOptions& options) {
  DecisionResult result;
  const Decision* d = definitions.find_decision(decision);
  if (!d) {
    result.errors.push_back(fmt::format("{}: the model has no decision with this id or name", decision));
    result.value = Value::null(fmt::format("no decision '{}'", decision));
    return result;
  }
  DecisionResult* outer = t_result;
  int outer_depth = t_depth;
  t_result = &result;
  Run run(definitions, inputs, options);
  result.value = run.decision(static_cast<size_t>(d - definitions.decisions.data()));
  t_result = outer;
  t_depth = outer_depth;
  return result;
}

}  // namespace banshi::dmn
