// FEEL built-in functions. Each takes its evaluated arguments (null where an
// optional argument was left out) and returns a Value; a bad argument yields
// null with a reason naming the function.
#include <algorithm>
#include <cmath>
#include <locale.h>
#include <wctype.h>

#include <fmt/format.h>

#include "expr/ast.h"
#include "expr/regex.h"

namespace banshi::expr {

namespace {

using Args = std::vector<Value>;

Value bad(std::string_view function, std::string_view message) {
  return Value::null(fmt::format("{}: {}", function, message));
}

bool given(const Args& args, size_t i) { return i < args.size() && !args[i].is_null(); }

std::optional<int64_t> integer_arg(const Value& v) {
  if (!v.is_number()) return std::nullopt;
  return v.as_number().rounded(0, RoundingMode::kDown).value_or(Decimal()).to_int64();
}

// Functions such as sum() take a list or the items themselves.
const List& items_of(const Args& args, List& storage) {
  if (args.size() == 1 && args[0].is_list()) return args[0].as_list();
  storage = args;
  return storage;
}

// ---- strings ----------------------------------------------------------------

Value string_length(Args& a, CallContext&) {
  if (!a[0].is_string()) return bad("string length", "the argument must be a string");
  return Value::number(static_cast<int64_t>(utf8_length(a[0].as_string())));
}

Value substring(Args& a, CallContext&) {
  if (!a[0].is_string() || !a[1].is_number()) return bad("substring", "expects a string and a start position");
  const std::string& s = a[0].as_string();
  int64_t length = static_cast<int64_t>(utf8_length(s));
  auto start = integer_arg(a[1]);
  if (!start || *start == 0) return bad("substring", "the start position must be a non-zero integer");
  int64_t first = *start > 0 ? *start - 1 : length + *start;
  if (first < 0) first = 0;
  if (first > length) first = length;
  int64_t count = length - first;
  if (given(a, 2)) {
    auto wanted = integer_arg(a[2]);
    if (!wanted || *wanted < 0) return bad("substring", "the length must be a non-negative integer");
    count = std::min(count, *wanted);
  }
  size_t from = utf8_offset(s, static_cast<size_t>(first));
  size_t to = utf8_offset(s, static_cast<size_t>(first + count));
  return Value::string(s.substr(from, to - from));
}

// The C library's C.UTF-8 tables give every script's simple case mapping
// (Latin with accents, Greek, Cyrillic, full-width Latin letters); without
// that locale only ASCII letters change.
locale_t case_tables() {
  static const locale_t tables = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return tables;
}

Value change_case(const Args& a, bool upper, std::string_view name) {
  if (!a[0].is_string()) return bad(name, "the argument must be a string");
  const std::string& s = a[0].as_string();
  locale_t tables = case_tables();
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto byte = static_cast<unsigned char>(s[i]);
    size_t length = byte < 0x80 ? 1 : byte >= 0xF8 ? 0 : byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 0;
    if (i + length > s.size()) length = 0;
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) length = 0;
    }
    if (length == 0) {  // not UTF-8 (strings are checked on the way in): the byte is kept as it is
      out.push_back(s[i++]);
      continue;
    }
    uint32_t cp = length == 1 ? byte : byte & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    uint32_t mapped = cp;
    if (tables != static_cast<locale_t>(nullptr)) {
      auto w = static_cast<wint_t>(cp);
      mapped = static_cast<uint32_t>(upper ? towupper_l(w, tables) : towlower_l(w, tables));
    } else if (upper && cp >= 'a' && cp <= 'z') {
      mapped = cp - 'a' + 'A';
    } else if (!upper && cp >= 'A' && cp <= 'Z') {
      mapped = cp - 'A' + 'a';
    }
    append_utf8(out, mapped);
    i += length;
  }
  // A few letters take more bytes in the other case (ɐ → Ɐ).
  if (out.size() > kMaxStringBytes) return bad(name, "the result is too long");
  return Value::string(std::move(out));
}
Value upper_case(Args& a, CallContext&) { return change_case(a, true, "upper case"); }
Value lower_case(Args& a, CallContext&) { return change_case(a, false, "lower case"); }

bool two_strings(const Args& a) { return a[0].is_string() && a[1].is_string(); }

Value contains(Args& a, CallContext&) {
  if (!two_strings(a)) return bad("contains", "both arguments must be strings");
  return Value::boolean(a[0].as_string().find(a[1].as_string()) != std::string::npos);
}
Value starts_with(Args& a, CallContext&) {
  if (!two_strings(a)) return bad("starts with", "both arguments must be strings");
  return Value::boolean(a[0].as_string().starts_with(a[1].as_string()));
}
Value ends_with(Args& a, CallContext&) {
  if (!two_strings(a)) return bad("ends with", "both arguments must be strings");
  return Value::boolean(a[0].as_string().ends_with(a[1].as_string()));
}
Value substring_before(Args& a, CallContext&) {
  if (!two_strings(a)) return bad("substring before", "both arguments must be strings");
  size_t at = a[0].as_string().find(a[1].as_string());
  return Value::string(at == std::string::npos ? "" : a[0].as_string().substr(0, at));
}
Value substring_after(Args& a, CallContext&) {
  if (!two_strings(a)) return bad("substring after", "both arguments must be strings");
  const std::string& s = a[0].as_string();
  size_t at = s.find(a[1].as_string());
  return Value::string(at == std::string::npos ? "" : s.substr(at + a[1].as_string().size()));
}

