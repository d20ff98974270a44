// Expression mode: each case is FEEL text and the printed value it yields.
#include "test_support.h"

namespace banshi::expr::testing {
namespace {

const char* kVariables = R"({
  "amount": 1500,
  "rate": 0.1,
  "name": "张三",
  "flag": true,
  "nothing": null,
  "applicant": {"level": "一级", "region": "浙江", "age": 17, "address": {"city": "杭州"}},
  "items": [
    {"name": "a", "price": 10, "qty": 2},
    {"name": "b", "price": 25, "qty": 1},
    {"name": "c", "price": 5, "qty": 10}
  ],
  "numbers": [3, 1, 2],
  "审批级别": "二级",
  "due": "2024-01-31"
})";

class FeelExpression : public ::testing::TestWithParam<Case> {};

TEST_P(FeelExpression, PrintsExpectedValue) {
  const Case& c = GetParam();
  EXPECT_EQ(eval_text(c.expression, json_object(kVariables)), c.expected) << c.expression;
}

const Case kLiterals[] = {
    {"null", "null"},
    {"true", "true"},
    {"false", "false"},
    {"42", "42"},
    {"1.50", "1.5"},
    {".5", "0.5"},
    {"-2", "-2"},
    {"\"一级\"", "\"一级\""},
    {R"("a\"b")", R"("a\"b")"},
    {R"("\u4e00")", "\"一\""},
    {"// comment\n1 + /* inline */ 2", "3"},
};
INSTANTIATE_TEST_SUITE_P(Literals, FeelExpression, ::testing::ValuesIn(kLiterals));

const Case kArithmetic[] = {
    {"0.1 + 0.2", "0.3"},
    {"0.1 + 0.2 = 0.3", "true"},
    {"1 + 2 * 3", "7"},
    {"(1 + 2) * 3", "9"},
    {"10 / 4", "2.5"},
    {"1 / 3", "0.3333333333333333333333333333333333"},
    {"2 / 3", "0.6666666666666666666666666666666667"},
    {"10 - 12", "-2"},
    {"2 ** 10", "1024"},
    {"2 ** -1", "0.5"},
    {"10 ** 40", "1E+40"},
    {"1.5 * 2", "3"},
    {"-(3)", "-3"},
    {"- -3", "3"},
    {"1 / 0", "null"},
    {"1 + null", "null"},
    {"1 + \"a\"", "null"},
    {"\"a\" + \"b\"", "\"ab\""},
    {"name + \"先生\"", "\"张三先生\""},
    {"amount * rate", "150"},
    {"0.000001 * 0.1", "1E-7"},
    {"123456789012345678901234567890123456789", "1.234567890123456789012345678901235E+38"},
    {"2.5 - 0.5", "2"},
    {"1.23e4", "12300"},
    {"1e-7 = 0.0000001", "true"},
};
INSTANTIATE_TEST_SUITE_P(Arithmetic, FeelExpression, ::testing::ValuesIn(kArithmetic));

const Case kComparison[] = {
    {"1 < 2", "true"},
    {"2 <= 2", "true"},
    {"3 > 4", "false"},
    {"1 = 1.0", "true"},
    {"1 != 2", "true"},
    {"\"a\" < \"b\"", "true"},
    {"1 = \"1\"", "null"},
    {"1 < \"1\"", "null"},
    {"null = null", "true"},
    {"null = 1", "false"},
    {"nothing = null", "true"},
    {"[1, 2] = [1, 2]", "true"},
    {"{a: 1} = {a: 1}", "true"},
    {"amount > 1000 and applicant.level in [\"一级\", \"二级\"]", "true"},
    {"5 between 1 and 10", "true"},
    {"0 between 1 and 10", "false"},
    {"\"b\" between \"a\" and \"c\"", "true"},
};
INSTANTIATE_TEST_SUITE_P(Comparison, FeelExpression, ::testing::ValuesIn(kComparison));

