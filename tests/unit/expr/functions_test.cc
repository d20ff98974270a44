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

TEST(FeelTypes, InstanceOfCompositeTypes) {
  struct Case {
    const char* expression;
    const char* expected;
  };
  const Case cases[] = {
      {"[1, 2] instance of list<number>", "true"},
      {"[] instance of list<string>", "true"},
      {"[1, \"a\"] instance of list<number>", "false"},
      {"[1, null] instance of list<number>", "false"},
      {"[[1], [2, 3]] instance of list<list<number>>", "true"},
      {"[[1], [\"x\"]] instance of list<list<number>>", "false"},
      {"1 instance of list<number>", "false"},
      {"[1..5] instance of range<number>", "true"},
      {"(> 5) instance of range<number>", "true"},
      {"[1..5] instance of range<string>", "false"},
      {"{name: \"张三\", age: 30, city: \"杭州\"} instance of context<name: string, age: number>", "true"},
      {"{name: \"张三\"} instance of context<name: string, age: number>", "false"},
      {"{name: 1} instance of context<name: string>", "false"},
      {"{first name: \"三\"} instance of context<first name: string>", "true"},
      {"{a: [1]} instance of context<a: list<number>>", "true"},
      {"[{a: 1}, {a: 2}] instance of list<context<a: number>>", "true"},
      {"(function(x) x) instance of function<Any> -> Any", "true"},
      {"(function() 1) instance of function<> -> number", "true"},
      {"1 instance of function<number> -> number", "false"},
      {"null instance of Null", "true"},
      {"null instance of number", "false"},
      {"1 instance of Null", "false"},
      {"@\"2024-01-01\" instance of date", "true"},
      {"[@\"P1D\"] instance of list<days and time duration>", "true"},
  };
  for (const Case& c : cases) EXPECT_EQ(eval_text(c.expression), c.expected) << c.expression;
}

TEST(FeelTypes, MalformedTypesAreCompileErrors) {
  for (const char* text : {"[1] instance of list<number", "[1] instance of list<>", "{} instance of context<a>",
                           "{} instance of context<: number>", "1 instance of function<number> number"}) {
    auto compiled = Expression::compile(text, Mode::kExpression);
    EXPECT_FALSE(compiled.ok()) << text;
  }
  auto compiled = Expression::compile("[1] instance of list<number", Mode::kExpression);
  ASSERT_FALSE(compiled.ok());
  EXPECT_EQ(to_string(compiled.error()), "1:28: expected '>' after the element type in the type 'list<...>'");
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