Value matches(Args& a, CallContext&) {
  if (!two_strings(a)) return bad("matches", "the input and the pattern must be strings");
  std::string flags = given(a, 2) && a[2].is_string() ? a[2].as_string() : "";
  RegexOutcome r = regex_search_bounded(a[0].as_string(), a[1].as_string(), flags);
  if (r.error) return bad("matches", *r.error);
  return Value::boolean(r.matched);
}

Value replace(Args& a, CallContext&) {
  if (!two_strings(a) || !a[2].is_string()) return bad("replace", "the input, pattern and replacement must be strings");
  std::string flags = given(a, 3) && a[3].is_string() ? a[3].as_string() : "";
  RegexOutcome r =
      regex_replace_bounded(a[0].as_string(), a[1].as_string(), a[2].as_string(), flags, kMaxStringBytes);
  if (r.error) return bad("replace", *r.error);
  return Value::string(std::move(r.replaced));
}

Value split(Args& a, CallContext& call) {
  if (!two_strings(a)) return bad("split", "the input and the delimiter must be strings");
  // The delimiter is a pattern, as in XPath's tokenize: split("John Doe", "\\s").
  const std::string& delimiter = a[1].as_string();
  if (delimiter.empty()) return bad("split", "the delimiter is empty");
  RegexOutcome r = regex_split_bounded(a[0].as_string(), delimiter);
  if (r.error) return bad("split", *r.error);
  if (!call.budget.charge(r.parts.size())) return Value();
  List parts;
  for (std::string& part : r.parts) parts.push_back(Value::string(std::move(part)));
  return Value::list(std::move(parts));
}

Value string_join(Args& a, CallContext& call) {
  if (!a[0].is_list()) return bad("string join", "the first argument must be a list of strings");
  std::string delimiter;
  if (given(a, 1)) {
    if (!a[1].is_string()) return bad("string join", "the delimiter must be a string");
    delimiter = a[1].as_string();
  }
  std::string out;
  bool first = true;
  call.budget.charge(a[0].as_list().size());
  for (const auto& item : a[0].as_list()) {
    if (item.is_null()) continue;
    if (!item.is_string()) return bad("string join", "every item must be a string");
    if (!first) out += delimiter;
    first = false;
    out += item.as_string();
    if (out.size() > kMaxStringBytes) return bad("string join", "the result is longer than 1 MiB");
  }
  return Value::string(std::move(out));
}

Value string_of(Args& a, CallContext&) {
  if (a[0].is_null()) return Value();
  if (a[0].is_string()) return a[0];
  return Value::string(a[0].to_string());
}

Value number_of(Args& a, CallContext&) {
  if (!a[0].is_string()) return bad("number", "the argument must be a string");
  std::string text = a[0].as_string();
  std::string grouping = given(a, 1) && a[1].is_string() ? a[1].as_string() : "";
  std::string point = given(a, 2) && a[2].is_string() ? a[2].as_string() : ".";
  if (!grouping.empty() && grouping != " " && grouping != "," && grouping != ".") {
    return bad("number", "the grouping separator must be ' ', ',' or '.'");
  }
  if (point != "," && point != ".") return bad("number", "the decimal separator must be ',' or '.'");
  if (!grouping.empty() && grouping == point) return bad("number", "the separators must differ");
  std::string cleaned;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!grouping.empty() && text.compare(i, grouping.size(), grouping) == 0) continue;
    cleaned += text[i] == point[0] ? '.' : text[i];
  }
  for (char c : cleaned) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
      return bad("number", fmt::format("'{}' is not a number", text));
    }
  }
  auto n = Decimal::parse(cleaned);
  if (!n) return bad("number", fmt::format("'{}' is not a number", text));
  return Value::number(*n);
}

// ---- numbers ----------------------------------------------------------------

Value round_with(const Args& a, RoundingMode mode, std::string_view name, bool scale_required) {
  if (!a[0].is_number()) return bad(name, "the first argument must be a number");
  int64_t scale = 0;
  if (a.size() > 1 && a[1].is_null()) return bad(name, "the scale is null");
  if (scale_required || given(a, 1)) {
    if (!given(a, 1) || !a[1].is_number()) return bad(name, "the scale must be a number");
    auto s = a[1].as_number().to_int64();
    if (!s || *s < -6111 || *s > 6176) return bad(name, "the scale must be an integer in [-6111..6176]");
    scale = *s;
  }
  auto r = a[0].as_number().rounded(static_cast<int32_t>(scale), mode);
  return r ? Value::number(*r) : bad(name, "the result is out of range");
}
Value decimal_fn(Args& a, CallContext&) { return round_with(a, RoundingMode::kHalfEven, "decimal", true); }
Value floor_fn(Args& a, CallContext&) { return round_with(a, RoundingMode::kFloor, "floor", false); }
Value ceiling_fn(Args& a, CallContext&) { return round_with(a, RoundingMode::kCeiling, "ceiling", false); }
Value round_up(Args& a, CallContext&) { return round_with(a, RoundingMode::kUp, "round up", true); }
Value round_down(Args& a, CallContext&) { return round_with(a, RoundingMode::kDown, "round down", true); }
Value round_half_up(Args& a, CallContext&) { return round_with(a, RoundingMode::kHalfUp, "round half up", true); }
Value round_half_down(Args& a, CallContext&) {
  return round_with(a, RoundingMode::kHalfDown, "round half down", true);
}

