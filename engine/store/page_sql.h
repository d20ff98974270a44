// store/page_sql.h — the SQL of a page of tasks or of instances, shared by
// the SQLite and PostgreSQL stores. The conditions, order, limit and offset
// are built once here from fixed fragments, every value bound to a `?`; each
// store passes the few parts its dialect writes its own way.
//
// Internal to the stores. Pure functions: thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "store/store.h"
#include "store/task_sets.h"

namespace banshi::store {

// A JSON array of the strings, bound as one value where the SQL expands a
// list (json_each() on SQLite, jsonb_array_elements_text() on PostgreSQL): a
// list filter keeps one statement shape whatever its length.
std::string json_list(const std::vector<std::string>& values);

// How a store writes the parts of a task page's SQL that its dialect writes
// its own way; the rest of the page's SQL is the same in both stores.
struct TaskPageDialect {
  StartsWith starts_with;
  // The task's region as prefix conditions name it.
  const char* region_column;
  // "A candidate group is in the JSON list bound here"; "the candidate user
  // is the one bound here": conditions on the task row `t`.
  const char* group_in_list;
  const char* user_is;
  // "Offered to the caller" (to `user` or a group of `department`; only to
  // the department's groups when groups_only), appending its bindings.
  std::function<std::string(bool groups_only, const std::string& user, const std::string& department,
                            std::vector<Binding>& bindings)>
      offered;
  // The placeholder of a 0/1 flag used as a condition, and a condition that
  // always holds.
  const char* flag;
  const char* always;
};

// The SQL of the task page q asks for: `columns` ("SELECT ... FROM
// user_tasks t "), its conditions, order, limit (at most max_page) and
// offset, with `?` placeholders whose values are appended to `bindings`.
std::string task_page_sql(const std::string& columns, const TaskQuery& q, const TaskPageDialect& dialect,
                          size_t max_page, std::vector<Binding>& bindings);

// How a store writes the parts of an instance page's SQL that differ.
struct InstancePageDialect {
  // "applicant_name starts with the name bound here", appending its bindings.
  std::function<std::string(const std::string& name, std::vector<Binding>& bindings)> name_starts_with;
  // "region starts with one of the prefixes in the JSON list bound here".
  const char* region_in_list;
};

// The SQL of the instance page q asks for: `columns` ("SELECT ... FROM
// instances "), its conditions, newest first, limit (at most max_page) and
// offset; the values are appended to `bindings`.
std::string instance_page_sql(const std::string& columns, const InstanceQuery& q, const InstancePageDialect& dialect,
                              size_t max_page, std::vector<Binding>& bindings);

// The SQL of the incident page q asks for: `columns` ("SELECT ... FROM
// incidents n "), its conditions (the region is the instance's, written
// with `region_in_list` as for instances), oldest first, limit (at most
// max_page) and offset. With max_page 0: the conditions alone, for a count.
std::string incident_page_sql(const std::string& columns, const IncidentQuery& q, const char* region_in_list,
                              size_t max_page, std::vector<Binding>& bindings);

}  // namespace banshi::store
