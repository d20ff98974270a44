#include "api/task_json.h"

#include <iterator>

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <fmt/format.h>

#include "api/mask.h"

namespace banshi::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kSlaWords[] = {"on_time", "due_soon", "escalated", "breached", "overdue"};

// A basic_parser handler that keeps nothing: the parser checks the syntax.
struct NullHandler {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t, json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

void append_strings(std::string& out, const std::vector<std::string>& v) {
  out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, v[i]);
  }
  out += ']';
}

}  // namespace

json::value stored_json(const std::string& text, json::storage_ptr sp) {
  if (text.empty()) return json::value(nullptr, sp);
  json::error_code ec;
  json::value v = json::parse(text, ec, sp);
  if (ec) return json::value(text, sp);
  return v;
}

json::array string_array(const std::vector<std::string>& v, json::storage_ptr sp) {
  json::array a(sp);
  a.reserve(v.size());
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

std::string_view sla_word(uint8_t sla) {
  return sla < std::size(kSlaWords) ? kSlaWords[sla] : std::string_view("unknown");
}

int sla_code(std::string_view word) {
  for (size_t i = 0; i < std::size(kSlaWords); ++i) {
    if (kSlaWords[i] == word) return static_cast<int>(i);
  }
  return -1;
}

bool is_json_text(std::string_view text) {
  json::basic_parser<NullHandler> parser{json::parse_options{}};
  json::error_code ec;
  size_t n = parser.write_some(false, text.data(), text.size(), ec);
  return !ec && n == text.size() && parser.done();
}

json::object task_json(const store::TaskRecord& t, json::storage_ptr sp) {
  json::object o(18, sp);
  o["id"] = t.id;
  o["instanceId"] = t.instance_id;
  o["processId"] = t.process_id;
  o["elementId"] = t.element_id;
  o["name"] = t.name;
  o["businessKey"] = mask_key(t.business_key);
  if (!t.assignee.empty()) o["assignee"] = t.assignee;
  o["candidateGroups"] = string_array(t.candidate_groups, sp);
  o["candidateUsers"] = string_array(t.candidate_users, sp);
  o["region"] = t.region;
  o["formKey"] = t.form_key;
  o["priority"] = t.priority;
  o["createdAt"] = t.created_at;
  if (t.due_at != 0) o["dueAt"] = t.due_at;
  if (t.follow_up_at != 0) o["followUpAt"] = t.follow_up_at;
  o["slaState"] = sla_word(t.sla_state);
  if (t.sla_paused_at != 0) o["slaPausedAt"] = t.sla_paused_at;
  o["payload"] = stored_json(t.payload, sp);
  return o;
}

void append_task_json(std::string& out, const store::TaskRecord& t) {
  // ,"key": then the value
  auto key = [&](std::string_view k) {
    out += ",\"";
    out += k;
    out += "\":";
  };
  auto text = [&](std::string_view k, std::string_view v) {
    key(k);
    append_json_string(out, v);
  };
  fmt::format_to(std::back_inserter(out), "{{\"id\":{},\"instanceId\":{}", t.id, t.instance_id);
  text("processId", t.process_id);
  text("elementId", t.element_id);
  text("name", t.name);
  text("businessKey", mask_key(t.business_key));
  if (!t.assignee.empty()) text("assignee", t.assignee);
  key("candidateGroups");
  append_strings(out, t.candidate_groups);
  key("candidateUsers");
  append_strings(out, t.candidate_users);
  text("region", t.region);
  text("formKey", t.form_key);
  fmt::format_to(std::back_inserter(out), ",\"priority\":{},\"createdAt\":{}", t.priority, t.created_at);
  if (t.due_at != 0) fmt::format_to(std::back_inserter(out), ",\"dueAt\":{}", t.due_at);
  if (t.follow_up_at != 0) fmt::format_to(std::back_inserter(out), ",\"followUpAt\":{}", t.follow_up_at);
  text("slaState", sla_word(t.sla_state));
  if (t.sla_paused_at != 0) fmt::format_to(std::back_inserter(out), ",\"slaPausedAt\":{}", t.sla_paused_at);
  key("payload");
  if (t.payload.empty()) {
    out += "null";
  } else if (is_json_text(t.payload)) {
    out += t.payload;
  } else {
    append_json_string(out, t.payload);
  }
  out += '}';
}

}  // namespace banshi::api
