// FEEL operator semantics shared by the evaluator and the built-ins:
// equality, ordering, arithmetic across kinds, and temporal properties.
#include <fmt/format.h>

#include "expr/ast.h"

namespace banshi::expr {

namespace {

constexpr int64_t kSecondsPerDay = 86'400;

int order(std::strong_ordering o) { return o < 0 ? -1 : (o > 0 ? 1 : 0); }

Value out_of_range() { return Value::null("the result is outside the range of FEEL numbers"); }

DateTime at_midnight(const Date& date, const Time& zone_like) {
  DateTime dt{date, zone_like};
  dt.time.hour = dt.time.minute = dt.time.second = dt.time.nanosecond = 0;
  return dt;
}

// The instant comparison of two times is only defined when both carry an
// offset or neither does.
std::optional<Decimal> comparable_time_seconds(const Time& t) {
  Decimal seconds = t.seconds_of_day();
  if (t.offset_seconds) return Decimal::subtract(seconds, Decimal::from_int(*t.offset_seconds));
  return seconds;
}

Value add_seconds(const DateTime& dt, const Decimal& seconds) {
  auto total = Decimal::add(dt.epoch_seconds(), seconds);
  if (!total) return out_of_range();
  auto result = DateTime::from_epoch_seconds(*total, dt.time);
  if (!result) return Value::null("the date and time is outside the supported range");
  return Value::date_time(*result);
}

Value add_to_time(const Time& t, const Decimal& seconds) {
  auto total = Decimal::add(t.seconds_of_day(), seconds);
  if (!total) return out_of_range();
  auto of_day = Decimal::modulo(*total, Decimal::from_int(kSecondsPerDay));
  if (!of_day) return out_of_range();
  Time zone_like = t;
  auto shifted = DateTime::from_epoch_seconds(*of_day, Time{0, 0, 0, 0, std::nullopt, {}});
  if (!shifted) return out_of_range();
  zone_like.hour = shifted->time.hour;
  zone_like.minute = shifted->time.minute;
  zone_like.second = shifted->time.second;
  zone_like.nanosecond = shifted->time.nanosecond;
  return Value::time(zone_like);
}

Value duration_between(const DateTime& a, const DateTime& b) {
  if (a.time.has_zone() != b.time.has_zone()) {
    return Value::null("cannot subtract a date and time with a zone and one without");
  }
  auto difference = Decimal::subtract(a.epoch_seconds(), b.epoch_seconds());
  if (!difference) return out_of_range();
  return Value::duration(DaysTimeDuration{*difference});
}

Value mismatch(std::string_view verb, const Value& a, const Value& b) {
  return Value::null(fmt::format("cannot {} a {} and a {}", verb, kind_name(a.kind()), kind_name(b.kind())));
}

Value number_result(std::optional<Decimal> n) { return n ? Value::number(*n) : out_of_range(); }

}  // namespace

// Times and dates-and-times are equal when they agree to the millisecond, as
// the DMN TCK expects ("10:30:00.0001" = "10:30:00.0002").
namespace {
std::optional<Decimal> to_milliseconds(const Decimal& seconds) { return seconds.rounded(3, RoundingMode::kFloor); }
}  // namespace

std::optional<int> feel_compare(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return std::nullopt;
  switch (a.kind()) {
    case ValueKind::kNumber: return order(a.as_number() <=> b.as_number());
    case ValueKind::kString: {
      int c = a.as_string().compare(b.as_string());
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case ValueKind::kDate: return order(a.as_date() <=> b.as_date());
    case ValueKind::kDateTime: {
      const DateTime& x = a.as_date_time();
      const DateTime& y = b.as_date_time();
      if (x.time.has_zone() != y.time.has_zone()) return std::nullopt;
      return order(x.epoch_seconds() <=> y.epoch_seconds());
    }
    case ValueKind::kTime: {
      const Time& x = a.as_time();
      const Time& y = b.as_time();
      if (x.offset_seconds.has_value() != y.offset_seconds.has_value()) return std::nullopt;
      auto sx = comparable_time_seconds(x);
      auto sy = comparable_time_seconds(y);
      if (!sx || !sy) return std::nullopt;
      return order(*sx <=> *sy);
    }
    case ValueKind::kDaysTimeDuration:
      return order(a.as_days_time_duration().seconds <=> b.as_days_time_duration().seconds);
    case ValueKind::kYearsMonthsDuration:
      return order(a.as_years_months_duration().months <=> b.as_years_months_duration().months);
    default: return std::nullopt;
  }
}

std::optional<bool> feel_equal(const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) return a.is_null() && b.is_null();
  if (a.kind() != b.kind()) return std::nullopt;
  switch (a.kind()) {
    case ValueKind::kBoolean: return a.as_boolean() == b.as_boolean();
    case ValueKind::kTime: {
      const Time& x = a.as_time();
      const Time& y = b.as_time();
      if (x.offset_seconds.has_value() != y.offset_seconds.has_value()) return false;
      auto sx = comparable_time_seconds(x);
      auto sy = comparable_time_seconds(y);
      if (!sx || !sy) return std::nullopt;
      return to_milliseconds(*sx) == to_milliseconds(*sy);
    }
    case ValueKind::kDateTime: {
      const DateTime& x = a.as_date_time();
      const DateTime& y = b.as_date_time();
      if (x.time.has_zone() != y.time.has_zone()) return false;
      return to_milliseconds(x.epoch_seconds()) == to_milliseconds(y.epoch_seconds());
    }
    case ValueKind::kList: {
      const List& x = a.as_list();
      const List& y = b.as_list();
      if (x.size() != y.size()) return false;
      bool unknown = false;
      for (size_t i = 0; i < x.size(); ++i) {
        auto e = feel_equal(x[i], y[i]);
        if (!e) unknown = true;
        else if (!*e) return false;
      }
      if (unknown) return std::nullopt;
      return true;
    }
    case ValueKind::kContext: {
      const ContextEntries& x = a.as_context();
      const ContextEntries& y = b.as_context();
      if (x.size() != y.size()) return false;
      bool unknown = false;
      for (const auto& [key, value] : x) {
        const Value* other = b.find(key);
        if (!other) return false;
        auto e = feel_equal(value, *other);
        if (!e) unknown = true;
        else if (!*e) return false;
      }
      if (unknown) return std::nullopt;
      return true;
    }
    case ValueKind::kRange: return a == b;
    default: {
      auto c = feel_compare(a, b);
      return c ? std::optional<bool>(*c == 0) : std::nullopt;
    }
  }
}

std::optional<bool> range_contains(const Range& range, const Value& input) {
  if (range.has_start) {
    auto c = feel_compare(input, range.start);
    if (!c) return std::nullopt;
    if (*c < 0 || (*c == 0 && !range.start_included)) return false;
  }
  if (range.has_end) {
    auto c = feel_compare(input, range.end);
    if (!c) return std::nullopt;
    if (*c > 0 || (*c == 0 && !range.end_included)) return false;
  }
  return true;
}

Value arithmetic(BinaryOp op, const Value& a, const Value& b) {
  if (a.is_null()) return a;
  if (b.is_null()) return b;
  ValueKind ka = a.kind();
  ValueKind kb = b.kind();
  if (ka == ValueKind::kNumber && kb == ValueKind::kNumber) {
    const Decimal& x = a.as_number();
    const Decimal& y = b.as_number();
    switch (op) {
      case BinaryOp::kAdd: return number_result(Decimal::add(x, y));
      case BinaryOp::kSubtract: return number_result(Decimal::subtract(x, y));
      case BinaryOp::kMultiply: return number_result(Decimal::multiply(x, y));
      case BinaryOp::kDivide:
        if (y.is_zero()) return Value::null("division by zero");
        return number_result(Decimal::divide(x, y));
      case BinaryOp::kPower:
        if (x.is_zero() && y.is_negative()) return Value::null("division by zero");
        return number_result(Decimal::power(x, y));
      default: break;
    }
  }
  if (op == BinaryOp::kPower) return mismatch("raise to a power", a, b);
  const bool add = op == BinaryOp::kAdd;
  const bool subtract = op == BinaryOp::kSubtract;
  if (ka == ValueKind::kString && kb == ValueKind::kString && add) {
    if (a.as_string().size() + b.as_string().size() > kMaxStringBytes) {
      return Value::null("the string would be longer than 1 MiB");
    }
    return Value::string(a.as_string() + b.as_string());
  }
  if (add || subtract) {
    // Durations may come first in an addition: P1D + date("...").
    if (add && (ka == ValueKind::kDaysTimeDuration || ka == ValueKind::kYearsMonthsDuration) &&
        (kb == ValueKind::kDate || kb == ValueKind::kDateTime || kb == ValueKind::kTime)) {
      return arithmetic(op, b, a);
    }
    if (kb == ValueKind::kDaysTimeDuration) {
      Decimal seconds = b.as_days_time_duration().seconds;
      if (subtract) seconds = seconds.negated();
      switch (ka) {
        case ValueKind::kDate: {
          Value moved = add_seconds(at_midnight(a.as_date(), Time{}), seconds);
          if (moved.is_null()) return moved;
          return Value::date(moved.as_date_time().date);
        }
        case ValueKind::kDateTime: return add_seconds(a.as_date_time(), seconds);
        case ValueKind::kTime: return add_to_time(a.as_time(), seconds);
        case ValueKind::kDaysTimeDuration: {
          auto sum = Decimal::add(a.as_days_time_duration().seconds, seconds);
          if (!sum) return out_of_range();
          return Value::duration(DaysTimeDuration{*sum});
        }
        default: break;
      }
    }
    if (kb == ValueKind::kYearsMonthsDuration) {
      int64_t months = b.as_years_months_duration().months;
      if (subtract) months = -months;
      switch (ka) {
        case ValueKind::kDate: {
          auto moved = add_months(a.as_date(), months);
          return moved ? Value::date(*moved) : Value::null("the date is outside the supported range");
        }
        case ValueKind::kDateTime: {
          auto moved = add_months(a.as_date_time().date, months);
          if (!moved) return Value::null("the date is outside the supported range");
          return Value::date_time(DateTime{*moved, a.as_date_time().time});
        }
        case ValueKind::kYearsMonthsDuration:
          return Value::duration(YearsMonthsDuration{a.as_years_months_duration().months + months});
        default: break;
      }
    }
    if (subtract) {
      if (ka == ValueKind::kDate && kb == ValueKind::kDate) {
        int64_t days = a.as_date().epoch_days() - b.as_date().epoch_days();
        return Value::duration(DaysTimeDuration{Decimal::from_int(days * kSecondsPerDay)});
      }
      if (ka == ValueKind::kDateTime && kb == ValueKind::kDateTime) {
        return duration_between(a.as_date_time(), b.as_date_time());
      }
      // A date next to a date and time stands for its midnight in UTC.
      Time utc;
      utc.offset_seconds = 0;
      if (ka == ValueKind::kDateTime && kb == ValueKind::kDate) {
        return duration_between(a.as_date_time(), at_midnight(b.as_date(), utc));
      }
      if (ka == ValueKind::kDate && kb == ValueKind::kDateTime) {
        return duration_between(at_midnight(a.as_date(), utc), b.as_date_time());
      }
      if (ka == ValueKind::kTime && kb == ValueKind::kTime) {
        const Time& x = a.as_time();
        const Time& y = b.as_time();
        if (x.offset_seconds.has_value() != y.offset_seconds.has_value()) {
          return Value::null("cannot subtract a time with an offset and one without");
        }
        auto sx = comparable_time_seconds(x);
        auto sy = comparable_time_seconds(y);
        if (!sx || !sy) return out_of_range();
        auto difference = Decimal::subtract(*sx, *sy);
        if (!difference) return out_of_range();
        return Value::duration(DaysTimeDuration{*difference});
      }
    }
    return mismatch(add ? "add" : "subtract", a, b);
  }
  if (op == BinaryOp::kMultiply) {
    if (ka == ValueKind::kNumber && (kb == ValueKind::kDaysTimeDuration || kb == ValueKind::kYearsMonthsDuration)) {
      return arithmetic(op, b, a);
    }
    if (kb == ValueKind::kNumber) {
      if (ka == ValueKind::kDaysTimeDuration) {
        auto product = Decimal::multiply(a.as_days_time_duration().seconds, b.as_number());
        if (!product) return out_of_range();
        return Value::duration(DaysTimeDuration{*product});
      }
      if (ka == ValueKind::kYearsMonthsDuration) {
        auto product = Decimal::multiply(Decimal::from_int(a.as_years_months_duration().months), b.as_number());
        auto months = product ? product->rounded(0, RoundingMode::kDown) : std::nullopt;
        auto integral = months ? months->to_int64() : std::nullopt;
        if (!integral) return out_of_range();
        return Value::duration(YearsMonthsDuration{*integral});
      }
    }
    return mismatch("multiply", a, b);
  }
  if (op == BinaryOp::kDivide) {
    if (kb == ValueKind::kNumber && b.as_number().is_zero()) return Value::null("division by zero");
    if (ka == ValueKind::kDaysTimeDuration && kb == ValueKind::kNumber) {
      auto quotient = Decimal::divide(a.as_days_time_duration().seconds, b.as_number());
      if (!quotient) return out_of_range();
      return Value::duration(DaysTimeDuration{*quotient});
    }
    if (ka == ValueKind::kYearsMonthsDuration && kb == ValueKind::kNumber) {
      auto quotient = Decimal::divide(Decimal::from_int(a.as_years_months_duration().months), b.as_number());
      auto months = quotient ? quotient->rounded(0, RoundingMode::kDown) : std::nullopt;
      auto integral = months ? months->to_int64() : std::nullopt;
      if (!integral) return out_of_range();
      return Value::duration(YearsMonthsDuration{*integral});
    }
    if (ka == ValueKind::kDaysTimeDuration && kb == ValueKind::kDaysTimeDuration) {
      if (b.as_days_time_duration().seconds.is_zero()) return Value::null("division by zero");
      return number_result(Decimal::divide(a.as_days_time_duration().seconds, b.as_days_time_duration().seconds));
    }
    if (ka == ValueKind::kYearsMonthsDuration && kb == ValueKind::kYearsMonthsDuration) {
      if (b.as_years_months_duration().months == 0) return Value::null("division by zero");
      return number_result(Decimal::divide(Decimal::from_int(a.as_years_months_duration().months),
                                           Decimal::from_int(b.as_years_months_duration().months)));
    }
    return mismatch("divide", a, b);
  }
  return mismatch("combine", a, b);
}

Value temporal_property(const Value& value, std::string_view name) {
  auto no_property = [&] {
    return Value::null(fmt::format("a {} has no property '{}'", kind_name(value.kind()), name));
  };
  auto date_property = [&](const Date& d) -> std::optional<Value> {
    if (name == "year") return Value::number(d.year);
    if (name == "month") return Value::number(int64_t{d.month});
    if (name == "day") return Value::number(int64_t{d.day});
    if (name == "weekday") return Value::number(int64_t{d.iso_weekday()});
    return std::nullopt;
  };
  auto time_property = [&](const Time& t) -> std::optional<Value> {
    if (name == "hour") return Value::number(int64_t{t.hour});
    if (name == "minute") return Value::number(int64_t{t.minute});
    if (name == "second") {
      if (t.nanosecond == 0) return Value::number(int64_t{t.second});
      auto fraction = Decimal::divide(Decimal::from_int(int64_t{t.second} * 1'000'000'000 + t.nanosecond),
                                      Decimal::from_int(1'000'000'000));
      return fraction ? Value::number(*fraction) : Value();
    }
    if (name == "time offset") {
      if (!t.offset_seconds) return Value();
      return Value::duration(DaysTimeDuration{Decimal::from_int(*t.offset_seconds)});
    }
    if (name == "timezone") return t.zone_id.empty() ? Value() : Value::string(t.zone_id);
    return std::nullopt;
  };
  switch (value.kind()) {
    case ValueKind::kDate:
      if (auto v = date_property(value.as_date())) return *v;
      return no_property();
    case ValueKind::kDateTime:
      if (auto v = date_property(value.as_date_time().date)) return *v;
      if (auto v = time_property(value.as_date_time().time)) return *v;
      return no_property();
    case ValueKind::kTime:
      if (auto v = time_property(value.as_time())) return *v;
      return no_property();
    case ValueKind::kDaysTimeDuration: {
      const Decimal& seconds = value.as_days_time_duration().seconds;
      auto whole = seconds.rounded(0, RoundingMode::kDown).value_or(Decimal()).to_int64();
      if (!whole) return out_of_range();
      if (name == "days") return Value::number(*whole / kSecondsPerDay);
      if (name == "hours") return Value::number((*whole / 3600) % 24);
      if (name == "minutes") return Value::number((*whole / 60) % 60);
      if (name == "seconds") return Value::number(*whole % 60);
      return no_property();
    }
    case ValueKind::kYearsMonthsDuration: {
      int64_t months = value.as_years_months_duration().months;
      if (name == "years") return Value::number(months / 12);
      if (name == "months") return Value::number(months % 12);
      return no_property();
    }
    case ValueKind::kRange: {
      const Range& r = value.as_range();
      if (name == "start") return r.has_start ? r.start : Value();
      if (name == "end") return r.has_end ? r.end : Value();
      if (name == "start included") return Value::boolean(r.has_start && r.start_included);
      if (name == "end included") return Value::boolean(r.has_end && r.end_included);
      return no_property();
    }
    default: return no_property();
  }
}

size_t utf8_length(std::string_view text) {
  size_t count = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

size_t utf8_offset(std::string_view text, size_t index) {
  size_t count = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (count == index) return i;
      ++count;
    }
  }
  return text.size();
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace banshi::expr
