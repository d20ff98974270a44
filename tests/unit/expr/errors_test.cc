// Compile errors (position and sentence) and hostile input.
#include <chrono>

#include <fmt/format.h>

#include "test_support.h"

namespace banshi::expr::testing {
namespace {

std::string compile_error(std::string_view text, Mode mode = Mode::kExpression) {
  auto compiled = Expression::compile(text, mode);
  if (compiled.ok()) return "ok";
  return to_string(compiled.error());
}

TEST(CompileErrors, CarryLineColumnAndSentence) {
  EXPECT_EQ(compile_error("contains(\"a\" \"b\")"), "1:14: expected ')' after the arguments of 'contains'");
  EXPECT_EQ(compile_error("1 +"), "1:4: the expression ends too early");
  EXPECT_EQ(compile_error("(1 + 2"), "1:7: expected ')' to close the '(' at 1:1, found the end of the expression");
  EXPECT_EQ(compile_error("1\n  + )"), "2:5: unexpected ')'");
  EXPECT_EQ(compile_error("\"一级\" + )"), "1:8: unexpected ')'");
  EXPECT_EQ(compile_error("foo(1)"), "1:1: unknown function 'foo'");
  EXPECT_EQ(compile_error("substring(\"a\")"), "1:1: 'substring' takes 2 to 3 arguments, not 1");
  EXPECT_EQ(compile_error("if x then 1"), "1:12: expected 'else' after the 'then' branch of 'if'");
  EXPECT_EQ(compile_error("\"abc"), "1:1: the string is not closed with '\"'");
  EXPECT_EQ(compile_error("/* open"), "1:1: the comment is not closed with '*/'");
  EXPECT_EQ(compile_error("1 # 2"), "1:3: unexpected character '#'");
  EXPECT_EQ(compile_error("@\"2024-13-01\""), "1:1: @\"2024-13-01\" is not a valid date, time, date and time or duration");
  EXPECT_EQ(compile_error("[1, 2"), "1:6: expected ',' or ']' in the list that starts at 1:1, found the end of the expression");
  EXPECT_EQ(compile_error("{a: 1, a: 2}"), "1:8: the context has the key 'a' twice");
  EXPECT_EQ(compile_error("1 2"), "1:3: unexpected '2' after the end of the expression");
  EXPECT_EQ(compile_error("substring(string: \"a\", 1)"), "1:24: named and positional arguments cannot be mixed");
  EXPECT_EQ(compile_error("substring(text: \"a\")"), "1:17: 'substring' has no parameter named 'text'");
  EXPECT_EQ(compile_error(""), "1:1: the expression is empty");
  EXPECT_EQ(compile_error("for x in [1] x"), "1:14: expected 'return' after the iteration contexts of 'for'");
  EXPECT_EQ(compile_error("< 5 <", Mode::kUnaryTests), "1:5: expected ',' or the end of the tests, found '<'");
}

TEST(CompileErrors, InvalidUtf8IsRejected) {
  EXPECT_EQ(compile_error("\"a\xff\""), "1:3: the text is not valid UTF-8");
}

TEST(HostileInput, TooLongIsRejected) {
  std::string text(64 * 1024 + 1, '1');
  EXPECT_EQ(compile_error(text), "1:1: the expression is longer than 65536 bytes");
}

TEST(HostileInput, DeepNestingIsRejectedWithoutCrashing) {
  for (const char* open : {"(", "[", "-", "not(", "{a:", "if true then "}) {
    std::string text;
    for (int i = 0; i < 5000; ++i) text += open;
    text += "1";
    std::string error = compile_error(text);
    EXPECT_NE(error.find("nested too deeply"), std::string::npos) << open << " -> " << error;
  }
  std::string chain = "1";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  EXPECT_NE(compile_error(chain).find("nested too deeply"), std::string::npos);
}

TEST(HostileInput, ModerateNestingWorks) {
  std::string text;
  for (int i = 0; i < 60; ++i) text += "(";
  text += "1";
  for (int i = 0; i < 60; ++i) text += ")";
  EXPECT_EQ(eval_text(text), "1");
}

TEST(HostileInput, HugeRangesAndLoopsAreBounded) {
  EXPECT_EQ(eval_value("for x in 1..2000000 return x").null_reason(),
            "the range 1..2000000 has more than 1000000 items");
  auto start = std::chrono::steady_clock::now();
  Value v = eval_value("for x in 1..1000000, y in 1..1000000 return x");
  EXPECT_TRUE(v.is_null());
  EXPECT_NE(v.null_reason().find("steps"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
}

TEST(HostileInput, HugeNumbersStayInRange) {
  EXPECT_EQ(eval_text("10 ** 6144"), "1E+6144");
  EXPECT_EQ(eval_text("10 ** 6145"), "null");
  EXPECT_EQ(eval_text("10 ** -7000"), "0");
  EXPECT_EQ(eval_text("2 ** 999999999"), "null");
  EXPECT_EQ(eval_text("decimal(1, 2147483647)"), "null");
  EXPECT_EQ(eval_text("99999999999999999999999999999999999999999 * 99999999999999999999999999999999999"),
            "1E+76");
}

// Found by fuzzing: stacked quantifiers made the first matcher backtrack for
// minutes on a three-letter input; they are not a valid pattern.
TEST(HostileInput, StackedQuantifiersAreNotAPattern) {
  Value stacked = eval_value(R"x(matches("abc", "^a*******zzzzzz**********.c$"))x");
  EXPECT_TRUE(stacked.is_null());
  EXPECT_NE(stacked.null_reason().find("not a valid regular expression"), std::string::npos)
      << stacked.null_reason();
}

TEST(HostileInput, LongStringsAreBounded) {
  Value v = eval_value("string join(for i in 1..200000 return \"0123456789\")");
  EXPECT_TRUE(v.is_null());
}

}  // namespace
}  // namespace banshi::expr::testing

namespace banshi::expr::testing {
namespace {

// Found by fuzzing: nested '=' ranges shared their endpoint twice per level,
// so printing the value doubled with every '='.
TEST(HostileInput, NestedRangesDoNotExplode) {
  std::string text = std::string(60, '=') + "iic5";
  auto tests = Expression::compile(text, Mode::kUnaryTests);
  ASSERT_TRUE(tests.ok());
  EXPECT_FALSE(tests->test(Value::number(5), EvalContext{}));
  Value v = eval_value(std::string(60, '=') + "1");
  EXPECT_TRUE(v.is_null());
}

TEST(HostileInput, SharedValuesCannotGrowExponentially) {
  std::string text = "{a0: [1, 2]";
  for (int i = 1; i < 40; ++i) text += fmt::format(", a{}: [a{}, a{}]", i, i - 1, i - 1);
  text += "}";
  Value v = eval_value(text);
  ASSERT_TRUE(v.is_null());
  EXPECT_EQ(v.null_reason(), "the value would hold more than 1000000 items");
}

}  // namespace
}  // namespace banshi::expr::testing
