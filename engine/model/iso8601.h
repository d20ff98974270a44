// model/iso8601.h — ISO 8601 dates, durations and repeating intervals, as BPMN timers use them.
//
// Pure functions; no clock. A date-time without an offset is read in the zone
// given by `default_offset_minutes` (the engine's configured zone, China
// Standard Time by default), as Camunda and Flowable read it in the server's zone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "banshi/result.h"

namespace banshi::model {

struct IsoDuration {
  int64_t years = 0;
  int64_t months = 0;
  int64_t days = 0;          // weeks are folded into days
  int64_t milliseconds = 0;  // hours, minutes, seconds
  bool negative = false;

  bool is_zero() const { return years == 0 && months == 0 && days == 0 && milliseconds == 0; }
};

// "P1Y2M10DT2H30M", "PT0.5S", "P2W", "-P1D". Errors name what is wrong.
Result<IsoDuration> parse_duration(std::string_view text);

// "2026-03-01T09:00:00+08:00", "2026-03-01T01:00:00Z", "2026-03-01T09:00:00",
// "2026-03-01" (midnight). Returns milliseconds since the Unix epoch (UTC).
Result<int64_t> parse_date_time(std::string_view text, int32_t default_offset_minutes = 480);

struct IsoCycle {
  int64_t repetitions = -1;            // -1: unbounded ("R/...")
  std::optional<int64_t> start_ms;     // "R3/2026-01-01T00:00:00Z/PT1H"
  IsoDuration interval;
};

// "R5/PT10M", "R/P1D", "R3/2026-01-01T09:00:00+08:00/PT1H".
Result<IsoCycle> parse_cycle(std::string_view text, int32_t default_offset_minutes = 480);

// Adds a duration to an instant, calendar-aware for years/months/days (in the
// given zone) and exact for the time part.
int64_t add_duration(int64_t epoch_ms, const IsoDuration& d, int32_t offset_minutes = 480);

// A period of an SLA policy (<bs:sla>): an ISO 8601 duration ("P3D", "PT4H")
// or a whole number of working days ("5WD", counted with the business calendar).
struct SlaPeriod {
  bool working_days = false;
  int64_t days = 0;          // working days (working_days)
  IsoDuration duration;      // otherwise
};
// Refuses negative and zero periods; errors say what a period looks like.
Result<SlaPeriod> parse_sla_period(std::string_view text);

// Days since 1970-01-01 for a civil date, and back (proleptic Gregorian).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d);

}  // namespace banshi::model
