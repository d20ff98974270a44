#include "serve/config.h"

#include <charconv>
#include <cmath>
#include <functional>
#include <optional>
#include <sstream>
#include <variant>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "departments.h"
#include "model/iso8601.h"
#include "store/postgres/postgres_store.h"

namespace banshi::serve {

namespace {

using Value = std::variant<std::string, int64_t, bool, double>;

struct Key {
  std::string section;
  std::string name;
  bool secret = false;
  // Reads the current value / sets a new one (already of the right type),
  // returning a reason when the value is out of range.
  std::function<Value(const ServeConfig&)> get;
  std::function<std::string(ServeConfig&, const Value&)> set;
  Value kind;  // a value of the key's type
};

Key str(std::string s, std::string n, std::string ServeConfig::*m,
        std::function<std::string(const std::string&)> valid = {}) {
  return Key{std::move(s), std::move(n), false, [m](const ServeConfig& c) { return Value(c.*m); },
             [m, valid](ServeConfig& c, const Value& v) {
               const auto& text = std::get<std::string>(v);
               if (valid) {
                 std::string why = valid(text);
                 if (!why.empty()) return why;
               }
               c.*m = text;
               return std::string{};
             },
             Value(std::string{})};
}

Key integer(std::string s, std::string n, int64_t ServeConfig::*m, int64_t lo, int64_t hi) {
  return Key{std::move(s), std::move(n), false, [m](const ServeConfig& c) { return Value(c.*m); },
             [m, lo, hi](ServeConfig& c, const Value& v) {
               int64_t x = std::get<int64_t>(v);
               if (x < lo || x > hi) return fmt::format("must be between {} and {}", lo, hi);
               c.*m = x;
               return std::string{};
             },
             Value(int64_t{0})};
}

Key boolean(std::string s, std::string n, bool ServeConfig::*m) {
  return Key{std::move(s), std::move(n), false, [m](const ServeConfig& c) { return Value(c.*m); },
             [m](ServeConfig& c, const Value& v) {
               c.*m = std::get<bool>(v);
               return std::string{};
             },
             Value(false)};
}

Key real(std::string s, std::string n, double ServeConfig::*m, double lo, double hi) {
  return Key{std::move(s), std::move(n), false, [m](const ServeConfig& c) { return Value(c.*m); },
             [m, lo, hi](ServeConfig& c, const Value& v) {
               double x = std::get<double>(v);
               if (!(x >= lo && x <= hi)) return fmt::format("must be between {} and {}", lo, hi);
               c.*m = x;
               return std::string{};
             },
             Value(0.0)};
}

// [connectors]: the defaults, then one url, ca_file and timeout_ms per department.
std::vector<Key> connector_keys() {
  auto url_check = [](const std::string& v) {
    if (v.empty() || v.rfind("http://", 0) == 0 || v.rfind("https://", 0) == 0) return std::string{};
    return std::string("must be an http:// or https:// URL");
  };
  std::vector<Key> out = {
      boolean("connectors", "enabled", &ServeConfig::connectors_enabled),
      str("connectors", "base_url", &ServeConfig::connectors_base_url, url_check),
      str("connectors", "ca_file", &ServeConfig::connectors_ca_file),
      integer("connectors", "timeout_ms", &ServeConfig::connectors_timeout_ms, 10, 3'600'000),
      integer("connectors", "retry_backoff_ms", &ServeConfig::connectors_retry_backoff_ms, 0, 24 * 3'600'000LL),
      integer("connectors", "breaker_failures", &ServeConfig::connectors_breaker_failures, 1, 1000),
      integer("connectors", "breaker_open_ms", &ServeConfig::connectors_breaker_open_ms, 10, 3'600'000),
      integer("connectors", "threads", &ServeConfig::connectors_threads, 1, 64),
      integer("connectors", "max_in_flight", &ServeConfig::connectors_max_in_flight, 1, 100'000),
      integer("connectors", "max_in_flight_per_department", &ServeConfig::connectors_max_in_flight_per_department, 1,
              100'000),
      str("connectors", "topics", &ServeConfig::connectors_topics),
  };
  for (const std::string& dept : connectors::department_codes()) {
    std::string name = dept;
    for (char& c : name) c = c == '-' ? '_' : c;
    out.push_back(Key{"connectors", name + "_url", false,
                      [dept](const ServeConfig& c) {
                        auto it = c.connector_endpoints.find(dept);
                        return Value(it == c.connector_endpoints.end() ? std::string() : it->second.url);
                      },
                      [dept, url_check](ServeConfig& c, const Value& v) {
                        std::string why = url_check(std::get<std::string>(v));
                        if (why.empty()) c.connector_endpoints[dept].url = std::get<std::string>(v);
                        return why;
                      },
                      Value(std::string{})});
    out.push_back(Key{"connectors", name + "_ca_file", false,
                      [dept](const ServeConfig& c) {
                        auto it = c.connector_endpoints.find(dept);
                        return Value(it == c.connector_endpoints.end() ? std::string() : it->second.ca_file);
                      },
                      [dept](ServeConfig& c, const Value& v) {
                        c.connector_endpoints[dept].ca_file = std::get<std::string>(v);
                        return std::string{};
                      },
                      Value(std::string{})});
    out.push_back(Key{"connectors", name + "_timeout_ms", false,
                      [dept](const ServeConfig& c) {
                        auto it = c.connector_endpoints.find(dept);
                        return Value(it == c.connector_endpoints.end() ? int64_t{0} : it->second.timeout_ms);
                      },
                      [dept](ServeConfig& c, const Value& v) {
                        int64_t x = std::get<int64_t>(v);
                        if (x < 0 || x > 3'600'000) return std::string("must be between 0 and 3600000");
                        c.connector_endpoints[dept].timeout_ms = x;
                        return std::string{};
                      },
                      Value(int64_t{0})});
  }
  return out;
}

const std::vector<Key>& keys() {
  static const std::vector<Key> k = {
      str("server", "listen", &ServeConfig::listen,
          [](const std::string& v) {
            auto r = split_listen(v);
            return r.ok() ? std::string{} : r.error().message;
          }),
      integer("server", "threads", &ServeConfig::threads, 1, 256),
      integer("server", "handler_threads", &ServeConfig::handler_threads, 0, 1024),
      integer("server", "max_connections", &ServeConfig::max_connections, 1, 1'000'000),
      integer("server", "max_header_bytes", &ServeConfig::max_header_bytes, 1024, 1024 * 1024),
      integer("server", "max_body_bytes", &ServeConfig::max_body_bytes, 1024, int64_t{1} << 30),
      integer("server", "read_timeout_ms", &ServeConfig::read_timeout_ms, 100, 3'600'000),
      integer("server", "idle_timeout_ms", &ServeConfig::idle_timeout_ms, 100, 3'600'000),
      integer("server", "shutdown_timeout_ms", &ServeConfig::shutdown_timeout_ms, 0, 3'600'000),
      integer("server", "ws_idle_timeout_ms", &ServeConfig::ws_idle_timeout_ms, 1000, 3'600'000),
      integer("server", "ws_replay_events", &ServeConfig::ws_replay_events, 0, 100'000),
      integer("server", "ws_max_queue", &ServeConfig::ws_max_queue, 16, 1'000'000),
      real("server", "rate_limit_per_second", &ServeConfig::rate_limit_per_second, 0, 1e7),
      real("server", "rate_limit_burst", &ServeConfig::rate_limit_burst, 1, 1e7),
      integer("server", "max_long_polls", &ServeConfig::max_long_polls, 0, 1024),
      str("tls", "cert_file", &ServeConfig::tls_cert_file),
      str("tls", "key_file", &ServeConfig::tls_key_file),
      str("store", "path", &ServeConfig::store_path,
          [](const std::string& v) { return v.empty() ? std::string("must not be empty") : std::string{}; }),
      boolean("store", "durable", &ServeConfig::durable),
      [] {
        Key url = str("store", "url", &ServeConfig::store_url, [](const std::string& v) {
          return v.empty() || store::postgres::is_postgres_url(v)
                     ? std::string{}
                     : std::string("must be a postgresql:// URL (a SQLite file goes in store.path)");
        });
        url.secret = true;
        return url;
      }(),
      str("store", "schema", &ServeConfig::store_schema),
      integer("store", "connections", &ServeConfig::store_connections, 1, 1000),
      str("engine", "node_id", &ServeConfig::node_id,
          [](const std::string& v) {
            return v.empty() || v.size() > 64 ? std::string("must be 1 to 64 characters") : std::string{};
          }),
      integer("engine", "max_batch", &ServeConfig::max_batch, 1, 100'000),
      integer("engine", "job_workers", &ServeConfig::job_workers, 0, 256),
      integer("engine", "utc_offset_minutes", &ServeConfig::utc_offset_minutes, -14 * 60, 14 * 60),
      str("clock", "mode", &ServeConfig::clock_mode,
          [](const std::string& v) {
            return v == "system" || v == "accelerated" || v == "controlled"
                       ? std::string{}
                       : std::string("must be \"system\", \"accelerated\" or \"controlled\"");
          }),
      real("clock", "factor", &ServeConfig::clock_factor, 0.001, 1e7),
      str("clock", "start", &ServeConfig::clock_start,
          [](const std::string& v) {
            if (v.empty() || model::parse_date_time(v).ok()) return std::string{};
            return std::string("must be an ISO 8601 date-time, e.g. 2026-03-02T09:00:00+08:00");
          }),
      str("console", "dir", &ServeConfig::console_dir),
      str("calendar", "dir", &ServeConfig::calendar_dir),
      integer("auth", "session_idle_minutes", &ServeConfig::session_idle_minutes, 1, 24 * 60),
      integer("auth", "session_absolute_minutes", &ServeConfig::session_absolute_minutes, 5, 7 * 24 * 60),
      boolean("auth", "secure_cookie", &ServeConfig::secure_cookie),
      str("frontdoor", "uploads_dir", &ServeConfig::frontdoor_uploads_dir),
      [] {
        Key key = str("frontdoor", "hash_key", &ServeConfig::frontdoor_hash_key);
        key.secret = true;
        return key;
      }(),
      str("frontdoor", "sms_url", &ServeConfig::frontdoor_sms_url,
          [](const std::string& v) {
            if (v.empty() || v.rfind("http://", 0) == 0 || v.rfind("https://", 0) == 0) return std::string{};
            return std::string("must be an http:// or https:// URL");
          }),
      integer("frontdoor", "code_ttl_seconds", &ServeConfig::frontdoor_code_ttl_seconds, 60, 3600),
      integer("frontdoor", "max_upload_bytes", &ServeConfig::frontdoor_max_upload_bytes, 1024, int64_t{100} << 20),
      boolean("frontdoor", "notify_milestones", &ServeConfig::frontdoor_notify_milestones),
  };
  static const std::vector<Key> all = [] {
    std::vector<Key> out = k;
    for (Key& c : connector_keys()) out.push_back(std::move(c));
    return out;
  }();
  return all;
}

std::string env_name(const Key& k) {
  std::string out = "BANSHI_" + k.section + "_" + k.name;
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// Parses text into the key's type.
std::optional<Value> from_text(const Key& k, const std::string& text) {
  if (std::holds_alternative<std::string>(k.kind)) return Value(text);
  if (std::holds_alternative<bool>(k.kind)) {
    if (text == "true" || text == "1") return Value(true);
    if (text == "false" || text == "0") return Value(false);
    return std::nullopt;
  }
  if (std::holds_alternative<int64_t>(k.kind)) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
    return Value(v);
  }
  std::istringstream in(text);
  double d = 0;
  in >> d;
  if (text.empty() || !in || !in.eof() || !std::isfinite(d)) return std::nullopt;
  return Value(d);
}

std::string_view type_name(const Key& k) {
  if (std::holds_alternative<std::string>(k.kind)) return "a string";
  if (std::holds_alternative<bool>(k.kind)) return "true or false";
  if (std::holds_alternative<int64_t>(k.kind)) return "an integer";
  return "a number";
}

Result<void> set(ServeConfig& config, const Key& k, const Value& v, const std::string& where) {
  std::string why = k.set(config, v);
  if (!why.empty()) return Error{"bad-config", fmt::format("{}{}.{}: {}", where, k.section, k.name, why)};
  return {};
}

const Key* find(const std::string& section, const std::string& name) {
  for (const Key& k : keys()) {
    if (k.section == section && k.name == name) return &k;
  }
  return nullptr;
}

}  // namespace

Result<std::pair<std::string, unsigned short>> split_listen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Error{"bad-config", "must be host:port, e.g. 127.0.0.1:8080"};
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string port_text = listen.substr(colon + 1);
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535) {
    return Error{"bad-config", "the port must be a number from 0 to 65535"};
  }
  return std::make_pair(host, static_cast<unsigned short>(port));
}

Result<void> apply_toml(ServeConfig& config, const std::string& text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return Error{"bad-config", fmt::format("{}:{}:{}: {}", origin, e.source().begin.line, e.source().begin.column,
                                           e.description())};
  }
  for (const auto& [section_key, section_node] : root) {
    std::string section(section_key.str());
    const toml::table* table = section_node.as_table();
    bool known_section = false;
    for (const Key& k : keys()) known_section = known_section || k.section == section;
    if (!known_section) return Error{"bad-config", fmt::format("{}: unknown section or key '{}'", origin, section)};
    if (!table) return Error{"bad-config", fmt::format("{}: '{}' must be a table ([{}])", origin, section, section)};
    for (const auto& [name_key, node] : *table) {
      std::string name(name_key.str());
      const Key* k = find(section, name);
      if (!k) return Error{"bad-config", fmt::format("{}: unknown key '{}.{}'", origin, section, name)};
      std::optional<Value> v;
      if (std::holds_alternative<std::string>(k->kind)) {
        if (auto s = node.value_exact<std::string>()) v = Value(*s);
      } else if (std::holds_alternative<bool>(k->kind)) {
        if (auto b = node.value_exact<bool>()) v = Value(*b);
      } else if (std::holds_alternative<int64_t>(k->kind)) {
        if (auto i = node.value_exact<int64_t>()) v = Value(*i);
      } else {
        if (auto d = node.value<double>()) v = Value(*d);
      }
      if (!v) return Error{"bad-config", fmt::format("{}: {}.{}: must be {}", origin, section, name, type_name(*k))};
      if (auto r = set(config, *k, *v, origin + ": "); !r.ok()) return r;
    }
  }
  return {};
}

Result<void> apply_env(ServeConfig& config, const std::map<std::string, std::string>& env) {
  for (const auto& [name, value] : env) {
    if (name.rfind("BANSHI_", 0) != 0) continue;
    const Key* key = nullptr;
    for (const Key& k : keys()) {
      if (env_name(k) == name) key = &k;
    }
    if (!key) continue;  // other BANSHI_* variables belong to other tools
    auto v = from_text(*key, value);
    if (!v) return Error{"bad-config", fmt::format("{} ({}.{}): must be {}", name, key->section, key->name,
                                                   type_name(*key))};
    if (auto r = set(config, *key, *v, name + ": "); !r.ok()) return r;
  }
  return {};
}

Result<void> apply_value(ServeConfig& config, const std::string& dotted_key, const std::string& value) {
  size_t dot = dotted_key.find('.');
  const Key* k = dot == std::string::npos ? nullptr : find(dotted_key.substr(0, dot), dotted_key.substr(dot + 1));
  if (!k) return Error{"bad-config", fmt::format("unknown key '{}'", dotted_key)};
  auto v = from_text(*k, value);
  if (!v) return Error{"bad-config", fmt::format("{}: must be {}", dotted_key, type_name(*k))};
  return set(config, *k, *v, "");
}

Result<void> check(const ServeConfig& config) {
  if (config.clock_mode == "system" && !config.clock_start.empty()) {
    return Error{"bad-config",
                 "clock.start: only an accelerated or controlled clock has a start; set clock.mode = \"accelerated\" "
                 "or \"controlled\""};
  }
  // A controlled clock moves only when an admin of this node says so: the
  // other nodes of a cluster would keep their own time and disagree on every
  // timer and lease.
  if (config.clock_mode == "controlled" && !config.store_url.empty()) {
    return Error{"bad-config",
                 "clock.mode: a controlled clock is for one node on its own SQLite store (tests and training); "
                 "it cannot run with store.url, where the nodes of a cluster share their timers and leases"};
  }
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return Error{"bad-config", "tls: set both cert_file and key_file, or neither"};
  }
  // A resuming client gets its whole replay queued at once.
  if (config.ws_max_queue <= config.ws_replay_events) {
    return Error{"bad-config",
                 fmt::format("server.ws_max_queue ({}) must be larger than server.ws_replay_events ({}): a client "
                             "resuming with ?since= gets the whole replay queued at once",
                             config.ws_max_queue, config.ws_replay_events)};
  }
  if (config.connectors_enabled) {
    for (const std::string& dept : connectors::department_codes()) {
      auto it = config.connector_endpoints.find(dept);
      if ((it == config.connector_endpoints.end() || it->second.url.empty()) && config.connectors_base_url.empty()) {
        std::string name = dept;
        for (char& c : name) c = c == '-' ? '_' : c;
        return Error{"bad-config", fmt::format("connectors.{}_url: the {} department has no endpoint; set it or "
                                               "connectors.base_url",
                                               name, dept)};
      }
    }
  }
  return {};
}

std::string to_toml(const ServeConfig& config) {
  std::string out;
  std::string section;
  for (const Key& k : keys()) {
    if (k.section != section) {
      out += fmt::format("{}[{}]\n", section.empty() ? "" : "\n", k.section);
      section = k.section;
    }
    if (k.secret) {
      out += fmt::format("{} = \"<hidden>\"\n", k.name);
      continue;
    }
    Value v = k.get(config);
    std::string text;
    if (auto* s = std::get_if<std::string>(&v)) {
      std::ostringstream q;
      q << toml::value<std::string>(*s);
      text = q.str();
    } else if (auto* b = std::get_if<bool>(&v)) {
      text = *b ? "true" : "false";
    } else if (auto* i = std::get_if<int64_t>(&v)) {
      text = std::to_string(*i);
    } else {
      std::ostringstream q;
      q << toml::value<double>(std::get<double>(v));
      text = q.str();
    }
    out += fmt::format("{} = {}\n", k.name, text);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> all_keys() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Key& k : keys()) out.emplace_back(k.section + "." + k.name, env_name(k));
  return out;
}

}  // namespace banshi::serve