Value abs_fn(Args& a, CallContext&) {
  switch (a[0].kind()) {
    case ValueKind::kNumber: return Value::number(a[0].as_number().abs());
    case ValueKind::kDaysTimeDuration: return Value::duration(DaysTimeDuration{a[0].as_days_time_duration().seconds.abs()});
    case ValueKind::kYearsMonthsDuration: {
      int64_t m = a[0].as_years_months_duration().months;
      return Value::duration(YearsMonthsDuration{m < 0 ? -m : m});
    }
    default: return bad("abs", "the argument must be a number or a duration");
  }
}

Value modulo_fn(Args& a, CallContext&) {
  if (!a[0].is_number() || !a[1].is_number()) return bad("modulo", "both arguments must be numbers");
  if (a[1].as_number().is_zero()) return bad("modulo", "division by zero");
  auto r = Decimal::modulo(a[0].as_number(), a[1].as_number());
  return r ? Value::number(*r) : bad("modulo", "the result is out of range");
}

Value via_double(const Args& a, std::string_view name, double (*fn)(double), bool positive_only) {
  if (!a[0].is_number()) return bad(name, "the argument must be a number");
  if (positive_only && (a[0].as_number().is_negative() || (name == "log" && a[0].as_number().is_zero()))) {
    return bad(name, "the argument is outside the domain");
  }
  auto r = Decimal::from_double(fn(a[0].as_number().to_double()));
  return r ? Value::number(*r) : bad(name, "the result is out of range");
}
Value sqrt_fn(Args& a, CallContext&) { return via_double(a, "sqrt", [](double x) { return std::sqrt(x); }, true); }
Value log_fn(Args& a, CallContext&) { return via_double(a, "log", [](double x) { return std::log(x); }, true); }
Value exp_fn(Args& a, CallContext&) { return via_double(a, "exp", [](double x) { return std::exp(x); }, false); }

Value parity(const Args& a, bool want_odd, std::string_view name) {
  if (!a[0].is_number()) return bad(name, "the argument must be a number");
  if (!a[0].as_number().is_integer()) return Value::boolean(false);
  auto r = Decimal::modulo(a[0].as_number(), Decimal::from_int(2));
  return Value::boolean(r && r->is_zero() != want_odd);
}
Value odd_fn(Args& a, CallContext&) { return parity(a, true, "odd"); }
Value even_fn(Args& a, CallContext&) { return parity(a, false, "even"); }

// ---- lists ------------------------------------------------------------------

Value count_fn(Args& a, CallContext&) {
  if (!a[0].is_list()) return bad("count", "the argument must be a list");
  return Value::number(static_cast<int64_t>(a[0].as_list().size()));
}

Value sum_fn(Args& a, CallContext& call) {
  List storage;
  const List& items = items_of(a, storage);
  if (items.empty()) return Value();
  call.budget.charge(items.size());
  Decimal total;
  for (const auto& item : items) {
    if (!item.is_number()) return bad("sum", "every item must be a number");
    auto next = Decimal::add(total, item.as_number());
    if (!next) return bad("sum", "the result is out of range");
    total = *next;
  }
  return Value::number(total);
}

Value product_fn(Args& a, CallContext& call) {
  List storage;
  const List& items = items_of(a, storage);
  if (items.empty()) return Value();
  call.budget.charge(items.size());
  Decimal total = Decimal::from_int(1);
  for (const auto& item : items) {
    if (!item.is_number()) return bad("product", "every item must be a number");
    auto next = Decimal::multiply(total, item.as_number());
    if (!next) return bad("product", "the result is out of range");
    total = *next;
  }
  return Value::number(total);
}

Value mean_fn(Args& a, CallContext& call) {
  List storage;
  const List& items = items_of(a, storage);
  if (items.empty()) return Value();
  Value total = sum_fn(a, call);
  if (!total.is_number()) return bad("mean", "every item must be a number");
  auto r = Decimal::divide(total.as_number(), Decimal::from_int(static_cast<int64_t>(items.size())));
  return r ? Value::number(*r) : Value();
}

Value extreme(const Args& a, CallContext& call, bool want_max, std::string_view name) {
  List storage;
  const List& items = items_of(a, storage);
  if (items.empty()) return Value();
  call.budget.charge(items.size());
  const Value* best = &items[0];
  for (const auto& item : items) {
    auto c = feel_compare(item, *best);
    if (!c) return bad(name, "the items cannot be compared");
    if (want_max ? *c > 0 : *c < 0) best = &item;
  }
  return *best;
}
Value min_fn(Args& a, CallContext& call) { return extreme(a, call, false, "min"); }
Value max_fn(Args& a, CallContext& call) { return extreme(a, call, true, "max"); }

