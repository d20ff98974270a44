// expr/temporal.h — FEEL dates, times, dates-and-times and durations.
//
// Contract
// - Plain value types with ISO-8601 parsing and printing. Parsing returns
//   std::nullopt on malformed or out-of-range text; nothing throws.
// - Calendar arithmetic is proleptic Gregorian. Adding months clamps the day
//   to the end of the month (2024-01-31 + P1M = 2024-02-29).
// - A time may carry a UTC offset or a zone id ("@Asia/Shanghai"). Offsets
//   are applied exactly; a zone id takes its offset at that date and time from
//   the operating system's time-zone database (in a daylight-saving gap the
//   offset before it, in an overlap the earlier one). An id the database does
//   not know does not parse. Without a database, zone ids act as local times.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "expr/decimal.h"

namespace banshi::expr {

struct Date {
  int64_t year = 1970;  // may be negative or above 9999
  int32_t month = 1;    // 1..12
  int32_t day = 1;      // 1..days in month

  static std::optional<Date> parse(std::string_view text);  // "2024-01-31"
  static std::optional<Date> from_fields(int64_t year, int64_t month, int64_t day);
  static Date from_epoch_days(int64_t days);
  int64_t epoch_days() const;  // days since 1970-01-01
  int32_t iso_weekday() const;  // 1 = Monday .. 7 = Sunday
  std::string to_string() const;
  friend bool operator==(const Date&, const Date&) = default;
  friend auto operator<=>(const Date&, const Date&) = default;
};

struct Time {
  int32_t hour = 0;
  int32_t minute = 0;
  int32_t second = 0;
  int32_t nanosecond = 0;
  std::optional<int32_t> offset_seconds;  // UTC offset when given ("Z", "+08:00")
  std::string zone_id;                    // IANA zone id when given with '@'

  static std::optional<Time> parse(std::string_view text);  // "10:30:00", "10:30:00.5+08:00"
  bool has_zone() const { return offset_seconds.has_value() || !zone_id.empty(); }
  // Seconds since midnight, as written (not shifted by the offset).
  Decimal seconds_of_day() const;
  std::string to_string() const;
  friend bool operator==(const Time&, const Time&) = default;
};

struct DateTime {
  Date date;
  Time time;

  // "2024-01-31T10:30:00", with optional offset or zone; a bare date means midnight.
  static std::optional<DateTime> parse(std::string_view text);
  // Seconds since 1970-01-01T00:00:00, shifted to UTC when an offset is known.
  Decimal epoch_seconds() const;
  static std::optional<DateTime> from_epoch_seconds(const Decimal& seconds, const Time& zone_like);
  std::string to_string() const;
  friend bool operator==(const DateTime&, const DateTime&) = default;
};

// A days-and-time duration, e.g. P1DT2H (exact seconds, may be negative).
struct DaysTimeDuration {
  Decimal seconds;

  static std::optional<DaysTimeDuration> parse(std::string_view text);
  std::string to_string() const;
  friend bool operator==(const DaysTimeDuration&, const DaysTimeDuration&) = default;
  friend auto operator<=>(const DaysTimeDuration&, const DaysTimeDuration&) = default;
};

// A years-and-months duration, e.g. P1Y2M (may be negative).
struct YearsMonthsDuration {
  int64_t months = 0;

  static std::optional<YearsMonthsDuration> parse(std::string_view text);
  std::string to_string() const;
  friend bool operator==(const YearsMonthsDuration&, const YearsMonthsDuration&) = default;
  friend auto operator<=>(const YearsMonthsDuration&, const YearsMonthsDuration&) = default;
};

// Adds months, clamping the day to the last day of the resulting month.
std::optional<Date> add_months(const Date& date, int64_t months);

}  // namespace banshi::expr
