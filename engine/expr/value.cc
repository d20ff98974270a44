#include "expr/value.h"

#include <cassert>

#include <boost/json.hpp>

namespace banshi::expr {

namespace {
constexpr int kMaxJsonDepth = 256;

bool is_plain_name(std::string_view key) {
  if (key.empty()) return false;
  for (size_t i = 0; i < key.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
    bool digit = c >= '0' && c <= '9';
    if (!(letter || (digit && i > 0))) return false;
  }
  return true;
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}
}  // namespace

std::string_view kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::kNull: return "null";
    case ValueKind::kBoolean: return "boolean";
    case ValueKind::kNumber: return "number";
    case ValueKind::kString: return "string";
    case ValueKind::kDate: return "date";
    case ValueKind::kTime: return "time";
    case ValueKind::kDateTime: return "date and time";
    case ValueKind::kDaysTimeDuration: return "days and time duration";
    case ValueKind::kYearsMonthsDuration: return "years and months duration";
    case ValueKind::kList: return "list";
    case ValueKind::kContext: return "context";
    case ValueKind::kRange: return "range";
    case ValueKind::kFunction: return "function";
  }
  return "unknown";
}

Value Value::null(std::string reason) {
  Value v;
  if (!reason.empty()) v.data_ = Null{std::make_shared<const std::string>(std::move(reason))};
  return v;
}
Value Value::boolean(bool b) {
  Value v;
  v.data_ = b;
  return v;
}
Value Value::number(Decimal n) {
  Value v;
  v.data_ = n;
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.data_ = std::move(s);
  return v;
}
Value Value::date(Date d) {
  Value v;
  v.data_ = d;
  return v;
}
Value Value::time(Time t) {
  Value v;
  v.data_ = std::move(t);
  return v;
}
Value Value::date_time(DateTime dt) {
  Value v;
  v.data_ = std::move(dt);
  return v;
}
Value Value::duration(DaysTimeDuration d) {
  Value v;
  v.data_ = d;
  return v;
}
Value Value::duration(YearsMonthsDuration d) {
  Value v;
  v.data_ = d;
  return v;
}
namespace {
uint64_t saturating_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
}  // namespace

Value Value::list(List items) {
  uint64_t weight = 1;
  for (const auto& item : items) weight = saturating_add(weight, item.weight());
  Value v;
  v.data_ = std::make_shared<const ListBox>(ListBox{std::move(items), weight});
  return v;
}
Value Value::context(ContextEntries entries) {
  uint64_t weight = 1;
  for (const auto& entry : entries) weight = saturating_add(weight, entry.second.weight());
  Value v;
  v.data_ = std::make_shared<const ContextBox>(ContextBox{std::move(entries), weight});
  return v;
}

uint64_t Value::weight() const {
  switch (kind()) {
    case ValueKind::kList: return std::get<std::shared_ptr<const ListBox>>(data_)->weight;
    case ValueKind::kContext: return std::get<std::shared_ptr<const ContextBox>>(data_)->weight;
    case ValueKind::kRange: {
      const Range& r = as_range();
      return saturating_add(1, saturating_add(r.start.weight(), r.end.weight()));
    }
    default: return 1;
  }
}
Value Value::range(Range r) {
  Value v;
  v.data_ = std::make_shared<const Range>(std::move(r));
  return v;
}
Value Value::function(std::shared_ptr<const Function> fn) {
  Value v;
  v.data_ = std::move(fn);
  return v;
}

const std::string& Value::null_reason() const {
  static const std::string kEmpty;
  const auto* n = std::get_if<Null>(&data_);
  return n && n->reason ? *n->reason : kEmpty;
}
bool Value::as_boolean() const { return std::get<bool>(data_); }
const Decimal& Value::as_number() const { return std::get<Decimal>(data_); }
const std::string& Value::as_string() const { return std::get<std::string>(data_); }
const Date& Value::as_date() const { return std::get<Date>(data_); }
const Time& Value::as_time() const { return std::get<Time>(data_); }
const DateTime& Value::as_date_time() const { return std::get<DateTime>(data_); }
const DaysTimeDuration& Value::as_days_time_duration() const { return std::get<DaysTimeDuration>(data_); }
const YearsMonthsDuration& Value::as_years_months_duration() const { return std::get<YearsMonthsDuration>(data_); }
const List& Value::as_list() const { return std::get<std::shared_ptr<const ListBox>>(data_)->items; }
const ContextEntries& Value::as_context() const {
  return std::get<std::shared_ptr<const ContextBox>>(data_)->entries;
}
const Range& Value::as_range() const { return *std::get<std::shared_ptr<const Range>>(data_); }
const Function& Value::as_function() const { return *std::get<std::shared_ptr<const Function>>(data_); }

const Value* Value::find(std::string_view key) const {
  if (!is_context()) return nullptr;
  for (const auto& [name, value] : as_context()) {
    if (name == key) return &value;
  }
  return nullptr;
}

