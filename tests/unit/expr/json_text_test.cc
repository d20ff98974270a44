// JSON text as API answers, events and the CLI write it: numbers as people
// write them, and text that reads back to the same value.
#include "expr/json_text.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <system_error>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace banshi::expr {
namespace {

TEST(JsonText, NumbersAreWrittenAsPeopleWriteThem) {
  EXPECT_EQ(json_text(boost::json::value(1234.56)), "1234.56");
  EXPECT_EQ(json_text(boost::json::value(0.1)), "0.1");
  EXPECT_EQ(json_text(boost::json::value(-2.5)), "-2.5");
  EXPECT_EQ(json_text(boost::json::value(3000.0)), "3000.0");  // reads back as a double
  EXPECT_EQ(json_text(boost::json::value(-0.0)), "-0.0");
  EXPECT_EQ(json_text(boost::json::value(1e-7)), "1e-07");
  EXPECT_EQ(json_text(boost::json::value(1e300)), "1e+300");
  EXPECT_EQ(json_text(boost::json::value(int64_t{-9223372036854775807 - 1})), "-9223372036854775808");
  EXPECT_EQ(json_text(boost::json::value(uint64_t{18446744073709551615u})), "18446744073709551615");
  // JSON has no infinities or NaN.
  EXPECT_EQ(json_text(boost::json::value(std::numeric_limits<double>::infinity())), "null");
  EXPECT_EQ(json_text(boost::json::value(std::nan(""))), "null");
}

TEST(JsonText, DocumentsAreCompactAndEscaped) {
  boost::json::value v = boost::json::parse(R"({"申请人":"张三","amount":1234.56,"ok":true,"none":null,)"
                                            R"("levels":["一级",2,[]],"quote":"a\"b\\c\n","empty":{}})");
  EXPECT_EQ(json_text(v),
            R"({"申请人":"张三","amount":1234.56,"ok":true,"none":null,"levels":["一级",2,[]],)"
            R"("quote":"a\"b\\c\n","empty":{}})");
  EXPECT_EQ(json_text(v.as_object()), json_text(v));
  EXPECT_EQ(json_text(boost::json::array{1, "a"}), R"([1,"a"])");
}

TEST(JsonText, EveryDoubleReadsBackTheSame) {
  std::mt19937_64 random(20261202);
  std::uniform_int_distribution<uint64_t> bits;
  for (int i = 0; i < 20000; ++i) {
    uint64_t b = bits(random);
    double d = 0;
    static_assert(sizeof d == sizeof b);
    std::memcpy(&d, &b, sizeof d);
    if (!std::isfinite(d)) continue;
    std::string text = json_text(boost::json::value(d));
    // Read back exactly (Boost.JSON's own parser may be a unit off in the
    // last place), and as JSON: the text must parse.
    double read = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), read);
    ASSERT_EQ(error, std::errc()) << text;
    ASSERT_EQ(end, text.data() + text.size()) << text;
    ASSERT_EQ(read, d) << text;
    boost::json::value back;
    ASSERT_NO_THROW(back = boost::json::parse(text)) << text;
    ASSERT_TRUE(back.is_double()) << text;
  }
}

}  // namespace
}  // namespace banshi::expr
