#include "model/iso8601.h"

#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace banshi::model {
namespace {

Error bad(std::string message) { return Error{"BS207", std::move(message)}; }

bool read_digits(std::string_view& s, size_t count, int64_t& out) {
  if (s.size() < count) return false;
  int64_t v = 0;
  for (size_t i = 0; i < count; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  s.remove_prefix(count);
  return true;
}

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

}  // namespace

// Howard Hinnant's civil-date algorithms (public domain).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

Result<IsoDuration> parse_duration(std::string_view text) {
  std::string_view s = text;
  IsoDuration out;
  if (!s.empty() && s.front() == '-') {
    out.negative = true;
    s.remove_prefix(1);
  }
  if (s.empty() || s.front() != 'P') {
    return bad(fmt::format("'{}' is not an ISO 8601 duration: it must start with 'P' (e.g. P10D, PT2H)", text));
  }
  s.remove_prefix(1);
  if (s.empty()) return bad(fmt::format("'{}' is an empty ISO 8601 duration", text));
  bool in_time = false;
  bool any = false;
  std::string_view order = "YMWD";
  std::string_view time_order = "HMS";
  size_t date_pos = 0;
  size_t time_pos = 0;
  while (!s.empty()) {
    if (s.front() == 'T') {
      if (in_time) return bad(fmt::format("'{}' has 'T' twice", text));
      in_time = true;
      s.remove_prefix(1);
      if (s.empty()) return bad(fmt::format("'{}' has nothing after 'T'", text));
      continue;
    }
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == ',')) ++i;
    if (i == 0 || i == s.size()) return bad(fmt::format("'{}' is not an ISO 8601 duration", text));
    std::string number(s.substr(0, i));
    char unit = s[i];
    s.remove_prefix(i + 1);
    for (char& c : number) {
      if (c == ',') c = '.';
    }
    bool fractional = number.find('.') != std::string::npos;
    if (fractional && !(in_time && unit == 'S')) {
      return bad(fmt::format("'{}': only seconds may have a fraction", text));
    }
    if (number.size() > 12) return bad(fmt::format("'{}': a number is too large", text));
    if (!in_time) {
      size_t at = order.find(unit, date_pos);
      if (at == std::string_view::npos) return bad(fmt::format("'{}': unexpected '{}' in the date part", text, unit));
      date_pos = at + 1;
      int64_t v = std::stoll(number);
      if (unit == 'Y') out.years = v;
      if (unit == 'M') out.months = v;
      if (unit == 'W') out.days += v * 7;
      if (unit == 'D') out.days += v;
    } else {
      size_t at = time_order.find(unit, time_pos);
      if (at == std::string_view::npos) return bad(fmt::format("'{}': unexpected '{}' in the time part", text, unit));
      time_pos = at + 1;
      if (unit == 'S') {
        double secs = 0;
        auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), secs);
        if (ec != std::errc{} || p != number.data() + number.size()) return bad(fmt::format("'{}': bad seconds", text));
        out.milliseconds += static_cast<int64_t>(secs * 1000.0 + 0.5);
      } else {
        int64_t v = std::stoll(number);
        out.milliseconds += v * (unit == 'H' ? 3600000 : 60000);
      }
    }
    any = true;
  }
  if (!any) return bad(fmt::format("'{}' is not an ISO 8601 duration", text));
  return out;
}

Result<int64_t> parse_date_time(std::string_view text, int32_t default_offset_minutes) {
  std::string_view s = text;
  int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
  auto fail = [&] {
    return bad(fmt::format("'{}' is not an ISO 8601 date-time (e.g. 2026-03-01T09:00:00+08:00)", text));
  };
  if (!read_digits(s, 4, y) || s.empty() || s.front() != '-') return fail();
  s.remove_prefix(1);
  if (!read_digits(s, 2, mo) || s.empty() || s.front() != '-') return fail();
  s.remove_prefix(1);
  if (!read_digits(s, 2, d)) return fail();
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, static_cast<unsigned>(mo))) {
    return bad(fmt::format("'{}' is not a real calendar date", text));
  }
  int32_t offset = default_offset_minutes;
  if (!s.empty()) {
    if (s.front() != 'T') return fail();
    s.remove_prefix(1);
    if (!read_digits(s, 2, h) || s.empty() || s.front() != ':') return fail();
    s.remove_prefix(1);
    if (!read_digits(s, 2, mi)) return fail();
    if (!s.empty() && s.front() == ':') {
      s.remove_prefix(1);
      if (!read_digits(s, 2, sec)) return fail();
      if (!s.empty() && s.front() == '.') {
        s.remove_prefix(1);
        int64_t scale = 100;
        size_t digits = 0;
        while (!s.empty() && std::isdigit(static_cast<unsigned char>(s.front()))) {
          if (digits++ < 3) ms += (s.front() - '0') * scale;
          scale /= 10;
          s.remove_prefix(1);
        }
        if (digits == 0) return fail();
      }
    }
    if (h > 24 || mi > 59 || sec > 60 || (h == 24 && (mi != 0 || sec != 0))) {
      return bad(fmt::format("'{}' has an impossible time of day", text));
    }
    if (!s.empty()) {
      if (s == "Z") {
        offset = 0;
        s = {};
      } else if (s.front() == '+' || s.front() == '-') {
        int sign = s.front() == '-' ? -1 : 1;
        s.remove_prefix(1);
        int64_t oh = 0, om = 0;
        if (!read_digits(s, 2, oh)) return fail();
        if (!s.empty() && s.front() == ':') s.remove_prefix(1);
        if (!read_digits(s, 2, om) || !s.empty() || oh > 18 || om > 59) return fail();
        offset = sign * static_cast<int32_t>(oh * 60 + om);
      } else if (s.front() == '[') {
        return bad(fmt::format("'{}': zone names are not supported; write an offset such as +08:00", text));
      } else {
        return fail();
      }
    }
  }
  int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t local_ms = ((days * 24 + h) * 60 + mi) * 60000 + sec * 1000 + ms;
  return local_ms - static_cast<int64_t>(offset) * 60000;
}

