// api/task_json.h — a user task as the API shows it (GET /api/v1/tasks,
// /api/v1/tasks/{id}; docs/api/openapi.yaml, Task).
//
// Two writers of the same JSON: task_json() builds a Boost.JSON object (for
// routes that add to it), append_task_json() writes the text straight into
// a buffer, which is what a page of 50 tasks needs: no object per task, and
// the stored payload copied rather than parsed into values and serialised
// again. Both give the same members in the same order; the stored payload is
// copied only when it is well-formed JSON, and is otherwise shown as a JSON
// string (as task_json does), so a damaged row cannot break a response.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "expr/json_text.h"
#include "store/store.h"

namespace banshi::api {

// core::SlaState code -> its name in the API ("on_time", ...; "unknown").
std::string_view sla_word(uint8_t sla);
// The code of a name, or -1.
int sla_code(std::string_view word);

boost::json::object task_json(const store::TaskRecord& t, boost::json::storage_ptr sp = {});
void append_task_json(std::string& out, const store::TaskRecord& t);

// A stored JSON text as a value; a text that does not parse is kept as a string.
boost::json::value stored_json(const std::string& text, boost::json::storage_ptr sp = {});
boost::json::array string_array(const std::vector<std::string>& v, boost::json::storage_ptr sp = {});

// Appends `s` as a JSON string (expr/json_text.h).
using expr::append_json_string;
// Whether `text` is one well-formed JSON value (checked without building it).
bool is_json_text(std::string_view text);

}  // namespace banshi::api