const Case kLogic[] = {
    {"true and true", "true"},
    {"true and false", "false"},
    {"true and null", "null"},
    {"false and null", "false"},
    {"null and false", "false"},
    {"true or null", "true"},
    {"false or null", "null"},
    {"false or false", "false"},
    {"1 and true", "null"},
    {"not(true)", "false"},
    {"not(null)", "null"},
    {"not(1)", "null"},
    {"if amount > 1000 then \"大额\" else \"小额\"", "\"大额\""},
    {"if null then 1 else 2", "2"},
    {"if 1 then 1 else 2", "2"},
};
INSTANTIATE_TEST_SUITE_P(Logic, FeelExpression, ::testing::ValuesIn(kLogic));

const Case kPaths[] = {
    {"applicant.level", "\"一级\""},
    {"applicant.address.city", "\"杭州\""},
    {"applicant.missing", "null"},
    {"unknown", "null"},
    {"审批级别", "\"二级\""},
    {"items.name", "[\"a\", \"b\", \"c\"]"},
    {"{a: {b: 2}}.a.b", "2"},
    {"due", "\"2024-01-31\""},
    {"[{a: 1}, {a: 2}].a", "[1, 2]"},
};
INSTANTIATE_TEST_SUITE_P(Paths, FeelExpression, ::testing::ValuesIn(kPaths));

const Case kListsAndContexts[] = {
    {"[1, 2, 3]", "[1, 2, 3]"},
    {"[]", "[]"},
    {"[1, 2, 3][2]", "2"},
    {"[1, 2, 3][-1]", "3"},
    {"[1, 2, 3][0]", "null"},
    {"[1, 2, 3][4]", "null"},
    {"[1, 2, 3][item > 1]", "[2, 3]"},
    {"numbers[item >= 2]", "[3, 2]"},
    {"items[price > 8].name", "[\"a\", \"b\"]"},
    {"items[item.qty = 10].name", "[\"c\"]"},
    {"items[1].price", "10"},
    {"5[item > 1]", "[5]"},
    {"{a: 1, \"b c\": 2}", "{a: 1, \"b c\": 2}"},
    {"{a: 1, b: a + 1}", "{a: 1, b: 2}"},
    {"{a: 1, b: a + 1}.b", "2"},
    {"{}", "{}"},
    {"{first name: \"x\"}", "{\"first name\": \"x\"}"},
    {"[[1, 2], [3]][1][2]", "2"},
};
INSTANTIATE_TEST_SUITE_P(ListsAndContexts, FeelExpression, ::testing::ValuesIn(kListsAndContexts));

const Case kIteration[] = {
    {"for x in [1, 2, 3] return x * 2", "[2, 4, 6]"},
    {"for x in 1..3 return x", "[1, 2, 3]"},
    {"for x in 3..1 return x", "[3, 2, 1]"},
    {"for x in [1, 2], y in [10, 20] return x + y", "[11, 21, 12, 22]"},
    {"for x in 1..2, y in x..2 return [x, y]", "[[1, 1], [1, 2], [2, 2]]"},
    {"for i in items return i.price * i.qty", "[20, 25, 50]"},
    {"sum(for i in items return i.price * i.qty)", "95"},
    {"some x in [1, 2, 3] satisfies x > 2", "true"},
    {"some x in [1, 2, 3] satisfies x > 3", "false"},
    {"every x in [1, 2, 3] satisfies x > 0", "true"},
    {"every x in [1, 2, 3] satisfies x > 1", "false"},
    {"every x in [] satisfies x > 1", "true"},
    {"some x in [1, 2], y in [3, 4] satisfies x + y = 6", "true"},
    {"for x in [] return x", "[]"},
};
INSTANTIATE_TEST_SUITE_P(Iteration, FeelExpression, ::testing::ValuesIn(kIteration));

