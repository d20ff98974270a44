#include "expr/json_text.h"

#include <cmath>
#include <cstddef>
#include <iterator>

#include <fmt/format.h>

namespace banshi::expr {

namespace {

// The length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0.
size_t utf8_sequence(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  auto tail = [&](size_t k) { return (at(k) & 0xc0u) == 0x80u; };
  const unsigned c = at(0);
  if (c >= 0xc2 && c <= 0xdf) return tail(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    return at(1) >= lo && at(1) <= hi && tail(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    return at(1) >= lo && at(1) <= hi && tail(2) && tail(3) ? 4 : 0;
  }
  return 0;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t plain = 0;  // start of the run not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_sequence(s, i);
      if (n > 0) {
        i += n - 1;
        continue;
      }
      out.append(s.data() + plain, i - plain);
      plain = i + 1;
      out += "\\ufffd";
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
  }
  out.append(s.data() + plain, s.size() - plain);
  out += '"';
}

void append_json(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: out += "null"; return;
    case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case boost::json::kind::int64: {
      fmt::format_int digits(v.get_int64());
      out.append(digits.data(), digits.size());
      return;
    }
    case boost::json::kind::uint64: {
      fmt::format_int digits(v.get_uint64());
      out.append(digits.data(), digits.size());
      return;
    }
    case boost::json::kind::double_: {
      const double d = v.get_double();
      if (!std::isfinite(d)) {
        out += "null";
        return;
      }
      const size_t at = out.size();
      fmt::format_to(std::back_inserter(out), "{}", d);
      // A whole number keeps a fraction (3000.0), so it reads back as a
      // double, not as an integer, as it does through Boost.JSON's writer.
      if (out.find_first_of(".e", at) == std::string::npos) out += ".0";
      return;
    }
    case boost::json::kind::string: append_json_string(out, v.get_string()); return;
    case boost::json::kind::array: append_json(out, v.get_array()); return;
    case boost::json::kind::object: append_json(out, v.get_object()); return;
  }
}

void append_json(std::string& out, const boost::json::array& a) {
  out += '[';
  bool first = true;
  for (const auto& item : a) {
    if (!first) out += ',';
    first = false;
    append_json(out, item);
  }
  out += ']';
}

void append_json(std::string& out, const boost::json::object& o) {
  out += '{';
  bool first = true;
  for (const auto& entry : o) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, entry.key());
    out += ':';
    append_json(out, entry.value());
  }
  out += '}';
}

std::string json_text(const boost::json::value& v) {
  std::string out;
  append_json(out, v);
  return out;
}

std::string json_text(const boost::json::object& o) {
  std::string out;
  append_json(out, o);
  return out;
}

std::string json_text(const boost::json::array& a) {
  std::string out;
  append_json(out, a);
  return out;
}

}  // namespace banshi::expr
