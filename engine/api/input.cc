#include "api/input.h"

#include <charconv>

#include <boost/json/parse.hpp>

namespace banshi::api {

namespace json = boost::json;

std::optional<int64_t> parse_int(std::string_view text, int64_t min, int64_t max) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  if (v < min || v > max) return std::nullopt;
  return v;
}

bool has_media_type(const Request& request, std::initializer_list<std::string_view> types) {
  auto ct = request.header("content-type");
  if (!ct) return false;
  std::string media(ct->substr(0, ct->find(';')));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.pop_back();
  for (char& c : media) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  for (std::string_view t : types) {
    if (media == t) return true;
  }
  return false;
}

std::optional<InputError> parse_json_body(const Request& request, json::object& out) {
  out = {};
  bool blank = request.body.find_first_not_of(" \t\r\n") == std::string::npos;
  if (blank) return std::nullopt;
  bool is_json = has_media_type(request, {"application/json"});
  if (!is_json) {
    auto ct = request.header("content-type");
    std::string media = ct ? std::string(ct->substr(0, ct->find(';'))) : std::string{};
    is_json = media.size() > 5 && media.compare(media.size() - 5, 5, "+json") == 0;
  }
  if (!is_json) {
    return InputError{"Content-Type", "The body must be JSON, sent with Content-Type: application/json.", 415};
  }
  json::parse_options options;
  options.max_depth = 64;
  json::error_code ec;
  json::value v = json::parse(request.body, ec, {}, options);
  if (ec) return InputError{"body", "The body is not valid JSON: " + ec.message() + "."};
  if (!v.is_object()) return InputError{"body", "The body must be a JSON object."};
  out = std::move(v.as_object());
  return std::nullopt;
}

BodyReader::BodyReader(const json::object& body, std::initializer_list<std::string_view> allowed) : body_(body) {
  for (const auto& kv : body) {
    bool known = false;
    for (std::string_view a : allowed) known = known || kv.key() == a;
    if (!known) {
      fail(kv.key(), "This member is not part of the request.");
      return;
    }
  }
}

void BodyReader::fail(std::string_view name, std::string detail) {
  if (!error_) error_ = InputError{std::string(name), std::move(detail)};
}

std::vector<std::string> BodyReader::strings(std::string_view name, size_t max_count, size_t max_len) {
  std::vector<std::string> out;
  auto* v = body_.if_contains(name);
  if (!v || v->is_null()) return out;
  if (!v->is_array() || v->as_array().size() > max_count) {
    fail(name, "This member must be an array of at most " + std::to_string(max_count) + " strings.");
    return out;
  }
  for (const auto& item : v->as_array()) {
    if (!item.is_string() || item.as_string().size() > max_len || item.as_string().empty()) {
      fail(name, "Each item must be a non-empty string of at most " + std::to_string(max_len) + " characters.");
      return {};
    }
    out.emplace_back(item.as_string().c_str(), item.as_string().size());
  }
  return out;
}

bool BodyReader::boolean(std::string_view name, bool fallback) {
  auto* v = body_.if_contains(name);
  if (!v || v->is_null()) return fallback;
  if (!v->is_bool()) {
    fail(name, "This member must be true or false.");
    return fallback;
  }
  return v->as_bool();
}

std::string BodyReader::string(std::string_view name, bool required, size_t max_len) {
  auto* v = body_.if_contains(name);
  if (!v || v->is_null()) {
    if (required) fail(name, "This member is required.");
    return {};
  }
  if (!v->is_string()) {
    fail(name, "This member must be a string.");
    return {};
  }
  const json::string& s = v->as_string();
  if (s.size() > max_len) {
    fail(name, "This member is longer than " + std::to_string(max_len) + " characters.");
    return {};
  }
  if (required && s.empty()) {
    fail(name, "This member must not be empty.");
    return {};
  }
  return std::string(s);
}

int64_t BodyReader::integer(std::string_view name, bool required, int64_t min, int64_t max, int64_t fallback) {
  auto* v = body_.if_contains(name);
  if (!v || v->is_null()) {
    if (required) fail(name, "This member is required.");
    return fallback;
  }
  int64_t out = 0;
  if (v->is_int64()) {
    out = v->get_int64();
  } else if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    out = static_cast<int64_t>(v->get_uint64());
  } else {
    fail(name, "This member must be an integer.");
    return fallback;
  }
  if (out < min || out > max) {
    fail(name, "This member must be between " + std::to_string(min) + " and " + std::to_string(max) + ".");
    return fallback;
  }
  return out;
}

json::object BodyReader::object(std::string_view name) {
  auto* v = body_.if_contains(name);
  if (!v || v->is_null()) return {};
  if (!v->is_object()) {
    fail(name, "This member must be a JSON object.");
    return {};
  }
  return v->as_object();
}

QueryReader::QueryReader(const Request& request, std::initializer_list<std::string_view> allowed)
    : request_(request) {
  for (const auto& [name, value] : request.query) {
    bool known = false;
    for (std::string_view a : allowed) known = known || name == a;
    if (!known) {
      fail(name, "This query parameter is not supported here.");
      return;
    }
  }
}

void QueryReader::fail(std::string_view name, std::string detail) {
  if (!error_) error_ = InputError{std::string(name), std::move(detail)};
}

std::string QueryReader::string(std::string_view name, size_t max_len) {
  auto v = request_.param(name);
  if (!v) return {};
  if (v->size() > max_len) {
    fail(name, "This parameter is too long.");
    return {};
  }
  return std::string(*v);
}

std::vector<std::string> QueryReader::strings(std::string_view name, size_t max_count, size_t max_len) {
  std::vector<std::string> all = request_.params(name);
  if (all.size() > max_count) {
    fail(name, "This parameter is repeated too often.");
    return {};
  }
  for (const std::string& s : all) {
    if (s.size() > max_len || s.empty()) {
      fail(name, "A value of this parameter is empty or too long.");
      return {};
    }
  }
  return all;
}

int64_t QueryReader::integer(std::string_view name, int64_t min, int64_t max, int64_t fallback) {
  auto v = request_.param(name);
  if (!v) return fallback;
  auto n = parse_int(*v, min, max);
  if (!n) {
    fail(name, "This parameter must be an integer between " + std::to_string(min) + " and " + std::to_string(max) + ".");
    return fallback;
  }
  return *n;
}

bool QueryReader::boolean(std::string_view name, bool fallback) {
  auto v = request_.param(name);
  if (!v) return fallback;
  if (*v == "true" || *v == "1") return true;
  if (*v == "false" || *v == "0") return false;
  fail(name, "This parameter must be true or false.");
  return fallback;
}

}  // namespace banshi::api
