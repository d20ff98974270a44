#include "model/cron.h"

#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "model/iso8601.h"

namespace banshi::model {
namespace {

int64_t at(const char* iso) {
  auto t = parse_date_time(iso);
  EXPECT_TRUE(t.ok()) << iso;
  return t.ok() ? *t : 0;
}

// The next firing of `expr` after `from`, in China Standard Time.
int64_t next(const char* expr, const char* from) {
  auto c = parse_cron(expr);
  EXPECT_TRUE(c.ok()) << expr << ": " << (c.ok() ? "" : c.error().message);
  if (!c.ok()) return 0;
  auto t = next_cron(*c, at(from), 480);
  EXPECT_TRUE(t.has_value()) << expr;
  return t.value_or(0);
}

std::string refusal(const char* expr) {
  auto c = parse_cron(expr);
  EXPECT_FALSE(c.ok()) << expr << " was accepted";
  if (c.ok()) return {};
  EXPECT_EQ(c.error().code, "BS207");
  return c.error().message;
}

TEST(Cron, WeekdayMornings) {
  // 2026-03-06 is a Friday: after its 06:00 the next is Monday's.
  EXPECT_EQ(next("0 0 6 * * MON-FRI", "2026-03-06T07:00:00"), at("2026-03-09T06:00:00"));
  EXPECT_EQ(next("0 0 6 * * MON-FRI", "2026-03-02T05:00:00"), at("2026-03-02T06:00:00"));
}

TEST(Cron, NextIsStrictlyLaterInWholeSeconds) {
  EXPECT_EQ(next("0 0 6 * * *", "2026-03-02T06:00:00"), at("2026-03-03T06:00:00"));
  EXPECT_EQ(next("0 0 6 * * *", "2026-03-02T05:59:59.500"), at("2026-03-02T06:00:00"));
  EXPECT_EQ(next("* * * * * *", "2026-03-02T05:59:59.500"), at("2026-03-02T06:00:00"));
  EXPECT_EQ(next("* * * * * *", "2026-03-02T06:00:00"), at("2026-03-02T06:00:01"));
}

TEST(Cron, StepsRangesAndLists) {
  EXPECT_EQ(next("*/15 * * * * *", "2026-03-02T09:00:07"), at("2026-03-02T09:00:15"));
  EXPECT_EQ(next("5/20 * * * * *", "2026-03-02T09:00:26"), at("2026-03-02T09:00:45"));
  EXPECT_EQ(next("5/20 * * * * *", "2026-03-02T09:00:46"), at("2026-03-02T09:01:05"));
  EXPECT_EQ(next("0 10-20/5 * * * *", "2026-03-02T09:15:00"), at("2026-03-02T09:20:00"));
  EXPECT_EQ(next("0 10-20/5 * * * *", "2026-03-02T09:20:00"), at("2026-03-02T10:10:00"));
  EXPECT_EQ(next("0 30 9,12,18 * * *", "2026-03-02T12:30:00"), at("2026-03-02T18:30:00"));
  EXPECT_EQ(next("0 0 0 1,15 * ?", "2026-03-02T00:00:00"), at("2026-03-15T00:00:00"));
  EXPECT_EQ(next("0 0 8-10 * * *", "2026-03-02T10:00:00"), at("2026-03-03T08:00:00"));
}

TEST(Cron, NamesInAnyCaseAndSundayIsZeroOrSeven) {
  EXPECT_EQ(next("0 0 0 1 JAN,JUL ?", "2026-03-02T00:00:00"), at("2026-07-01T00:00:00"));
  EXPECT_EQ(next("0 0 0 1 jan-feb ?", "2026-03-02T00:00:00"), at("2027-01-01T00:00:00"));
  EXPECT_EQ(next("0 0 6 ? * mon-fri", "2026-03-07T00:00:00"), at("2026-03-09T06:00:00"));
  const int64_t sunday = at("2026-03-08T00:00:00");
  EXPECT_EQ(next("0 0 0 ? * 0", "2026-03-02T00:00:00"), sunday);
  EXPECT_EQ(next("0 0 0 ? * 7", "2026-03-02T00:00:00"), sunday);
  EXPECT_EQ(next("0 0 0 ? * SUN", "2026-03-02T00:00:00"), sunday);
  EXPECT_EQ(next("0 0 0 ? * 5-7", "2026-03-02T00:00:00"), at("2026-03-06T00:00:00"));
  EXPECT_EQ(next("0 0 0 * * 1", "2026-03-02T00:00:00"), at("2026-03-09T00:00:00"));
}

TEST(Cron, BothDayFieldsMustMatch) {
  // Every Friday the 13th, as Spring reads it.
  EXPECT_EQ(next("0 0 0 13 * FRI", "2026-03-02T00:00:00"), at("2026-03-13T00:00:00"));
  EXPECT_EQ(next("0 0 0 13 * FRI", "2026-03-13T00:00:00"), at("2026-11-13T00:00:00"));
}

TEST(Cron, LastDayOfMonthAcrossMonthEndsAndLeapYears) {
  EXPECT_EQ(next("0 0 0 L * ?", "2026-02-10T00:00:00"), at("2026-02-28T00:00:00"));
  EXPECT_EQ(next("0 0 0 L * ?", "2028-02-10T00:00:00"), at("2028-02-29T00:00:00"));
  EXPECT_EQ(next("0 0 0 L * ?", "2026-04-30T00:00:00"), at("2026-05-31T00:00:00"));
  EXPECT_EQ(next("0 0 0 L * ?", "2026-12-31T12:00:00"), at("2027-01-31T00:00:00"));
  EXPECT_EQ(next("0 0 0 L-2 * ?", "2026-02-01T00:00:00"), at("2026-02-26T00:00:00"));
  EXPECT_EQ(next("0 0 0 L-2 * ?", "2026-03-01T00:00:00"), at("2026-03-29T00:00:00"));
  // 2026-05-31 is a Sunday: the last weekday of May is Friday the 29th.
  EXPECT_EQ(next("0 0 0 LW * ?", "2026-05-01T00:00:00"), at("2026-05-29T00:00:00"));
  EXPECT_EQ(next("0 0 0 LW * ?", "2026-03-01T00:00:00"), at("2026-03-31T00:00:00"));
}

TEST(Cron, ThirtyFirstSkipsShortMonths) {
  EXPECT_EQ(next("0 0 0 31 * ?", "2026-03-31T00:00:00"), at("2026-05-31T00:00:00"));
}

TEST(Cron, FebruaryTwentyNinthWaitsForALeapYear) {
  EXPECT_EQ(next("0 0 0 29 2 ?", "2026-03-02T00:00:00"), at("2028-02-29T00:00:00"));
  EXPECT_EQ(next("0 0 0 29 2 ?", "2028-02-29T00:00:00"), at("2032-02-29T00:00:00"));
  // 2100 is not a leap year.
  EXPECT_EQ(next("0 0 0 29 2 ?", "2096-03-01T00:00:00"), at("2104-02-29T00:00:00"));
  // A Monday the 29th of February: 2044 is the next.
  EXPECT_EQ(next("0 0 0 29 2 MON", "2026-03-02T00:00:00"), at("2044-02-29T00:00:00"));
}

TEST(Cron, NearestWeekday) {
  // 2026-03-15 is a Sunday: the Monday after.
  EXPECT_EQ(next("0 0 9 15W * ?", "2026-03-02T00:00:00"), at("2026-03-16T09:00:00"));
  // 2026-08-01 is a Saturday: not back into July, but Monday the 3rd.
  EXPECT_EQ(next("0 0 9 1W * ?", "2026-07-02T00:00:00"), at("2026-08-03T09:00:00"));
  // 2026-05-31 is a Sunday and the month's last day: Friday the 29th.
  EXPECT_EQ(next("0 0 9 31W * ?", "2026-05-01T00:00:00"), at("2026-05-29T09:00:00"));
  // 2026-03-14 is a Saturday: Friday the 13th.
  EXPECT_EQ(next("0 0 9 14W * ?", "2026-03-02T00:00:00"), at("2026-03-13T09:00:00"));
  // A weekday stays.
  EXPECT_EQ(next("0 0 9 10W * ?", "2026-03-02T00:00:00"), at("2026-03-10T09:00:00"));
}

TEST(Cron, NthAndLastWeekdayOfTheMonth) {
  EXPECT_EQ(next("0 0 9 ? * MON#2", "2026-03-02T00:00:00"), at("2026-03-09T09:00:00"));
  EXPECT_EQ(next("0 0 9 ? * 1#1", "2026-03-02T10:00:00"), at("2026-04-06T09:00:00"));
  EXPECT_EQ(next("0 0 9 ? * FRI#5", "2026-03-02T00:00:00"), at("2026-05-29T09:00:00"));
  EXPECT_EQ(next("0 0 0 ? * FRIL", "2026-03-02T00:00:00"), at("2026-03-27T00:00:00"));
  EXPECT_EQ(next("0 0 0 ? * 5L", "2026-03-28T00:00:00"), at("2026-04-24T00:00:00"));
}

TEST(Cron, Macros) {
  const char* from = "2026-03-02T09:30:00";
  EXPECT_EQ(next("@hourly", from), at("2026-03-02T10:00:00"));
  EXPECT_EQ(next("@daily", from), at("2026-03-03T00:00:00"));
  EXPECT_EQ(next("@midnight", from), at("2026-03-03T00:00:00"));
  EXPECT_EQ(next("@weekly", from), at("2026-03-08T00:00:00"));
  EXPECT_EQ(next("@monthly", from), at("2026-04-01T00:00:00"));
  EXPECT_EQ(next("@yearly", from), at("2027-01-01T00:00:00"));
  EXPECT_EQ(next("@Annually", from), at("2027-01-01T00:00:00"));
}

TEST(Cron, QuartzYearFieldAndCamunda7Example) {
  EXPECT_EQ(next("0 0 12 1 1 ? 2030", "2026-03-02T09:00:00"), at("2030-01-01T12:00:00"));
  EXPECT_EQ(next("0 0 12 1 1 ? 2027-2028", "2027-01-01T12:00:00"), at("2028-01-01T12:00:00"));
  EXPECT_EQ(next("0 0 12 1 1 ? 2026/2", "2026-03-02T09:00:00"), at("2028-01-01T12:00:00"));
  EXPECT_EQ(next("0 0 6 * * MON-FRI *", "2026-03-06T07:00:00"), at("2026-03-09T06:00:00"));
  auto over = parse_cron("0 0 12 1 1 ? 2027-2028");
  ASSERT_TRUE(over.ok());
  EXPECT_FALSE(next_cron(*over, at("2028-01-01T12:00:00"), 480).has_value()) << "no year left";
  EXPECT_NE(refusal("0 0 0 29 2 ? 2027").find("it never fires: no date matches its day-of-month '29' and month '2' in "
                                              "year '2027'"),
            std::string::npos);
  // Camunda 7's own example: every five minutes.
  EXPECT_EQ(next("0 0/5 * * * ?", "2026-03-02T09:02:00"), at("2026-03-02T09:05:00"));
}

TEST(Cron, FieldsAreWallClockInTheGivenZone) {
  auto c = parse_cron("0 0 6 * * *");
  ASSERT_TRUE(c.ok());
  const int64_t from = at("2026-03-02T00:00:00Z");  // 08:00 in China, 19:00 the day before in New York
  EXPECT_EQ(next_cron(*c, from, 480), at("2026-03-03T06:00:00+08:00"));
  EXPECT_EQ(next_cron(*c, from, 0), at("2026-03-02T06:00:00Z"));
  EXPECT_EQ(next_cron(*c, from, -300), at("2026-03-02T06:00:00-05:00"));
}

TEST(Cron, RefusalsNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"60 * * * * *", "the second field '60' is out of range 0-59"},
      {"0 60 * * * *", "the minute field '60'"},
      {"0 0 25 * * *", "the hour field '25' is out of range 0-23"},
      {"0 0 0 32 * ?", "the day-of-month field '32'"},
      {"0 0 0 0 * ?", "the day-of-month field '0'"},
      {"0 0 0 1 13 ?", "the month field '13'"},
      {"0 0 0 1 FOO ?", "the month field 'FOO'"},
      {"0 0 0 ? * 8", "the day-of-week field '8'"},
      {"0 0 0 ? * MON#6", "the day-of-week field 'MON#6'"},
      {"0 0 0 ? * L", "the day-of-week field 'L' must put the weekday before L"},
      {"0 0 0 L-31 * ?", "the day-of-month field 'L-31'"},
      {"0 0 0 32W * ?", "the day-of-month field '32W'"},
      {"0 0 0 1#2 * ?", "the day-of-month field '1#2'"},
      {"? 0 0 * * *", "the second field '?'"},
      {"0 0 L * * *", "the hour field 'L'"},
      {"*/0 * * * * *", "the second field '*/0' has the step '0'"},
      {"0 0 5-1 * * *", "the hour field '5-1' runs backwards"},
      {"0 0 0 1,,2 * ?", "the day-of-month field '1,,2' has an empty list item"},
      {"0 0 0 ? * FRI-MON", "runs backwards"},
      {"0 6 * * MON-FRI", "this has 5 (the second comes first"},
      {"0 0 6 * * MON-FRI 2026 1", "may have a 7th (year), this has 8"},
      {"0 0 6 * * MON-FRI 2100", "the year field '2100' is out of range 1970-2099"},
      {"0 0 6 * * MON-FRI ?", "the year field '?'"},
      {"P1D", "is a duration, not a cycle: write R/P1D"},
      {"@often", "the known macros are"},
      {"every day", "neither an ISO 8601 repeating interval"},
      {"", "this has 0"},
  };
  for (const auto& [expr, why] : cases) EXPECT_NE(refusal(expr).find(why), std::string::npos) << expr << ": " << why;
}