Value all_fn(Args& a, CallContext&) {
  List storage;
  const List& items = items_of(a, storage);
  bool unknown = false;
  for (const auto& item : items) {
    if (item.is_boolean() && !item.as_boolean()) return Value::boolean(false);
    if (!item.is_boolean()) unknown = true;
  }
  return unknown ? Value() : Value::boolean(true);
}

Value any_fn(Args& a, CallContext&) {
  List storage;
  const List& items = items_of(a, storage);
  bool unknown = false;
  for (const auto& item : items) {
    if (item.is_boolean() && item.as_boolean()) return Value::boolean(true);
    if (!item.is_boolean()) unknown = true;
  }
  return unknown ? Value() : Value::boolean(false);
}

Value list_contains(Args& a, CallContext& call) {
  if (!a[0].is_list()) return bad("list contains", "the first argument must be a list");
  call.budget.charge(a[0].as_list().size());
  for (const auto& item : a[0].as_list()) {
    auto e = feel_equal(item, a[1]);
    if (e && *e) return Value::boolean(true);
  }
  return Value::boolean(false);
}

Value append_fn(Args& a, CallContext& call) {
  if (!a[0].is_list()) return bad("append", "the first argument must be a list");
  List out = a[0].as_list();
  call.budget.charge(out.size() + a.size());
  out.insert(out.end(), a.begin() + 1, a.end());
  return Value::list(std::move(out));
}

Value concatenate_fn(Args& a, CallContext& call) {
  List out;
  for (const auto& list : a) {
    if (!list.is_list()) return bad("concatenate", "every argument must be a list");
    if (!call.budget.charge(list.as_list().size())) return Value();
    out.insert(out.end(), list.as_list().begin(), list.as_list().end());
  }
  return Value::list(std::move(out));
}

Value sublist_fn(Args& a, CallContext&) {
  if (!a[0].is_list() || !a[1].is_number()) return bad("sublist", "expects a list and a start position");
  const List& items = a[0].as_list();
  int64_t size = static_cast<int64_t>(items.size());
  auto start = integer_arg(a[1]);
  if (!start || *start == 0) return bad("sublist", "the start position must be a non-zero integer");
  int64_t first = *start > 0 ? *start - 1 : size + *start;
  if (first < 0 || first >= size) return bad("sublist", "the start position is outside the list");
  int64_t count = size - first;
  if (given(a, 2)) {
    auto length = integer_arg(a[2]);
    if (!length || *length < 0) return bad("sublist", "the length must be a non-negative integer");
    if (*length > count) return bad("sublist", "the length goes past the end of the list");
    count = *length;
  }
  return Value::list(List(items.begin() + first, items.begin() + first + count));
}

Value insert_before(Args& a, CallContext&) {
  if (!a[0].is_list() || !a[1].is_number()) return bad("insert before", "expects a list and a position");
  List out = a[0].as_list();
  int64_t size = static_cast<int64_t>(out.size());
  auto position = integer_arg(a[1]);
  if (!position || *position == 0) return bad("insert before", "the position must be a non-zero integer");
  int64_t at = *position > 0 ? *position - 1 : size + *position;
  if (at < 0 || at > size) return bad("insert before", "the position is outside the list");
  out.insert(out.begin() + at, a[2]);
  return Value::list(std::move(out));
}

Value remove_fn(Args& a, CallContext&) {
  if (!a[0].is_list() || !a[1].is_number()) return bad("remove", "expects a list and a position");
  List out = a[0].as_list();
  int64_t size = static_cast<int64_t>(out.size());
  auto position = integer_arg(a[1]);
  if (!position || *position == 0) return bad("remove", "the position must be a non-zero integer");
  int64_t at = *position > 0 ? *position - 1 : size + *position;
  if (at < 0 || at >= size) return bad("remove", "the position is outside the list");
  out.erase(out.begin() + at);
  return Value::list(std::move(out));
}

Value reverse_fn(Args& a, CallContext&) {
  if (!a[0].is_list()) return bad("reverse", "the argument must be a list");
  List out(a[0].as_list().rbegin(), a[0].as_list().rend());
  return Value::list(std::move(out));
}

Value index_of(Args& a, CallContext& call) {
  if (!a[0].is_list()) return bad("index of", "the first argument must be a list");
  List out;
  int64_t position = 1;
  call.budget.charge(a[0].as_list().size());
  for (const auto& item : a[0].as_list()) {
    auto e = feel_equal(item, a[1]);
    if (e && *e) out.push_back(Value::number(position));
    ++position;
  }
  return Value::list(std::move(out));
}

void add_distinct(List& out, const Value& item) {
  for (const auto& seen : out) {
    auto e = feel_equal(seen, item);
    if (e && *e) return;
  }
  out.push_back(item);
}

Value distinct_values(Args& a, CallContext& call) {
  if (!a[0].is_list()) return bad("distinct values", "the argument must be a list");
  size_t n = a[0].as_list().size();
  if (!call.budget.charge(n * n / 2 + 1)) return Value();
  List out;
  for (const auto& item : a[0].as_list()) add_distinct(out, item);
  return Value::list(std::move(out));
}

