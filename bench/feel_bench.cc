// Prints FEEL evaluations per second for a few representative expressions:
// each is compiled once and evaluated in a loop for about one second.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "expr/feel.h"

namespace {

using banshi::expr::EvalContext;
using banshi::expr::Expression;
using banshi::expr::JsonVariables;
using banshi::expr::Mode;
using banshi::expr::Value;

struct Benchmark {
  const char* label;
  const char* text;
  Mode mode;
};

}  // namespace

int main() {
  const boost::json::object vars = boost::json::parse(R"({
    "amount": 1500,
    "applicant": {"level": "二级", "age": 35, "region": "浙江"},
    "price": 12.5, "quantity": 8, "discount": 0.15,
    "submitted": "2024-03-01", "deadline": "2024-03-15"
  })").as_object();
  JsonVariables variables(vars);
  EvalContext ctx;
  ctx.variables = &variables;
  ctx.now_epoch_ms = 1'710'498'600'000;

  const std::vector<Benchmark> benchmarks = {
      {"gateway condition", R"(amount > 1000 and applicant.level in ["一级","二级"])", Mode::kExpression},
      {"arithmetic", "price * quantity * (1 - discount) + 0.1", Mode::kExpression},
      {"date comparison", "date(submitted) + duration(\"P10D\") <= date(deadline)", Mode::kExpression},
      {"unary test", R"("一级","二级")", Mode::kUnaryTests},
      {"unary range", "[18..60)", Mode::kUnaryTests},
  };

  fmt::print("{:<20} {:>14} {:>12}  {}\n", "benchmark", "evals/s", "ns/eval", "expression");
  for (const auto& b : benchmarks) {
    auto compiled = Expression::compile(b.text, b.mode);
    if (!compiled.ok()) {
      fmt::print("{:<20} compile error: {}\n", b.label, banshi::expr::to_string(compiled.error()));
      return 1;
    }
    const Value input = b.mode == Mode::kUnaryTests && std::string(b.label) == "unary range" ? Value::number(35)
                                                                                            : Value::string("二级");
    using Clock = std::chrono::steady_clock;
    uint64_t iterations = 0;
    uint64_t sink = 0;
    auto start = Clock::now();
    auto elapsed = Clock::duration::zero();
    while (elapsed < std::chrono::seconds(1)) {
      for (int i = 0; i < 256; ++i) {
        if (b.mode == Mode::kUnaryTests) {
          sink += compiled->test(input, ctx) ? 1 : 0;
        } else {
          sink += compiled->evaluate(ctx).is_null() ? 0 : 1;
        }
      }
      iterations += 256;
      elapsed = Clock::now() - start;
    }
    double seconds = std::chrono::duration<double>(elapsed).count();
    fmt::print("{:<20} {:>14.0f} {:>12.0f}  {}\n", b.label, static_cast<double>(iterations) / seconds,
               seconds * 1e9 / static_cast<double>(iterations), b.text);
    if (sink == 0) fmt::print("  (every evaluation was null)\n");
  }
  return 0;
}
