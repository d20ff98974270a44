#include "expr/temporal.h"

#include <chrono>
#include <cstdio>
#include <exception>

#include <date/tz.h>

namespace banshi::expr {

namespace {

constexpr int64_t kMaxYear = 999'999'999;
constexpr int64_t kSecondsPerDay = 86'400;
// The years the time-zone library's calendar covers.
constexpr int64_t kZoneYears = 32'000;

enum class ZoneLookup { kKnown, kUnknown, kNoDatabase };

// Finds an IANA zone in the operating system's time-zone database.
ZoneLookup find_zone(const std::string& zone, const date::time_zone** out) {
  try {
    (void)date::get_tzdb();
  } catch (const std::exception&) {
    return ZoneLookup::kNoDatabase;
  }
  try {
    *out = date::locate_zone(zone);
    return ZoneLookup::kKnown;
  } catch (const std::exception&) {
    return ZoneLookup::kUnknown;
  }
}

// The UTC offset a zone has at an instant (seconds since the epoch, UTC).
std::optional<int32_t> zone_offset_at_utc(const std::string& zone, const Decimal& utc_seconds) {
  auto whole = utc_seconds.rounded(0, RoundingMode::kFloor);
  if (!whole) return std::nullopt;
  auto seconds = whole->to_int64();
  constexpr int64_t kLimit = kZoneYears * 366 * kSecondsPerDay;
  if (!seconds || *seconds < -kLimit || *seconds > kLimit) return std::nullopt;
  const date::time_zone* tz = nullptr;
  if (find_zone(zone, &tz) != ZoneLookup::kKnown) return std::nullopt;
  try {
    date::sys_info info = tz->get_info(date::sys_seconds{std::chrono::seconds{*seconds}});
    return static_cast<int32_t>(info.offset.count());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The UTC offset a zone has at a local wall-clock time (seconds since the
// local epoch). In a gap (spring forward) the offset before it applies; in an
// overlap (fall back) the earlier of the two. std::nullopt when the zone or
// the database is unknown, or the year is out of the database's range.
std::optional<int32_t> zone_offset_at(const std::string& zone, int64_t year, int64_t local_seconds) {
  if (year < -kZoneYears || year > kZoneYears) return std::nullopt;
  const date::time_zone* tz = nullptr;
  if (find_zone(zone, &tz) != ZoneLookup::kKnown) return std::nullopt;
  try {
    date::local_info info = tz->get_info(date::local_seconds{std::chrono::seconds{local_seconds}});
    return static_cast<int32_t>(info.first.offset.count());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool is_leap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int32_t days_in_month(int64_t year, int32_t month) {
  static constexpr int32_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && is_leap(year)) return 29;
  return kDays[month - 1];
}

// Reads exactly `count` ASCII digits at `pos`.
bool read_digits(std::string_view text, size_t& pos, size_t count, int64_t& out) {
  if (pos + count > text.size()) return false;
  int64_t value = 0;
  for (size_t i = 0; i < count; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += count;
  out = value;
  return true;
}

bool expect(std::string_view text, size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

// Parses a date prefix; leaves `pos` after it.
std::optional<Date> parse_date_prefix(std::string_view text, size_t& pos) {
  bool negative = false;
  if (pos < text.size() && text[pos] == '-') {  // XML Schema allows no '+'
    negative = true;
    ++pos;
  }
  size_t start = pos;
  int64_t year = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    if (pos - start >= 9) return std::nullopt;
    year = year * 10 + (text[pos] - '0');
    ++pos;
  }
  if (pos - start < 4) return std::nullopt;
  if (pos - start > 4 && text[start] == '0') return std::nullopt;
  int64_t month = 0, day = 0;
  if (!expect(text, pos, '-') || !read_digits(text, pos, 2, month) || !expect(text, pos, '-') ||
      !read_digits(text, pos, 2, day)) {
    return std::nullopt;
  }
  return Date::from_fields(negative ? -year : year, month, day);
}

std::optional<Time> parse_time_at(std::string_view text, size_t pos, bool allow_end_of_day = false) {
  Time t;
  int64_t hour = 0, minute = 0, second = 0;
  if (!read_digits(text, pos, 2, hour) || !expect(text, pos, ':') || !read_digits(text, pos, 2, minute) ||
      !expect(text, pos, ':') || !read_digits(text, pos, 2, second)) {
    return std::nullopt;
  }
  // 24:00:00 (the end of a day) is only meaningful within a date and time.
  bool end_of_day = allow_end_of_day && hour == 24 && minute == 0 && second == 0;
  if ((hour > 23 && !end_of_day) || minute > 59 || second > 59) return std::nullopt;
  t.hour = static_cast<int32_t>(hour);
  t.minute = static_cast<int32_t>(minute);
  t.second = static_cast<int32_t>(second);
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t start = pos;
    int32_t nanos = 0;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (text[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (pos == start || (end_of_day && nanos != 0)) return std::nullopt;
    for (; digits < 9; ++digits) nanos *= 10;
    t.nanosecond = nanos;
  }
  if (pos == text.size()) return t;
  char c = text[pos];
  if (c == 'Z' || c == 'z') {
    t.offset_seconds = 0;
    ++pos;
  } else if (c == '+' || c == '-') {
    ++pos;
    int64_t oh = 0, om = 0, os = 0;
    if (!read_digits(text, pos, 2, oh) || !expect(text, pos, ':') || !read_digits(text, pos, 2, om)) {
      return std::nullopt;
    }
    if (pos < text.size() && text[pos] == ':' && !(++pos, read_digits(text, pos, 2, os))) return std::nullopt;
    if (oh > 18 || om > 59 || os > 59) return std::nullopt;
    int32_t offset = static_cast<int32_t>(oh * 3600 + om * 60 + os);
    t.offset_seconds = c == '-' ? -offset : offset;
  } else if (c == '@') {
    ++pos;
    std::string_view zone = text.substr(pos);
    if (zone.empty() || zone.size() > 64) return std::nullopt;
    for (char z : zone) {
      bool ok = (z >= 'A' && z <= 'Z') || (z >= 'a' && z <= 'z') || (z >= '0' && z <= '9') || z == '/' ||
                z == '_' || z == '-' || z == '+';
      if (!ok) return std::nullopt;
    }
    t.zone_id = std::string(zone);
    if (t.zone_id == "UTC" || t.zone_id == "Etc/UTC") t.offset_seconds = 0;
    // An id the time-zone database does not know is an error, not a local time.
    const date::time_zone* found = nullptr;
    if (find_zone(t.zone_id, &found) == ZoneLookup::kUnknown) return std::nullopt;
    pos = text.size();
  }
  if (pos != text.size()) return std::nullopt;
  return t;
}

std::string two_digits(int64_t v) {
  char buffer[8];
  std::snprintf(buffer, sizeof(buffer), "%02d", static_cast<int>(v));
  return buffer;
}

// Splits non-negative seconds into whole seconds and a fraction text (".5").
void split_seconds(const Decimal& seconds, int64_t& whole, std::string& fraction) {
  Decimal integral = seconds.rounded(0, RoundingMode::kDown).value_or(Decimal());
  whole = integral.to_int64().value_or(0);
  Decimal rest = Decimal::subtract(seconds, integral).value_or(Decimal());
  fraction.clear();
  if (!rest.is_zero()) {
    std::string text = rest.to_string();  // "0.5"
    size_t point = text.find('.');
    if (point != std::string::npos) fraction = text.substr(point);
  }
}

}  // namespace

std::optional<Date> Date::from_fields(int64_t year, int64_t month, int64_t day) {
  if (year < -kMaxYear || year > kMaxYear || month < 1 || month > 12 || day < 1) return std::nullopt;
  if (day > days_in_month(year, static_cast<int32_t>(month))) return std::nullopt;
  return Date{year, static_cast<int32_t>(month), static_cast<int32_t>(day)};
}

std::optional<Date> Date::parse(std::string_view text) {
  size_t pos = 0;
  auto date = parse_date_prefix(text, pos);
  if (!date || pos != text.size()) return std::nullopt;
  return date;
}

// Howard Hinnant's days_from_civil / civil_from_days.
int64_t Date::epoch_days() const {
  int64_t y = year - (month <= 2 ? 1 : 0);
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t mp = month > 2 ? month - 3 : month + 9;
  int64_t doy = (153 * mp + 2) / 5 + day - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

Date Date::from_epoch_days(int64_t days) {
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  return Date{y + (m <= 2 ? 1 : 0), static_cast<int32_t>(m), static_cast<int32_t>(d)};
}

int32_t Date::iso_weekday() const {
  int64_t days = epoch_days();  // 1970-01-01 was a Thursday
  int64_t weekday = ((days % 7) + 7 + 3) % 7;  // 0 = Monday
  return static_cast<int32_t>(weekday + 1);
}

std::string Date::to_string() const {
  char buffer[32];
  int64_t magnitude = year < 0 ? -year : year;
  std::snprintf(buffer, sizeof(buffer), "%s%04lld-%02d-%02d", year < 0 ? "-" : "",
                static_cast<long long>(magnitude), month, day);
  return buffer;
}

std::optional<Date> add_months(const Date& date, int64_t months) {
  if (months > 24 * kMaxYear || months < -24 * kMaxYear) return std::nullopt;
  int64_t total = date.year * 12 + (date.month - 1) + months;
  int64_t year = total >= 0 ? total / 12 : -((-total + 11) / 12);
  int32_t month = static_cast<int32_t>(total - year * 12) + 1;
  if (year < -kMaxYear || year > kMaxYear) return std::nullopt;
  int32_t day = std::min(date.day, days_in_month(year, month));
  return Date{year, month, day};
}

std::optional<Time> Time::parse(std::string_view text) { return parse_time_at(text, 0); }

Decimal Time::seconds_of_day() const {
  Decimal whole = Decimal::from_int(int64_t{hour} * 3600 + int64_t{minute} * 60 + second);
  if (nanosecond == 0) return whole;
  Decimal fraction = Decimal::divide(Decimal::from_int(nanosecond), Decimal::from_int(1'000'000'000))
                         .value_or(Decimal());
  return Decimal::add(whole, fraction).value_or(whole);
}

std::string Time::to_string() const {
  std::string out = two_digits(hour);
  out += ':';
  out += two_digits(minute);
  out += ':';
  out += two_digits(second);
  if (nanosecond != 0) {
    char buffer[16];
    std::snprintf(buffer, sizeof(buffer), "%09d", nanosecond);
    std::string fraction(buffer);
    while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
    out += '.';
    out += fraction;
  }
  if (!zone_id.empty()) {
    out += '@';
    out += zone_id;
  } else if (offset_seconds) {
    int32_t offset = *offset_seconds;
    if (offset == 0) {
      out += "Z";
    } else {
      int32_t magnitude = offset < 0 ? -offset : offset;
      out += offset < 0 ? "-" : "+";
      out += two_digits(magnitude / 3600);
      out += ':';
      out += two_digits((magnitude / 60) % 60);
      if (magnitude % 60 != 0) {
        out += ':';
        out += two_digits(magnitude % 60);
      }
    }
  }
  return out;
}

std::optional<DateTime> DateTime::parse(std::string_view text) {
  size_t pos = 0;
  auto date = parse_date_prefix(text, pos);
  if (!date) return std::nullopt;
  if (pos == text.size()) return DateTime{*date, Time{}};
  if (text[pos] != 'T') return std::nullopt;
  auto time = parse_time_at(text, pos + 1, /*allow_end_of_day=*/true);
  if (!time) return std::nullopt;
  if (time->hour == 24) {
    time->hour = 0;
    Date next = Date::from_epoch_days(date->epoch_days() + 1);
    if (next.year > kMaxYear) return std::nullopt;
    return DateTime{next, *time};
  }
  return DateTime{*date, *time};
}

Decimal DateTime::epoch_seconds() const {
  Decimal days = Decimal::multiply(Decimal::from_int(date.epoch_days()), Decimal::from_int(kSecondsPerDay))
                     .value_or(Decimal());
  Decimal total = Decimal::add(days, time.seconds_of_day()).value_or(days);
  if (time.offset_seconds) {
    total = Decimal::subtract(total, Decimal::from_int(*time.offset_seconds)).value_or(total);
  } else if (!time.zone_id.empty()) {
    int64_t local = date.epoch_days() * kSecondsPerDay + time.hour * 3600 + time.minute * 60 + time.second;
    if (auto offset = zone_offset_at(time.zone_id, date.year, local)) {
      total = Decimal::subtract(total, Decimal::from_int(*offset)).value_or(total);
    }
  }
  return total;
}

std::optional<DateTime> DateTime::from_epoch_seconds(const Decimal& seconds, const Time& zone_like) {
  Decimal local = seconds;
  std::optional<int32_t> offset = zone_like.offset_seconds;
  if (!offset && !zone_like.zone_id.empty()) offset = zone_offset_at_utc(zone_like.zone_id, seconds);
  if (offset) {
    auto shifted = Decimal::add(seconds, Decimal::from_int(*offset));
    if (!shifted) return std::nullopt;
    local = *shifted;
  }
  auto days_decimal = Decimal::divide(local, Decimal::from_int(kSecondsPerDay));
  if (!days_decimal) return std::nullopt;
  auto floored = days_decimal->rounded(0, RoundingMode::kFloor);
  if (!floored) return std::nullopt;
  auto days = floored->to_int64();
  if (!days || *days > 400 * kMaxYear || *days < -400 * kMaxYear) return std::nullopt;
  auto of_day = Decimal::modulo(local, Decimal::from_int(kSecondsPerDay));
  if (!of_day) return std::nullopt;
  Decimal whole = of_day->rounded(0, RoundingMode::kFloor).value_or(Decimal());
  int64_t second_of_day = whole.to_int64().value_or(0);
  Decimal fraction = Decimal::subtract(*of_day, whole).value_or(Decimal());
  auto nanos = Decimal::multiply(fraction, Decimal::from_int(1'000'000'000))
                   .value_or(Decimal())
                   .rounded(0, RoundingMode::kDown)
                   .value_or(Decimal())
                   .to_int64()
                   .value_or(0);
  DateTime result;
  result.date = Date::from_epoch_days(*days);
  if (result.date.year > kMaxYear || result.date.year < -kMaxYear) return std::nullopt;
  result.time = zone_like;
  result.time.hour = static_cast<int32_t>(second_of_day / 3600);
  result.time.minute = static_cast<int32_t>((second_of_day / 60) % 60);
  result.time.second = static_cast<int32_t>(second_of_day % 60);
  result.time.nanosecond = static_cast<int32_t>(nanos);
  return result;
}

std::string DateTime::to_string() const { return date.to_string() + "T" + time.to_string(); }

namespace {

struct DurationParts {
  bool negative = false;
  bool has_years_months = false;
  bool has_days_time = false;
  int64_t years = 0, months = 0, days = 0, hours = 0, minutes = 0;
  Decimal seconds;
};

std::optional<DurationParts> parse_duration_parts(std::string_view text) {
  DurationParts parts;
  size_t pos = 0;
  if (pos < text.size() && text[pos] == '-') {
    parts.negative = true;
    ++pos;
  }
  if (!expect(text, pos, 'P')) return std::nullopt;
  bool in_time = false;
  bool any = false;
  bool time_any = false;
  int stage = 0;  // enforces the Y M D order and H M S order
  while (pos < text.size()) {
    if (text[pos] == 'T') {
      if (in_time) return std::nullopt;
      in_time = true;
      stage = 0;
      ++pos;
      continue;
    }
    size_t start = pos;
    while (pos < text.size() && ((text[pos] >= '0' && text[pos] <= '9') || text[pos] == '.')) ++pos;
    if (pos == start || pos == text.size() || pos - start > 18) return std::nullopt;
    std::string_view number = text.substr(start, pos - start);
    char unit = text[pos++];
    bool fractional = number.find('.') != std::string_view::npos;
    if (fractional && !(in_time && unit == 'S')) return std::nullopt;
    int64_t whole = 0;
    if (!fractional) {
      for (char c : number) whole = whole * 10 + (c - '0');
    }
    int order = 0;
    if (!in_time) {
      if (unit == 'Y') { parts.years = whole; order = 1; parts.has_years_months = true; }
      else if (unit == 'M') { parts.months = whole; order = 2; parts.has_years_months = true; }
      else if (unit == 'D') { parts.days = whole; order = 3; parts.has_days_time = true; }
      else return std::nullopt;
    } else {
      if (unit == 'H') { parts.hours = whole; order = 1; }
      else if (unit == 'M') { parts.minutes = whole; order = 2; }
      else if (unit == 'S') {
        auto seconds = Decimal::parse(number);
        if (!seconds) return std::nullopt;
        parts.seconds = *seconds;
        order = 3;
      } else {
        return std::nullopt;
      }
      parts.has_days_time = true;
      time_any = true;
    }
    if (order <= stage) return std::nullopt;
    stage = order;
    any = true;
  }
  if (!any || (in_time && !time_any)) return std::nullopt;
  return parts;
}

}  // namespace

std::optional<DaysTimeDuration> DaysTimeDuration::parse(std::string_view text) {
  auto parts = parse_duration_parts(text);
  if (!parts) return std::nullopt;
  // xs:duration allows years and months next to days; only a pure
  // days-and-time duration (or a zero-month one) is accepted here.
  if (parts->years != 0 || parts->months != 0) return std::nullopt;
  // Each component has at most 18 digits, so the products below fit in 34.
  auto scaled = [](int64_t count, int64_t unit) {
    return Decimal::multiply(Decimal::from_int(count), Decimal::from_int(unit)).value_or(Decimal());
  };
  std::optional<Decimal> total = parts->seconds;
  for (const Decimal& part : {scaled(parts->days, kSecondsPerDay), scaled(parts->hours, 3600), scaled(parts->minutes, 60)}) {
    total = Decimal::add(*total, part);
    if (!total) return std::nullopt;
  }
  return DaysTimeDuration{parts->negative ? total->negated() : *total};
}

std::string DaysTimeDuration::to_string() const {
  if (seconds.is_zero()) return "PT0S";
  Decimal magnitude = seconds.abs();
  int64_t whole = 0;
  std::string fraction;
  split_seconds(magnitude, whole, fraction);
  int64_t days = whole / kSecondsPerDay;
  int64_t hours = (whole / 3600) % 24;
  int64_t minutes = (whole / 60) % 60;
  int64_t secs = whole % 60;
  std::string out = seconds.is_negative() ? "-P" : "P";
  if (days != 0) out += std::to_string(days) + "D";
  if (hours != 0 || minutes != 0 || secs != 0 || !fraction.empty()) {
    out += "T";
    if (hours != 0) out += std::to_string(hours) + "H";
    if (minutes != 0) out += std::to_string(minutes) + "M";
    if (secs != 0 || !fraction.empty()) out += std::to_string(secs) + fraction + "S";
  }
  return out;
}

std::optional<YearsMonthsDuration> YearsMonthsDuration::parse(std::string_view text) {
  auto parts = parse_duration_parts(text);
  if (!parts || parts->has_days_time || !parts->has_years_months) return std::nullopt;
  if (parts->years > 24 * kMaxYear || parts->months > 24 * kMaxYear) return std::nullopt;
  int64_t months = parts->years * 12 + parts->months;
  return YearsMonthsDuration{parts->negative ? -months : months};
}

std::string YearsMonthsDuration::to_string() const {
  if (months == 0) return "P0M";
  int64_t magnitude = months < 0 ? -months : months;
  std::string out = months < 0 ? "-P" : "P";
  if (magnitude / 12 != 0) out += std::to_string(magnitude / 12) + "Y";
  if (magnitude % 12 != 0) out += std::to_string(magnitude % 12) + "M";
  return out;
}

}  // namespace banshi::expr