Value union_fn(Args& a, CallContext& call) {
  List out;
  for (const auto& list : a) {
    if (!list.is_list()) return bad("union", "every argument must be a list");
    if (!call.budget.charge(list.as_list().size() * (out.size() + 1))) return Value();
    for (const auto& item : list.as_list()) add_distinct(out, item);
  }
  return Value::list(std::move(out));
}

void flatten_into(const List& items, List& out, CallContext& call, int depth) {
  for (const auto& item : items) {
    if (!call.budget.charge(1)) return;
    if (item.is_list() && depth < static_cast<int>(kMaxNestingDepth)) flatten_into(item.as_list(), out, call, depth + 1);
    else out.push_back(item);
  }
}
Value flatten_fn(Args& a, CallContext& call) {
  if (!a[0].is_list()) return bad("flatten", "the argument must be a list");
  List out;
  flatten_into(a[0].as_list(), out, call, 0);
  return Value::list(std::move(out));
}

// sort(list, precedes): a stable merge sort that asks `precedes(x, y)`
// whether x comes before y. Whatever the function answers (it may not be an
// order at all), every item is kept exactly once; an answer that is not a
// boolean makes the result null.
Value sort_with(const List& items, const Value& precedes, CallContext& call) {
  std::vector<Value> out(items.begin(), items.end());
  std::vector<Value> buffer(out.size());
  std::string error;
  auto before = [&](const Value& x, const Value& y) {
    if (!error.empty() || !call.budget.charge(20)) return false;
    Value r = call_function(precedes, {x, y}, call);
    if (r.is_boolean()) return r.as_boolean();
    error = r.is_null() && !r.null_reason().empty() ? r.null_reason() : "the precedes function must give true or false";
    return false;
  };
  for (size_t width = 1; width < out.size(); width *= 2) {
    for (size_t lo = 0; lo < out.size(); lo += 2 * width) {
      const size_t mid = std::min(lo + width, out.size());
      const size_t hi = std::min(lo + 2 * width, out.size());
      size_t i = lo, j = mid, k = lo;
      // Take from the right run only when its item precedes the left one: equal items keep their order.
      while (i < mid && j < hi) buffer[k++] = before(out[j], out[i]) ? std::move(out[j++]) : std::move(out[i++]);
      while (i < mid) buffer[k++] = std::move(out[i++]);
      while (j < hi) buffer[k++] = std::move(out[j++]);
    }
    out.swap(buffer);
  }
  if (!error.empty()) return bad("sort", error);
  if (call.budget.exhausted) return bad("sort", "the evaluation took too many steps");
  return Value::list(List(std::make_move_iterator(out.begin()), std::make_move_iterator(out.end())));
}

Value sort_fn(Args& a, CallContext& call) {
  if (!a[0].is_list()) return bad("sort", "the argument must be a list");
  if (given(a, 1)) {
    if (a[1].kind() != ValueKind::kFunction) return bad("sort", "precedes must be a function of two items");
    return sort_with(a[0].as_list(), a[1], call);
  }
  List out = a[0].as_list();
  call.budget.charge(out.size() * 20);
  for (const auto& item : out) {
    if (!feel_compare(item, out[0])) return bad("sort", "the items cannot be compared");
  }
  std::stable_sort(out.begin(), out.end(), [](const Value& x, const Value& y) {
    auto c = feel_compare(x, y);
    return c && *c < 0;
  });
  return Value::list(std::move(out));
}

Value median_fn(Args& a, CallContext& call) {
  List storage;
  const List& items = items_of(a, storage);
  if (items.empty()) return Value();
  for (const auto& item : items) {
    if (!item.is_number()) return bad("median", "every item must be a number");
  }
  Args sorted_args{Value::list(items)};
  Value sorted = sort_fn(sorted_args, call);
  if (!sorted.is_list()) return sorted;
  const List& s = sorted.as_list();
  size_t mid = s.size() / 2;
  if (s.size() % 2 == 1) return s[mid];
  auto total = Decimal::add(s[mid - 1].as_number(), s[mid].as_number());
  auto half = total ? Decimal::divide(*total, Decimal::from_int(2)) : std::nullopt;
  return half ? Value::number(*half) : Value();
}

// ---- booleans and contexts -----------------------------------------------------

Value not_fn(Args& a, CallContext&) {
  if (!a[0].is_boolean()) return Value();
  return Value::boolean(!a[0].as_boolean());
}

Value get_value(Args& a, CallContext&) {
  if (!a[0].is_context() || !a[1].is_string()) return bad("get value", "expects a context and a key");
  const Value* v = a[0].find(a[1].as_string());
  return v ? *v : Value();
}

Value get_entries(Args& a, CallContext&) {
  if (!a[0].is_context()) return bad("get entries", "the argument must be a context");
  List out;
  for (const auto& [key, value] : a[0].as_context()) {
    out.push_back(Value::context({{"key", Value::string(key)}, {"value", value}}));
  }
  return Value::list(std::move(out));
}

