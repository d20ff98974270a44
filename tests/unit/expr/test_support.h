// Helpers shared by the FEEL unit tests.
#pragma once

#include <string>
#include <string_view>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "expr/feel.h"

namespace banshi::expr::testing {

// 2024-03-15T10:30:00Z, a Friday.
inline constexpr int64_t kNowMs = 1'710'498'600'000;

// Compiles and evaluates `text`; returns the printed value, or
// "compile error: <line:col: message>".
inline std::string eval_text(std::string_view text, const boost::json::object& variables = {}) {
  auto compiled = Expression::compile(text);
  if (!compiled.ok()) return "compile error: " + to_string(compiled.error());
  JsonVariables vars(variables);
  EvalContext ctx;
  ctx.variables = &vars;
  ctx.now_epoch_ms = kNowMs;
  return compiled->evaluate(ctx).to_string();
}

inline Value eval_value(std::string_view text, const boost::json::object& variables = {}) {
  auto compiled = Expression::compile(text);
  if (!compiled.ok()) return Value::null("compile error: " + to_string(compiled.error()));
  JsonVariables vars(variables);
  EvalContext ctx;
  ctx.variables = &vars;
  ctx.now_epoch_ms = kNowMs;
  return compiled->evaluate(ctx);
}

inline boost::json::object json_object(std::string_view text) { return boost::json::parse(text).as_object(); }

struct Case {
  const char* expression;
  const char* expected;
};

inline void PrintTo(const Case& c, std::ostream* os) { *os << c.expression; }

}  // namespace banshi::expr::testing
