#include "calendar/business_calendar.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "model/iso8601.h"

namespace banshi::calendar {
namespace {

constexpr int64_t kDayMs = 86400000;
constexpr int64_t kMaxWorkingDays = 3660;  // ten years of working days is already absurd for a deadline

Error bad(std::string_view source, std::string message) {
  return Error{"calendar", fmt::format("{}: {}", source, message)};
}

// "2026-02-14" -> days since 1970-01-01.
std::optional<int64_t> parse_day(std::string_view text) {
  auto ms = model::parse_date_time(text, 0);
  if (!ms.ok() || text.size() != 10) return std::nullopt;
  return *ms / kDayMs;
}

std::optional<int> parse_clock(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  int h = (text[0] - '0') * 10 + (text[1] - '0');
  int m = (text[3] - '0') * 10 + (text[4] - '0');
  if (h < 0 || h > 24 || m < 0 || m > 59) return std::nullopt;
  return h * 60 + m;
}

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// 0 Monday .. 6 Sunday; 1970-01-01 was a Thursday.
int weekday(int64_t day) { return static_cast<int>(((day % 7) + 7 + 3) % 7); }

int year_of_day(int64_t day) {
  int64_t y;
  unsigned m, d;
  model::civil_from_days(day, y, m, d);
  return static_cast<int>(y);
}

}  // namespace

Result<BusinessCalendar> BusinessCalendar::load_directory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  }
  if (ec) return Error{"calendar", fmt::format("{}: cannot read the folder: {}", dir, ec.message())};
  std::sort(files.begin(), files.end());
  BusinessCalendar cal;
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    if (auto r = cal.add_year(s.str(), f.string()); !r.ok()) return r.error();
  }
  if (cal.years_.empty()) return Error{"calendar", fmt::format("{}: no calendar files (one YEAR.toml per year)", dir)};
  return cal;
}

Result<void> BusinessCalendar::add_year(std::string_view toml_text, std::string_view source) {
  toml::table doc;
  try {
    doc = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    return Error{"calendar", fmt::format("{}:{}:{}: {}", source, e.source().begin.line, e.source().begin.column,
                                         e.description())};
  }
  auto year = doc["year"].value<int64_t>();
  if (!year || *year < 1970 || *year > 9999) return bad(source, "'year' must be a year such as 2026");
  if (years_.count(static_cast<int>(*year))) return bad(source, fmt::format("the year {} is defined twice", *year));
  if (auto offset = doc["utc_offset"].value<std::string>()) {
    if (*offset != "+08:00") {
      return bad(source, fmt::format("utc_offset '{}' is not supported; business calendars are in China Standard "
                                     "Time (+08:00)",
                                     *offset));
    }
  }
  for (const auto& [key, value] : doc) {
    std::string_view k = key.str();
    if (k != "year" && k != "utc_offset" && k != "holidays" && k != "working_weekends" && k != "office_hours") {
      return bad(source, fmt::format("unknown key '{}'", k));
    }
  }
  Year y;
  auto in_year = [&](int64_t day) { return year_of_day(day) == *year; };
  if (const toml::array* holidays = doc["holidays"].as_array()) {
    for (const toml::node& n : *holidays) {
      const toml::table* h = n.as_table();
      if (!h) return bad(source, "each holiday is a table { from = ..., to = ..., name = ... }");
      auto from = (*h)["from"].value<std::string>();
      auto to = (*h)["to"].value<std::string>();
      auto name = (*h)["name"].value<std::string>();
      std::optional<int64_t> from_day;
      std::optional<int64_t> to_day;
      if (from) from_day = parse_day(*from);
      if (to) to_day = parse_day(*to);
      if (!from_day || !to_day || !name || *to_day < *from_day) {
        return bad(source, "a holiday needs from and to dates (YYYY-MM-DD, from <= to) and a name");
      }
      if (!in_year(*from_day) || !in_year(*to_day)) {
        return bad(source, fmt::format("holiday '{}' is not in {}", *name, *year));
      }
      for (int64_t d = *from_day; d <= *to_day; ++d) y.holidays[d] = *name;
    }
  }
  if (const toml::array* weekends = doc["working_weekends"].as_array()) {
    for (const toml::node& n : *weekends) {
      auto text = n.value<std::string>();
      auto day = text ? parse_day(*text) : std::nullopt;
      if (!day || !in_year(*day)) return bad(source, fmt::format("working_weekends: each entry is a date in {}", *year));
      if (weekday(*day) < 5) return bad(source, fmt::format("working_weekends: {} is not a Saturday or Sunday", *text));
      if (y.holidays.count(*day)) return bad(source, fmt::format("{} is both a holiday and a working weekend", *text));
      y.working_weekends.insert(*day);
    }
  }
  if (const toml::table* hours = doc["office_hours"].as_table()) {
    auto start = (*hours)["start"].value<std::string>();
    auto end = (*hours)["end"].value<std::string>();
    auto s = start ? parse_clock(*start) : std::nullopt;
    auto e = end ? parse_clock(*end) : std::nullopt;
    if (!s || !e || *s >= *e) return bad(source, "office_hours needs start and end as HH:MM with start before end");
    y.office_start_minutes = *s;
    y.office_end_minutes = *e;
  }
  years_[static_cast<int>(*year)] = std::move(y);
  return {};
}

