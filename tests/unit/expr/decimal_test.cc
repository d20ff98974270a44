// Decimal numbers: 34 significant digits, half-even rounding, canonical text.
#include <gtest/gtest.h>

#include "expr/decimal.h"

namespace banshi::expr {
namespace {

Decimal d(std::string_view text) {
  auto parsed = Decimal::parse(text);
  EXPECT_TRUE(parsed.has_value()) << text;
  return parsed.value_or(Decimal());
}

TEST(Decimal, ParsesAndPrintsCanonically) {
  struct {
    const char* in;
    const char* out;
  } cases[] = {
      {"0", "0"},       {"-0", "0"},          {"0.30", "0.3"},   {"10", "10"},
      {"1.5", "1.5"},   {"-2", "-2"},         {"1e3", "1000"},   {"1E+40", "1E+40"},
      {"1.5e-10", "1.5E-10"}, {"0.0000001", "1E-7"}, {"0.000001", "0.000001"}, {"007", "7"},
      {"1234567890123456789012345678901234", "1234567890123456789012345678901234"},
      {"12345678901234567890123456789012345", "1.234567890123456789012345678901234E+34"},
      {"0.12345678901234567890123456789012345", "0.1234567890123456789012345678901234"},
      {"0.12345678901234567890123456789012355", "0.1234567890123456789012345678901236"},
  };
  for (const auto& c : cases) EXPECT_EQ(d(c.in).to_string(), c.out) << c.in;
  EXPECT_FALSE(Decimal::parse(""));
  EXPECT_FALSE(Decimal::parse("."));
  EXPECT_FALSE(Decimal::parse("1e"));
  EXPECT_FALSE(Decimal::parse("abc"));
  EXPECT_FALSE(Decimal::parse("1e99999"));
}

TEST(Decimal, ArithmeticIsExactWhereDecimalIs) {
  EXPECT_EQ(Decimal::add(d("0.1"), d("0.2"))->to_string(), "0.3");
  EXPECT_EQ(Decimal::subtract(d("1"), d("0.9"))->to_string(), "0.1");
  EXPECT_EQ(Decimal::multiply(d("1.1"), d("1.1"))->to_string(), "1.21");
  EXPECT_EQ(Decimal::divide(d("1"), d("8"))->to_string(), "0.125");
  EXPECT_EQ(Decimal::add(d("1E+100"), d("1"))->to_string(), "1E+100");
  EXPECT_EQ(Decimal::add(d("1E+20"), d("1"))->to_string(), "100000000000000000001");
  EXPECT_FALSE(Decimal::divide(d("1"), d("0")));
}

TEST(Decimal, DivisionRoundsHalfEven) {
  // 2/3 = 0.666...6667 (34 digits), 1/7 rounded.
  EXPECT_EQ(Decimal::divide(d("2"), d("3"))->to_string(), "0.6666666666666666666666666666666667");
  EXPECT_EQ(Decimal::divide(d("1"), d("7"))->to_string(), "0.1428571428571428571428571428571429");
  // Exact ties round to even: 34 digits of 5 then a tie digit.
  EXPECT_EQ(d("1000000000000000000000000000000000.5").to_string(), "1000000000000000000000000000000000");
  EXPECT_EQ(d("1000000000000000000000000000000001.5").to_string(), "1000000000000000000000000000000002");
}

TEST(Decimal, Ordering) {
  EXPECT_LT(d("0.1"), d("0.2"));
  EXPECT_LT(d("-5"), d("3"));
  EXPECT_LT(d("-5"), d("-3"));
  EXPECT_LT(d("9.99"), d("10"));
  EXPECT_EQ(d("1.0"), d("1"));
  EXPECT_GT(d("1E+10"), d("99999"));
  EXPECT_LT(d("1E-10"), d("0.001"));
}

TEST(Decimal, RoundingModes) {
  EXPECT_EQ(d("2.5").rounded(0, RoundingMode::kHalfEven)->to_string(), "2");
  EXPECT_EQ(d("3.5").rounded(0, RoundingMode::kHalfEven)->to_string(), "4");
  EXPECT_EQ(d("-2.5").rounded(0, RoundingMode::kHalfUp)->to_string(), "-3");
  EXPECT_EQ(d("-2.5").rounded(0, RoundingMode::kHalfDown)->to_string(), "-2");
  EXPECT_EQ(d("1.01").rounded(0, RoundingMode::kCeiling)->to_string(), "2");
  EXPECT_EQ(d("-1.01").rounded(0, RoundingMode::kFloor)->to_string(), "-2");
  EXPECT_EQ(d("1234").rounded(-2, RoundingMode::kHalfEven)->to_string(), "1200");
  EXPECT_EQ(d("0.001").rounded(1, RoundingMode::kUp)->to_string(), "0.1");
  EXPECT_EQ(d("1E-50").rounded(2, RoundingMode::kCeiling)->to_string(), "0.01");
}

TEST(Decimal, Conversions) {
  EXPECT_EQ(Decimal::from_double(0.1)->to_string(), "0.1");
  EXPECT_EQ(Decimal::from_double(1e21)->to_string(), "1000000000000000000000");
  EXPECT_FALSE(Decimal::from_double(1.0 / 0.0));
  EXPECT_EQ(d("123").to_int64(), 123);
  EXPECT_FALSE(d("1.5").to_int64());
  EXPECT_FALSE(d("1E+30").to_int64());
  EXPECT_DOUBLE_EQ(d("2.5").to_double(), 2.5);
  EXPECT_EQ(Decimal::from_int(INT64_MIN).to_string(), "-9223372036854775808");
}

TEST(Decimal, ModuloFollowsTheDivisorSign) {
  EXPECT_EQ(Decimal::modulo(d("12"), d("5"))->to_string(), "2");
  EXPECT_EQ(Decimal::modulo(d("-12"), d("5"))->to_string(), "3");
  EXPECT_EQ(Decimal::modulo(d("12"), d("-5"))->to_string(), "-3");
  EXPECT_EQ(Decimal::modulo(d("-12"), d("-5"))->to_string(), "-2");
}

}  // namespace
}  // namespace banshi::expr
