#include "core/serialize.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_stack.hpp>
#include <fmt/format.h>

namespace banshi::core {

namespace {

// ---------------------------------------------------------------------------
// Writing.

class Writer {
 public:
  void raw(std::string_view bytes) { out_.append(bytes); }
  void byte(uint8_t b) { out_.push_back(static_cast<char>(b)); }

  // Unsigned LEB128: seven bits a byte, low bits first, high bit = more.
  void u64(uint64_t v) {
    while (v >= 0x80) {
      byte(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    byte(static_cast<uint8_t>(v));
  }
  // Zig-zag keeps small negative numbers (-1 for unbounded cycles) one byte long.
  void i64(int64_t v) { u64((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void boolean(bool b) { byte(b ? 1 : 0); }
  // Index + 1, so kNoIndex (the most common "none") is the single byte 0.
  void index(model::Index i) { u64(i == model::kNoIndex ? 0 : uint64_t{i} + 1); }
  void str(std::string_view s) {
    u64(s.size());
    raw(s);
  }
  void json(const boost::json::value& v) {
    scratch_.clear();
    write_json(scratch_, v);
    str(scratch_);
  }

  std::string take() { return std::move(out_); }

 private:
  static void write_json_string(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (u < 0x20) {
            out += "\\u00";
            out.push_back(kHex[u >> 4]);
            out.push_back(kHex[u & 0xF]);
          } else {
            out.push_back(c);  // bytes >= 0x80 as they are; the reader accepts any bytes
          }
      }
    }
    out.push_back('"');
  }

  // Boost.JSON 1.81's serialize() is not used: its parser reads some doubles
  // one unit in the last place off, and it writes infinity as "Infinity",
  // which it cannot read. Here doubles are written as the shortest text that
  // std::from_chars reads back exactly, and always with a '.' or an exponent
  // so they read back as doubles, not integers.
  static void write_double(std::string& out, double d) {
    if (std::isnan(d)) {
      out += "null";
      return;
    }
    if (std::isinf(d)) {
      out += d < 0 ? "-1e99999" : "1e99999";
      return;
    }
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    if (ec != std::errc{}) throw std::logic_error("to_chars failed on a double");
    std::string_view text(buf, static_cast<size_t>(end - buf));
    out += text;
    if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
  }

  static void write_json(std::string& out, const boost::json::value& v) {
    switch (v.kind()) {
      case boost::json::kind::null: out += "null"; break;
      case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
      case boost::json::kind::int64: fmt::format_to(std::back_inserter(out), "{}", v.get_int64()); break;
      case boost::json::kind::uint64: fmt::format_to(std::back_inserter(out), "{}", v.get_uint64()); break;
      case boost::json::kind::double_: write_double(out, v.get_double()); break;
      case boost::json::kind::string: write_json_string(out, v.get_string()); break;
      case boost::json::kind::array: {
        out.push_back('[');
        bool first = true;
        for (const boost::json::value& e : v.get_array()) {
          if (!first) out.push_back(',');
          first = false;
          write_json(out, e);
        }
        out.push_back(']');
        break;
      }
      case boost::json::kind::object: {
        out.push_back('{');
        bool first = true;
        for (const auto& kv : v.get_object()) {
          if (!first) out.push_back(',');
          first = false;
          write_json_string(out, kv.key());
          out.push_back(':');
          write_json(out, kv.value());
        }
        out.push_back('}');
        break;
      }
    }
  }

  std::string out_;
  std::string scratch_;
};

template <typename Entry>
void check_key(Key map_key, const Entry& entry, const char* what) {
  if (entry.key != map_key) {
    throw std::logic_error(fmt::format("{} stored under key {} carries key {}", what, map_key, entry.key));
  }
}

void write_variables(Writer& w, const Variables& vars) {
  w.u64(vars.size());
  for (const auto& [name, value] : vars) {
    w.str(name);
    w.json(value);
  }
}

// ---------------------------------------------------------------------------
// Reading.

// Builds a boost::json::value like boost::json::parse(), but converts doubles
// from their text with std::from_chars, which rounds correctly (Boost 1.81's
// own conversion does not always).
struct JsonHandler {
  static constexpr std::size_t max_object_size = boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size = boost::json::string::max_size();

  boost::json::value_stack st;
  std::string number;  // the parts of a number split across buffers

  // basic_parser constructs its handler from the arguments after the options.
  explicit JsonHandler(boost::json::storage_ptr sp) : st(std::move(sp)) {}

  using ec_t = boost::json::error_code;
  using sv = boost::json::string_view;

  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_object_begin(ec_t&) { return true; }
  bool on_object_end(std::size_t n, ec_t&) { st.push_object(n); return true; }
  bool on_array_begin(ec_t&) { return true; }
  bool on_array_end(std::size_t n, ec_t&) { st.push_array(n); return true; }
  bool on_key_part(sv s, std::size_t, ec_t&) { st.push_chars(s); return true; }
  bool on_key(sv s, std::size_t, ec_t&) { st.push_key(s); return true; }
  bool on_string_part(sv s, std::size_t, ec_t&) { st.push_chars(s); return true; }
  bool on_string(sv s, std::size_t, ec_t&) { st.push_string(s); return true; }
  bool on_number_part(sv s, ec_t&) { number.append(s.data(), s.size()); return true; }
  bool on_int64(int64_t i, sv, ec_t&) { number.clear(); st.push_int64(i); return true; }
  bool on_uint64(uint64_t u, sv, ec_t&) { number.clear(); st.push_uint64(u); return true; }
  bool on_double(double d, sv s, ec_t&) {
    number.append(s.data(), s.size());
    double exact = 0;
    const char* first = number.data();
    const char* last = first + number.size();
    auto [ptr, ec] = std::from_chars(first, last, exact);
    // Out of range: the parser's own value is right in kind (infinity or zero).
    if (ec == std::errc{} && ptr == last) d = exact;
    number.clear();
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, ec_t&) { st.push_bool(b); return true; }
  bool on_null(ec_t&) { st.push_null(); return true; }
  bool on_comment_part(sv, ec_t&) { return true; }
  bool on_comment(sv, ec_t&) { return true; }
};

// A cursor over hostile bytes. The first failure sticks: later reads return
// zero values and empty strings, loops check ok() and stop, and decode()
// reports the first problem only.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool ok() const { return !error_; }
  const std::string& error() const { return message_; }
  size_t remaining() const { return in_.size() - pos_; }
  size_t position() const { return pos_; }

  void fail(std::string_view what, std::string_view problem) {
    if (error_) return;
    error_ = true;
    message_ = fmt::format("the instance state is corrupt: {} at byte {} ({})", problem, pos_, what);
    pos_ = in_.size();
  }

  uint8_t byte(std::string_view what) {
    if (!ok()) return 0;
    if (remaining() < 1) {
      fail(what, "the input ends early");
      return 0;
    }
    return static_cast<uint8_t>(in_[pos_++]);
  }

  std::string_view raw(size_t n, std::string_view what) {
    if (!ok()) return {};
    if (remaining() < n) {
      fail(what, "the input ends early");
      return {};
    }
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }

  uint64_t u64(std::string_view what) {
    uint64_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
      if (!ok()) return 0;
      const size_t at = pos_;
      const uint8_t b = byte(what);
      if (!ok()) return 0;
      // The tenth byte holds bit 63 only; anything more does not fit 64 bits.
      if (shift == 63 && b > 1) {
        pos_ = at;
        fail(what, "a varint overflows 64 bits");
        return 0;
      }
      v |= uint64_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) {
        // A final zero byte after others is an overlong encoding; refusing it
        // keeps one state to one byte string.
        if (b == 0 && shift > 0) {
          pos_ = at;
          fail(what, "a varint has a redundant trailing zero byte");
          return 0;
        }
        return v;
      }
    }
  }

