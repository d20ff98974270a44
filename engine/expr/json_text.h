// expr/json_text.h — JSON text written straight into a buffer: for the hot
// paths that would otherwise build Boost.JSON values only to serialise them
// (the history entry of every commit, a page of tasks), and for every text
// people and other systems read (API answers, live events, the CLI), so that
// numbers look as they are written. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace banshi::expr {

// Appends `s` as a JSON string: quoted; ", \ and control characters escaped
// as Boost.JSON escapes them; a byte that is not part of well-formed UTF-8
// (RFC 3629) written as U+FFFD, so the text always parses.
void append_json_string(std::string& out, std::string_view s);

// Appends `v` as compact JSON text. Unlike boost::json::serialize, a double
// is written in its shortest form that reads back the same (1234.56, 0.1,
// 3000.0, 1e-07), not in E notation (1.23456E3, 1E-1, 3E3); a whole one
// keeps its ".0" so that it reads back as a double. Infinities and NaN,
// which JSON cannot hold, are written as null.
void append_json(std::string& out, const boost::json::value& v);
void append_json(std::string& out, const boost::json::object& o);
void append_json(std::string& out, const boost::json::array& a);
std::string json_text(const boost::json::value& v);
std::string json_text(const boost::json::object& o);
std::string json_text(const boost::json::array& a);

}  // namespace banshi::expr
