#include "model/iso8601.h"

#include <gtest/gtest.h>

namespace banshi::model {
namespace {

TEST(Iso8601Duration, ParsesDateAndTimeParts) {
  auto d = parse_duration("P1Y2M10DT2H30M15.5S");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->years, 1);
  EXPECT_EQ(d->months, 2);
  EXPECT_EQ(d->days, 10);
  EXPECT_EQ(d->milliseconds, ((2 * 60 + 30) * 60 + 15) * 1000 + 500);
  EXPECT_FALSE(d->negative);
}

TEST(Iso8601Duration, WeeksAndNegative) {
  auto w = parse_duration("P2W");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->days, 14);
  auto n = parse_duration("-PT5M");
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->negative);
  EXPECT_EQ(n->milliseconds, 300000);
}

TEST(Iso8601Duration, RejectsMalformed) {
  for (const char* bad : {"", "P", "PT", "10D", "P1H", "PT1D", "P1.5D", "P1M1Y", "PT1S1M", "PX", "P99999999999999D"}) {
    EXPECT_FALSE(parse_duration(bad).ok()) << bad;
  }
}

TEST(Iso8601DateTime, OffsetsAndDefaultZone) {
  auto utc = parse_date_time("2026-03-01T01:00:00Z");
  auto cst = parse_date_time("2026-03-01T09:00:00+08:00");
  auto local = parse_date_time("2026-03-01T09:00:00");  // default +08:00
  ASSERT_TRUE(utc.ok() && cst.ok() && local.ok());
  EXPECT_EQ(*utc, *cst);
  EXPECT_EQ(*utc, *local);
  EXPECT_EQ(*utc, 1772326800000);
  auto date_only = parse_date_time("2026-03-01", 0);
  ASSERT_TRUE(date_only.ok());
  EXPECT_EQ(*date_only, 1772323200000);
  auto millis = parse_date_time("2026-03-01T01:00:00.250Z");
  ASSERT_TRUE(millis.ok());
  EXPECT_EQ(*millis, 1772326800250);
}

TEST(Iso8601DateTime, RejectsImpossibleDates) {
  for (const char* bad : {"2026-02-29", "2026-13-01", "2026-00-10", "2026-01-32T00:00:00Z", "2026-01-01T25:00:00Z",
                          "2026-01-01T10:61:00Z", "2026-01-01 10:00", "26-01-01", "2026-01-01T10:00:00[Asia/Shanghai]",
                          "2026-01-01T10:00:00+8"}) {
    EXPECT_FALSE(parse_date_time(bad).ok()) << bad;
  }
  EXPECT_TRUE(parse_date_time("2024-02-29").ok());
}

TEST(Iso8601Cycle, RepetitionsStartAndInterval) {
  auto c = parse_cycle("R3/PT10M");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->repetitions, 3);
  EXPECT_FALSE(c->start_ms.has_value());
  EXPECT_EQ(c->interval.milliseconds, 600000);
  auto unbounded = parse_cycle("R/P1D");
  ASSERT_TRUE(unbounded.ok());
  EXPECT_EQ(unbounded->repetitions, -1);
  auto started = parse_cycle("R2/2026-01-01T00:00:00Z/PT1H");
  ASSERT_TRUE(started.ok());
  ASSERT_TRUE(started->start_ms.has_value());
  EXPECT_EQ(*started->start_ms, 1767225600000);
  for (const char* bad : {"PT1H", "R", "R3", "Rx/PT1H", "R3/PT0S", "R3/-PT1H", "R1/PT1H/2026-01-01T00:00:00Z"}) {
    EXPECT_FALSE(parse_cycle(bad).ok()) << bad;
  }
}

TEST(Iso8601, AddDurationIsCalendarAware) {
  int64_t jan31 = *parse_date_time("2026-01-31T10:00:00+08:00");
  auto one_month = parse_duration("P1M");
  EXPECT_EQ(add_duration(jan31, *one_month), *parse_date_time("2026-02-28T10:00:00+08:00"));
  auto day_and_hour = parse_duration("P1DT1H");
  EXPECT_EQ(add_duration(jan31, *day_and_hour), *parse_date_time("2026-02-01T11:00:00+08:00"));
  auto back = parse_duration("-P1Y");
  EXPECT_EQ(add_duration(jan31, *back), *parse_date_time("2025-01-31T10:00:00+08:00"));
}

TEST(Iso8601, CivilDaysRoundTrip) {
  for (int64_t z : {-719468L, -1L, 0L, 1L, 20000L, 2932896L}) {
    int64_t y;
    unsigned m, d;
    civil_from_days(z, y, m, d);
    EXPECT_EQ(days_from_civil(y, m, d), z);
  }
}

}  // namespace
}  // namespace banshi::model