  int64_t i64(std::string_view what) {
    const uint64_t z = u64(what);
    return static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
  }

  int32_t i32(std::string_view what) {
    const size_t at = pos_;
    const int64_t v = i64(what);
    if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
      pos_ = at;
      fail(what, fmt::format("{} does not fit 32 bits", v));
      return 0;
    }
    return static_cast<int32_t>(v);
  }

  bool boolean(std::string_view what) {
    const size_t at = pos_;
    const uint8_t b = byte(what);
    if (b > 1) {
      pos_ = at;
      fail(what, fmt::format("a flag is {}, not 0 or 1", b));
      return false;
    }
    return b == 1;
  }

  model::Index index(std::string_view what) {
    const size_t at = pos_;
    const uint64_t v = u64(what);
    if (v == 0) return model::kNoIndex;
    if (v > model::kNoIndex) {  // v - 1 must be a real index, below kNoIndex
      pos_ = at;
      fail(what, fmt::format("element index {} is out of range", v - 1));
      return model::kNoIndex;
    }
    return static_cast<model::Index>(v - 1);
  }

  // A count of entries that each take at least one byte: a count larger than
  // the remaining input is corrupt, which also bounds every allocation.
  size_t count(std::string_view what) {
    const size_t at = pos_;
    const uint64_t n = u64(what);
    if (n > remaining()) {
      const size_t left = remaining();
      pos_ = at;
      fail(what, fmt::format("a count of {} exceeds the {} bytes left", n, left));
      return 0;
    }
    return static_cast<size_t>(n);
  }

