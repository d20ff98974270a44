// Working days against the published 2025 and 2026 schedules.
#include "calendar/business_calendar.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "expr/feel.h"
#include "model/iso8601.h"

namespace banshi::calendar {
namespace {

int64_t at(const char* text) { return *model::parse_date_time(text); }
int64_t day(const char* date) { return *model::parse_date_time(date, 0) / 86400000; }

const BusinessCalendar& shipped() {
  static const BusinessCalendar cal = [] {
    auto c = BusinessCalendar::load_directory(BANSHI_CALENDARS);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return std::move(c).value();
  }();
  return cal;
}

TEST(BusinessCalendar, ShipsTheYearsItKnows) {
  EXPECT_EQ(shipped().years(), (std::vector<int>{2025, 2026}));
}

TEST(BusinessCalendar, WeekendsHolidaysAndMakeUpDays) {
  const BusinessCalendar& c = shipped();
  EXPECT_TRUE(*c.is_working_day(day("2026-02-13")));   // Friday
  EXPECT_TRUE(*c.is_working_day(day("2026-02-14")));   // Saturday, a make-up working day
  EXPECT_FALSE(*c.is_working_day(day("2026-02-16")));  // Monday in 春节
  EXPECT_FALSE(*c.is_working_day(day("2026-02-23")));  // the last day of 春节
  EXPECT_TRUE(*c.is_working_day(day("2026-02-24")));
  EXPECT_FALSE(*c.is_working_day(day("2026-03-07")));  // an ordinary Saturday
  EXPECT_TRUE(*c.is_working_day(day("2025-09-28")));   // Sunday, a make-up working day
  EXPECT_FALSE(*c.is_working_day(day("2025-10-08")));
  EXPECT_EQ(c.holiday_name(day("2026-02-18")).value_or(""), "春节");
}

TEST(BusinessCalendar, FiveWorkingDaysFromTheFridayBeforeSpringFestival) {
  // 02-14 (make-up Saturday) is the first; 02-15..02-23 rest; 02-24, 25, 26, 27 follow.
  auto due = shipped().add_working_days(at("2026-02-13T10:00:00+08:00"), 5);
  ASSERT_TRUE(due.ok()) << due.error().message;
  EXPECT_EQ(*due, at("2026-02-27T10:00:00+08:00"));
  auto ten = shipped().add_working_days(at("2026-02-13T10:00:00+08:00"), 10);
  ASSERT_TRUE(ten.ok());
  EXPECT_EQ(*ten, at("2026-03-05T10:00:00+08:00")) << "02-28 is a make-up Saturday";
  EXPECT_EQ(*shipped().add_working_days(at("2026-02-13T10:00:00+08:00"), 0), at("2026-02-13T10:00:00+08:00"));
}

TEST(BusinessCalendar, CountsWorkingDaysBetween) {
  const BusinessCalendar& c = shipped();
  EXPECT_EQ(*c.working_days_between(at("2026-02-13T09:00:00"), at("2026-02-27T18:00:00")), 5);
  EXPECT_EQ(*c.working_days_between(at("2026-02-27T18:00:00"), at("2026-02-13T09:00:00")), -5);
  EXPECT_EQ(*c.working_days_between(at("2026-09-30T09:00:00"), at("2026-10-09T09:00:00")), 2);  // 10-08, 10-09
}

TEST(BusinessCalendar, NextWorkingMomentRespectsOfficeHours) {
  const BusinessCalendar& c = shipped();
  EXPECT_EQ(*c.next_working_moment(at("2026-03-02T10:00:00")), at("2026-03-02T10:00:00"));
  EXPECT_EQ(*c.next_working_moment(at("2026-03-02T07:00:00")), at("2026-03-02T08:30:00"));
  EXPECT_EQ(*c.next_working_moment(at("2026-03-06T18:00:00")), at("2026-03-09T08:30:00"));  // Friday evening
  EXPECT_EQ(*c.next_working_moment(at("2026-02-15T12:00:00")), at("2026-02-24T08:30:00"));  // in 春节
}

TEST(BusinessCalendar, RefusesYearsItDoesNotCover) {
  auto r = shipped().add_working_days(at("2026-12-28T10:00:00"), 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "calendar-missing");
  EXPECT_NE(r.error().message.find("2027"), std::string::npos) << r.error().message;
  EXPECT_FALSE(shipped().is_working_day(day("2024-06-03")).ok());
}

TEST(BusinessCalendar, BadFilesAreErrorsThatNameTheProblem) {
  struct Case {
    const char* toml;
    const char* fragment;
  };
  const Case cases[] = {
      {"year = 2026\nholidays = [ { from = \"2026-02-30\", to = \"2026-03-01\", name = \"x\" } ]", "holiday"},
      {"year = 2026\nworking_weekends = [\"2026-03-04\"]", "not a Saturday or Sunday"},
      {"year = 2026\nworking_weekends = [\"2025-03-01\"]", "in 2026"},
      {"year = 2026\nholidays = [ { from = \"2026-05-02\", to = \"2026-05-01\", name = \"x\" } ]", "from <= to"},
      {"year = 2026\nutc_offset = \"+09:00\"", "not supported"},
      {"year = 2026\nholidayz = []", "unknown key 'holidayz'"},
      {"year = \"soon\"", "'year'"},
      {"year = 2026\n[office_hours]\nstart = \"18:00\"\nend = \"09:00\"", "office_hours"},
      {"year = = 2026", "2026.toml:1"},
  };
  for (const Case& c : cases) {
    BusinessCalendar cal;
    auto r = cal.add_year(c.toml, "2026.toml");
    ASSERT_FALSE(r.ok()) << c.toml;
    EXPECT_NE(r.error().message.find(c.fragment), std::string::npos) << r.error().message;
  }
  BusinessCalendar twice;
  ASSERT_TRUE(twice.add_year("year = 2026", "a.toml").ok());
  EXPECT_FALSE(twice.add_year("year = 2026", "b.toml").ok());
  EXPECT_FALSE(BusinessCalendar::load_directory("/nonexistent-calendar-folder").ok());
}

TEST(FeelWorkingDays, BuiltInsUseTheSuppliedCalendar) {
  auto add = expr::Expression::compile("add working days(now(), 5)");
  auto between = expr::Expression::compile("working days between(@\"2026-02-13\", @\"2026-02-27\")");
  auto on_date = expr::Expression::compile("add working days(date(\"2026-02-13\"), 5)");
  ASSERT_TRUE(add.ok() && between.ok() && on_date.ok());
  expr::EvalContext ctx;
  ctx.now_epoch_ms = at("2026-02-13T10:00:00+08:00");
  ctx.working_days = &shipped();
  EXPECT_EQ(add->evaluate(ctx).to_string(), "2026-02-27T10:00:00+08:00");
  EXPECT_EQ(between->evaluate(ctx).to_string(), "5");
  EXPECT_EQ(on_date->evaluate(ctx).to_string(), "2026-02-27");
  expr::EvalContext without;
  without.now_epoch_ms = ctx.now_epoch_ms;
  expr::Value none = add->evaluate(without);
  EXPECT_TRUE(none.is_null());
  EXPECT_NE(none.null_reason().find("no business calendar"), std::string::npos);
  ctx.now_epoch_ms = at("2026-12-30T10:00:00+08:00");
  expr::Value missing = add->evaluate(ctx);
  EXPECT_TRUE(missing.is_null());
  EXPECT_NE(missing.null_reason().find("2027"), std::string::npos) << missing.null_reason();
}

}  // namespace
}  // namespace banshi::calendar