// ---- dates, times, durations ----------------------------------------------------

Value date_fn(Args& a, CallContext&) {
  if (a.size() >= 2 || given(a, 1)) {
    if (a.size() < 3) return bad("date", "expects a string, or a year, a month and a day");
    auto y = integer_arg(a[0]);
    auto m = integer_arg(a[1]);
    auto d = integer_arg(a[2]);
    if (!y || !m || !d) return bad("date", "the year, month and day must be integers");
    auto date = Date::from_fields(*y, *m, *d);
    return date ? Value::date(*date) : bad("date", "no such day");
  }
  switch (a[0].kind()) {
    case ValueKind::kString: {
      auto d = Date::parse(a[0].as_string());
      return d ? Value::date(*d) : bad("date", fmt::format("\"{}\" is not a date", a[0].as_string()));
    }
    case ValueKind::kDate: return a[0];
    case ValueKind::kDateTime: return Value::date(a[0].as_date_time().date);
    default: return bad("date", "expects a string, a date, or a date and time");
  }
}

Value time_fn(Args& a, CallContext&) {
  if (a.size() >= 3) {
    auto h = integer_arg(a[0]);
    auto m = integer_arg(a[1]);
    if (!h || !m || !a[2].is_number() || *h < 0 || *h > 23 || *m < 0 || *m > 59) {
      return bad("time", "the hour, minute and second are out of range");
    }
    const Decimal& s = a[2].as_number();
    if (s.is_negative() || s >= Decimal::from_int(60)) return bad("time", "the second is out of range");
    Time t;
    t.hour = static_cast<int32_t>(*h);
    t.minute = static_cast<int32_t>(*m);
    Decimal whole = s.rounded(0, RoundingMode::kDown).value_or(Decimal());
    t.second = static_cast<int32_t>(whole.to_int64().value_or(0));
    auto nanos = Decimal::multiply(Decimal::subtract(s, whole).value_or(Decimal()), Decimal::from_int(1'000'000'000));
    t.nanosecond = static_cast<int32_t>(
        nanos.value_or(Decimal()).rounded(0, RoundingMode::kDown).value_or(Decimal()).to_int64().value_or(0));
    if (given(a, 3)) {
      if (a[3].kind() != ValueKind::kDaysTimeDuration) return bad("time", "the offset must be a duration");
      auto offset = a[3].as_days_time_duration().seconds.to_int64();
      if (!offset || *offset < -18 * 3600 || *offset > 18 * 3600) return bad("time", "the offset is out of range");
      t.offset_seconds = static_cast<int32_t>(*offset);
    }
    return Value::time(t);
  }
  switch (a[0].kind()) {
    case ValueKind::kString: {
      auto t = Time::parse(a[0].as_string());
      if (t) return Value::time(*t);
      auto dt = DateTime::parse(a[0].as_string());
      if (dt && a[0].as_string().find('T') != std::string::npos) return Value::time(dt->time);
      return bad("time", fmt::format("\"{}\" is not a time", a[0].as_string()));
    }
    case ValueKind::kTime: return a[0];
    case ValueKind::kDateTime: return Value::time(a[0].as_date_time().time);
    case ValueKind::kDate: {
      Time t;
      t.offset_seconds = 0;
      return Value::time(t);
    }
    default: return bad("time", "expects a string, a time, a date or a date and time");
  }
}

Value date_and_time_fn(Args& a, CallContext&) {
  if (a.size() > 1 && a[1].is_null()) return bad("date and time", "the time is null");
  if (given(a, 1)) {
    if (a[1].kind() != ValueKind::kTime) return bad("date and time", "the second argument must be a time");
    if (a[0].kind() == ValueKind::kDate) return Value::date_time(DateTime{a[0].as_date(), a[1].as_time()});
    if (a[0].kind() == ValueKind::kDateTime) {
      return Value::date_time(DateTime{a[0].as_date_time().date, a[1].as_time()});
    }
    return bad("date and time", "the first argument must be a date");
  }
  switch (a[0].kind()) {
    case ValueKind::kString: {
      auto dt = DateTime::parse(a[0].as_string());
      return dt ? Value::date_time(*dt)
                : bad("date and time", fmt::format("\"{}\" is not a date and time", a[0].as_string()));
    }
    case ValueKind::kDateTime: return a[0];
    case ValueKind::kDate: return Value::date_time(DateTime{a[0].as_date(), Time{}});
    default: return bad("date and time", "expects a string, a date, or a date and time");
  }
}

Value duration_fn(Args& a, CallContext&) {
  if (!a[0].is_string()) return bad("duration", "the argument must be a string");
  if (auto ym = YearsMonthsDuration::parse(a[0].as_string())) return Value::duration(*ym);
  if (auto dt = DaysTimeDuration::parse(a[0].as_string())) return Value::duration(*dt);
  return bad("duration", fmt::format("\"{}\" is not a duration", a[0].as_string()));
}

std::optional<Date> date_part(const Value& v) {
  if (v.kind() == ValueKind::kDate) return v.as_date();
  if (v.kind() == ValueKind::kDateTime) return v.as_date_time().date;
  return std::nullopt;
}

Value years_and_months_duration(Args& a, CallContext&) {
  auto from = date_part(a[0]);
  auto to = date_part(a[1]);
  if (!from || !to) return bad("years and months duration", "both arguments must be dates or dates and times");
  int64_t months = (to->year - from->year) * 12 + (to->month - from->month);
  // Count only whole months: drop the last one if its day has not come yet.
  if (months > 0 && to->day < from->day) --months;
  if (months < 0 && to->day > from->day) ++months;
  return Value::duration(YearsMonthsDuration{months});
}

Value now_fn(Args&, CallContext& call) {
  int64_t ms = call.eval.now_epoch_ms;
  auto seconds = Decimal::divide(Decimal::from_int(ms), Decimal::from_int(1000));
  Time zone;
  zone.offset_seconds = call.eval.utc_offset_minutes * 60;
  auto dt = seconds ? DateTime::from_epoch_seconds(*seconds, zone) : std::nullopt;
  return dt ? Value::date_time(*dt) : Value::null("now: the clock is out of range");
}

Value today_fn(Args& a, CallContext& call) {
  Value now = now_fn(a, call);
  if (now.is_null()) return now;
  return Value::date(now.as_date_time().date);
}

// An instant from a date-time (a bare date means midnight in the engine's zone).
std::optional<int64_t> instant_ms(const Value& v, int32_t offset_minutes) {
  DateTime dt;
  if (v.kind() == ValueKind::kDateTime) {
    dt = v.as_date_time();
  } else if (v.kind() == ValueKind::kDate) {
    dt.date = v.as_date();
    dt.time.offset_seconds = offset_minutes * 60;
  } else {
    return std::nullopt;
  }
  if (!dt.time.offset_seconds) dt.time.offset_seconds = offset_minutes * 60;
  auto ms = Decimal::multiply(dt.epoch_seconds(), Decimal::from_int(1000));
  if (!ms) return std::nullopt;
  return ms->to_int64();
}

Value add_working_days_fn(Args& a, CallContext& call) {
  if (!call.eval.working_days) return bad("add working days", "no business calendar is configured");
  auto from = instant_ms(a[0], call.eval.utc_offset_minutes);
  if (!from) return bad("add working days", "the first argument must be a date or a date and time");
  if (!a[1].is_number()) return bad("add working days", "the second argument must be a number of days");
  auto n = a[1].as_number().to_int64();
  if (!n || *n < 0) return bad("add working days", "the number of working days must be a whole number of at least 0");
  std::string why;
  auto result = call.eval.working_days->add(*from, *n, why);
  if (!result) return Value::null("add working days: " + why);
  Time zone;
  zone.offset_seconds = a[0].kind() == ValueKind::kDateTime && a[0].as_date_time().time.offset_seconds
                            ? *a[0].as_date_time().time.offset_seconds
                            : call.eval.utc_offset_minutes * 60;
  auto seconds = Decimal::divide(Decimal::from_int(*result), Decimal::from_int(1000));
  auto dt = seconds ? DateTime::from_epoch_seconds(*seconds, zone) : std::nullopt;
  if (!dt) return Value::null("add working days: the result is out of range");
  if (a[0].kind() == ValueKind::kDate) return Value::date(dt->date);
  return Value::date_time(*dt);
}

Value working_days_between_fn(Args& a, CallContext& call) {
  if (!call.eval.working_days) return bad("working days between", "no business calendar is configured");
  auto from = instant_ms(a[0], call.eval.utc_offset_minutes);
  auto to = instant_ms(a[1], call.eval.utc_offset_minutes);
  if (!from || !to) return bad("working days between", "both arguments must be dates or dates and times");
  std::string why;
  auto n = call.eval.working_days->between(*from, *to, why);
  if (!n) return Value::null("working days between: " + why);
  return Value::number(*n);
}

Value day_of_week(Args& a, CallContext&) {
  static constexpr std::string_view kNames[] = {"Monday", "Tuesday", "Wednesday", "Thursday",
                                                "Friday", "Saturday", "Sunday"};
  auto d = date_part(a[0]);
  if (!d) return bad("day of week", "the argument must be a date");
  return Value::string(std::string(kNames[d->iso_weekday() - 1]));
}

Value day_of_year(Args& a, CallContext&) {
  auto d = date_part(a[0]);
  if (!d) return bad("day of year", "the argument must be a date");
  return Value::number(d->epoch_days() - Date{d->year, 1, 1}.epoch_days() + 1);
}

Value week_of_year(Args& a, CallContext&) {
  auto d = date_part(a[0]);
  if (!d) return bad("week of year", "the argument must be a date");
  // ISO-8601 week: the week with the year's first Thursday is week 1.
  int64_t thursday = d->epoch_days() - d->iso_weekday() + 4;
  Date thursday_date = Date::from_epoch_days(thursday);
  int64_t first = Date{thursday_date.year, 1, 1}.epoch_days();
  return Value::number((thursday - first) / 7 + 1);
}

Value month_of_year(Args& a, CallContext&) {
  static constexpr std::string_view kNames[] = {"January", "February", "March",     "April",   "May",      "June",
                                                "July",    "August",   "September", "October", "November", "December"};
  auto d = date_part(a[0]);
  if (!d) return bad("month of year", "the argument must be a date");
  return Value::string(std::string(kNames[d->month - 1]));
}

const std::vector<Builtin>& table() {
  static const std::vector<Builtin> kTable = {
      {"string length", {"string"}, 1, 1, string_length},
      {"substring", {"string", "start position", "length"}, 2, 3, substring},
      {"upper case", {"string"}, 1, 1, upper_case},
      {"lower case", {"string"}, 1, 1, lower_case},
      {"contains", {"string", "match"}, 2, 2, contains},
      {"starts with", {"string", "match"}, 2, 2, starts_with},
      {"ends with", {"string", "match"}, 2, 2, ends_with},
      {"substring before", {"string", "match"}, 2, 2, substring_before},
      {"substring after", {"string", "match"}, 2, 2, substring_after},
      {"matches", {"input", "pattern", "flags"}, 2, 3, matches},
      {"replace", {"input", "pattern", "replacement", "flags"}, 3, 4, replace},
      {"split", {"string", "delimiter"}, 2, 2, split},
      {"string join", {"list", "delimiter"}, 1, 2, string_join},
      {"string", {"from"}, 1, 1, string_of},
      {"number", {"from", "grouping separator", "decimal separator"}, 1, 3, number_of},
      {"decimal", {"n", "scale"}, 2, 2, decimal_fn},
      {"floor", {"n", "scale"}, 1, 2, floor_fn},
      {"ceiling", {"n", "scale"}, 1, 2, ceiling_fn},
      {"round up", {"n", "scale"}, 2, 2, round_up},
      {"round down", {"n", "scale"}, 2, 2, round_down},
      {"round half up", {"n", "scale"}, 2, 2, round_half_up},
      {"round half down", {"n", "scale"}, 2, 2, round_half_down},
      {"abs", {"n"}, 1, 1, abs_fn},
      {"modulo", {"dividend", "divisor"}, 2, 2, modulo_fn},
      {"sqrt", {"number"}, 1, 1, sqrt_fn},
      {"log", {"number"}, 1, 1, log_fn},
      {"exp", {"number"}, 1, 1, exp_fn},
      {"odd", {"number"}, 1, 1, odd_fn},
      {"even", {"number"}, 1, 1, even_fn},
      {"count", {"list"}, 1, 1, count_fn},
      {"sum", {"list"}, 1, -1, sum_fn},
      {"product", {"list"}, 1, -1, product_fn},
      {"mean", {"list"}, 1, -1, mean_fn},
      {"median", {"list"}, 1, -1, median_fn},
      {"min", {"list"}, 1, -1, min_fn},
      {"max", {"list"}, 1, -1, max_fn},
      {"all", {"list"}, 1, -1, all_fn},
      {"any", {"list"}, 1, -1, any_fn},
      {"list contains", {"list", "element"}, 2, 2, list_contains},
      {"append", {"list", "item"}, 1, -1, append_fn},
      {"concatenate", {"list"}, 0, -1, concatenate_fn},
      {"sublist", {"list", "start position", "length"}, 2, 3, sublist_fn},
      {"insert before", {"list", "position", "newItem"}, 3, 3, insert_before},
      {"remove", {"list", "position"}, 2, 2, remove_fn},
      {"reverse", {"list"}, 1, 1, reverse_fn},
      {"index of", {"list", "match"}, 2, 2, index_of},
      {"distinct values", {"list"}, 1, 1, distinct_values},
      {"union", {"list"}, 0, -1, union_fn},
      {"flatten", {"list"}, 1, 1, flatten_fn},
      {"sort", {"list", "precedes"}, 1, 2, sort_fn},
      {"not", {"negand"}, 1, 1, not_fn},
      {"get value", {"m", "key"}, 2, 2, get_value},
      {"get entries", {"m"}, 1, 1, get_entries},
      {"date", {"from"}, 1, 3, date_fn, {"year", "month", "day"}},
      {"time", {"from"}, 1, 4, time_fn, {"hour", "minute", "second", "offset"}},
      {"date and time", {"from"}, 1, 2, date_and_time_fn, {"date", "time"}},
      {"duration", {"from"}, 1, 1, duration_fn},
      {"years and months duration", {"from", "to"}, 2, 2, years_and_months_duration},
      {"now", {}, 0, 0, now_fn},
      {"today", {}, 0, 0, today_fn},
      {"add working days", {"from", "days"}, 2, 2, add_working_days_fn},
      {"working days between", {"from", "to"}, 2, 2, working_days_between_fn},
      {"day of week", {"date"}, 1, 1, day_of_week},
      {"day of year", {"date"}, 1, 1, day_of_year},
      {"week of year", {"date"}, 1, 1, week_of_year},
      {"month of year", {"date"}, 1, 1, month_of_year},
  };
  return kTable;
}

}  // namespace

std::span<const Builtin> builtins() { return table(); }

const Builtin* find_builtin(std::string_view name) {
  for (const auto& builtin : table()) {
    if (builtin.name == name) return &builtin;
  }
  return nullptr;
}

}  // namespace banshi::expr
