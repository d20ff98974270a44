// FEEL function values: definitions, calls, closures, named arguments, names
// the grammar cannot spell, and the bounds on calls.
#include <gtest/gtest.h>

#include "expr/feel.h"
#include "test_support.h"

namespace banshi::expr {
namespace {

using testing::eval_text;

TEST(FeelFunctions, DefinitionsAreCalledFromContexts) {
  EXPECT_EQ(eval_text("{double: function(x) x * 2, r: double(21)}.r"), "42");
  EXPECT_EQ(eval_text("{add: function(a, b) a + b, r: add(b: 1, a: 10)}.r"), "11");
  EXPECT_EQ(eval_text("{f: function(a: number, b: string) b + string(a), r: f(1, \"n\")}.r"), "\"n1\"");
  EXPECT_EQ(eval_text("(function(x) x + 1)(1)"), "2");
  EXPECT_EQ(eval_text("{f: function() 7}.f()"), "7");
}

TEST(FeelFunctions, ClosuresSeeTheNamesWhereTheyWereDefined) {
  EXPECT_EQ(eval_text("{rate: 0.5, fee: function(amount) amount * rate, r: fee(100)}.r"), "50");
  EXPECT_EQ(eval_text("for k in [1, 2] return {f: function(x) x + k}.f(10)"), "[11, 12]");
  EXPECT_EQ(eval_text("{make: function(n) function(x) x * n, triple: make(3), r: triple(5)}.r"), "15");
}

TEST(FeelFunctions, WrongCallsGiveNullWithAReason) {
  Value v = testing::eval_value("{f: function(x) x, r: f(1, 2)}.r");
  EXPECT_TRUE(v.is_null());
  EXPECT_NE(v.null_reason().find("takes 1 argument"), std::string::npos) << v.null_reason();
  v = testing::eval_value("{f: function(x) x, r: f(y: 1)}.r");
  EXPECT_NE(v.null_reason().find("no parameter named 'y'"), std::string::npos) << v.null_reason();
  v = testing::eval_value("{f: 1, r: f(1)}.r");
  EXPECT_NE(v.null_reason().find("cannot be called"), std::string::npos) << v.null_reason();
}

TEST(FeelFunctions, UnknownFunctionsAreStillCompileErrors) {
  EXPECT_EQ(eval_text("foo(1)"), "compile error: 1:1: unknown function 'foo'");
  EXPECT_EQ(eval_text("function(a, a) a"), "compile error: 1:14: the parameter 'a' is named twice");
}

TEST(FeelFunctions, EndlessRecursionStopsAtTheCallDepth) {
  // A function that receives itself and calls itself forever.
  Value v = testing::eval_value("{loop: function(f) f(f), r: loop(loop)}.r");
  EXPECT_TRUE(v.is_null());
  EXPECT_NE(v.null_reason().find("levels deep"), std::string::npos) << v.null_reason();
}

TEST(FeelFunctions, InstanceOfFunction) {
  EXPECT_EQ(eval_text("(function(x) x) instance of function"), "true");
  EXPECT_EQ(eval_text("1 instance of function"), "false");
}

TEST(FeelFunctions, FunctionValuesPrintAndBecomeJsonNull) {
  Value v = testing::eval_value("function(a, b) a");
  EXPECT_EQ(v.to_string(), "function(a, b)");
  EXPECT_TRUE(to_json(v).is_null());
}

TEST(FeelKnownNames, NamesWithOperatorsAndKeywordsResolve) {
  CompileOptions options;
  options.known_names = {"Date-Time", "values in a list", "Date"};
  auto compiled = Expression::compile("count(values in a list) + Date-Time - Date", Mode::kExpression, options);
  ASSERT_TRUE(compiled.ok()) << to_string(compiled.error());
  boost::json::object vars = testing::json_object(R"({"values in a list": [1, 2, 3], "Date-Time": 10, "Date": 4})");
  JsonVariables variables(vars);
  EvalContext ctx;
  ctx.variables = &variables;
  EXPECT_EQ(compiled->evaluate(ctx).to_string(), "9");
  // Without the known names, "Date-Time" is Date minus an unbound Time.
  auto plain = Expression::compile("Date-Time");
  ASSERT_TRUE(plain.ok());
  Value v = plain->evaluate(ctx);
  EXPECT_TRUE(v.is_null());
  EXPECT_NE(v.null_reason().find("no variable named 'Time'"), std::string::npos) << v.null_reason();
}

TEST(FeelKnownNames, KnownFunctionNamesMayBeCalled) {
  CompileOptions options;
  options.known_names = {"Loan Payment"};
  EXPECT_TRUE(Expression::compile("Loan Payment(1, 2)", Mode::kExpression, options).ok());
  EXPECT_FALSE(Expression::compile("Loan Payment(1, 2)").ok());
}

TEST(FeelKnownNames, CallErrorsCanYieldNull) {
  CompileOptions options;
  options.call_errors_yield_null = true;
  auto compiled = Expression::compile("abs(1, 2)", Mode::kExpression, options);
  ASSERT_TRUE(compiled.ok());
  Value v = compiled->evaluate(EvalContext{});
  EXPECT_TRUE(v.is_null());
  EXPECT_NE(v.null_reason().find("'abs' takes 1 argument"), std::string::npos) << v.null_reason();
  EXPECT_FALSE(Expression::compile("abs(1, 2)").ok());
}

}  // namespace
}  // namespace banshi::expr