  std::string_view str_view(std::string_view what) {
    const size_t at = pos_;
    const uint64_t n = u64(what);
    if (n > remaining()) {
      const size_t left = remaining();
      pos_ = at;
      fail(what, fmt::format("a length of {} exceeds the {} bytes left", n, left));
      return {};
    }
    return raw(static_cast<size_t>(n), what);
  }
  std::string str(std::string_view what) { return std::string(str_view(what)); }

  template <typename E>
  E enumeration(std::string_view what, uint64_t low, uint64_t high) {
    const size_t at = pos_;
    const uint64_t v = u64(what);
    if (ok() && (v < low || v > high)) {
      pos_ = at;
      fail(what, fmt::format("code {} is not a known value", v));
      return E{};
    }
    return static_cast<E>(v);
  }

  boost::json::value json(std::string_view what) {
    const size_t at = pos_;
    const std::string_view text = str_view(what);
    if (!ok()) return nullptr;
    boost::json::parse_options opts;
    opts.max_depth = kMaxJsonDepth;
    opts.allow_invalid_utf8 = true;  // strings hold whatever bytes the engine stored
    boost::json::basic_parser<JsonHandler> parser(opts, boost::json::storage_ptr());
    parser.handler().st.reset();
    boost::json::error_code ec;
    const size_t used = parser.write_some(false, text.data(), text.size(), ec);
    if (!ec && (!parser.done() || used != text.size())) ec = boost::json::error::extra_data;
    if (ec) {
      pos_ = at;
      fail(what, fmt::format("a JSON value is invalid: {}", ec.message()));
      return nullptr;
    }
    return parser.handler().st.release();
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  bool error_ = false;
  std::string message_;
};

// Reads a key and checks that keys come in strictly increasing order, as
// encode() writes them: this refuses duplicates and keeps one state to one
// byte string.
class KeyOrder {
 public:
  template <typename K>
  bool next(Reader& r, const K& key, std::string_view what) {
    if (have_ && !(last_ < key)) {
      r.fail(what, "keys are out of order or repeated");
      return false;
    }
    have_ = true;
    last_ = key;
    return true;
  }

