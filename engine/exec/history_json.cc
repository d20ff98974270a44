#include "exec/history_json.h"

#include "expr/json_text.h"

#include <boost/json/serialize.hpp>
#include <fmt/format.h>


namespace banshi::exec {

std::string history_json(const core::ExecutableProcess& process, const std::vector<core::Record>& records) {
  std::string out;
  out.reserve(records.size() * 48);
  // fmt::format_int rather than format_to a back_inserter, which appends a
  // character at a time: this runs for every record of every batch.
  auto append_int = [&out](auto value) {
    fmt::format_int digits(value);
    out.append(digits.data(), digits.size());
  };
  auto number = [&out, &append_int](std::string_view name, auto value) {
    out += ",\"";
    out += name;
    out += "\":";
    append_int(value);
  };
  auto text = [&out](std::string_view name, std::string_view value) {
    out += ",\"";
    out += name;
    out += "\":";
    expr::append_json_string(out, value);
  };
  out += '[';
  for (size_t i = 0; i < records.size(); ++i) {
    const core::Record& r = records[i];
    if (i > 0) out += ',';
    out += "{\"k\":";
    append_int(static_cast<int>(r.kind));
    if (r.key != 0) number("key", r.key);
    if (r.element != model::kNoIndex) {
      text("el", r.kind == core::RecordKind::kSequenceFlowTaken ? process.flow(r.element).id
                                                                 : process.node(r.element).id);
    }
    if (r.scope != 0) number("scope", r.scope);
    if (r.due_at != 0) number("due", r.due_at);
    if (!r.name.empty()) text("n", r.name);
    if (!r.text.empty()) text("t", r.text);
    if (!r.payload.is_null()) {
      out += ",\"p\":";
      out += expr::json_text(r.payload);
    }
    out += '}';
  }
  out += ']';
  return out;
}

}  // namespace banshi::exec