std::vector<int> BusinessCalendar::years() const {
  std::vector<int> out;
  for (const auto& [y, data] : years_) out.push_back(y);
  return out;
}

int64_t BusinessCalendar::local_day(int64_t ms) const {
  return floor_div(ms + int64_t{offset_minutes_} * 60000, kDayMs);
}

const BusinessCalendar::Year* BusinessCalendar::year_of(int64_t day) const {
  auto it = years_.find(year_of_day(day));
  return it == years_.end() ? nullptr : &it->second;
}

Error BusinessCalendar::not_covered(int64_t day) const {
  int y = year_of_day(day);
  return Error{"calendar-missing",
               fmt::format("there is no business calendar for {}; add workflows/calendars/{}.toml with that year's "
                           "holidays and working weekends",
                           y, y)};
}

Result<bool> BusinessCalendar::is_working_day(int64_t day) const {
  const Year* y = year_of(day);
  if (!y) return not_covered(day);
  if (y->holidays.count(day)) return false;
  if (weekday(day) >= 5) return y->working_weekends.count(day) > 0;
  return true;
}

std::optional<std::string> BusinessCalendar::holiday_name(int64_t day) const {
  const Year* y = year_of(day);
  if (!y) return std::nullopt;
  auto it = y->holidays.find(day);
  if (it == y->holidays.end()) return std::nullopt;
  return it->second;
}

Result<int64_t> BusinessCalendar::add_working_days(int64_t at_ms, int64_t n) const {
  if (n < 0 || n > kMaxWorkingDays) {
    return Error{"calendar", fmt::format("{} working days is out of range (0 to {})", n, kMaxWorkingDays)};
  }
  int64_t day = local_day(at_ms);
  int64_t found = 0;
  int64_t d = day;
  while (found < n) {
    ++d;
    auto working = is_working_day(d);
    if (!working.ok()) return working.error();
    if (*working) ++found;
  }
  return at_ms + (d - day) * kDayMs;
}

Result<int64_t> BusinessCalendar::working_days_between(int64_t from_ms, int64_t to_ms) const {
  int64_t a = local_day(from_ms);
  int64_t b = local_day(to_ms);
  int sign = 1;
  if (b < a) {
    std::swap(a, b);
    sign = -1;
  }
  if (b - a > 20 * 366) return Error{"calendar", "the period is longer than twenty years"};
  int64_t count = 0;
  for (int64_t d = a + 1; d <= b; ++d) {
    auto working = is_working_day(d);
    if (!working.ok()) return working.error();
    count += *working;
  }
  return sign * count;
}

Result<int64_t> BusinessCalendar::next_working_moment(int64_t at_ms) const {
  int64_t day = local_day(at_ms);
  int64_t minute_of_day = (at_ms + int64_t{offset_minutes_} * 60000 - day * kDayMs) / 60000;
  for (int64_t d = day; d < day + 400; ++d) {
    auto working = is_working_day(d);
    if (!working.ok()) return working.error();
    if (!*working) continue;
    const Year* y = year_of(d);
    if (y == nullptr) return Error{"calendar", "a working day outside the calendar's years"};
    int64_t start = d * kDayMs + int64_t{y->office_start_minutes} * 60000 - int64_t{offset_minutes_} * 60000;
    if (d > day || minute_of_day < y->office_start_minutes) return start;
    if (minute_of_day < y->office_end_minutes) return at_ms;
  }
  return Error{"calendar", "no working day within 400 days"};
}

std::optional<int64_t> BusinessCalendar::add(int64_t epoch_ms, int64_t n, std::string& why) const {
  auto r = add_working_days(epoch_ms, n);
  if (!r.ok()) {
    why = r.error().message;
    return std::nullopt;
  }
  return *r;
}

std::optional<int64_t> BusinessCalendar::between(int64_t from_ms, int64_t to_ms, std::string& why) const {
  auto r = working_days_between(from_ms, to_ms);
  if (!r.ok()) {
    why = r.error().message;
    return std::nullopt;
  }
  return *r;
}

}  // namespace banshi::calendar
