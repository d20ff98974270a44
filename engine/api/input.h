// api/input.h — reads JSON bodies and query parameters field by field.
//
// Every reader checks the type and range of one field and records the first
// failure, naming the field, so a handler validates everything before it
// calls the engine: hostile input is answered with a 400 and changes nothing.
// Unknown members of a body are refused too (a misspelt field must not be
// silently ignored).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "api/http_types.h"

namespace banshi::api {

struct InputError {
  std::string field;
  std::string detail;
  int status = 400;  // 400, or 415 for a body that is not JSON at all
};

// Parses a JSON object body. An empty body is an empty object; a non-empty
// body must say Content-Type application/json (or +json) — 415 otherwise.
std::optional<InputError> parse_json_body(const Request& request, boost::json::object& out);

// True when the Content-Type's media type (before any ';') is one of `types`.
bool has_media_type(const Request& request, std::initializer_list<std::string_view> types);

class BodyReader {
 public:
  // Refuses members not in `allowed`.
  BodyReader(const boost::json::object& body, std::initializer_list<std::string_view> allowed);

  std::string string(std::string_view name, bool required, size_t max_len = 1024);
  int64_t integer(std::string_view name, bool required, int64_t min, int64_t max, int64_t fallback);
  boost::json::object object(std::string_view name);
  // An array of strings (absent: empty), at most max_count of at most max_len each.
  std::vector<std::string> strings(std::string_view name, size_t max_count, size_t max_len);
  bool boolean(std::string_view name, bool fallback);

  bool ok() const { return !error_; }
  const InputError& error() const { return *error_; }
  // Records the first failure; later ones are ignored.
  void fail(std::string_view name, std::string detail);

 private:
  const boost::json::object& body_;
  std::optional<InputError> error_;
};

class QueryReader {
 public:
  // Refuses parameters not in `allowed`.
  QueryReader(const Request& request, std::initializer_list<std::string_view> allowed);

  std::string string(std::string_view name, size_t max_len = 256);
  std::vector<std::string> strings(std::string_view name, size_t max_count = 50, size_t max_len = 256);
  int64_t integer(std::string_view name, int64_t min, int64_t max, int64_t fallback);
  bool boolean(std::string_view name, bool fallback);

  bool ok() const { return !error_; }
  const InputError& error() const { return *error_; }
  void fail(std::string_view name, std::string detail);

 private:
  const Request& request_;
  std::optional<InputError> error_;
};

// Parses a decimal integer in [min, max]; no sign other than a leading '-',
// no spaces, no leading '+'.
std::optional<int64_t> parse_int(std::string_view text, int64_t min, int64_t max);

}  // namespace banshi::api