 private:
  bool have_ = false;
  Key last_ = 0;
};

Variables read_variables(Reader& r, std::string_view what) {
  Variables vars;
  const size_t n = r.count(what);
  std::string previous;
  for (size_t i = 0; i < n && r.ok(); ++i) {
    std::string name = r.str(what);
    if (!r.ok()) break;
    if (i > 0 && !(previous < name)) {
      r.fail(what, "variable names are out of order or repeated");
      break;
    }
    boost::json::value value = r.json(what);
    if (!r.ok()) break;
    previous = name;
    vars.emplace_hint(vars.end(), std::move(name), std::move(value));
  }
  return vars;
}

// Reads a map written as: count, then per entry the key and the entry's other
// fields (read by `body`).
template <typename T, typename Body>
void read_map(Reader& r, std::map<Key, T>& map, std::string_view what, Body body) {
  const size_t n = r.count(what);
  KeyOrder order;
  for (size_t i = 0; i < n && r.ok(); ++i) {
    T entry;
    entry.key = r.u64(what);
    if (!r.ok() || !order.next(r, entry.key, what)) break;
    body(entry);
    if (!r.ok()) break;
    map.emplace_hint(map.end(), entry.key, std::move(entry));
  }
}

// Format version 1. Never change this function once released: add a
// decode_vN next to it instead, so blobs written by older builds keep loading.
InstanceState decode_v1(Reader& r) {
  InstanceState s;
  s.process_id = r.str("process_id");
  s.status = r.enumeration<InstanceStatus>("status", 1, 3);
  s.next_key = r.u64("next_key");
  s.root = r.u64("root");

  read_map(r, s.elements, "elements", [&](ElementInstance& e) {
    e.element = r.index("elements.element");
    e.scope = r.u64("elements.scope");
    e.state = r.enumeration<ElementState>("elements.state", 1, 3);
    e.entered_by = r.index("elements.entered_by");
    e.variables = read_variables(r, "elements.variables");
    e.incident = r.u64("elements.incident");
    const uint8_t flags = r.byte("elements.flags");
    if (flags > 3) r.fail("elements.flags", fmt::format("unknown flags {}", flags));
    e.is_mi_body = (flags & 1) != 0;
    e.interrupted = (flags & 2) != 0;
    e.loop_counter = r.i64("elements.loop_counter");
    e.mi_total = r.i64("elements.mi_total");
    e.mi_completed = r.i64("elements.mi_completed");
    e.mi_active = r.i64("elements.mi_active");
  });
  read_map(r, s.jobs, "jobs", [&](Job& j) {
    j.element_instance = r.u64("jobs.element_instance");
    j.type = r.str("jobs.type");
    j.retries = r.i32("jobs.retries");
    j.last_error = r.str("jobs.last_error");
    j.failed = r.boolean("jobs.failed");
  });
  read_map(r, s.user_tasks, "user_tasks", [&](UserTask& t) {
    t.element_instance = r.u64("user_tasks.element_instance");
  });
  read_map(r, s.timers, "timers", [&](Timer& t) {
    t.element_instance = r.u64("timers.element_instance");
    t.element = r.index("timers.element");
    t.due_at = r.i64("timers.due_at");
    t.repetitions_left = r.i64("timers.repetitions_left");
    t.interval_ms = r.i64("timers.interval_ms");
  });
  read_map(r, s.message_subscriptions, "message_subscriptions", [&](MessageSubscription& m) {
    m.element_instance = r.u64("message_subscriptions.element_instance");
    m.element = r.index("message_subscriptions.element");
    m.name = r.str("message_subscriptions.name");
    m.correlation_key = r.str("message_subscriptions.correlation_key");
  });
  read_map(r, s.signal_subscriptions, "signal_subscriptions", [&](SignalSubscription& m) {
    m.element_instance = r.u64("signal_subscriptions.element_instance");
    m.element = r.index("signal_subscriptions.element");
    m.name = r.str("signal_subscriptions.name");
  });
  read_map(r, s.incidents, "incidents", [&](Incident& i) {
    i.element_instance = r.u64("incidents.element_instance");
    i.kind = r.enumeration<IncidentKind>("incidents.kind", 1, 6);
    i.message = r.str("incidents.message");
    i.job = r.u64("incidents.job");
  });

  const size_t joins = r.count("joins");
  s.joins.reserve(joins);  // bounded by the input's size (count() checks)
  for (size_t i = 0; i < joins && r.ok(); ++i) {
    JoinState j;
    j.scope = r.u64("joins.scope");
    j.gateway = r.index("joins.gateway");
    const size_t arrived = r.count("joins.arrived");
    j.arrived.reserve(arrived);
    for (size_t k = 0; k < arrived && r.ok(); ++k) {
      const uint64_t v = r.u64("joins.arrived");
      if (v > std::numeric_limits<uint32_t>::max()) r.fail("joins.arrived", "a token count does not fit 32 bits");
      j.arrived.push_back(static_cast<uint32_t>(v));
    }
    if (!r.ok()) break;
    s.joins.push_back(std::move(j));
  }
  return s;
}

// Format version 2: version 1's layout, then the sections version 2 added
// (compensation fields of element instances, conditional subscriptions,
// compensable activities). Never change this function once released either.
InstanceState decode_v2(Reader& r) {
  InstanceState s = decode_v1(r);
  if (!r.ok()) return s;
  s.parent_element = r.u64("parent_element");
  const size_t extended = r.count("element_extensions");
  KeyOrder order;
  for (size_t i = 0; i < extended && r.ok(); ++i) {
    const Key key = r.u64("element_extensions.key");
    if (!r.ok() || !order.next(r, key, "element_extensions")) break;
    auto it = s.elements.find(key);
    if (it == s.elements.end()) {
      r.fail("element_extensions.key", fmt::format("element instance {} does not exist", key));
      break;
    }
    it->second.compensation_thrower = r.u64("element_extensions.compensation_thrower");
    const size_t pending = r.count("element_extensions.pending_compensation");
    for (size_t k = 0; k < pending && r.ok(); ++k) {
      it->second.pending_compensation.push_back(r.index("element_extensions.pending_compensation"));
    }
  }
  read_map(r, s.conditional_subscriptions, "conditional_subscriptions", [&](ConditionalSubscription& c) {
    c.element_instance = r.u64("conditional_subscriptions.element_instance");
    c.element = r.index("conditional_subscriptions.element");
    c.last_value = r.boolean("conditional_subscriptions.last_value");
  });
  read_map(r, s.compensable, "compensable", [&](CompensableActivity& c) {
    c.scope = r.u64("compensable.scope");
    c.element = r.index("compensable.element");
  });
  return s;
}

// Format version 3: version 2's layout, then the SLA clocks. Never change
// this function once released either.
InstanceState decode_v3(Reader& r) {
  InstanceState s = decode_v2(r);
  if (!r.ok()) return s;
  read_map(r, s.sla_clocks, "sla_clocks", [&](SlaClock& c) {
    c.element_instance = r.u64("sla_clocks.element_instance");
    c.element = r.index("sla_clocks.element");
    c.task = r.u64("sla_clocks.task");
    c.started_at = r.i64("sla_clocks.started_at");
    c.due_at = r.i64("sla_clocks.due_at");
    c.remind_at = r.i64("sla_clocks.remind_at");
    c.next_level_at = r.i64("sla_clocks.next_level_at");
    c.breach_at = r.i64("sla_clocks.breach_at");
    c.paused_at = r.i64("sla_clocks.paused_at");
    c.state = r.enumeration<SlaState>("sla_clocks.state", 0, 4);
    c.due_passed = r.boolean("sla_clocks.due_passed");
    c.working_days = r.boolean("sla_clocks.working_days");
    c.level = r.i32("sla_clocks.level");
    c.region = r.str("sla_clocks.region");
    c.escalated_to = r.str("sla_clocks.escalated_to");
    c.timer = r.u64("sla_clocks.timer");
  });
  return s;
}

// Format version 4: version 3's layout, then the cron cycles of timers. Never
// change this function once released either.
InstanceState decode_v4(Reader& r) {
  InstanceState s = decode_v3(r);
  if (!r.ok()) return s;
  const size_t crons = r.count("timer_crons");
  KeyOrder order;
  for (size_t i = 0; i < crons && r.ok(); ++i) {
    const Key key = r.u64("timer_crons.key");
    if (!r.ok() || !order.next(r, key, "timer_crons")) break;
    auto it = s.timers.find(key);
    if (it == s.timers.end()) {
      r.fail("timer_crons.key", fmt::format("timer {} does not exist", key));
      break;
    }
    it->second.cron = r.str("timer_crons.cron");
    if (r.ok() && it->second.cron.empty()) r.fail("timer_crons.cron", "a timer's cron cycle is empty");
  }
  return s;
}

// Format version 5: version 4's layout, then the SLA clocks waiting for an
// incident to compute a stage again. Never change this function once
// released either.
InstanceState decode_v5(Reader& r) {
  InstanceState s = decode_v4(r);
  if (!r.ok()) return s;
  const size_t retries = r.count("sla_retries");
  KeyOrder order;
  for (size_t i = 0; i < retries && r.ok(); ++i) {
    const Key key = r.u64("sla_retries.key");
    if (!r.ok() || !order.next(r, key, "sla_retries")) break;
    auto it = s.sla_clocks.find(key);
    if (it == s.sla_clocks.end()) {
      r.fail("sla_retries.key", fmt::format("SLA clock {} does not exist", key));
      break;
    }
    SlaClock& c = it->second;
    c.retry = r.enumeration<SlaRetry>("sla_retries.retry", 1, 2);
    c.incident = r.u64("sla_retries.incident");
    c.retry_from = r.i64("sla_retries.retry_from");
    if (r.ok() && !s.incidents.count(c.incident)) {
      r.fail("sla_retries.incident", fmt::format("incident {} does not exist", c.incident));
    }
  }
  return s;
}

Error corrupt(std::string message) { return Error{"corrupt-state", std::move(message)}; }

}  // namespace

std::string encode(const InstanceState& s) {
  Writer w;
  w.raw(kStateMagic);
  w.u64(InstanceState::kFormatVersion);
  w.str(s.process_id);
  w.u64(static_cast<uint64_t>(s.status));
  w.u64(s.next_key);
  w.u64(s.root);

  w.u64(s.elements.size());
  for (const auto& [key, e] : s.elements) {
    check_key(key, e, "element instance");
    w.u64(key);
    w.index(e.element);
    w.u64(e.scope);
    w.u64(static_cast<uint64_t>(e.state));
    w.index(e.entered_by);
    write_variables(w, e.variables);
    w.u64(e.incident);
    w.byte(static_cast<uint8_t>((e.is_mi_body ? 1 : 0) | (e.interrupted ? 2 : 0)));
    w.i64(e.loop_counter);
    w.i64(e.mi_total);
    w.i64(e.mi_completed);
    w.i64(e.mi_active);
  }
  w.u64(s.jobs.size());
  for (const auto& [key, j] : s.jobs) {
    check_key(key, j, "job");
    w.u64(key);
    w.u64(j.element_instance);
    w.str(j.type);
    w.i64(j.retries);
    w.str(j.last_error);
    w.boolean(j.failed);
  }
  w.u64(s.user_tasks.size());
  for (const auto& [key, t] : s.user_tasks) {
    check_key(key, t, "user task");
    w.u64(key);
    w.u64(t.element_instance);
  }
  w.u64(s.timers.size());
  for (const auto& [key, t] : s.timers) {
    check_key(key, t, "timer");
    w.u64(key);
    w.u64(t.element_instance);
    w.index(t.element);
    w.i64(t.due_at);
    w.i64(t.repetitions_left);
    w.i64(t.interval_ms);
  }
  w.u64(s.message_subscriptions.size());
  for (const auto& [key, m] : s.message_subscriptions) {
    check_key(key, m, "message subscription");
    w.u64(key);
    w.u64(m.element_instance);
    w.index(m.element);
    w.str(m.name);
    w.str(m.correlation_key);
  }
  w.u64(s.signal_subscriptions.size());
  for (const auto& [key, m] : s.signal_subscriptions) {
    check_key(key, m, "signal subscription");
    w.u64(key);
    w.u64(m.element_instance);
    w.index(m.element);
    w.str(m.name);
  }
  w.u64(s.incidents.size());
  for (const auto& [key, i] : s.incidents) {
    check_key(key, i, "incident");
    w.u64(key);
    w.u64(i.element_instance);
    w.u64(static_cast<uint64_t>(i.kind));
    w.str(i.message);
    w.u64(i.job);
  }
  w.u64(s.joins.size());
  for (const JoinState& j : s.joins) {
    w.u64(j.scope);
    w.index(j.gateway);
    w.u64(j.arrived.size());
    for (uint32_t n : j.arrived) w.u64(n);
  }
  // Version 2 sections.
  w.u64(s.parent_element);
  size_t extended = 0;
  for (const auto& [key, e] : s.elements) extended += e.compensation_thrower != 0 || !e.pending_compensation.empty();
  w.u64(extended);
  for (const auto& [key, e] : s.elements) {
    if (e.compensation_thrower == 0 && e.pending_compensation.empty()) continue;
    w.u64(key);
    w.u64(e.compensation_thrower);
    w.u64(e.pending_compensation.size());
    for (model::Index i : e.pending_compensation) w.index(i);
  }
  w.u64(s.conditional_subscriptions.size());
  for (const auto& [key, c] : s.conditional_subscriptions) {
    check_key(key, c, "conditional subscription");
    w.u64(key);
    w.u64(c.element_instance);
    w.index(c.element);
    w.boolean(c.last_value);
  }
  w.u64(s.compensable.size());
  for (const auto& [key, c] : s.compensable) {
    check_key(key, c, "compensable activity");
    w.u64(key);
    w.u64(c.scope);
    w.index(c.element);
  }
  // Version 3 sections.
  w.u64(s.sla_clocks.size());
  for (const auto& [key, c] : s.sla_clocks) {
    check_key(key, c, "SLA clock");
    w.u64(key);
    w.u64(c.element_instance);
    w.index(c.element);
    w.u64(c.task);
    w.i64(c.started_at);
    w.i64(c.due_at);
    w.i64(c.remind_at);
    w.i64(c.next_level_at);
    w.i64(c.breach_at);
    w.i64(c.paused_at);
    w.u64(static_cast<uint64_t>(c.state));
    w.boolean(c.due_passed);
    w.boolean(c.working_days);
    w.i64(c.level);
    w.str(c.region);
    w.str(c.escalated_to);
    w.u64(c.timer);
  }
  // Version 4: the timers with a cron cycle.
  w.u64(static_cast<uint64_t>(
      std::count_if(s.timers.begin(), s.timers.end(), [](const auto& entry) { return !entry.second.cron.empty(); })));
  for (const auto& [key, t] : s.timers) {
    if (t.cron.empty()) continue;
    w.u64(key);
    w.str(t.cron);
  }
  // Version 5: the SLA clocks waiting for an incident.
  w.u64(static_cast<uint64_t>(std::count_if(s.sla_clocks.begin(), s.sla_clocks.end(), [](const auto& entry) {
    return entry.second.retry != SlaRetry::kNone;
  })));
  for (const auto& [key, c] : s.sla_clocks) {
    if (c.retry == SlaRetry::kNone) continue;
    w.u64(key);
    w.u64(static_cast<uint64_t>(c.retry));
    w.u64(c.incident);
    w.i64(c.retry_from);
  }
  return w.take();
}

Result<InstanceState> decode(std::string_view bytes) {
  if (bytes.size() < kStateMagic.size()) {
    return corrupt(fmt::format("the instance state is corrupt: {} bytes is too short for the header", bytes.size()));
  }
  if (bytes.substr(0, 3) != kStateMagic.substr(0, 3)) {
    return corrupt("the instance state is corrupt: the input does not start with the magic \"BSI\"");
  }
  if (bytes[3] != kStateMagic[3]) {
    return Error{"unsupported-state-version",
                 fmt::format("the instance state uses encoding {}, which this build cannot read; it reads encoding {}",
                             static_cast<unsigned>(static_cast<uint8_t>(bytes[3])),
                             static_cast<unsigned>(static_cast<uint8_t>(kStateMagic[3])))};
  }
  Reader r(bytes);
  (void)r.raw(kStateMagic.size(), "magic");
  const uint64_t version = r.u64("version");
  if (!r.ok()) return corrupt(r.error());

  InstanceState state;
  switch (version) {
    case 1: state = decode_v1(r); break;
    case 2: state = decode_v2(r); break;
    case 3: state = decode_v3(r); break;
    case 4: state = decode_v4(r); break;
    case 5: state = decode_v5(r); break;
    default:
      return Error{"unsupported-state-version",
                   fmt::format("the instance state has format version {}, which this build cannot read; it reads "
                               "versions 1 to {}",
                               version, InstanceState::kFormatVersion)};
  }
  if (r.ok() && r.remaining() != 0) {
    r.fail("end", fmt::format("{} bytes follow the state", r.remaining()));
  }
  if (!r.ok()) return corrupt(r.error());
  return state;
}

}  // namespace banshi::core