std::string Value::to_string() const {
  switch (kind()) {
    case ValueKind::kNull: return "null";
    case ValueKind::kBoolean: return as_boolean() ? "true" : "false";
    case ValueKind::kNumber: return as_number().to_string();
    case ValueKind::kString: return quote(as_string());
    case ValueKind::kDate: return as_date().to_string();
    case ValueKind::kTime: return as_time().to_string();
    case ValueKind::kDateTime: return as_date_time().to_string();
    case ValueKind::kDaysTimeDuration: return as_days_time_duration().to_string();
    case ValueKind::kYearsMonthsDuration: return as_years_months_duration().to_string();
    case ValueKind::kList: {
      std::string out = "[";
      bool first = true;
      for (const auto& item : as_list()) {
        if (!first) out += ", ";
        first = false;
        out += item.to_string();
      }
      return out + "]";
    }
    case ValueKind::kContext: {
      std::string out = "{";
      bool first = true;
      for (const auto& [key, item] : as_context()) {
        if (!first) out += ", ";
        first = false;
        out += is_plain_name(key) ? key : quote(key);
        out += ": " + item.to_string();
      }
      return out + "}";
    }
    case ValueKind::kRange: {
      const Range& r = as_range();
      if (!r.has_start) return std::string(r.end_included ? "<= " : "< ") + r.end.to_string();
      if (!r.has_end) return std::string(r.start_included ? ">= " : "> ") + r.start.to_string();
      return std::string(r.start_included ? "[" : "(") + r.start.to_string() + ".." + r.end.to_string() +
             (r.end_included ? "]" : ")");
    }
    case ValueKind::kFunction: {
      std::string out = "function(";
      bool first = true;
      for (const auto& name : as_function().parameters()) {
        if (!first) out += ", ";
        first = false;
        out += name;
      }
      return out + ")";
    }
  }
  return "null";
}

bool operator==(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ValueKind::kNull: return true;
    case ValueKind::kList: return a.as_list() == b.as_list();
    case ValueKind::kContext: return a.as_context() == b.as_context();
    case ValueKind::kRange: {
      const Range& x = a.as_range();
      const Range& y = b.as_range();
      return x.has_start == y.has_start && x.has_end == y.has_end && x.start_included == y.start_included &&
             x.end_included == y.end_included && x.single_point == y.single_point && x.start == y.start &&
             x.end == y.end;
    }
    default: return a.data_ == b.data_;
  }
}

boost::json::value to_json(const Value& value) {
  switch (value.kind()) {
    case ValueKind::kNull: return nullptr;
    case ValueKind::kBoolean: return value.as_boolean();
    case ValueKind::kNumber: {
      const Decimal& n = value.as_number();
      if (auto integral = n.to_int64()) return *integral;
      return n.to_double();
    }
    case ValueKind::kString: return boost::json::string(value.as_string());
    case ValueKind::kList: {
      boost::json::array out;
      out.reserve(value.as_list().size());
      for (const auto& item : value.as_list()) out.push_back(to_json(item));
      return out;
    }
    case ValueKind::kContext: {
      boost::json::object out;
      for (const auto& [key, item] : value.as_context()) out[key] = to_json(item);
      return out;
    }
    case ValueKind::kFunction: return nullptr;
    default: return boost::json::string(value.to_string());
  }
}

namespace {
Value from_json_at(const boost::json::value& json, int depth) {
  if (depth > kMaxJsonDepth) return Value::null("the JSON value is nested too deeply");
  switch (json.kind()) {
    case boost::json::kind::null: return Value();
    case boost::json::kind::bool_: return Value::boolean(json.get_bool());
    case boost::json::kind::int64: return Value::number(json.get_int64());
    case boost::json::kind::uint64: {
      auto n = Decimal::parse(std::to_string(json.get_uint64()));
      return n ? Value::number(*n) : Value();
    }
    case boost::json::kind::double_: {
      auto n = Decimal::from_double(json.get_double());
      return n ? Value::number(*n) : Value::null("the JSON number is not finite");
    }
    case boost::json::kind::string: return Value::string(std::string(json.get_string()));
    case boost::json::kind::array: {
      List items;
      items.reserve(json.get_array().size());
      for (const auto& item : json.get_array()) items.push_back(from_json_at(item, depth + 1));
      return Value::list(std::move(items));
    }
    case boost::json::kind::object: {
      ContextEntries entries;
      entries.reserve(json.get_object().size());
      for (const auto& entry : json.get_object()) {
        entries.emplace_back(std::string(entry.key()), from_json_at(entry.value(), depth + 1));
      }
      return Value::context(std::move(entries));
    }
  }
  return Value();
}
}  // namespace

Value from_json(const boost::json::value& json) { return from_json_at(json, 0); }

}  // namespace banshi::expr
