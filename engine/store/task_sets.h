// store/task_sets.h — the "small set" plan of a task page, shared by the
// SQLite and PostgreSQL stores (the page's own SQL is in store/page_sql.h).
//
// A task page is read in one of two ways. When the caller may see many of
// the open tasks, the store walks them in page order and stops after a page.
// When they may see few (a clerk of a small department, a monitor of one
// district), that walk would read every open task to find them; instead the
// store reads a small superset of the answer through an index (the tasks
// offered to the caller, or those of some regions), sorts it and filters it
// with the full conditions. small_task_set() picks that superset when one is
// small, counting each candidate set through its index no further than
// kSmallTaskSet rows. Counts are kept for a second (TaskSetSizes): a stale
// count changes only how a page is read, never what it holds.
//
// Internal to the stores. Thread-safe: TaskSetSizes has its own mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "banshi/result.h"
#include "store/store.h"

namespace banshi::store {

// A value bound to one placeholder (`?`) of store SQL.
using Binding = std::variant<int64_t, std::string>;

// Below this many rows a set of tasks is read whole and sorted.
constexpr int64_t kSmallTaskSet = 500;

// A set of task ids that holds every task visible to a caller:
// `SELECT ... AS id ...` with its bindings, to join the task rows to.
struct DrivingSet {
  std::string sql;
  std::vector<Binding> bindings;
};

// A condition that holds when `column` starts with `prefix` (not empty) and
// that the column's index can serve; appends its bindings.
using StartsWith =
    std::function<std::string(const std::string& column, const std::string& prefix, std::vector<Binding>& bindings)>;

// "`column` starts with one of `prefixes`", each written by `starts_with`:
// FALSE for no prefix, TRUE when one is empty (the whole country).
std::string any_prefix(const StartsWith& starts_with, const std::string& column,
                       const std::vector<std::string>& prefixes, std::vector<Binding>& bindings);

// How a store counts and writes prefixes.
struct TaskSetDialect {
  // The rows `from_where` ("FROM ... WHERE ...") selects, counted no further
  // than kSmallTaskSet.
  std::function<Result<int64_t>(const std::string& from_where, const std::vector<Binding>& bindings)> count;
  StartsWith starts_with;
};

// Recent counts of task sets, by their SQL and bindings.
class TaskSetSizes {
 public:
  static constexpr auto kKeep = std::chrono::seconds(1);
  Result<int64_t> count(const TaskSetDialect& dialect, const std::string& from_where,
                        const std::vector<Binding>& bindings);

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::pair<int64_t, std::chrono::steady_clock::time_point>> counts_;
};

// The smallest superset of q's answer among the tasks offered to the caller
// (assigned to them, offered to them by name or to a group of their
// department), the tasks of their work regions, the tasks a monitor watches
// together with those offered, and the tasks of the regions asked for; none
// when every one of them is large or there is no such set.
Result<std::optional<DrivingSet>> small_task_set(const TaskSetDialect& dialect, TaskSetSizes& sizes,
                                                 const TaskQuery& q);

}  // namespace banshi::store