const Case kIn[] = {
    {"2 in [1, 2, 3]", "true"},
    {"4 in [1, 2, 3]", "false"},
    {"5 in [1..10]", "true"},
    {"10 in [1..10)", "false"},
    {"1 in (1..10]", "false"},
    {"1 in ]1..10]", "false"},
    {"5 in < 10", "true"},
    {"5 in (< 3, > 4)", "true"},
    {"5 in (1, 2)", "false"},
    {"\"一级\" in (\"一级\", \"二级\")", "true"},
    {"applicant.region in [\"浙江\", \"江苏\"]", "true"},
    {"5 in 5", "true"},
    {"[1..10]", "[1..10]"},
    {"(1..10]", "(1..10]"},
    {"(< 10) = (< 10)", "true"},
    {"5 in (< 10)", "true"},
    {"[1..[2]]", "null"},
    {"for x in [1..3) return x", "[1, 2]"},
    {"for x in -9223372036854775808..9223372036854775807 return x", "null"},
};
INSTANTIATE_TEST_SUITE_P(In, FeelExpression, ::testing::ValuesIn(kIn));

const Case kStringBuiltins[] = {
    {"string length(\"一级审批\")", "4"},
    {"string length(\"abc\")", "3"},
    {"substring(\"foobar\", 3)", "\"obar\""},
    {"substring(\"foobar\", 3, 3)", "\"oba\""},
    {"substring(\"foobar\", -2, 1)", "\"a\""},
    {"substring(\"一级二级\", 2, 2)", "\"级二\""},
    {"substring(string: \"foobar\", start position: 2)", "\"oobar\""},
    {"upper case(\"aBc一\")", "\"ABC一\""},
    {"lower case(\"aBc\")", "\"abc\""},
    // Letters of every script change case; full-width ones too (ID forms).
    {"upper case(\"école à l'été\")", "\"ÉCOLE À L'ÉTÉ\""},
    {"lower case(\"ΑΒΓ Дом\")", "\"αβγ дом\""},
    {"upper case(\"ｂｊ１２３ｘ\")", "\"ＢＪ１２３Ｘ\""},
    {"lower case(\"ＡＢＣ张三\")", "\"ａｂｃ张三\""},
    {"contains(\"浙江省杭州市\", \"杭州\")", "true"},
    {"starts with(\"foobar\", \"foo\")", "true"},
    {"ends with(\"foobar\", \"bar\")", "true"},
    {"substring before(\"foobar\", \"bar\")", "\"foo\""},
    {"substring after(\"foobar\", \"ob\")", "\"ar\""},
    {"matches(\"foobar\", \"^fo*b\")", "true"},
    {"matches(\"FOO\", \"foo\", \"i\")", "true"},
    {"matches(\"a\", \"(\")", "null"},
    {"replace(\"abc\", \"b\", \"x\")", "\"axc\""},
    {"split(\"a,b,c\", \",\")", "[\"a\", \"b\", \"c\"]"},
    // The delimiter is a pattern (the spec's own example).
    {"split(\"John Doe\", \"\\\\s\")", "[\"John\", \"Doe\"]"},
    {"split(\"a1b22c\", \"[0-9]+\")", "[\"a\", \"b\", \"c\"]"},
    {"split(\"a.b\", \"\\\\.\")", "[\"a\", \"b\"]"},
    {"split(\"abc\", \"x*\")", "null"},
    {"string join([\"a\", \"b\"], \", \")", "\"a, b\""},
    {"string join([\"a\", null, \"b\"])", "\"ab\""},
    {"string(1.50)", "\"1.5\""},
    {"string(date(\"2024-01-02\"))", "\"2024-01-02\""},
    {"number(\"1,000.5\", \",\", \".\")", "1000.5"},
    {"number(\"12\")", "12"},
    {"number(\"abc\")", "null"},
};
INSTANTIATE_TEST_SUITE_P(StringBuiltins, FeelExpression, ::testing::ValuesIn(kStringBuiltins));

