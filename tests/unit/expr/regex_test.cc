// matches(), replace() and split(): XPath's regular expressions, flags and
// replacement rules, matched on characters, with bounded work.
#include <chrono>
#include <ostream>
#include <string>

#include "test_support.h"

namespace banshi::expr::testing {
namespace {

struct RegexCase {
  const char* expression;
  const char* expected;  // eval_text's rendering; "null" for an error
};

void PrintTo(const RegexCase& c, std::ostream* os) { *os << c.expression; }

class RegexCases : public ::testing::TestWithParam<RegexCase> {};

TEST_P(RegexCases, Evaluate) { EXPECT_EQ(eval_text(GetParam().expression), GetParam().expected); }

// FEEL strings take `\\` for one backslash, so `"\\d"` is the pattern \d.
INSTANTIATE_TEST_SUITE_P(
    Regex, RegexCases,
    ::testing::Values(
        // Characters, not bytes: a Chinese name of two to four Han characters.
        RegexCase{R"x(matches("张三", "^.{2}$"))x", "true"},
        RegexCase{R"x(matches("张三丰", "^\\p{Han}{2,4}$"))x", "true"},
        RegexCase{R"x(matches("张 三", "^\\p{Han}{2,4}$"))x", "false"},
        RegexCase{R"x(matches("欧阳娜娜", "^[\u4e00-\u9fa5]{2,4}$"))x", "true"},
        RegexCase{R"x(matches("Zhang", "^[\u4e00-\u9fa5]{2,4}$"))x", "false"},
        // \d is any decimal digit, as in XPath (full-width digits included).
        RegexCase{R"x(matches("１２３", "^\\d+$"))x", "true"},
        // A resident ID number: 17 digits and a digit or X.
        RegexCase{R"x(matches("11010519491231002X", "^\\d{17}[\\dX]$"))x", "true"},
        // Flags.
        RegexCase{R"x(matches("FOO", "foo", "i"))x", "true"},
        RegexCase{R"x(matches("ÉCOLE", "école", "i"))x", "true"},
        RegexCase{R"x(matches("a\nb", "a.b"))x", "false"},
        RegexCase{R"x(matches("a\nb", "a.b", "s"))x", "true"},
        RegexCase{R"x(matches("a\nb", "^b$"))x", "false"},
        RegexCase{R"x(matches("a\nb", "^b$", "m"))x", "true"},
        RegexCase{R"x(matches("abc", "a b c", "x"))x", "true"},
        RegexCase{R"x(matches("a c", "a[ ]c", "x"))x", "true"},
        RegexCase{R"x(matches("a.c", ".", "q"))x", "true"},
        RegexCase{R"x(matches("abc", ".", "q"))x", "false"},
        RegexCase{R"x(matches("a", "a", "k"))x", "null"},
        // `$` is the end of the input, not a place before a final newline.
        RegexCase{R"x(matches("ab\n", "ab$"))x", "false"},
        // Patterns that repeat a repeating group are fine when they end soon.
        RegexCase{R"x(matches("张三 李四 ", "^(\\p{Han}+\\s)+$"))x", "true"},
        RegexCase{R"x(matches("123-456-", "^(\\d{3}-)+$"))x", "true"},
        RegexCase{R"x(matches("ab", "^(a|b)*$"))x", "true"},
        RegexCase{R"x(matches("aaab", "a+?b"))x", "true"},
        RegexCase{R"x(matches("abab", "^(ab)\\1$"))x", "true"},
        // x removes whitespace first: `\ [` is an escaped bracket.
        RegexCase{R"x(matches("a[b", "a \\ [ b", "x"))x", "true"},
        // XPath's \i and \c (XML name characters) are refused, not read as PCRE2's \c (a control character).
        RegexCase{R"x(matches("ab", "^\\c+$"))x", "null"},
        RegexCase{R"x(matches("ab", "^\\i"))x", "null"},
        // Invalid patterns.
        RegexCase{R"x(matches("a", "("))x", "null"},
        RegexCase{R"x(matches("a**", "a**"))x", "null"},
        RegexCase{R"x(matches("b", "[a-z-[aeiou]]"))x", "null"},
        // replace(): groups, escapes, characters.
        RegexCase{R"x(replace("abc", "b", "x"))x", "\"axc\""},
        RegexCase{R"x(replace("abracadabra", "a(.)", "a$1$1"))x", "\"abbraccaddabbra\""},
        RegexCase{R"x(replace("abcd", "(b)(c)", "$2$1"))x", "\"acbd\""},
        RegexCase{R"x(replace("abc", "b", "\\$"))x", "\"a$c\""},
        RegexCase{R"x(replace("abc", "b", "\\\\"))x", "\"a\\\\c\""},
        RegexCase{R"x(replace("abc", "(b)", "$12"))x", "\"ab2c\""},
        RegexCase{R"x(replace("abc", "(b)|(x)", "[$2]"))x", "\"a[]c\""},
        RegexCase{R"x(replace("abc", "b", "$"))x", "null"},
        RegexCase{R"x(replace("abc", "b", "\\x"))x", "null"},
        // A wrong replacement is an error even where nothing matches.
        RegexCase{R"x(replace("abc", "z", "$"))x", "null"},
        RegexCase{R"x(replace("Abc", "B", "x", "i"))x", "\"Axc\""},
        RegexCase{R"x(replace("a.b.c", ".", "$", "q"))x", "\"a$b$c\""},
        RegexCase{R"x(replace("浙江省杭州市", "省|市", ""))x", "\"浙江杭州\""},
        RegexCase{R"x(replace("张三", ".", "*"))x", "\"**\""},
        RegexCase{R"x(replace("13812345678", "(\\d{3})\\d{4}(\\d{4})", "$1****$2"))x", "\"138****5678\""},
        RegexCase{R"x(replace("abc", "x*", "-"))x", "null"},
        // split(): the delimiter is a pattern.
        RegexCase{R"x(split("John Doe", "\\s"))x", "[\"John\", \"Doe\"]"},
        RegexCase{R"x(split("a1b22c", "[0-9]+"))x", "[\"a\", \"b\", \"c\"]"},
        RegexCase{R"x(split("民政局、人社局、医保局", "、"))x", "[\"民政局\", \"人社局\", \"医保局\"]"},
        RegexCase{R"x(split(",a,", ","))x", "[\"\", \"a\", \"\"]"},
        RegexCase{R"x(split("abc", "x*"))x", "null"}));

TEST(RegexLimits, ReasonsAreClear) {
  Value refused = eval_value(R"x(matches("b", "[a-z-[aeiou]]"))x");
  EXPECT_NE(refused.null_reason().find("class subtraction"), std::string::npos) << refused.null_reason();
  Value invalid = eval_value(R"x(matches("a", "a)"))x");
  EXPECT_NE(invalid.null_reason().find("not a valid regular expression"), std::string::npos) << invalid.null_reason();
  EXPECT_NE(invalid.null_reason().find("at byte 2"), std::string::npos) << invalid.null_reason();
  Value flag = eval_value(R"x(matches("a", "a", "g"))x");
  EXPECT_NE(flag.null_reason().find("unknown flag 'g'"), std::string::npos) << flag.null_reason();
  Value dollar = eval_value(R"x(replace("abc", "b", "US$"))x");
  EXPECT_NE(dollar.null_reason().find("group number"), std::string::npos) << dollar.null_reason();
}

// A pattern that backtracks exponentially stops at the step limit with an
// error instead of holding the engine.
TEST(RegexLimits, ExponentialBacktrackingStopsWithAnError) {
  auto started = std::chrono::steady_clock::now();
  Value v = eval_value(R"x(matches("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", "^(a|aa)+$"))x");
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(v.is_null());
  EXPECT_NE(v.null_reason().find("too much work"), std::string::npos) << v.null_reason();
  // Generous even under sanitizers; without the limit this runs for hours.
  EXPECT_LT(took, std::chrono::seconds(5));
}

// PCRE2 counts steps afresh at every position an unanchored search starts
// at: the steps of one evaluation are shared out over them, so a pattern that
// backtracks a lot at each of many positions stops too.
TEST(RegexLimits, WorkIsBoundedOverEveryStartingPosition) {
  std::string chunk = std::string(22, 'a') + "c";
  std::string input;
  while (input.size() + chunk.size() < 60000) input += chunk;
  boost::json::object vars;
  vars["s"] = input + "b";
  for (const char* expression : {R"x(matches(s, "(a|aa)+b"))x", R"x(replace(s, "(a|aa)+b", "x"))x",
                                 R"x(split(s, "(a|aa)+b"))x"}) {
    auto started = std::chrono::steady_clock::now();
    Value v = eval_value(expression, vars);
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_TRUE(v.is_null()) << expression;
    EXPECT_NE(v.null_reason().find("too much work"), std::string::npos) << v.null_reason();
    EXPECT_LT(took, std::chrono::seconds(10)) << expression;  // without the sharing: hours
  }
  // An ordinary search of a long input is unaffected.
  vars["s"] = std::string(60000, 'x') + "11010519491231002X";
  EXPECT_EQ(eval_text(R"x(matches(s, "\\d{17}[\\dX]"))x", vars), "true");
  EXPECT_EQ(eval_text(R"x(string length(replace(s, "x", "")))x", vars), "18");
}

TEST(RegexLimits, ReplaceStopsWhenTheResultGrowsTooLong) {
  boost::json::object vars;
  vars["s"] = std::string(60000, 'a');
  vars["r"] = std::string(1000, 'b');
  Value v = eval_value(R"x(replace(s, "a", r))x", vars);
  EXPECT_TRUE(v.is_null());
  EXPECT_NE(v.null_reason().find("the result is longer than"), std::string::npos) << v.null_reason();
}

TEST(RegexLimits, SizesAreBounded) {
  // Longer than an expression may be, so the input comes in a variable.
  boost::json::object vars;
  vars["s"] = std::string(65537, 'a');
  EXPECT_EQ(eval_value(R"x(matches(s, "a"))x", vars).null_reason(), "matches: the input is longer than 65536 bytes");
  vars["s"] = std::string(65536, 'a');
  EXPECT_EQ(eval_text(R"x(matches(s, "^a+$"))x", vars), "true");
  std::string long_pattern = "matches(\"a\", \"" + std::string(1025, 'a') + "\")";
  EXPECT_EQ(eval_value(long_pattern).null_reason(), "matches: the pattern is longer than 1024 bytes");
}

TEST(RegexLimits, InvalidUtf8InputIsAnError) {
  boost::json::object vars;
  vars["s"] = std::string("a\xff" "b");
  Value v = eval_value(R"x(matches(s, "b"))x", vars);
  EXPECT_TRUE(v.is_null());
  EXPECT_NE(v.null_reason().find("UTF-8"), std::string::npos) << v.null_reason();
}

}  // namespace
}  // namespace banshi::expr::testing
