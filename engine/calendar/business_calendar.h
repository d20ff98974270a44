// calendar/business_calendar.h — working days: weekends, public holidays and make-up days.
//
// A BusinessCalendar is loaded from one TOML file per year (workflows/calendars/
// 2026.toml: holidays, working weekends, office hours) and is immutable after
// loading, so any number of threads may use it. Days are counted in the
// calendar's zone (China Standard Time, UTC+08:00); instants are milliseconds
// since the Unix epoch in UTC. Arithmetic that would need a year no file
// covers is refused with an error naming the missing year — it never guesses.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "banshi/result.h"
#include "expr/feel.h"

namespace banshi::calendar {

class BusinessCalendar final : public expr::WorkingDays {
 public:
  // Every *.toml file of a folder, one year each.
  static Result<BusinessCalendar> load_directory(const std::string& dir);

  // Adds one year from TOML text; `source` names it in errors.
  Result<void> add_year(std::string_view toml_text, std::string_view source);

  std::vector<int> years() const;
  int32_t utc_offset_minutes() const { return offset_minutes_; }

  // Whether a civil day (days since 1970-01-01) is a working day.
  Result<bool> is_working_day(int64_t day) const;
  // The same time of day on the n-th working day after the day of `at_ms`
  // (n >= 0; 0 gives `at_ms` itself).
  Result<int64_t> add_working_days(int64_t at_ms, int64_t n) const;
  // Working days after the day of `from_ms` up to and including the day of
  // `to_ms` (negative when `to_ms` is earlier).
  Result<int64_t> working_days_between(int64_t from_ms, int64_t to_ms) const;
  // `at_ms` when it falls in office hours on a working day, else the start of
  // the next office hours.
  Result<int64_t> next_working_moment(int64_t at_ms) const;
  // The holiday's name for a day, if it is one.
  std::optional<std::string> holiday_name(int64_t day) const;

  // expr::WorkingDays, for FEEL's working-day built-ins.
  std::optional<int64_t> add(int64_t epoch_ms, int64_t n, std::string& why) const override;
  std::optional<int64_t> between(int64_t from_ms, int64_t to_ms, std::string& why) const override;

 private:
  struct Year {
    std::map<int64_t, std::string> holidays;  // day -> name
    std::set<int64_t> working_weekends;
    int office_start_minutes = 8 * 60 + 30;
    int office_end_minutes = 17 * 60;
  };
  int64_t local_day(int64_t ms) const;
  const Year* year_of(int64_t day) const;
  Error not_covered(int64_t day) const;

  std::map<int, Year> years_;
  int32_t offset_minutes_ = 480;
};

}  // namespace banshi::calendar