TEST(Cron, AnExpressionThatNeverFiresIsRefused) {
  EXPECT_NE(refusal("0 0 0 30 2 ?").find("it never fires"), std::string::npos);
  EXPECT_NE(refusal("0 0 0 31 4,6,9,11 ?").find("it never fires"), std::string::npos);
  EXPECT_NE(refusal("0 0 0 30W 2 ?").find("it never fires"), std::string::npos);
  // Rare is not never: a fifth Monday in February needs a leap year starting it.
  EXPECT_TRUE(parse_cron("0 0 0 ? 2 MON#5").ok());
}

TEST(Cron, ReadsAsCronWhateverIsNotAnIsoCycle) {
  EXPECT_TRUE(is_cron_cycle("0 0 6 * * MON-FRI"));
  EXPECT_TRUE(is_cron_cycle("@daily"));
  EXPECT_TRUE(is_cron_cycle("P1D"));
  EXPECT_FALSE(is_cron_cycle("R/P1D"));
  EXPECT_FALSE(is_cron_cycle("  R3/PT10M"));
  EXPECT_FALSE(is_cron_cycle(""));
}

TEST(Cron, KeepsTheTextAsWritten) {
  auto c = parse_cron("  0 0 6 * * mon-fri ");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->text, "0 0 6 * * mon-fri");
}

