// model/cron.h — cron expressions in a timer's timeCycle, as Camunda 8 (Zeebe) reads them.
//
// Six fields separated by spaces: second minute hour day-of-month month
// day-of-week ("0 0 6 * * MON-FRI"), and optionally Quartz's seventh, the
// year (1970-2099, as Camunda 7 takes it), with `*`, `?` (day fields), lists `,`,
// ranges `-`, steps `/`, the names JAN..DEC and SUN..SAT, and in the day
// fields `L` (last day, `L-n`, `LW`, `dL` last weekday d of the month), `nW`
// (the weekday nearest day n) and `d#n` (the n-th weekday d); or one of the
// macros @yearly @annually @monthly @weekly @daily @midnight @hourly.
// Day-of-week numbers follow Spring and Zeebe: 0 and 7 are Sunday, 1 Monday.
// A day must match both day fields (as in Spring: `0 0 0 13 * FRI` is every
// Friday the 13th).
//
// The fields are wall-clock time in one fixed UTC offset, the engine's zone
// (China Standard Time, +08:00, by default), as the ISO 8601 timer values
// without an offset are read. Pure functions; no clock.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "banshi/result.h"

namespace banshi::model {

struct CronExpression {
  std::string text;  // as written (trimmed)
  std::bitset<60> seconds;
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<13> months;        // 1..12
  // Day of month: plain days, and the special items of the field's list.
  std::bitset<32> days;          // 1..31
  std::vector<int> last_day_offsets;  // L (0), L-3 (3): that many days before the month's last
  bool last_weekday = false;          // LW
  std::vector<int> nearest_weekday;   // 15W: the weekday nearest the 15th, within the month
  // Day of week (0 Sunday .. 6 Saturday).
  std::bitset<7> weekdays;
  std::vector<int> last_in_month;                 // 5L: the month's last Friday
  std::vector<std::pair<int, int>> nth_in_month;  // 1#2: the month's second Monday (weekday, n)
  // Year (the optional seventh field): only these years match when has_years.
  bool has_years = false;
  std::bitset<2100> years;
};

// True when a timeCycle value is to be read as cron: it is not an ISO 8601
// repeating interval (those start with R).
bool is_cron_cycle(std::string_view text);

// Parses a cron expression. Errors name the field and what is wrong with it;
// an expression that matches no date at all ("0 0 0 30 2 ?") is refused too.
Result<CronExpression> parse_cron(std::string_view text);

// The first instant matching `cron` strictly after `after_ms` (whole seconds),
// reading the fields in the zone `offset_minutes` east of UTC; nullopt when
// no date matches within 400 years (the Gregorian calendar's full cycle, so
// then none ever will).
std::optional<int64_t> next_cron(const CronExpression& cron, int64_t after_ms, int32_t offset_minutes = 480);

}  // namespace banshi::model