const Case kNumberBuiltins[] = {
    {"abs(-3)", "3"},
    {"floor(1.5)", "1"},
    {"floor(-1.5)", "-2"},
    {"ceiling(1.2)", "2"},
    {"ceiling(-1.5)", "-1"},
    {"floor(1.567, 2)", "1.56"},
    {"decimal(1.125, 2)", "1.12"},
    {"decimal(1.135, 2)", "1.14"},
    {"decimal(2.5, 0)", "2"},
    {"round up(5.5, 0)", "6"},
    {"round up(-5.5, 0)", "-6"},
    {"round down(5.5, 0)", "5"},
    {"round half up(5.5, 0)", "6"},
    {"round half up(-5.5, 0)", "-6"},
    {"round half down(5.5, 0)", "5"},
    {"round half down(-5.5, 0)", "-5"},
    {"round up(1.121, 2)", "1.13"},
    {"modulo(12, 5)", "2"},
    {"modulo(-12, 5)", "3"},
    {"modulo(12, -5)", "-3"},
    {"modulo(10.1, 4.5)", "1.1"},
    {"modulo(1, 0)", "null"},
    {"sqrt(16)", "4"},
    {"odd(3)", "true"},
    {"even(3)", "false"},
};
INSTANTIATE_TEST_SUITE_P(NumberBuiltins, FeelExpression, ::testing::ValuesIn(kNumberBuiltins));

const Case kListBuiltins[] = {
    {"count([1, 2, 3])", "3"},
    {"sum([1, 2, 3])", "6"},
    {"sum(1, 2, 3)", "6"},
    {"sum([])", "null"},
    {"sum([1, \"a\"])", "null"},
    {"min([3, 1, 2])", "1"},
    {"max(3, 1, 2)", "3"},
    {"max([\"a\", \"c\", \"b\"])", "\"c\""},
    {"min([])", "null"},
    {"mean([1, 2, 3, 4])", "2.5"},
    {"median([3, 1, 2])", "2"},
    {"product([2, 3])", "6"},
    {"all([true, true])", "true"},
    {"any([false, true])", "true"},
    {"list contains([1, 2], 2)", "true"},
    {"list contains([1, null], null)", "true"},
    {"append([1], 2, 3)", "[1, 2, 3]"},
    {"concatenate([1], [2, 3], [])", "[1, 2, 3]"},
    {"distinct values([1, 2, 1, 3, 2])", "[1, 2, 3]"},
    {"sublist([1, 2, 3], 2)", "[2, 3]"},
    {"sublist([1, 2, 3], 1, 2)", "[1, 2]"},
    {"insert before([1, 3], 2, 2)", "[1, 2, 3]"},
    {"remove([1, 2, 3], 2)", "[1, 3]"},
    {"reverse([1, 2, 3])", "[3, 2, 1]"},
    {"index of([1, 2, 1], 1)", "[1, 3]"},
    {"union([1, 2], [2, 3])", "[1, 2, 3]"},
    {"flatten([1, [2, [3]]])", "[1, 2, 3]"},
    {"sort([3, 1, 2])", "[1, 2, 3]"},
    {"sort([3, 1, 2], function(x, y) x > y)", "[3, 2, 1]"},
    {"sort(list: [{a: 2, b: 1}, {a: 1, b: 2}, {a: 2, b: 0}], precedes: function(x, y) x.a < y.a)",
     "[{a: 1, b: 2}, {a: 2, b: 1}, {a: 2, b: 0}]"},  // stable: equal items keep their order
    {"sort([\"b\", \"a\", \"c\"], function(x, y) x < y)", "[\"a\", \"b\", \"c\"]"},
    {"sort([], function(x, y) x < y)", "[]"},
    {"count(sort([5, 3, 1, 4, 2, 6, 7], function(x, y) true))", "7"},  // no order at all: nothing lost
    {"sum(sort([5, 3, 1, 4, 2, 6, 7], function(x, y) false))", "28"},
    {"sort([2, 1], function(x, y) 1)", "null"},
    {"sort([2, 1], 5)", "null"},
    {"get value({a: 1}, \"a\")", "1"},
    {"get entries({a: 1})", "[{key: \"a\", value: 1}]"},
};
INSTANTIATE_TEST_SUITE_P(ListBuiltins, FeelExpression, ::testing::ValuesIn(kListBuiltins));