// Hostile and random input: every expression built from the syntax's pieces
// either parses or is refused with BS207, never anything else; and for each
// that parses, the next match is later than the instant asked about and is
// itself the first match after the second before it.
TEST(Cron, RandomExpressionsParseOrAreRefusedAndTheirNextMatchIsConsistent) {
  const std::vector<std::string> junk = {"*", "?", "0", "7", "60", "L", "W", "#", "-", "/", ",", "L-3", "X", "",
                                         "MON", "JAN", "32", "5-1", "*/0", "1,,2", "#6"};
  const std::vector<std::vector<std::string>> good = {
      {"*", "0", "5", "*/15", "10-20", "1,2", "59", "5/20"},
      {"*", "0", "30", "*/10", "0-5", "59"},
      {"*", "0", "6", "8-17", "*/6", "23", "9,12"},
      {"*", "?", "1", "15", "L", "L-3", "LW", "15W", "31", "29", "30", "1,15", "1W"},
      {"*", "1", "2", "JAN", "FEB", "JUN-AUG", "*/3", "12", "4,6,9,11"},
      {"*", "?", "MON", "MON-FRI", "0", "7", "FRIL", "MON#2", "5#5", "SUN,SAT", "1L"}};
  std::mt19937 rng(20260302);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  size_t accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string expr;
    const size_t fields = pick(10) == 0 ? 5 + 2 * pick(2) : 6;  // now and then 5 or 7 fields
    for (size_t f = 0; f < fields; ++f) {
      if (f > 0) expr += ' ';
      const std::vector<std::string>& choices = pick(5) == 0 || f >= good.size() ? junk : good[f];
      expr += choices[pick(choices.size())];
      if (pick(8) == 0) expr += junk[pick(junk.size())];
    }
    auto c = parse_cron(expr);
    if (!c.ok()) {
      EXPECT_EQ(c.error().code, "BS207") << expr;
      EXPECT_FALSE(c.error().message.empty()) << expr;
      continue;
    }
    ++accepted;
    const int64_t from = at("2026-03-02T09:00:00") + static_cast<int64_t>(pick(1000)) * 86400000;
    auto next = next_cron(*c, from, 480);
    ASSERT_TRUE(next.has_value()) << expr << " was accepted but never fires";
    EXPECT_GT(*next, from) << expr;
    EXPECT_EQ(*next % 1000, 0) << expr;
    EXPECT_EQ(next_cron(*c, *next - 1000, 480), next) << expr;
  }
  EXPECT_GT(accepted, 100u) << "the generator should build some valid expressions";
}

}  // namespace
}  // namespace banshi::model
