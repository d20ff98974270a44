// Unary-tests mode: decision-table input entries checked against an input.
#include "test_support.h"

namespace banshi::expr::testing {
namespace {

struct UnaryCase {
  const char* tests;
  const char* input_json;
  bool expected;
};

void PrintTo(const UnaryCase& c, std::ostream* os) { *os << c.tests << " with " << c.input_json; }

class UnaryTests : public ::testing::TestWithParam<UnaryCase> {};

TEST_P(UnaryTests, MatchesInput) {
  const UnaryCase& c = GetParam();
  auto compiled = Expression::compile(c.tests, Mode::kUnaryTests);
  ASSERT_TRUE(compiled.ok()) << to_string(compiled.error());
  boost::json::object vars{{"limit", 100}, {"levels", boost::json::array{"一级", "二级"}}};
  JsonVariables variables(vars);
  EvalContext ctx;
  ctx.variables = &variables;
  Value input = from_json(boost::json::parse(c.input_json));
  EXPECT_EQ(compiled->test(input, ctx), c.expected) << c.tests << " with " << c.input_json;
}

const UnaryCase kCases[] = {
    {"< 18", "17", true},
    {"< 18", "18", false},
    {">= 1", "1", true},
    {"> limit", "101", true},
    {"[1..2]", "2", true},
    {"(1..2]", "1", false},
    {"[1..2)", "2", false},
    {"]1..2[", "1.5", true},
    {"\"一级\",\"二级\"", "\"二级\"", true},
    {"\"一级\",\"二级\"", "\"三级\"", false},
    {"-", "\"anything\"", true},
    {"-", "null", true},
    {"not(\"a\", \"b\")", "\"c\"", true},
    {"not(\"a\", \"b\")", "\"a\"", false},
    {"not(< 10)", "5", false},
    {"42", "42", true},
    {"42", "43", false},
    {"true", "true", true},
    {"false", "true", false},
    {"? > 5 and ? < 10", "7", true},
    {"? > 5 and ? < 10", "11", false},
    {"? = false", "false", true},
    {"levels", "\"一级\"", true},
    {"levels", "\"三级\"", false},
    {"< 18", "\"abc\"", false},
    {"null", "null", true},
    {"= 5", "5", true},
    {"!= 5", "5", false},
    {"< 10, > 20", "25", true},
    {"< 10, > 20", "15", false},
    {"[date(\"2024-01-01\")..date(\"2024-12-31\")]", "\"2024-06-01\"", false},
    {"string length(?) > 2", "\"一二三\"", true},
    {"not(null)", "1", true},
    {"[1..10], 20", "20", true},
    // A test on ? that gives null is not met (null >= 18 is null, not true).
    {"? >= 18", "null", false},
    {"string length(?) > 2", "null", false},
    {"? >= 18", "20", true},
};
INSTANTIATE_TEST_SUITE_P(InputEntries, UnaryTests, ::testing::ValuesIn(kCases));

TEST(UnaryTestsMode, DatesAsInput) {
  auto compiled = Expression::compile("[date(\"2024-01-01\")..date(\"2024-12-31\")]", Mode::kUnaryTests);
  ASSERT_TRUE(compiled.ok());
  EXPECT_TRUE(compiled->test(Value::date(*Date::parse("2024-06-01")), EvalContext{}));
  EXPECT_FALSE(compiled->test(Value::date(*Date::parse("2025-06-01")), EvalContext{}));
}

TEST(UnaryTestsMode, ExpressionModeTestUsesEqualityOrBoolean) {
  auto equal = Expression::compile("\"一级\"");
  ASSERT_TRUE(equal.ok());
  EXPECT_TRUE(equal->test(Value::string("一级"), EvalContext{}));
  auto condition = Expression::compile("? > 3");
  ASSERT_TRUE(condition.ok());
  EXPECT_TRUE(condition->test(Value::number(4), EvalContext{}));
  EXPECT_FALSE(condition->test(Value::number(2), EvalContext{}));
}

TEST(UnaryTestsMode, EmptyTestsAreAnError) {
  auto compiled = Expression::compile("", Mode::kUnaryTests);
  ASSERT_FALSE(compiled.ok());
  EXPECT_EQ(to_string(compiled.error()), "1:1: the unary tests are empty (write '-' to match anything)");
}

}  // namespace
}  // namespace banshi::expr::testing