TEST(FeelValues, NullCarriesReason) {
  Value v = eval_value("1 / 0");
  EXPECT_TRUE(v.is_null());
  EXPECT_EQ(v.null_reason(), "division by zero");
  EXPECT_EQ(eval_value("unknown").null_reason(), "no variable named 'unknown'");
  EXPECT_EQ(eval_value("substring(1, 2)").null_reason(), "substring: expects a string and a start position");
}

TEST(FeelValues, EvaluationWithoutVariables) {
  auto compiled = Expression::compile("1 + 1");
  ASSERT_TRUE(compiled.ok());
  EXPECT_EQ(compiled->evaluate(EvalContext{}).to_string(), "2");
  EXPECT_EQ(compiled->source(), "1 + 1");
  EXPECT_EQ(compiled->mode(), Mode::kExpression);
}

TEST(FeelValues, CopiesShareTheCompiledTree) {
  auto compiled = Expression::compile("x * 2");
  ASSERT_TRUE(compiled.ok());
  Expression copy = *compiled;
  boost::json::object vars{{"x", 21}};
  JsonVariables variables(vars);
  EvalContext ctx;
  ctx.variables = &variables;
  EXPECT_EQ(copy.evaluate(ctx).to_string(), "42");
}

TEST(FeelJson, RoundTrips) {
  boost::json::value json = boost::json::parse(R"({"a": [1, 2.5, "x", true, null], "b": {"c": 0.1}})");
  Value v = from_json(json);
  EXPECT_EQ(v.to_string(), "{a: [1, 2.5, \"x\", true, null], b: {c: 0.1}}");
  EXPECT_EQ(to_json(v), json);
}

TEST(FeelJson, NumbersConvertExactly) {
  EXPECT_EQ(from_json(boost::json::value(9007199254740993LL)).to_string(), "9007199254740993");
  EXPECT_EQ(from_json(boost::json::value(18446744073709551615ULL)).to_string(), "18446744073709551615");
  EXPECT_EQ(from_json(boost::json::value(0.1)).to_string(), "0.1");
  EXPECT_EQ(from_json(boost::json::value(1e300)).to_string(), "1E+300");
  EXPECT_EQ(to_json(eval_value("10 / 4")), boost::json::value(2.5));
  EXPECT_EQ(to_json(eval_value("2 ** 10")), boost::json::value(1024));
}

TEST(FeelJson, TemporalValuesBecomeIsoStrings) {
  EXPECT_EQ(to_json(eval_value("date(\"2024-01-31\")")), boost::json::value("2024-01-31"));
  EXPECT_EQ(to_json(eval_value("duration(\"P1DT2H\")")), boost::json::value("P1DT2H"));
  EXPECT_EQ(to_json(eval_value("@\"2024-01-31T10:00:00+08:00\"")), boost::json::value("2024-01-31T10:00:00+08:00"));
  // A string stays a string: no guessing of dates.
  EXPECT_TRUE(from_json(boost::json::value("2024-01-31")).is_string());
}

TEST(FeelJson, DeepJsonBecomesNull) {
  std::string deep(300, '[');
  deep += std::string(300, ']');
  boost::json::parse_options options;
  options.max_depth = 1000;
  boost::json::value json = boost::json::parse(deep, {}, options);
  // The outer levels stay lists; the part beyond the limit is null.
  Value v = from_json(json);
  EXPECT_TRUE(v.is_list());
}

}  // namespace
}  // namespace banshi::expr::testing