Result<IsoCycle> parse_cycle(std::string_view text, int32_t default_offset_minutes) {
  IsoCycle out;
  std::string_view s = text;
  if (s.empty() || s.front() != 'R') {
    return bad(fmt::format("'{}' is not an ISO 8601 repeating interval (e.g. R3/PT10M)", text));
  }
  s.remove_prefix(1);
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return bad(fmt::format("'{}' is missing '/' after the repetitions", text));
  std::string_view reps = s.substr(0, slash);
  s.remove_prefix(slash + 1);
  if (!reps.empty()) {
    int64_t r = 0;
    auto [p, ec] = std::from_chars(reps.data(), reps.data() + reps.size(), r);
    if (ec != std::errc{} || p != reps.data() + reps.size() || r < 0) {
      return bad(fmt::format("'{}': the repetition count must be a whole number", text));
    }
    out.repetitions = r;
  }
  size_t second = s.find('/');
  std::string_view interval = s;
  if (second != std::string_view::npos) {
    std::string_view first = s.substr(0, second);
    interval = s.substr(second + 1);
    if (!first.empty() && first.front() == 'P') {
      // R/PT1H/2026-01-01T00:00:00Z (duration then end) is legal ISO 8601 but rarely meant.
      return bad(fmt::format("'{}': write the start before the interval (R3/start/PT1H)", text));
    }
    auto start = parse_date_time(first, default_offset_minutes);
    if (!start.ok()) return start.error();
    out.start_ms = start.value();
  }
  auto d = parse_duration(interval);
  if (!d.ok()) return d.error();
  if (d->is_zero() || d->negative) return bad(fmt::format("'{}': the interval must be positive", text));
  out.interval = d.value();
  return out;
}

int64_t add_duration(int64_t epoch_ms, const IsoDuration& d, int32_t offset_minutes) {
  int64_t sign = d.negative ? -1 : 1;
  int64_t local = epoch_ms + static_cast<int64_t>(offset_minutes) * 60000;
  int64_t day_ms = 86400000;
  int64_t days = local >= 0 ? local / day_ms : -((-local + day_ms - 1) / day_ms);
  int64_t time_of_day = local - days * day_ms;
  if (d.years != 0 || d.months != 0) {
    int64_t y;
    unsigned m, dd;
    civil_from_days(days, y, m, dd);
    int64_t total = y * 12 + (m - 1) + sign * (d.years * 12 + d.months);
    int64_t ny = total >= 0 ? total / 12 : -((-total + 11) / 12);
    unsigned nm = static_cast<unsigned>(total - ny * 12) + 1;
    unsigned nd = std::min(dd, days_in_month(ny, nm));
    days = days_from_civil(ny, nm, nd);
  }
  days += sign * d.days;
  local = days * day_ms + time_of_day + sign * d.milliseconds;
  return local - static_cast<int64_t>(offset_minutes) * 60000;
}

Result<SlaPeriod> parse_sla_period(std::string_view text) {
  SlaPeriod p;
  if (text.size() > 2 && text.substr(text.size() - 2) == "WD") {
    std::string_view digits = text.substr(0, text.size() - 2);
    int64_t n = 0;
    for (char c : digits) {
      if (c < '0' || c > '9' || n > 100000) {
        return Error{"period", fmt::format("'{}' is not a number of working days: write digits and WD, as in 5WD", text)};
      }
      n = n * 10 + (c - '0');
    }
    if (n <= 0 || n > 10000) {
      return Error{"period", fmt::format("'{}': a number of working days is from 1 to 10000", text)};
    }
    p.working_days = true;
    p.days = n;
    return p;
  }
  auto d = parse_duration(text);
  if (!d.ok()) {
    return Error{"period", fmt::format("'{}' is not a period: write an ISO 8601 duration (P3D, PT4H) or working days "
                                       "(5WD)",
                                       text)};
  }
  if (d->negative || d->is_zero()) return Error{"period", fmt::format("the period '{}' must be longer than zero", text)};
  p.duration = *d;
  return p;
}

}  // namespace banshi::model
