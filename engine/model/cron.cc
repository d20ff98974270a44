#include "model/cron.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

#include "model/iso8601.h"

namespace banshi::model {
namespace {

struct Field {
  const char* name;
  int min;
  int max;
};

constexpr Field kSecond{"second", 0, 59};
constexpr Field kMinute{"minute", 0, 59};
constexpr Field kHour{"hour", 0, 23};
constexpr Field kDayOfMonth{"day-of-month", 1, 31};
constexpr Field kMonth{"month", 1, 12};
constexpr Field kDayOfWeek{"day-of-week", 0, 7};
constexpr Field kYear{"year", 1970, 2099};  // Quartz's optional seventh field

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kDayNames = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

// Days in 400 Gregorian years: every pattern of dates repeats after that.
constexpr int64_t kCycleDays = 146097;

// What is wrong with one field; parse_cron adds the expression around it.
struct FieldError {
  std::string message;
};

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// 0 Sunday .. 6 Saturday; 1970-01-01 was a Thursday.
int weekday_of(int64_t days) { return static_cast<int>(((days % 7) + 11) % 7); }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A whole number of at most six digits (larger never makes sense in a field).
std::optional<int> read_number(std::string_view s) {
  if (!all_digits(s) || s.size() > 6) return std::nullopt;
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

std::string range_text(const Field& f) {
  std::string out = fmt::format("{}-{}", f.min, f.max);
  if (&f == &kMonth) out += " or JAN-DEC";
  if (&f == &kDayOfWeek) out += " or SUN-SAT (0 and 7 are Sunday)";
  return out;
}

// One value of a field: a number in its range, or a month or day name.
std::optional<int> read_value(std::string_view s, const Field& f, std::string_view item, FieldError& error) {
  if (auto n = read_number(s)) {
    if (*n >= f.min && *n <= f.max) return n;
    error.message = fmt::format("the {} field '{}' is out of range {}", f.name, item, range_text(f));
    return std::nullopt;
  }
  if (&f == &kMonth || &f == &kDayOfWeek) {
    auto names = &f == &kMonth ? std::vector<std::string_view>(kMonthNames.begin(), kMonthNames.end())
                               : std::vector<std::string_view>(kDayNames.begin(), kDayNames.end());
    for (size_t i = 0; i < names.size(); ++i) {
      if (s == names[i]) return static_cast<int>(i) + (&f == &kMonth ? 1 : 0);
    }
  }
  error.message = s.empty() ? fmt::format("the {} field '{}' is missing a value", f.name, item)
                            : fmt::format("the {} field '{}' has '{}', which is not a value of {}", f.name, item, s,
                                          range_text(f));
  return std::nullopt;
}

// One list item without L, W or #: *, ?, a value, a range, each with an optional /step.
// Sets the item's values in `bits` (indexed by value).
template <size_t N>
bool parse_plain(std::string_view item, const Field& f, std::bitset<N>& bits, FieldError& error) {
  std::string_view base = item;
  int step = 1;
  bool stepped = false;
  if (size_t slash = item.find('/'); slash != std::string_view::npos) {
    base = item.substr(0, slash);
    auto n = read_number(item.substr(slash + 1));
    if (!n || *n < 1) {
      error.message = fmt::format("the {} field '{}' has the step '{}'; a step is a whole number from 1", f.name, item,
                                  item.substr(slash + 1));
      return false;
    }
    step = *n;
    stepped = true;
  }
  int low = 0, high = 0;
  if (base == "*" || base == "?") {
    if (base == "?" && &f != &kDayOfMonth && &f != &kDayOfWeek) {
      error.message = fmt::format("the {} field '{}' has '?', which only the day-of-month and day-of-week fields take",
                                  f.name, item);
      return false;
    }
    low = f.min;
    high = &f == &kDayOfWeek ? 6 : f.max;
  } else if (size_t dash = base.find('-'); dash != std::string_view::npos) {
    auto a = read_value(base.substr(0, dash), f, item, error);
    if (!a) return false;
    auto b = read_value(base.substr(dash + 1), f, item, error);
    if (!b) return false;
    if (*a > *b) {
      error.message = fmt::format("the {} field '{}' runs backwards; write it as two ranges or a list", f.name, item);
      return false;
    }
    low = *a;
    high = *b;
  } else {
    auto v = read_value(base, f, item, error);
    if (!v) return false;
    low = *v;
    high = stepped ? f.max : *v;  // "5/15": from 5 to the end in steps of 15
  }
  for (int v = low; v <= high; v += step) bits.set(static_cast<size_t>(&f == &kDayOfWeek ? v % 7 : v));
  return true;
}

// Splits a field into its list items; an empty item is an error.
bool split_list(std::string_view value, const Field& f, std::vector<std::string_view>& items, FieldError& error) {
  size_t start = 0;
  while (true) {
    size_t comma = value.find(',', start);
    std::string_view item = value.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.empty()) {
      error.message = fmt::format("the {} field '{}' has an empty list item", f.name, value);
      return false;
    }
    items.push_back(item);
    if (comma == std::string_view::npos) return true;
    start = comma + 1;
  }
}

template <size_t N>
bool parse_simple(std::string_view value, const Field& f, std::bitset<N>& bits, FieldError& error) {
  std::vector<std::string_view> items;
  if (!split_list(value, f, items, error)) return false;
  for (std::string_view item : items) {
    // (Month names hold an L: JUL.)
    if (&f != &kMonth && item.find_first_of("LW#") != std::string_view::npos) {
      error.message = fmt::format("the {} field '{}' has '{}'; L, W and # belong in the day fields", f.name, value,
                                  item);
      return false;
    }
    if (!parse_plain(item, f, bits, error)) return false;
  }
  return true;
}

bool parse_days_of_month(std::string_view value, CronExpression& c, FieldError& error) {
  std::vector<std::string_view> items;
  if (!split_list(value, kDayOfMonth, items, error)) return false;
  for (std::string_view item : items) {
    if (item.find('#') != std::string_view::npos) {
      error.message = fmt::format("the day-of-month field '{}' has '#', which belongs in the day-of-week field", item);
      return false;
    }
    if (item == "L") {
      c.last_day_offsets.push_back(0);
    } else if (item == "LW") {
      c.last_weekday = true;
    } else if (item.starts_with("L-")) {
      auto n = read_number(item.substr(2));
      if (!n || *n < 1 || *n > 30) {
        error.message = fmt::format("the day-of-month field '{}' must count 1 to 30 days back from L, as in L-3", item);
        return false;
      }
      c.last_day_offsets.push_back(*n);
    } else if (item.size() > 1 && item.back() == 'W') {
      auto n = read_number(item.substr(0, item.size() - 1));
      if (!n || *n < 1 || *n > 31) {
        error.message =
            fmt::format("the day-of-month field '{}' must put a day 1-31 before W, as in 15W (the weekday nearest the 15th)",
                        item);
        return false;
      }
      c.nearest_weekday.push_back(*n);
    } else if (item.find_first_of("LW") != std::string_view::npos) {
      error.message = fmt::format(
          "the day-of-month field '{}' is not one of L, L-n, LW or nW (last day, n days before it, last weekday, "
          "weekday nearest day n)",
          item);
      return false;
    } else if (!parse_plain(item, kDayOfMonth, c.days, error)) {
      return false;
    }
  }
  return true;
}

bool parse_days_of_week(std::string_view value, CronExpression& c, FieldError& error) {
  std::vector<std::string_view> items;
  if (!split_list(value, kDayOfWeek, items, error)) return false;
  for (std::string_view item : items) {
    if (size_t hash = item.find('#'); hash != std::string_view::npos) {
      auto day = read_value(item.substr(0, hash), kDayOfWeek, item, error);
      if (!day) return false;
      auto n = read_number(item.substr(hash + 1));
      if (!n || *n < 1 || *n > 5) {
        error.message =
            fmt::format("the day-of-week field '{}' must put 1 to 5 after #, as in MON#2 (the second Monday)", item);
        return false;
      }
      c.nth_in_month.emplace_back(*day % 7, *n);
    } else if (item.size() > 1 && item.back() == 'L') {
      auto day = read_value(item.substr(0, item.size() - 1), kDayOfWeek, item, error);
      if (!day) return false;
      c.last_in_month.push_back(*day % 7);
    } else if (item.find('L') != std::string_view::npos) {
      error.message =
          fmt::format("the day-of-week field '{}' must put the weekday before L, as in FRIL or 5L (the last Friday)",
                      item);
      return false;
    } else if (!parse_plain(item, kDayOfWeek, c.weekdays, error)) {
      return false;
    }
  }
  return true;
}

unsigned month_length(int64_t y, unsigned m) {
  int64_t first = days_from_civil(y, m, 1);
  int64_t next = m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1);
  return static_cast<unsigned>(next - first);
}

bool day_matches(const CronExpression& c, int64_t month_start, unsigned day, unsigned length) {
  const int weekday = weekday_of(month_start + day - 1);
  bool dom = c.days[day];
  for (int offset : c.last_day_offsets) dom = dom || static_cast<int>(length) - offset == static_cast<int>(day);
  if (!dom && c.last_weekday) {
    int last = weekday_of(month_start + length - 1);
    unsigned target = last == 6 ? length - 1 : last == 0 ? length - 2 : length;
    dom = day == target;
  }
  for (int n : c.nearest_weekday) {
    if (dom || static_cast<unsigned>(n) > length) continue;
    int w = weekday_of(month_start + n - 1);
    int target = n;
    if (w == 6) target = n == 1 ? 3 : n - 1;                                 // Saturday: Friday, or Monday the 3rd
    if (w == 0) target = static_cast<unsigned>(n) == length ? n - 2 : n + 1;  // Sunday: Monday, or Friday
    dom = static_cast<int>(day) == target;
  }
  if (!dom) return false;
  if (c.weekdays[static_cast<size_t>(weekday)]) return true;
  for (int w : c.last_in_month) {
    if (w == weekday && day + 7 > length) return true;
  }
  for (const auto& [w, n] : c.nth_in_month) {
    if (w == weekday && static_cast<int>((day - 1) / 7 + 1) == n) return true;
  }
  return false;
}

// The first second of the day at or after `from` (seconds into the day) that
// the time fields match.
std::optional<int64_t> first_time(const CronExpression& c, int64_t from) {
  const int h0 = static_cast<int>(from / 3600), m0 = static_cast<int>(from / 60 % 60), s0 = static_cast<int>(from % 60);
  for (int h = h0; h < 24; ++h) {
    if (!c.hours[static_cast<size_t>(h)]) continue;
    for (int m = h == h0 ? m0 : 0; m < 60; ++m) {
      if (!c.minutes[static_cast<size_t>(m)]) continue;
      for (int s = h == h0 && m == m0 ? s0 : 0; s < 60; ++s) {
        if (c.seconds[static_cast<size_t>(s)]) return (h * 60 + m) * 60 + s;
      }
    }
  }
  return std::nullopt;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

std::vector<std::string_view> split_fields(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

bool is_cron_cycle(std::string_view text) {
  text = trim(text);
  return !text.empty() && text.front() != 'R';
}

Result<CronExpression> parse_cron(std::string_view text) {
  const std::string_view written = trim(text);
  auto refuse = [&](const std::string& why) {
    return Error{"BS207", fmt::format("'{}' is not a valid cron expression: {}", written, why)};
  };
  std::string body = upper(written);
  if (!body.empty() && body.front() == '@') {
    static const std::array<std::pair<std::string_view, std::string_view>, 7> kMacros = {{
        {"@YEARLY", "0 0 0 1 1 *"},
        {"@ANNUALLY", "0 0 0 1 1 *"},
        {"@MONTHLY", "0 0 0 1 * *"},
        {"@WEEKLY", "0 0 0 * * 0"},
        {"@DAILY", "0 0 0 * * *"},
        {"@MIDNIGHT", "0 0 0 * * *"},
        {"@HOURLY", "0 0 * * * *"},
    }};
    auto macro = std::find_if(kMacros.begin(), kMacros.end(), [&](const auto& m) { return m.first == body; });
    if (macro == kMacros.end()) {
      return refuse("the known macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly");
    }
    body = std::string(macro->second);
  }
  std::vector<std::string_view> fields = split_fields(body);
  if (fields.size() != 6 && fields.size() != 7) {
    if (!body.empty() && (body.front() == 'P' || body.starts_with("-P"))) {
      return Error{"BS207", fmt::format("'{}' is a duration, not a cycle: write R/{} to repeat it, or a cron "
                                        "expression such as 0 0 6 * * MON-FRI",
                                        written, written)};
    }
    std::string hint = fields.size() == 5 ? " (the second comes first: 0 0 6 * * MON-FRI)" : "";
    return Error{"BS207",
                 fmt::format("'{}' is neither an ISO 8601 repeating interval (R/P1D) nor a cron expression: a cron "
                             "expression has 6 fields (second minute hour day-of-month month day-of-week) and may have a 7th (year), "
                             "this has "
                             "{}{}",
                             written, fields.size(), hint)};
  }
  CronExpression c;
  c.text = std::string(written);
  FieldError error;
  bool ok = parse_simple(fields[0], kSecond, c.seconds, error) && parse_simple(fields[1], kMinute, c.minutes, error) &&
            parse_simple(fields[2], kHour, c.hours, error) && parse_days_of_month(fields[3], c, error) &&
            parse_simple(fields[4], kMonth, c.months, error) && parse_days_of_week(fields[5], c, error);
  if (ok && fields.size() == 7) {
    c.has_years = true;
    ok = parse_simple(fields[6], kYear, c.years, error);
  }
  if (!ok) return refuse(error.message);
  if (!next_cron(c, 0, 0)) {
    std::string which = fmt::format("day-of-month '{}' and month '{}'", fields[3], fields[4]);
    if (fields[5] != "*" && fields[5] != "?") {
      which = fmt::format("day-of-month '{}', month '{}' and day-of-week '{}'", fields[3], fields[4], fields[5]);
    }
    if (c.has_years) which += fmt::format(" in year '{}'", fields[6]);
    return refuse(fmt::format("it never fires: no date matches its {}", which));
  }
  return c;
}

std::optional<int64_t> next_cron(const CronExpression& c, int64_t after_ms, int32_t offset_minutes) {
  // Far beyond any timer (year ~30000) the arithmetic below could overflow.
  constexpr int64_t kLimit = 900000000000000;
  if (after_ms > kLimit || after_ms < -kLimit) return std::nullopt;
  const int64_t local_s = floor_div(after_ms + static_cast<int64_t>(offset_minutes) * 60000, 1000) + 1;
  int64_t day = floor_div(local_s, 86400);
  int64_t from = local_s - day * 86400;
  const int64_t last = day + kCycleDays;
  int64_t y;
  unsigned m, d;
  civil_from_days(day, y, m, d);
  while (day <= last) {
    if (c.has_years && (y < kYear.min || y > kYear.max || !c.years[static_cast<size_t>(y)])) {
      if (y > kYear.max) return std::nullopt;
      day = days_from_civil(++y, 1, 1);  // on to the next year
      m = d = 1;
      from = 0;
      continue;
    }
    const int64_t month_start = day - (d - 1);
    const unsigned length = month_length(y, m);
    if (c.months[m]) {
      for (; d <= length && day <= last; ++d, ++day, from = 0) {
        if (!day_matches(c, month_start, d, length)) continue;
        if (auto t = first_time(c, from)) {
          return (day * 86400 + *t) * 1000 - static_cast<int64_t>(offset_minutes) * 60000;
        }
      }
    }
    day = month_start + length;
    from = 0;
    d = 1;
    if (++m == 13) {
      m = 1;
      ++y;
    }
  }
  return std::nullopt;
}

}  // namespace banshi::model
