// libFuzzer target: arbitrary text is compiled as a FEEL expression and as
// unary tests, and whatever compiles is evaluated against a fixed variable
// set. Any crash, sanitizer report or escaping exception is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/json.hpp>

#include "expr/feel.h"

namespace {

const boost::json::object& variables() {
  static const boost::json::object vars = boost::json::parse(R"({
    "amount": 1500, "rate": 0.035, "name": "张三", "flag": true, "nothing": null,
    "applicant": {"level": "一级", "age": 17, "address": {"city": "杭州"}},
    "items": [{"price": 10, "qty": 2}, {"price": 25, "qty": 1}],
    "numbers": [3, 1, 2], "due": "2024-01-31"
  })").as_object();
  return vars;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace banshi::expr;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  JsonVariables vars(variables());
  EvalContext ctx;
  ctx.variables = &vars;
  ctx.now_epoch_ms = 1'710'498'600'000;
  if (auto expression = Expression::compile(text, Mode::kExpression); expression.ok()) {
    Value v = expression->evaluate(ctx);
    (void)to_json(v);
    (void)v.to_string();
    (void)expression->test(Value::number(5), ctx);
  }
  if (auto tests = Expression::compile(text, Mode::kUnaryTests); tests.ok()) {
    (void)tests->test(Value::string("一级"), ctx);
    (void)tests->test(Value::number(17), ctx);
    (void)tests->test(Value(), ctx);
  }
  return 0;
}
