#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <variant>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include "store/audit_chain.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/wal_buffer.h"
#include "store/page_sql.h"
#include "store/rows.h"
#include "store/task_sets.h"

// Returns the Error of a failed Result<...> from the enclosing function.
#define BANSHI_STORE_TRY(expr)              \
  do {                                      \
    auto try_result_ = (expr);              \
    if (!try_result_.ok()) return try_result_.error(); \
  } while (false)

namespace banshi::store::sqlite {
namespace {

constexpr size_t kMaxPageSize = 1000;
// Frames in the log that start a checkpoint (SQLite's own default).
constexpr int kCheckpointFrames = 1000;
constexpr int64_t kCandidateGroup = 1;
constexpr int64_t kCandidateUser = 2;

using rows::as_int;
using rows::as_key;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error conflict(std::string message) { return Error{"conflict", std::move(message)}; }

template <typename T, typename Row>
Result<std::vector<T>> collect(Statement& stmt, Row row, std::string_view what) {
  std::vector<T> out;
  int rc = 0;
  while ((rc = stmt.step()) == SQLITE_ROW) out.push_back(row(stmt));
  if (rc != SQLITE_DONE) return store_error(stmt.db(), what);
  return out;
}

template <typename T, typename Row>
Result<std::optional<T>> first(Statement& stmt, Row row, std::string_view what) {
  int rc = stmt.step();
  if (rc == SQLITE_ROW) return std::optional<T>(row(stmt));
  if (rc != SQLITE_DONE) return store_error(stmt.db(), what);
  return std::optional<T>();
}

// --- rows -----------------------------------------------------------------

constexpr const char* kDefinitionColumns =
    "SELECT key, process_id, version, name, resource, xml, checksum, deployed_at, deployed_by FROM definitions ";

DefinitionRecord read_definition(const Statement& s) { return rows::definition(s); }

constexpr const char* kInstanceColumns =
    "SELECT id, definition_key, process_id, definition_version, business_key, status, version, state, started_at, "
    "ended_at, parent_id, parent_element, applicant_id, applicant_name, region FROM instances ";
// The same shape without the state blob, for listings.
constexpr const char* kInstanceSummaryColumns =
    "SELECT id, definition_key, process_id, definition_version, business_key, status, version, X'', started_at, "
    "ended_at, parent_id, parent_element, applicant_id, applicant_name, region FROM instances ";

InstanceRecord read_instance(const Statement& s) { return rows::instance(s); }

constexpr const char* kTaskColumns =
    "SELECT t.id, t.instance_id, t.key, t.process_id, t.element_id, t.name, t.business_key, t.assignee, t.region, "
    "t.form_key, t.priority, t.created_at, t.due_at, t.follow_up_at, t.sla_state, t.payload, t.escalation_level, "
    "t.escalated_to, t.escalated_region, t.department, t.sla_paused_at FROM user_tasks t ";

TaskRecord read_task(const Statement& s) { return rows::task(s); }

constexpr const char* kJobColumns =
    "SELECT id, instance_id, key, type, element_id, retries, due_at, lease_owner, lease_until, idempotency_key, "
    "last_error, state, payload FROM jobs ";

JobRecord read_job(const Statement& s) { return rows::job(s); }

TimerRecord read_timer(const Statement& s) { return rows::timer(s); }

SubscriptionRecord read_subscription(const Statement& s) { return rows::subscription(s); }

MessageRecord read_message(const Statement& s) { return rows::message(s); }

constexpr const char* kIncidentColumns =
    "SELECT id, instance_id, key, process_id, element_id, kind, message, job_key, created_at FROM incidents ";

IncidentRecord read_incident(const Statement& s) { return rows::incident(s); }

// --- schema ---------------------------------------------------------------

constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL, description TEXT NOT NULL)";

Result<int> read_schema_version(Connection& c) {
  auto exists = c.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
  if (!exists.ok()) return exists.error();
  if (exists->step() != SQLITE_ROW) return store_error(c.db(), "cannot read the schema version");
  if (exists->int64(0) == 0) return 0;
  auto max = c.prepare("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!max.ok()) return max.error();
  if (max->step() != SQLITE_ROW) return store_error(c.db(), "cannot read the schema version");
  return static_cast<int>(max->int64(0));
}

int latest_version() { return migrations().empty() ? 0 : migrations().back().version; }

Error too_new(int present) {
  return Error{"store", fmt::format("the database schema is version {}; this build knows up to {}", present,
                                    latest_version())};
}

// --- batch parts ----------------------------------------------------------

// The text of an INSERT of 1 to kRowsPerInsert rows: `head` followed by
// `row` (its values, with `?` placeholders) that many times. A statement
// of several rows costs SQLite its set-up (the program, a cursor on the
// table and on each index) once: a small row goes in in half to two thirds
// of the time.
constexpr size_t kRowsPerInsert = 16;
class MultiRowInsert {
 public:
  MultiRowInsert(const char* head, const char* row) {
    std::string text = head;
    for (size_t n = 1; n <= kRowsPerInsert; ++n) {
      text += n == 1 ? " VALUES " : ", ";
      text += row;
      texts_[n] = text;
    }
  }
  // Stable for the process's life, so the statement cache finds it by address.
  const char* rows(size_t n) const { return texts_[n].c_str(); }

 private:
  std::array<std::string, kRowsPerInsert + 1> texts_;
};

// Inserts `rows` by `sql`, kRowsPerInsert a statement: `bind(st, index, row)`
// binds one row's values after `index`, which it moves on. A failed
// statement is named by `what(row)` of its first row (formatted only then),
// with how many rows came after it in the same statement; one whose
// primary key is taken fails as a conflict named by `duplicate(row)`, when
// that is given.
template <typename Row, typename Bind, typename What, typename Duplicate = std::nullptr_t>
Result<void> insert_rows(Connection& c, const MultiRowInsert& sql, const std::vector<Row>& rows, Bind bind, What what,
                         Duplicate duplicate = nullptr) {
  for (size_t first = 0; first < rows.size(); first += kRowsPerInsert) {
    const size_t n = std::min(kRowsPerInsert, rows.size() - first);
    auto st = c.prepare(sql.rows(n));
    if (!st.ok()) return st.error();
    int index = 0;
    for (size_t i = first; i < first + n; ++i) bind(*st, index, rows[i]);
    const int rc = st->step();
    if (rc == SQLITE_DONE) continue;
    const std::string more = n > 1 ? fmt::format(" (or one of the {} rows after it)", n - 1) : "";
    if constexpr (!std::is_same_v<Duplicate, std::nullptr_t>) {
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) return conflict(duplicate(rows[first]) + more);
    }
    return store_error(c.db(), what(rows[first]) + more);
  }
  return {};
}

// Inserts the new instances of `writes` (expected version 0), kRowsPerInsert
// rows a statement; one whose id is taken fails the write as a conflict.
Result<void> insert_instances(Connection& c, const std::vector<InstanceWrite>& writes) {
  std::vector<const InstanceRecord*> fresh;
  for (const InstanceWrite& w : writes) {
    if (w.expected_version == 0) fresh.push_back(&w.record);
  }
  static const MultiRowInsert sql(
      "INSERT INTO instances (id, definition_key, process_id, definition_version, business_key, status, version, "
      "state, started_at, ended_at, parent_id, parent_element, applicant_id, applicant_name, region)",
      "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  return insert_rows(
      c, sql, fresh,
      [](Statement& st, int& index, const InstanceRecord* r) {
        st.bind(++index, r->id);
        st.bind(++index, r->definition_key);
        st.bind_in_place(++index, r->process_id);
        st.bind(++index, int64_t{r->definition_version});
        st.bind_in_place(++index, r->business_key);
        st.bind(++index, int64_t{r->status});
        st.bind(++index, r->version);
        st.bind_blob_in_place(++index, r->state);
        st.bind(++index, r->started_at);
        st.bind(++index, r->ended_at);
        if (r->parent_id == 0) {
          st.bind_null(++index);
        } else {
          st.bind(++index, r->parent_id);
        }
        st.bind(++index, as_int(r->parent_element));
        st.bind_in_place(++index, r->applicant_id);
        st.bind_in_place(++index, r->applicant_name);
        st.bind_in_place(++index, r->region);
      },
      [](const InstanceRecord* r) { return fmt::format("cannot insert instance {}", r->id); },
      [](const InstanceRecord* r) { return fmt::format("instance {} already exists", r->id); });
}

// Updates an instance written before, if it is still at the version expected.
Result<void> update_instance(Connection& c, const InstanceWrite& w) {
  const InstanceRecord& r = w.record;
  // Only the columns an update can change: SQLite rewrites every index that
  // covers a column named in SET, even when its value stays the same, and all
  // but one of the instance indexes cover set-once columns only.
  auto st = c.prepare("UPDATE instances SET status = ?2, version = ?3, state = ?4, ended_at = ?5 "
                      "WHERE id = ?1 AND version = ?6");
  if (!st.ok()) return st.error();
  st->bind(1, r.id);
  st->bind(2, int64_t{r.status});
  st->bind(3, r.version);
  st->bind_blob_in_place(4, r.state);
  st->bind(5, r.ended_at);
  st->bind(6, w.expected_version);
  if (st->step() != SQLITE_DONE) return store_error(c.db(), fmt::format("cannot update instance {}", r.id));
  if (sqlite3_changes(c.db()) == 0) {
    return conflict(fmt::format("instance {} is not at version {}; reload it", r.id, w.expected_version));
  }
  return {};
}

// Adds `tasks` with their candidates, kRowsPerInsert rows a statement; their
// new ids go to `ids` when that is set. The ids are given here, after the
// last one AUTOINCREMENT handed out, rather than left to SQLite, so that a
// statement's rows are known by id; SQLite's counter then moves past them.
Result<void> add_tasks(Connection& c, const std::vector<TaskRecord>& tasks, std::vector<int64_t>* ids) {
  if (tasks.empty()) return {};
  int64_t first_id = 0;
  {
    auto last = c.prepare(
        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'user_tasks'), 0), "
        "coalesce((SELECT max(id) FROM user_tasks), 0))");
    if (!last.ok()) return last.error();
    if (last->step() != SQLITE_ROW) return store_error(c.db(), "cannot read the last task id");
    first_id = last->int64(0) + 1;
  }
  static const MultiRowInsert sql(
      "INSERT INTO user_tasks (id, instance_id, key, process_id, element_id, name, business_key, assignee, region, "
      "form_key, priority, created_at, due_at, follow_up_at, sla_state, payload, escalation_level, escalated_to, "
      "escalated_region, department, sla_paused_at)",
      "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  int64_t next_id = first_id;
  BANSHI_STORE_TRY(insert_rows(
      c, sql, tasks,
      [&next_id](Statement& st, int& index, const TaskRecord& t) {
        st.bind(++index, next_id++);
        st.bind(++index, t.instance_id);
        st.bind(++index, as_int(t.key));
        st.bind_in_place(++index, t.process_id);
        st.bind_in_place(++index, t.element_id);
        st.bind_in_place(++index, t.name);
        st.bind_in_place(++index, t.business_key);
        st.bind_in_place(++index, t.assignee);
        st.bind_in_place(++index, t.region);
        st.bind_in_place(++index, t.form_key);
        st.bind(++index, int64_t{t.priority});
        st.bind(++index, t.created_at);
        st.bind(++index, t.due_at);
        st.bind(++index, t.follow_up_at);
        st.bind(++index, int64_t{t.sla_state});
        st.bind_in_place(++index, t.payload);
        st.bind(++index, int64_t{t.escalation_level});
        st.bind_in_place(++index, t.escalated_to);
        st.bind_in_place(++index, t.escalated_region);
        st.bind_in_place(++index, t.department);
        st.bind(++index, t.sla_paused_at);
      },
      [](const TaskRecord& t) { return fmt::format("cannot insert task {}/{}", t.instance_id, t.key); }));
  if (ids) {
    for (size_t i = 0; i < tasks.size(); ++i) ids->push_back(first_id + static_cast<int64_t>(i));
  }

  // The candidates of all of them, as many rows a statement.
  struct Candidate {
    int64_t task_id;
    int64_t kind;
    int64_t position;
    const std::string* value;
  };
  std::vector<Candidate> candidates;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const int64_t task_id = first_id + static_cast<int64_t>(i);
    for (size_t p = 0; p < tasks[i].candidate_groups.size(); ++p) {
      candidates.push_back({task_id, kCandidateGroup, static_cast<int64_t>(p), &tasks[i].candidate_groups[p]});
    }
    for (size_t p = 0; p < tasks[i].candidate_users.size(); ++p) {
      candidates.push_back({task_id, kCandidateUser, static_cast<int64_t>(p), &tasks[i].candidate_users[p]});
    }
  }
  static const MultiRowInsert cand_sql("INSERT INTO task_candidates (task_id, kind, position, value)", "(?, ?, ?, ?)");
  return insert_rows(
      c, cand_sql, candidates,
      [](Statement& st, int& index, const Candidate& k) {
        st.bind(++index, k.task_id);
        st.bind(++index, k.kind);
        st.bind(++index, k.position);
        st.bind_in_place(++index, *k.value);
      },
      [](const Candidate& k) { return fmt::format("cannot insert a candidate of task {}", k.task_id); });
}

// Deletes the row of (instance_id, key) from a table named by the caller from
// fixed text; a missing row is fine.
Result<void> remove_keyed(Connection& c, const char* sql, const InstanceKey& k, std::string_view what) {
  auto st = c.prepare(sql);
  if (!st.ok()) return st.error();
  st->bind(1, k.instance_id);
  st->bind(2, as_int(k.key));
  return st->run(what);
}

Result<void> load_candidates(Connection& c, std::vector<TaskRecord>& tasks);

// The ids as a JSON array, for `json_each`.
template <typename Range, typename Id>
std::string json_ids(const Range& items, Id id) {
  std::string out = "[";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out += std::to_string(id(item));
  }
  out += ']';
  return out;
}

// A task a user completes is removed only while its assignee is the one the
// user was checked against (`check`): this says why not, when it was given
// to someone else meanwhile. A task that is gone is no refusal.
Result<void> refuse_if_given_away(Connection& c, const InstanceKey& k, const TaskAssigneeCheck& check) {
  auto still = c.prepare("SELECT assignee FROM user_tasks WHERE instance_id = ?1 AND key = ?2");
  if (!still.ok()) return still.error();
  still->bind(1, k.instance_id);
  still->bind(2, as_int(k.key));
  const int rc = still->step();
  if (rc == SQLITE_ROW && still->text(0) != check.assignee) {
    return Error{"rejected", fmt::format("the task was given to '{}' meanwhile", still->text(0))};
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return store_error(c.db(), "cannot read a task");
  return {};
}

// Removes the open tasks of `b.tasks_removed` with their candidates.
// When `removed` is given (the write's report), each removed row goes there
// whole, as stored, with its candidates.
//
// No statement here uses RETURNING: SQLite runs it as a trigger program per
// row, and a task's removal with `RETURNING id` cost about twice as much as
// without (measured with the task table's seven b-trees). So without a
// report the candidates go first, found through the task's (instance, key)
// in one statement for the whole write, and the tasks after them one
// statement each; with a report each row is read, then removed by its id.
Result<void> remove_tasks(Connection& c, const WriteBatch& b, std::vector<TaskRecord>* removed) {
  if (b.tasks_removed.empty()) return {};
  if (removed == nullptr) {
    std::string keys = "[";
    for (const InstanceKey& k : b.tasks_removed) {
      fmt::format_to(std::back_inserter(keys), "{}[{},{}]", keys.size() > 1 ? "," : "", k.instance_id, as_int(k.key));
    }
    keys += ']';
    auto cand = c.prepare(
        "DELETE FROM task_candidates WHERE task_id IN (SELECT t.id FROM json_each(?1) AS j JOIN user_tasks AS t "
        "ON t.instance_id = json_extract(j.value, '$[0]') AND t.key = json_extract(j.value, '$[1]'))");
    if (!cand.ok()) return cand.error();
    cand->bind_in_place(1, keys);
    BANSHI_STORE_TRY(cand->run("cannot remove task candidates"));
    for (const InstanceKey& k : b.tasks_removed) {
      const TaskAssigneeCheck* check = assignee_check_of(b, k);
      auto st = check ? c.prepare("DELETE FROM user_tasks WHERE instance_id = ?1 AND key = ?2 AND assignee = ?3")
                      : c.prepare("DELETE FROM user_tasks WHERE instance_id = ?1 AND key = ?2");
      if (!st.ok()) return st.error();
      st->bind(1, k.instance_id);
      st->bind(2, as_int(k.key));
      if (check) st->bind_in_place(3, check->assignee);
      BANSHI_STORE_TRY(st->run("cannot remove a task"));
      if (check && sqlite3_changes(c.db()) == 0) BANSHI_STORE_TRY(refuse_if_given_away(c, k, *check));
    }
    return {};
  }
  static const std::string read_sql = std::string(kTaskColumns) + "WHERE t.instance_id = ?1 AND t.key = ?2";
  std::vector<TaskRecord> now_removed;
  for (const InstanceKey& k : b.tasks_removed) {
    auto st = c.prepare(read_sql.c_str());
    if (!st.ok()) return st.error();
    st->bind(1, k.instance_id);
    st->bind(2, as_int(k.key));
    auto row = first<TaskRecord>(*st, read_task, "cannot read a task");
    if (!row.ok()) return row.error();
    if (!row->has_value()) continue;
    const TaskAssigneeCheck* check = assignee_check_of(b, k);
    if (check && (*row)->assignee != check->assignee) {
      return Error{"rejected", fmt::format("the task was given to '{}' meanwhile", (*row)->assignee)};
    }
    auto del = c.prepare("DELETE FROM user_tasks WHERE id = ?1");
    if (!del.ok()) return del.error();
    del->bind(1, (*row)->id);
    BANSHI_STORE_TRY(del->run("cannot remove a task"));
    now_removed.push_back(std::move(**row));
  }
  if (now_removed.empty()) return {};
  BANSHI_STORE_TRY(load_candidates(c, now_removed));
  const std::string ids = json_ids(now_removed, [](const TaskRecord& t) { return t.id; });
  auto cand = c.prepare("DELETE FROM task_candidates WHERE task_id IN (SELECT value FROM json_each(?1))");
  if (!cand.ok()) return cand.error();
  cand->bind_in_place(1, ids);
  BANSHI_STORE_TRY(cand->run("cannot remove task candidates"));
  for (TaskRecord& t : now_removed) removed->push_back(std::move(t));
  return {};
}

// A job a worker reports on is still leased to that worker.
Result<void> check_job_lease(Connection& c, const JobLeaseCheck& check) {
  auto st = c.prepare("SELECT lease_owner FROM jobs WHERE instance_id = ?1 AND key = ?2");
  if (!st.ok()) return st.error();
  st->bind(1, check.instance_id);
  st->bind(2, as_int(check.key));
  const int rc = st->step();
  if (rc == SQLITE_DONE) return Error{"rejected", "the job was reported on meanwhile"};
  if (rc != SQLITE_ROW) return store_error(c.db(), "cannot read a job");
  if (st->text(0) != check.owner) return Error{"rejected", "the job was fetched by another worker meanwhile"};
  return {};
}

Result<void> add_job(Connection& c, const JobRecord& j) {
  auto st = c.prepare(
      "INSERT INTO jobs (instance_id, key, type, element_id, retries, due_at, lease_owner, lease_until, "
      "idempotency_key, last_error, state, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
  if (!st.ok()) return st.error();
  st->bind(1, j.instance_id);
  st->bind(2, as_int(j.key));
  st->bind(3, j.type);
  st->bind(4, j.element_id);
  st->bind(5, int64_t{j.retries});
  st->bind(6, j.due_at);
  st->bind(7, j.lease_owner);
  st->bind(8, j.lease_until);
  st->bind_text_or_null(9, j.idempotency_key);
  st->bind(10, j.last_error);
  st->bind(11, int64_t{j.state});
  st->bind(12, j.payload);
  return st->run_or("cannot insert job {}/{}", j.instance_id, j.key);
}

Result<void> update_job(Connection& c, const JobUpdate& u) {
  // A new attempt starts from a free lease.
  auto st = c.prepare(
      "UPDATE jobs SET retries = ?3, due_at = ?4, last_error = ?5, state = ?6, lease_owner = '', lease_until = 0 "
      "WHERE instance_id = ?1 AND key = ?2");
  if (!st.ok()) return st.error();
  st->bind(1, u.instance_id);
  st->bind(2, as_int(u.key));
  st->bind(3, int64_t{u.retries});
  st->bind(4, u.due_at);
  st->bind(5, u.last_error);
  st->bind(6, int64_t{u.state});
  return st->run_or("cannot update job {}/{}", u.instance_id, u.key);
}

Result<void> upsert_timer(Connection& c, const TimerRecord& t) {
  auto st = c.prepare(
      "INSERT INTO timers (instance_id, key, element_id, due_at) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (instance_id, key) DO UPDATE SET element_id = excluded.element_id, due_at = excluded.due_at");
  if (!st.ok()) return st.error();
  st->bind(1, t.instance_id);
  st->bind(2, as_int(t.key));
  st->bind(3, t.element_id);
  st->bind(4, t.due_at);
  return st->run_or("cannot write timer {}/{}", t.instance_id, t.key);
}

Result<void> add_message_subscription(Connection& c, const SubscriptionRecord& s) {
  auto st = c.prepare(
      "INSERT INTO message_subscriptions (instance_id, key, name, correlation_key, element_id) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!st.ok()) return st.error();
  st->bind(1, s.instance_id);
  st->bind(2, as_int(s.key));
  st->bind(3, s.name);
  st->bind(4, s.correlation_key);
  st->bind(5, s.element_id);
  return st->run_or("cannot insert message subscription {}/{}", s.instance_id, s.key);
}

Result<void> add_signal_subscription(Connection& c, const SubscriptionRecord& s) {
  auto st = c.prepare(
      "INSERT INTO signal_subscriptions (instance_id, key, name, element_id) VALUES (?1, ?2, ?3, ?4)");
  if (!st.ok()) return st.error();
  st->bind(1, s.instance_id);
  st->bind(2, as_int(s.key));
  st->bind(3, s.name);
  st->bind(4, s.element_id);
  return st->run_or("cannot insert signal subscription {}/{}", s.instance_id, s.key);
}

Result<void> add_message(Connection& c, const MessageRecord& m) {
  if (!m.message_id.empty()) {
    auto seen = c.prepare("SELECT 1 FROM messages WHERE message_id = ?1");
    if (!seen.ok()) return seen.error();
    seen->bind(1, m.message_id);
    int rc = seen->step();
    if (rc == SQLITE_ROW) {
      return Error{"duplicate", fmt::format("a message with id '{}' was already published", m.message_id)};
    }
    if (rc != SQLITE_DONE) return store_error(c.db(), "cannot look up a message id");
  }
  auto st = c.prepare(
      "INSERT INTO messages (name, correlation_key, variables, message_id, published_at, expires_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!st.ok()) return st.error();
  st->bind(1, m.name);
  st->bind(2, m.correlation_key);
  st->bind(3, m.variables);
  st->bind_text_or_null(4, m.message_id);
  st->bind(5, m.published_at);
  st->bind(6, m.expires_at);
  return st->run_or("cannot insert message '{}'", m.name);
}

// A buffered message is delivered once: when it is gone (delivered by a
// batch committed since this one read it, or expired), the batch conflicts
// and is built again.
Result<void> remove_message(Connection& c, int64_t id) {
  auto st = c.prepare("DELETE FROM messages WHERE id = ?1");
  if (!st.ok()) return st.error();
  st->bind(1, id);
  BANSHI_STORE_TRY(st->run_or("cannot remove message {}", id));
  if (sqlite3_changes(c.db()) == 0) return conflict(fmt::format("message {} was delivered elsewhere or expired", id));
  return {};
}

Result<void> add_incident(Connection& c, const IncidentRecord& i) {
  auto st = c.prepare(
      "INSERT INTO incidents (instance_id, key, process_id, element_id, kind, message, job_key, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!st.ok()) return st.error();
  st->bind(1, i.instance_id);
  st->bind(2, as_int(i.key));
  st->bind(3, i.process_id);
  st->bind(4, i.element_id);
  st->bind(5, int64_t{i.kind});
  st->bind(6, i.message);
  st->bind(7, as_int(i.job_key));
  st->bind(8, i.created_at);
  return st->run_or("cannot insert incident {}/{}", i.instance_id, i.key);
}

// Appends `entries` kRowsPerInsert at a time.
Result<void> append_history(Connection& c, const std::vector<HistoryRecord>& entries) {
  static const MultiRowInsert sql("INSERT INTO history (instance_id, seq, at, records)", "(?, ?, ?, ?)");
  return insert_rows(
      c, sql, entries,
      [](Statement& st, int& index, const HistoryRecord& h) {
        st.bind(++index, h.instance_id);
        st.bind(++index, h.seq);
        st.bind(++index, h.at);
        st.bind_blob_in_place(++index, h.records);
      },
      [](const HistoryRecord& h) { return fmt::format("cannot append history {}/{}", h.instance_id, h.seq); });
}

Result<void> update_task_sla(Connection& c, const TaskSlaUpdate& u) {
  auto st = c.prepare(
      "UPDATE user_tasks SET sla_state = ?3, escalation_level = ?4, escalated_to = ?5, escalated_region = ?6, "
      "due_at = ?7, sla_paused_at = ?8 WHERE instance_id = ?1 AND key = ?2");
  if (!st.ok()) return st.error();
  st->bind(1, u.instance_id);
  st->bind(2, as_int(u.key));
  st->bind(3, int64_t{u.sla_state});
  st->bind(4, int64_t{u.escalation_level});
  st->bind(5, u.escalated_to);
  st->bind(6, u.escalated_region);
  st->bind(7, u.due_at);
  st->bind(8, u.sla_paused_at);
  return st->run_or("cannot update the SLA of task {}/{}", u.instance_id, u.key);
}

// Keeps what the monitor reports on of each completed task, taken from its
// open row before the write removes it, in one statement for the whole write.
Result<void> keep_task_outcomes(Connection& c, const std::vector<TaskCompletion>& done) {
  if (done.empty()) return {};
  std::string tasks = "[";
  for (const TaskCompletion& d : done) {
    fmt::format_to(std::back_inserter(tasks), "{}[{},{},{}]", tasks.size() > 1 ? "," : "", d.instance_id,
                   as_int(d.key), d.completed_at);
  }
  tasks += ']';
  auto st = c.prepare(
      "INSERT OR REPLACE INTO task_outcomes (instance_id, key, process_id, element_id, name, department, region, "
      "created_at, due_at, completed_at, sla_state, escalation_level) SELECT t.instance_id, t.key, t.process_id, "
      "t.element_id, t.name, t.department, t.region, t.created_at, t.due_at, json_extract(j.value, '$[2]'), "
      "t.sla_state, t.escalation_level FROM json_each(?1) AS j JOIN user_tasks AS t "
      "ON t.instance_id = json_extract(j.value, '$[0]') AND t.key = json_extract(j.value, '$[1]')");
  if (!st.ok()) return st.error();
  st->bind_in_place(1, tasks);
  return st->run("cannot keep the outcomes of completed tasks");
}

constexpr const char* kAuditColumns =
    "SELECT id, at, actor, action, target, address, detail, prev_hash, hash FROM audit ";

AuditRecord read_audit(const Statement& s) { return rows::audit(s); }

// Appends `a` to the audit hash chain (store/audit_chain.h) inside the
// caller's write transaction: the next id, the last row's hash as prev_hash.
Result<int64_t> chain_audit(Connection& c, AuditRecord a) {
  auto last = c.prepare(
      "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit'), 0), "
      "coalesce((SELECT max(id) FROM audit), 0)), coalesce((SELECT hash FROM audit ORDER BY id DESC LIMIT 1), '')");
  if (!last.ok()) return last.error();
  if (last->step() != SQLITE_ROW) return store_error(c.db(), "cannot read the end of the audit chain");
  a.id = last->int64(0) + 1;
  a.prev_hash = last->text(1);
  if (a.prev_hash.empty()) a.prev_hash = std::string(kAuditGenesisHash);
  a.hash = audit_row_hash(a, a.prev_hash);
  auto st = c.prepare(
      "INSERT INTO audit (id, at, actor, action, target, address, detail, prev_hash, hash) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!st.ok()) return st.error();
  st->bind(1, a.id);
  st->bind(2, a.at);
  st->bind(3, a.actor);
  st->bind(4, a.action);
  st->bind(5, a.target);
  st->bind(6, a.address);
  st->bind(7, a.detail);
  st->bind(8, a.prev_hash);
  st->bind(9, a.hash);
  BANSHI_STORE_TRY(st->run("cannot append to the audit trail"));
  return a.id;
}

Result<void> chain_audit_rows(Connection& c, const std::vector<AuditRecord>& rows) {
  for (const AuditRecord& a : rows) BANSHI_STORE_TRY(chain_audit(c, a));
  return {};
}

// A fired start timer moves on to its next occurrence or goes; either only
// if it is still at the occurrence that fired.
Result<void> fire_start_timer(Connection& c, const StartTimerFiring& f) {
  auto st = f.next_due_at == 0
                ? c.prepare("DELETE FROM start_timers WHERE id = ?1 AND due_at = ?2")
                : c.prepare(
                      "UPDATE start_timers SET due_at = ?3, repetitions_left = ?4, lease_owner = '', lease_until = 0 "
                      "WHERE id = ?1 AND due_at = ?2");
  if (!st.ok()) return st.error();
  st->bind(1, f.id);
  st->bind(2, f.due_at);
  if (f.next_due_at != 0) {
    st->bind(3, f.next_due_at);
    st->bind(4, f.repetitions_left);
  }
  BANSHI_STORE_TRY(st->run_or("cannot move start timer {} on", f.id));
  if (sqlite3_changes(c.db()) == 0) {
    return conflict(fmt::format("start timer {} is no longer due at {}: it fired elsewhere or was replaced", f.id,
                                f.due_at));
  }
  return {};
}


Result<void> apply(Connection& c, const WriteBatch& b) {
  // Instances first: every other row refers to one. Within each kind,
  // additions come before removals, so a row created and finished within the
  // same group commit ends up absent.
  BANSHI_STORE_TRY(insert_instances(c, b.instances));
  for (const auto& w : b.instances) {
    if (w.expected_version != 0) BANSHI_STORE_TRY(update_instance(c, w));
  }
  if (b.report) *b.report = WriteReport{};
  BANSHI_STORE_TRY(add_tasks(c, b.tasks_added, b.report ? &b.report->added_task_ids : nullptr));
  for (const auto& u : b.task_sla_updates) BANSHI_STORE_TRY(update_task_sla(c, u));
  BANSHI_STORE_TRY(keep_task_outcomes(c, b.tasks_completed));
  BANSHI_STORE_TRY(remove_tasks(c, b, b.report ? &b.report->removed_tasks : nullptr));
  for (const auto& check : b.job_lease_checks) BANSHI_STORE_TRY(check_job_lease(c, check));
  for (const auto& j : b.jobs_added) BANSHI_STORE_TRY(add_job(c, j));
  for (const auto& u : b.jobs_updated) BANSHI_STORE_TRY(update_job(c, u));
  for (const auto& k : b.jobs_removed) {
    BANSHI_STORE_TRY(
        remove_keyed(c, "DELETE FROM jobs WHERE instance_id = ?1 AND key = ?2", k, "cannot remove a job"));
  }
  for (const auto& t : b.timers_upserted) BANSHI_STORE_TRY(upsert_timer(c, t));
  for (const auto& k : b.timers_removed) {
    BANSHI_STORE_TRY(
        remove_keyed(c, "DELETE FROM timers WHERE instance_id = ?1 AND key = ?2", k, "cannot remove a timer"));
  }
  for (const auto& s : b.message_subscriptions_added) BANSHI_STORE_TRY(add_message_subscription(c, s));
  for (const auto& k : b.message_subscriptions_removed) {
    BANSHI_STORE_TRY(remove_keyed(c, "DELETE FROM message_subscriptions WHERE instance_id = ?1 AND key = ?2", k,
                                  "cannot remove a message subscription"));
  }
  for (const auto& s : b.signal_subscriptions_added) BANSHI_STORE_TRY(add_signal_subscription(c, s));
  for (const auto& k : b.signal_subscriptions_removed) {
    BANSHI_STORE_TRY(remove_keyed(c, "DELETE FROM signal_subscriptions WHERE instance_id = ?1 AND key = ?2", k,
                                  "cannot remove a signal subscription"));
  }
  for (const auto& m : b.messages_added) BANSHI_STORE_TRY(add_message(c, m));
  for (int64_t id : b.messages_removed) BANSHI_STORE_TRY(remove_message(c, id));
  for (const auto& i : b.incidents_added) BANSHI_STORE_TRY(add_incident(c, i));
  for (const auto& k : b.incidents_removed) {
    BANSHI_STORE_TRY(remove_keyed(c, "DELETE FROM incidents WHERE instance_id = ?1 AND key = ?2", k,
                                  "cannot remove an incident"));
  }
  BANSHI_STORE_TRY(append_history(c, b.history));
  for (const auto& f : b.start_timers_fired) BANSHI_STORE_TRY(fire_start_timer(c, f));
  BANSHI_STORE_TRY(chain_audit_rows(c, b.audit));
  return {};
}

Result<void> load_candidates(Connection& c, TaskRecord& t) {
  auto st = c.prepare("SELECT kind, value FROM task_candidates WHERE task_id = ?1 ORDER BY kind, position");
  if (!st.ok()) return st.error();
  st->bind(1, t.id);
  int rc = 0;
  while ((rc = st->step()) == SQLITE_ROW) {
    (st->int64(0) == kCandidateGroup ? t.candidate_groups : t.candidate_users).push_back(st->text(1));
  }
  if (rc != SQLITE_DONE) return store_error(c.db(), "cannot read task candidates");
  return {};
}

// The candidates of every task of a page, in one statement rather than one
// per task.
Result<void> load_candidates(Connection& c, std::vector<TaskRecord>& tasks) {
  if (tasks.empty()) return {};
  if (tasks.size() == 1) return load_candidates(c, tasks.front());
  const std::string ids = json_ids(tasks, [](const TaskRecord& t) { return t.id; });
  auto st = c.prepare(
      "SELECT task_id, kind, value FROM task_candidates WHERE task_id IN (SELECT value FROM json_each(?1)) "
      "ORDER BY task_id, kind, position");
  if (!st.ok()) return st.error();
  st->bind(1, ids);
  std::unordered_map<int64_t, TaskRecord*> by_id;
  by_id.reserve(tasks.size());
  for (auto& t : tasks) by_id[t.id] = &t;
  int rc = 0;
  while ((rc = st->step()) == SQLITE_ROW) {
    auto it = by_id.find(st->int64(0));
    if (it == by_id.end()) continue;
    (st->int64(1) == kCandidateGroup ? it->second->candidate_groups : it->second->candidate_users)
        .push_back(st->text(2));
  }
  if (rc != SQLITE_DONE) return store_error(c.db(), "cannot read task candidates");
  return {};
}


// Appends the open tasks of `keys` (with their candidates) to `out`; a key
// with no open task is left out.
Result<void> read_tasks_by_keys(Connection& c, const std::vector<InstanceKey>& keys, std::vector<TaskRecord>& out) {
  if (keys.empty()) return {};
  static const std::string sql = std::string(kTaskColumns) + "WHERE t.instance_id = ?1 AND t.key = ?2";
  auto st = c.prepare(sql.c_str());
  if (!st.ok()) return st.error();
  std::vector<TaskRecord> found;
  for (const InstanceKey& k : keys) {
    st->reset();
    st->bind(1, k.instance_id);
    st->bind(2, as_int(k.key));
    auto row = first<TaskRecord>(*st, read_task, "cannot read a task");
    if (!row.ok()) return row.error();
    if (row->has_value()) found.push_back(std::move(**row));
  }
  BANSHI_STORE_TRY(load_candidates(c, found));
  for (TaskRecord& t : found) out.push_back(std::move(t));
  return {};
}

// "`column` starts with `prefix`" as an index range on the column:
// `column >= p AND column < p || x'ff'` (UTF-8 text never holds a 0xff byte,
// so the range holds exactly the texts that start with p).
std::string prefix_range(const std::string& column, const std::string& prefix, std::vector<Binding>& bindings) {
  bindings.emplace_back(prefix);
  bindings.emplace_back(prefix + '\xff');
  return fmt::format("({0} >= ? AND {0} < ?)", column);
}

void bind_all(Statement& st, const std::vector<Binding>& bindings) {
  for (size_t i = 0; i < bindings.size(); ++i) {
    int index = static_cast<int>(i) + 1;
    if (const auto* n = std::get_if<int64_t>(&bindings[i])) {
      st.bind(index, *n);
    } else {
      st.bind(index, std::get<std::string>(bindings[i]));
    }
  }
}

}  // namespace

// --- connections ----------------------------------------------------------

// A reader connection borrowed for one read; in-memory stores lend the writer.
class SqliteStore::ReaderLease {
 public:
  explicit ReaderLease(SqliteStore& store) : store_(store) {
    if (store.readers_.empty()) {
      writer_lock_ = std::unique_lock<std::mutex>(store.write_mutex_);
      connection_ = store.writer_.get();
      return;
    }
    std::unique_lock<std::mutex> lock(store.readers_mutex_);
    store.reader_free_.wait(lock, [&] { return !store.idle_readers_.empty(); });
    connection_ = store.idle_readers_.back();
    store.idle_readers_.pop_back();
  }
  ~ReaderLease() {
    if (writer_lock_.owns_lock()) return;
    {
      std::lock_guard<std::mutex> lock(store_.readers_mutex_);
      store_.idle_readers_.push_back(connection_);
    }
    store_.reader_free_.notify_one();
  }
  ReaderLease(const ReaderLease&) = delete;
  ReaderLease& operator=(const ReaderLease&) = delete;

  Connection& connection() { return *connection_; }

 private:
  SqliteStore& store_;
  std::unique_lock<std::mutex> writer_lock_;
  Connection* connection_ = nullptr;
};

namespace {
// The store whose write transaction this thread runs an audited() change in:
// the store's methods it calls join that transaction.
thread_local const SqliteStore* joined_write = nullptr;
}  // namespace

template <typename F>
auto SqliteStore::in_write_transaction(F&& fn, bool defer_sync) -> decltype(fn(std::declval<Connection&>())) {
  if (joined_write == this) return fn(*writer_);
  auto result = in_locked_write(std::forward<F>(fn), defer_sync);
  // A synced write answers after its own COMMIT, but what it read (a task
  // already claimed, a job to lease) may be a deferred commit that is not
  // durable yet; its COMMIT synced the log only if it wrote. So, outside the
  // lock, it syncs what is left, as a read does.
  if (!defer_sync && !UnsyncedReads::allowed()) {
    auto synced = sync_written();  // at once when nothing waits
    if (!synced.ok()) return synced.error();
  }
  return result;
}

template <typename F>
auto SqliteStore::in_locked_write(F&& fn, bool defer_sync) -> decltype(fn(std::declval<Connection&>())) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  BANSHI_STORE_TRY(refused());
  defer_sync = defer_sync && defer_sync_;
  Connection& c = *writer_;
  BANSHI_STORE_TRY(c.run("BEGIN IMMEDIATE", "cannot begin a write transaction"));
  auto result = fn(c);
  if (result.ok()) {
    if (options_.before_commit) options_.before_commit();
    Result<void> committed;
    if (defer_sync) {
      // Counted as begun before readers can see it, and as returned (failed
      // or not) once its frames are in the file (sync_what_reads_saw).
      commits_begun_.fetch_add(1, std::memory_order_seq_cst);
      // Counted as returned however COMMIT leaves, or readers wait forever.
      struct Returned {
        std::atomic<uint64_t>& count;
        ~Returned() {
          count.fetch_add(1, std::memory_order_seq_cst);
          count.notify_all();
        }
      };
      {
        Returned returned{commits_unsynced_};
        DeferredLogSync deferred;
        committed = c.run("COMMIT", "cannot commit");
      }
    } else {
      committed = c.run("COMMIT", "cannot commit");
    }
    // A sync of SQLite's own that failed (the header of a log starting over,
    // or a durable commit's) may have lost deferred commits' frames too.
    if (!committed.ok() && sqlite3_extended_errcode(c.db()) == SQLITE_IOERR_FSYNC &&
        commits_synced_.load(std::memory_order_acquire) < commits_unsynced_.load(std::memory_order_acquire)) {
      if (sqlite3_get_autocommit(c.db()) == 0) (void)c.run("ROLLBACK", "cannot roll back");
      return refuse_from_now_on(committed.error().message);
    }
    if (committed.ok()) {
      checkpoint_if_due();
      return result;
    }
    result = committed.error();
  }
  // Nothing of a failed write may stay; a failed COMMIT may already have
  // rolled back on its own, hence the check.
  if (sqlite3_get_autocommit(c.db()) == 0) (void)c.run("ROLLBACK", "cannot roll back");
  return result;
}

template <typename F>
auto SqliteStore::in_read_transaction(F&& fn) -> decltype(fn(std::declval<Connection&>())) {
  BANSHI_STORE_TRY(refused());
  auto result = [&]() -> decltype(fn(std::declval<Connection&>())) {
    ReaderLease lease(*this);
    Connection& c = lease.connection();
    // One transaction makes multi-statement reads (a task and its
    // candidates) one snapshot.
    BANSHI_STORE_TRY(c.run("BEGIN", "cannot begin a read transaction"));
    auto read = fn(c);
    if (sqlite3_get_autocommit(c.db()) == 0) (void)c.run(read.ok() ? "COMMIT" : "ROLLBACK", "cannot end a read");
    return read;
  }();
  // Nobody reads a commit that is not durable yet (write_unsynced()); the
  // reader goes back to the pool first, as the sync may wait.
  if (result.ok()) BANSHI_STORE_TRY(sync_what_reads_saw());
  return result;
}

SqliteStore::SqliteStore(SqliteOptions options)
    : options_(std::move(options)), set_sizes_(std::make_unique<TaskSetSizes>()) {}

SqliteStore::~SqliteStore() {
  if (log_fd_ >= 0) ::close(log_fd_);
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const SqliteOptions& options) {
  if (options.path.empty()) return Error{"store", "the database path is empty"};
  const bool memory = options.path == ":memory:";
  std::unique_ptr<SqliteStore> store(new SqliteStore(options));

  // A durable commit syncs the log before readers can see it, so its log
  // writes may be gathered into one (store/sqlite/wal_buffer.h).
  auto writer = Connection::open(options.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, options.busy_timeout_ms,
                                 /*gather_log=*/options.durable && !memory);
  if (!writer.ok()) return writer.error();
  store->writer_ = std::move(writer.value());
  Connection& w = *store->writer_;
  const std::string where = fmt::format("cannot open database {}", options.path);

  // The first statement reads the file header: a file that is not a database
  // fails here.
  auto mode = w.pragma_text("PRAGMA journal_mode = WAL");
  if (!mode.ok()) return Error{"store", fmt::format("{}: {}", where, mode.error().message)};
  if (!memory && *mode != "wal") {
    return Error{"store", fmt::format("{}: it cannot use write-ahead logging (journal mode is {})", where, *mode)};
  }
  BANSHI_STORE_TRY(w.exec(options.durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", where));
  BANSHI_STORE_TRY(w.exec("PRAGMA foreign_keys = ON", where));
  // Checkpoints are run by checkpoint_if_due() rather than inside COMMIT, so
  // that a commit whose log sync is deferred never checkpoints unsynced.
  sqlite3_wal_hook(
      w.db(),
      [](void* self, sqlite3*, const char*, int frames) {
        static_cast<SqliteStore*>(self)->log_frames_ = frames;
        return SQLITE_OK;
      },
      store.get());
  store->defer_sync_ = options.durable && !memory;

  auto present = read_schema_version(w);
  if (!present.ok()) return Error{"store", fmt::format("{}: {}", where, present.error().message)};
  if (*present > latest_version()) return too_new(*present);

  if (store->defer_sync_) {
    // The log exists once a transaction has read in WAL mode. Its own
    // descriptor syncs it for sync_written(), opened now: a descriptor
    // opened after a failed writeback would not hear of that failure.
    const char* log = sqlite3_filename_wal(sqlite3_db_filename(w.db(), "main"));
    store->log_fd_ = ::open(log, O_RDONLY | O_CLOEXEC);
    if (store->log_fd_ < 0) return Error{"store", fmt::format("{}: cannot open {}: {}", where, log, std::strerror(errno))};
    // Its directory entry is durable only once the directory is synced
    // (SQLite's first sync of a new file does the same).
    const std::string dir = std::filesystem::path(log).parent_path().string();
    const int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const int rc = dir_fd < 0 ? -1 : ::fsync(dir_fd);
    const int saved = errno;
    if (dir_fd >= 0) ::close(dir_fd);
    if (rc != 0) return Error{"store", fmt::format("{}: cannot sync the directory of {}: {}", where, log, std::strerror(saved))};
  }

  if (!memory) {
    int count = std::max(1, options.reader_connections);
    for (int i = 0; i < count; ++i) {
      auto reader = Connection::open(options.path, SQLITE_OPEN_READWRITE, options.busy_timeout_ms);
      if (!reader.ok()) return reader.error();
      // Readers never write, by construction; query_only makes a slip an error.
      BANSHI_STORE_TRY((*reader)->exec("PRAGMA query_only = ON", where));
      store->idle_readers_.push_back(reader->get());
      store->readers_.push_back(std::move(reader.value()));
    }
  }
  return store;
}

// --- schema ---------------------------------------------------------------

int SqliteStore::latest_schema_version() const { return latest_version(); }

Result<int> SqliteStore::schema_version() {
  return in_read_transaction([](Connection& c) { return read_schema_version(c); });
}

Result<void> SqliteStore::migrate() {
  BANSHI_STORE_TRY(in_write_transaction([](Connection& c) -> Result<void> {
    return c.exec(kCreateMigrationsTable, "cannot create the migrations table");
  }));
  for (const Migration& m : migrations()) {
    auto applied = in_write_transaction([&](Connection& c) -> Result<void> {
      // Read again inside the transaction: another process may have migrated.
      auto present = read_schema_version(c);
      if (!present.ok()) return present.error();
      if (*present > latest_version()) return too_new(*present);
      // Applied when not recorded yet, so that a lower version added after
      // a higher one (migrations are reserved by number) still runs.
      auto recorded = c.prepare("SELECT count(*) FROM schema_migrations WHERE version = ?1");
      if (!recorded.ok()) return recorded.error();
      recorded->bind(1, int64_t{m.version});
      const bool done = recorded->step() == SQLITE_ROW && recorded->int64(0) > 0;
      // No statement may be left running: SQLite refuses DROP TABLE until then.
      recorded->reset();
      if (done) return {};
      BANSHI_STORE_TRY(c.exec(m.sql, fmt::format("migration {} failed", m.version)));
      auto st = c.prepare("INSERT INTO schema_migrations (version, applied_at, description) VALUES (?1, ?2, ?3)");
      if (!st.ok()) return st.error();
      st->bind(1, int64_t{m.version});
      st->bind(2, now_ms());
      st->bind(3, std::string(m.description));
      return st->run("cannot record a migration");
    });
    if (!applied.ok()) return applied;
  }
  // Rows written before migration 5 join the chain, oldest first.
  return in_write_transaction([](Connection& c) -> Result<void> {
    auto rows = c.prepare(std::string(kAuditColumns) + "WHERE hash = '' ORDER BY id");
    if (!rows.ok()) return rows.error();
    auto found = collect<AuditRecord>(*rows, read_audit, "cannot read the audit trail");
    if (!found.ok()) return found.error();
    if (found->empty()) return {};
    auto prev = c.prepare("SELECT hash FROM audit WHERE id < ?1 ORDER BY id DESC LIMIT 1");
    if (!prev.ok()) return prev.error();
    prev->bind(1, found->front().id);
    std::string prev_hash(kAuditGenesisHash);
    if (prev->step() == SQLITE_ROW && !prev->text(0).empty()) prev_hash = prev->text(0);
    auto seal = c.prepare("UPDATE audit SET prev_hash = ?2, hash = ?3 WHERE id = ?1 AND hash = ''");
    if (!seal.ok()) return seal.error();
    for (AuditRecord& a : *found) {
      a.hash = audit_row_hash(a, prev_hash);
      seal->bind(1, a.id);
      seal->bind(2, prev_hash);
      seal->bind(3, a.hash);
      BANSHI_STORE_TRY(seal->run("cannot chain the audit trail"));
      seal->reset();
      prev_hash = a.hash;
    }
    return {};
  });
}

// --- writes ---------------------------------------------------------------

Result<void> SqliteStore::write(const WriteBatch& batch) {
  if (batch.empty()) return {};
  return in_write_transaction([&](Connection& c) { return apply(c, batch); });
}

Result<void> SqliteStore::write_unsynced(const WriteBatch& batch) {
  if (batch.empty()) return {};
  return in_write_transaction([&](Connection& c) { return apply(c, batch); }, defer_sync_);
}

void SqliteStore::checkpoint_if_due() {
  if (log_frames_ < kCheckpointFrames) return;
  log_frames_ = 0;
  // PASSIVE, as SQLite's own: it copies what no reader still needs and
  // never waits. It syncs the log first, which makes every deferred commit
  // durable, but they are counted as synced only by sync_written().
  // A failure changes nothing stored; the next commit tries again, as with
  // SQLite's own. But a failed sync of the log may have lost the frames of
  // deferred commits.
  const uint64_t unsynced = commits_unsynced_.load(std::memory_order_acquire);
  int rc = sqlite3_wal_checkpoint_v2(writer_->db(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  if (rc == SQLITE_IOERR_FSYNC && commits_synced_.load(std::memory_order_acquire) < unsynced) {
    (void)refuse_from_now_on("a checkpoint could not sync the log");
  }
}

Result<void> SqliteStore::refused() {
  if (!sync_failed_.load(std::memory_order_acquire)) return {};
  std::lock_guard<std::mutex> lock(sync_mutex_);
  return Error{"store", sync_error_};
}

Error SqliteStore::refuse_from_now_on(const std::string& why) {
  std::lock_guard<std::mutex> lock(sync_mutex_);
  return refuse_locked(why);
}

Error SqliteStore::refuse_locked(const std::string& why) {
  if (!sync_failed_.load(std::memory_order_acquire)) {
    sync_error_ = fmt::format(
        "cannot sync the write-ahead log of {} ({}): the last commits may be lost, and the store refuses reads and "
        "writes until the process is restarted",
        options_.path, why);
    sync_failed_.store(true, std::memory_order_release);
  }
  return Error{"store", sync_error_};
}

Result<void> SqliteStore::sync_what_reads_saw() {
  if (!defer_sync_ || UnsyncedReads::allowed()) return {};
  // Every commit the read saw had begun by now; one still publishing is
  // counted when its COMMIT returns, which is soon.
  const uint64_t begun = commits_begun_.load(std::memory_order_seq_cst);
  for (uint64_t returned = commits_unsynced_.load(std::memory_order_seq_cst); returned < begun;
       returned = commits_unsynced_.load(std::memory_order_seq_cst)) {
    commits_unsynced_.wait(returned, std::memory_order_seq_cst);
  }
  return sync_written();
}

Result<void> SqliteStore::sync_written() {
  const uint64_t wanted = commits_unsynced_.load(std::memory_order_acquire);
  if (commits_synced_.load(std::memory_order_acquire) >= wanted && !sync_failed_.load(std::memory_order_acquire)) {
    return {};
  }
  std::lock_guard<std::mutex> lock(sync_mutex_);
  if (sync_failed_.load(std::memory_order_acquire)) return Error{"store", sync_error_};
  if (log_fd_ < 0) return {};  // nothing is deferred on this store
  if (commits_synced_.load(std::memory_order_acquire) >= wanted) return {};  // another call synced them
  // Every commit counted by now has handed its frames to the file.
  const uint64_t covered = commits_unsynced_.load(std::memory_order_acquire);
  // After a failed sync the kernel may have dropped the log's pages it could
  // not write, and a later sync would succeed without them; later commits
  // would then sit behind a hole in the log. So nothing more is written.
  if ((options_.sync_log ? options_.sync_log(log_fd_) : ::fdatasync(log_fd_)) != 0) {
    return refuse_locked(fmt::format("fdatasync: {}", std::strerror(errno)));
  }
  commits_synced_.store(covered, std::memory_order_release);
  return {};
}

namespace {

// Stores each record as the next version of its id (`id_of`) in `table`,
// unless the latest version has the same checksum, which is returned instead.
// Processes and decisions are versioned alike.
template <typename Record>
Result<void> store_versions(Connection& c, std::vector<Record>& records, const char* table, const char* id_column,
                            const char* columns, Record (*read)(const Statement&), std::string Record::*id_of,
                            const char* what, std::vector<bool>* fresh = nullptr) {
  for (Record& r : records) {
    if (fresh) fresh->push_back(false);
    auto latest = c.prepare(fmt::format("{}WHERE {} = ?1 ORDER BY version DESC LIMIT 1", columns, id_column));
    if (!latest.ok()) return latest.error();
    latest->bind(1, r.*id_of);
    auto found = first<Record>(*latest, read, fmt::format("cannot read {}s", what));
    if (!found.ok()) return found.error();
    if (found->has_value() && (*found)->checksum == r.checksum) {
      r = std::move(**found);
      continue;
    }
    r.version = found->has_value() ? (*found)->version + 1 : 1;
    auto insert = c.prepare(fmt::format(
        "INSERT INTO {} ({}, version, name, resource, xml, checksum, deployed_at, deployed_by) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        table, id_column));
    if (!insert.ok()) return insert.error();
    insert->bind(1, r.*id_of);
    insert->bind(2, int64_t{r.version});
    insert->bind(3, r.name);
    insert->bind(4, r.resource);
    insert->bind(5, r.xml);
    insert->bind(6, r.checksum);
    insert->bind(7, r.deployed_at);
    insert->bind(8, r.deployed_by);
    BANSHI_STORE_TRY(insert->run_or("cannot deploy {} {}", what, r.*id_of));
    r.key = sqlite3_last_insert_rowid(c.db());
    if (fresh) fresh->back() = true;
  }
  return {};
}

}  // namespace

Result<std::vector<DefinitionRecord>> SqliteStore::deploy(std::vector<DefinitionRecord> processes) {
  return deploy_audited(std::move(processes), {});
}

Result<std::vector<DefinitionRecord>> SqliteStore::deploy_audited(std::vector<DefinitionRecord> processes,
                                                                  const std::vector<AuditRecord>& audit) {
  if (processes.empty()) return processes;
  return in_write_transaction([&](Connection& c) -> Result<std::vector<DefinitionRecord>> {
    if (auto r = store_versions(c, processes, "definitions", "process_id", kDefinitionColumns, read_definition,
                                &DefinitionRecord::process_id, "process");
        !r.ok()) {
      return r.error();
    }
    BANSHI_STORE_TRY(chain_audit_rows(c, audit));
    return std::move(processes);
  });
}

Result<int64_t> SqliteStore::allocate_ids(const std::string& sequence, int64_t count) {
  if (count <= 0) return Error{"store", fmt::format("cannot allocate {} ids", count)};
  return in_write_transaction([&](Connection& c) -> Result<int64_t> {
    auto st = c.prepare(
        "INSERT INTO sequences (name, next_value) VALUES (?1, 1 + ?2) "
        "ON CONFLICT (name) DO UPDATE SET next_value = next_value + ?2 RETURNING next_value");
    if (!st.ok()) return st.error();
    st->bind(1, sequence);
    st->bind(2, count);
    if (st->step() != SQLITE_ROW) return store_error(c.db(), fmt::format("cannot allocate ids of {}", sequence));
    return st->int64(0) - count;
  });
}

Result<std::vector<JobRecord>> SqliteStore::acquire_jobs(const std::vector<std::string>& types,
                                                         const std::string& owner, int64_t now, int64_t lease_until,
                                                         size_t limit) {
  if (limit == 0) return std::vector<JobRecord>();
  limit = std::min(limit, kMaxPageSize);
  return in_write_transaction([&](Connection& c) -> Result<std::vector<JobRecord>> {
    std::string sql = std::string(kJobColumns) + "WHERE state = 1 AND due_at <= ?1 AND lease_until <= ?1 ";
    if (!types.empty()) sql += "AND type IN (SELECT value FROM json_each(?3)) ";
    sql += "ORDER BY due_at, id LIMIT ?2";
    auto select = c.prepare(sql);
    if (!select.ok()) return select.error();
    select->bind(1, now);
    select->bind(2, static_cast<int64_t>(limit));
    if (!types.empty()) select->bind(3, json_list(types));
    auto jobs = collect<JobRecord>(*select, read_job, "cannot select jobs");
    if (!jobs.ok()) return jobs.error();

    auto lease = c.prepare("UPDATE jobs SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1");
    if (!lease.ok()) return lease.error();
    for (auto& job : *jobs) {
      lease->bind(1, job.id);
      lease->bind(2, owner);
      lease->bind(3, lease_until);
      BANSHI_STORE_TRY(lease->run("cannot lease a job"));
      lease->reset();
      job.lease_owner = owner;
      job.lease_until = lease_until;
    }
    return std::move(jobs.value());
  });
}

Result<int64_t> SqliteStore::delete_expired_messages(int64_t now) {
  return in_write_transaction([&](Connection& c) -> Result<int64_t> {
    auto st = c.prepare("DELETE FROM messages WHERE expires_at <> 0 AND expires_at <= ?1");
    if (!st.ok()) return st.error();
    st->bind(1, now);
    BANSHI_STORE_TRY(st->run("cannot delete expired messages"));
    return static_cast<int64_t>(sqlite3_changes(c.db()));
  });
}

Result<int64_t> SqliteStore::release_leases(const std::string& owner) {
  return in_write_transaction([&](Connection& c) -> Result<int64_t> {
    auto st = c.prepare("UPDATE jobs SET lease_owner = '', lease_until = 0 WHERE lease_owner = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, owner);
    BANSHI_STORE_TRY(st->run("cannot release leases"));
    return static_cast<int64_t>(sqlite3_changes(c.db()));
  });
}

Result<void> SqliteStore::assign_task(int64_t task_id, const std::string& expected, const std::string& assignee) {
  return assign_task_audited(task_id, expected, assignee, {});
}

Result<void> SqliteStore::assign_task_audited(int64_t task_id, const std::string& expected,
                                              const std::string& assignee, const std::vector<AuditRecord>& audit) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare("SELECT assignee FROM user_tasks WHERE id = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, task_id);
    int rc = st->step();
    if (rc == SQLITE_DONE) return Error{"not-found", fmt::format("there is no task {}", task_id)};
    if (rc != SQLITE_ROW) return store_error(c.db(), fmt::format("cannot read task {}", task_id));
    std::string current = st->text(0);
    if (current != expected) {
      return conflict(fmt::format("task {} is assigned to '{}', not '{}'", task_id, current, expected));
    }
    auto update = c.prepare("UPDATE user_tasks SET assignee = ?2 WHERE id = ?1");
    if (!update.ok()) return update.error();
    update->bind(1, task_id);
    update->bind(2, assignee);
    BANSHI_STORE_TRY(update->run_or("cannot assign task {}", task_id));
    return chain_audit_rows(c, audit);
  });
}

Result<void> SqliteStore::extend_lease(int64_t job_id, const std::string& owner, int64_t now, int64_t lease_until) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare("SELECT lease_owner, lease_until FROM jobs WHERE id = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, job_id);
    int rc = st->step();
    if (rc == SQLITE_DONE) return Error{"not-found", fmt::format("there is no job {}", job_id)};
    if (rc != SQLITE_ROW) return store_error(c.db(), fmt::format("cannot read job {}", job_id));
    if (st->text(0) != owner || st->int64(1) <= now) {
      return conflict(fmt::format("job {} is not leased to '{}'", job_id, owner));
    }
    auto update = c.prepare("UPDATE jobs SET lease_until = ?2 WHERE id = ?1");
    if (!update.ok()) return update.error();
    update->bind(1, job_id);
    update->bind(2, lease_until);
    return update->run_or("cannot extend the lease of job {}", job_id);
  });
}

// --- reads ----------------------------------------------------------------

Result<std::vector<DefinitionRecord>> SqliteStore::definitions(const std::string& process_id) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<DefinitionRecord>> {
    auto st = process_id.empty()
                  ? c.prepare(std::string(kDefinitionColumns) + "ORDER BY process_id, version DESC")
                  : c.prepare(std::string(kDefinitionColumns) + "WHERE process_id = ?1 ORDER BY version DESC");
    if (!st.ok()) return st.error();
    if (!process_id.empty()) st->bind(1, process_id);
    return collect<DefinitionRecord>(*st, read_definition, "cannot read definitions");
  });
}

Result<std::optional<DefinitionRecord>> SqliteStore::definition(const std::string& process_id, int32_t version) {
  return in_read_transaction([&](Connection& c) -> Result<std::optional<DefinitionRecord>> {
    auto st = version == 0 ? c.prepare(std::string(kDefinitionColumns) +
                                       "WHERE process_id = ?1 ORDER BY version DESC LIMIT 1")
                           : c.prepare(std::string(kDefinitionColumns) + "WHERE process_id = ?1 AND version = ?2");
    if (!st.ok()) return st.error();
    st->bind(1, process_id);
    if (version != 0) st->bind(2, int64_t{version});
    return first<DefinitionRecord>(*st, read_definition, "cannot read a definition");
  });
}

// --- decisions --------------------------------------------------------------

namespace {

constexpr const char* kDecisionColumns =
    "SELECT key, decision_id, version, name, resource, xml, checksum, deployed_at, deployed_by FROM decisions ";

DecisionRecord read_decision(const Statement& s) { return rows::decision(s); }

}  // namespace

Result<std::vector<DecisionRecord>> SqliteStore::deploy_decisions(std::vector<DecisionRecord> decisions) {
  return deploy_decisions_audited(std::move(decisions), {});
}

Result<std::vector<DecisionRecord>> SqliteStore::deploy_decisions_audited(std::vector<DecisionRecord> decisions,
                                                                          const std::vector<AuditRecord>& audit) {
  if (decisions.empty()) return decisions;
  return in_write_transaction([&](Connection& c) -> Result<std::vector<DecisionRecord>> {
    if (auto r = store_versions(c, decisions, "decisions", "decision_id", kDecisionColumns, read_decision,
                                &DecisionRecord::decision_id, "decision");
        !r.ok()) {
      return r.error();
    }
    BANSHI_STORE_TRY(chain_audit_rows(c, audit));
    return std::move(decisions);
  });
}

// --- timer start events (migration 8) ---------------------------------------

namespace {

constexpr const char* kStartTimerColumns =
    "SELECT id, definition_key, process_id, element_id, due_at, repetitions_left, period FROM start_timers ";

StartTimerRecord read_start_timer(const Statement& s) { return rows::start_timer(s); }

// A process that got a new version: its earlier versions' start timers go,
// its own come.
Result<void> replace_start_timers(Connection& c, const DefinitionRecord& process,
                                  const std::vector<StartTimerRecord>& timers, std::vector<StartTimerRecord>& out) {
  auto drop = c.prepare("DELETE FROM start_timers WHERE process_id = ?1");
  if (!drop.ok()) return drop.error();
  drop->bind(1, process.process_id);
  BANSHI_STORE_TRY(drop->run_or("cannot remove the start timers of {}", process.process_id));
  for (StartTimerRecord t : timers) {
    if (t.process_id != process.process_id) continue;
    t.definition_key = process.key;
    auto insert = c.prepare(
        "INSERT INTO start_timers (definition_key, process_id, element_id, due_at, repetitions_left, period, "
        "lease_owner, lease_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6, '', 0)");
    if (!insert.ok()) return insert.error();
    insert->bind(1, t.definition_key);
    insert->bind(2, t.process_id);
    insert->bind(3, t.element_id);
    insert->bind(4, t.due_at);
    insert->bind(5, t.repetitions_left);
    insert->bind(6, t.period);
    BANSHI_STORE_TRY(insert->run_or("cannot schedule the start timer {} of {}", t.element_id, t.process_id));
    t.id = sqlite3_last_insert_rowid(c.db());
    out.push_back(std::move(t));
  }
  return {};
}

}  // namespace

Result<StoredDeployment> SqliteStore::deploy_all(DeploymentRecords d) {
  return in_write_transaction([&](Connection& c) -> Result<StoredDeployment> {
    StoredDeployment out;
    if (auto r = store_versions(c, d.processes, "definitions", "process_id", kDefinitionColumns, read_definition,
                                &DefinitionRecord::process_id, "process", &out.new_process);
        !r.ok()) {
      return r.error();
    }
    for (size_t i = 0; i < d.processes.size(); ++i) {
      if (out.new_process[i]) BANSHI_STORE_TRY(replace_start_timers(c, d.processes[i], d.start_timers, out.start_timers));
    }
    if (auto r = store_versions(c, d.decisions, "decisions", "decision_id", kDecisionColumns, read_decision,
                                &DecisionRecord::decision_id, "decision", &out.new_decision);
        !r.ok()) {
      return r.error();
    }
    BANSHI_STORE_TRY(chain_audit_rows(c, d.audit));
    out.processes = std::move(d.processes);
    out.decisions = std::move(d.decisions);
    return out;
  });
}

Result<std::vector<StartTimerRecord>> SqliteStore::start_timers(const std::string& process_id) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<StartTimerRecord>> {
    auto st = process_id.empty()
                  ? c.prepare(std::string(kStartTimerColumns) + "ORDER BY due_at, id")
                  : c.prepare(std::string(kStartTimerColumns) + "WHERE process_id = ?1 ORDER BY due_at, id");
    if (!st.ok()) return st.error();
    if (!process_id.empty()) st->bind(1, process_id);
    return collect<StartTimerRecord>(*st, read_start_timer, "cannot read start timers");
  });
}

// One node owns a SQLite database: there is nobody to lease from.
Result<std::vector<StartTimerRecord>> SqliteStore::acquire_start_timers(const std::string& owner, int64_t until,
                                                                        int64_t now, int64_t lease_ms, size_t limit) {
  (void)owner, (void)now, (void)lease_ms;
  return in_read_transaction([&](Connection& c) -> Result<std::vector<StartTimerRecord>> {
    auto st = c.prepare(std::string(kStartTimerColumns) + "WHERE due_at <= ?1 ORDER BY due_at, id LIMIT ?2");
    if (!st.ok()) return st.error();
    st->bind(1, until);
    st->bind(2, static_cast<int64_t>(std::min(limit, kMaxTimersPerLoad)));
    return collect<StartTimerRecord>(*st, read_start_timer, "cannot read due start timers");
  });
}

Result<std::vector<DecisionRecord>> SqliteStore::decisions(const std::string& decision_id) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<DecisionRecord>> {
    auto st = decision_id.empty()
                  ? c.prepare(std::string(kDecisionColumns) +
                              "WHERE version = (SELECT max(version) FROM decisions d WHERE d.decision_id = "
                              "decisions.decision_id) ORDER BY decision_id")
                  : c.prepare(std::string(kDecisionColumns) + "WHERE decision_id = ?1 ORDER BY version DESC");
    if (!st.ok()) return st.error();
    if (!decision_id.empty()) st->bind(1, decision_id);
    return collect<DecisionRecord>(*st, read_decision, "cannot read decisions");
  });
}

Result<std::optional<DecisionRecord>> SqliteStore::decision(const std::string& decision_id, int32_t version) {
  return in_read_transaction([&](Connection& c) -> Result<std::optional<DecisionRecord>> {
    auto st = version == 0 ? c.prepare(std::string(kDecisionColumns) +
                                       "WHERE decision_id = ?1 ORDER BY version DESC LIMIT 1")
                           : c.prepare(std::string(kDecisionColumns) + "WHERE decision_id = ?1 AND version = ?2");
    if (!st.ok()) return st.error();
    st->bind(1, decision_id);
    if (version != 0) st->bind(2, int64_t{version});
    return first<DecisionRecord>(*st, read_decision, "cannot read a decision");
  });
}

Result<std::optional<DefinitionRecord>> SqliteStore::definition_by_key(int64_t key) {
  return in_read_transaction([&](Connection& c) -> Result<std::optional<DefinitionRecord>> {
    auto st = c.prepare(std::string(kDefinitionColumns) + "WHERE key = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, key);
    return first<DefinitionRecord>(*st, read_definition, "cannot read a definition");
  });
}

Result<std::optional<InstanceRecord>> SqliteStore::instance(InstanceId id) {
  return in_read_transaction([&](Connection& c) -> Result<std::optional<InstanceRecord>> {
    auto st = c.prepare(std::string(kInstanceColumns) + "WHERE id = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, id);
    return first<InstanceRecord>(*st, read_instance, "cannot read an instance");
  });
}

namespace {

// How an instance page's SQL is written here (store/page_sql.h).
InstancePageDialect sqlite_instance_dialect() {
  InstancePageDialect d;
  d.name_starts_with = [](const std::string& name, std::vector<Binding>& bindings) -> std::string {
    bindings.emplace_back(name);
    bindings.emplace_back(name);
    return "substr(applicant_name, 1, length(?)) = ?";
  };
  d.region_in_list = "EXISTS (SELECT 1 FROM json_each(?) r WHERE substr(region, 1, length(r.value)) = r.value)";
  return d;
}

}  // namespace

Result<std::vector<InstanceRecord>> SqliteStore::instances(const InstanceQuery& q) {
  std::vector<Binding> bindings;
  const std::string sql =
      instance_page_sql(kInstanceSummaryColumns, q, sqlite_instance_dialect(), kMaxPageSize, bindings);
  return in_read_transaction([&](Connection& c) -> Result<std::vector<InstanceRecord>> {
    auto st = c.prepare(sql);
    if (!st.ok()) return st.error();
    bind_all(*st, bindings);
    return collect<InstanceRecord>(*st, read_instance, "cannot list instances");
  });
}

Result<std::vector<InstanceRecord>> SqliteStore::running_instances_of(InstanceId parent) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<InstanceRecord>> {
    auto st = c.prepare(std::string(kInstanceColumns) + "WHERE parent_id = ?1 AND status = 1 ORDER BY id");
    if (!st.ok()) return st.error();
    st->bind(1, parent);
    return collect<InstanceRecord>(*st, read_instance, "cannot read called instances");
  });
}

namespace {

// How the shared small-set plan (store/task_sets.h) counts and writes
// prefixes here: a prefix is the index range [p, p + 0xff).
TaskSetDialect sqlite_dialect(Connection& c) {
  return TaskSetDialect{
      [&c](const std::string& from_where, const std::vector<Binding>& bindings) -> Result<int64_t> {
        auto st = c.prepare(fmt::format("SELECT count(*) FROM (SELECT 1 {} LIMIT {})", from_where, kSmallTaskSet));
        if (!st.ok()) return st.error();
        bind_all(*st, bindings);
        if (st->step() != SQLITE_ROW) return store_error(c.db(), "cannot count tasks");
        return st->int64(0);
      },
      prefix_range};
}

// How a task page's SQL is written here (store/page_sql.h). Region
// conditions are on +t.region, which keeps SQLite from reading the page
// through the region index instead of in page order.
TaskPageDialect sqlite_page_dialect() {
  TaskPageDialect d;
  d.starts_with = prefix_range;
  d.region_column = "+t.region";
  d.group_in_list =
      "EXISTS (SELECT 1 FROM task_candidates c WHERE c.task_id = t.id AND c.kind = 1 AND c.value IN "
      "(SELECT value FROM json_each(?)))";
  d.user_is = "EXISTS (SELECT 1 FROM task_candidates c WHERE c.task_id = t.id AND c.kind = 2 AND c.value = ?)";
  d.offered = [](bool groups_only, const std::string& user, const std::string& department,
                 std::vector<Binding>& bindings) -> std::string {
    // substr() counts characters, so the prefix's length is SQLite's own
    // length() of it, not its size in bytes (a department named in Chinese).
    bindings.insert(bindings.end(), {user, user, department, department + "-", department + "-"});
    return groups_only
               ? "(? = ? AND EXISTS (SELECT 1 FROM task_candidates c WHERE c.task_id = t.id AND "
                 "c.kind = 1 AND (c.value = ? OR substr(c.value, 1, length(?)) = ?)))"
               : "(t.assignee = ? OR EXISTS (SELECT 1 FROM task_candidates c WHERE c.task_id = t.id AND "
                 "((c.kind = 2 AND c.value = ?) OR (c.kind = 1 AND (c.value = ? OR substr(c.value, 1, length(?)) = ?)))))";
  };
  d.flag = "?";
  d.always = "1";
  return d;
}

}  // namespace

Result<std::vector<TaskRecord>> SqliteStore::tasks(const TaskQuery& q) {
  std::vector<Binding> bindings;
  std::string sql = task_page_sql(kTaskColumns, q, sqlite_page_dialect(), kMaxPageSize, bindings);

  return in_read_transaction([&](Connection& c) -> Result<std::vector<TaskRecord>> {
    // When few tasks can be visible to the caller, read just those through
    // an index and sort them, rather than walk the open tasks in page order
    // until a page of visible ones is found (which reads every open task
    // when almost none is visible).
    if (q.visible.active || !q.regions.empty()) {
      auto drive = small_task_set(sqlite_dialect(c), *set_sizes_, q);
      if (!drive.ok()) return drive.error();
      if (*drive) {
        const std::string from = "FROM user_tasks t ";
        sql.replace(sql.find(from), from.size(),
                    "FROM (" + (*drive)->sql + ") d CROSS JOIN user_tasks t ON t.id = d.id ");
        bindings.insert(bindings.begin(), (*drive)->bindings.begin(), (*drive)->bindings.end());
      }
    }
    auto st = c.prepare(sql);
    if (!st.ok()) return st.error();
    bind_all(*st, bindings);
    auto found = collect<TaskRecord>(*st, read_task, "cannot list tasks");
    if (!found.ok()) return found.error();
    BANSHI_STORE_TRY(load_candidates(c, *found));
    return found;
  });
}

Result<std::optional<TaskRecord>> SqliteStore::task(int64_t task_id) {
  return in_read_transaction([&](Connection& c) -> Result<std::optional<TaskRecord>> {
    auto st = c.prepare(std::string(kTaskColumns) + "WHERE t.id = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, task_id);
    auto found = first<TaskRecord>(*st, read_task, "cannot read a task");
    if (!found.ok() || !found->has_value()) return found;
    BANSHI_STORE_TRY(load_candidates(c, **found));
    return found;
  });
}

Result<std::vector<TaskRecord>> SqliteStore::tasks_by_keys(const std::vector<InstanceKey>& keys) {
  if (keys.empty()) return std::vector<TaskRecord>{};
  return in_read_transaction([&](Connection& c) -> Result<std::vector<TaskRecord>> {
    std::vector<TaskRecord> out;
    BANSHI_STORE_TRY(read_tasks_by_keys(c, keys, out));
    return out;
  });
}

Result<std::vector<JobRecord>> SqliteStore::jobs_of(InstanceId id) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<JobRecord>> {
    auto st = c.prepare(std::string(kJobColumns) + "WHERE instance_id = ?1 ORDER BY key");
    if (!st.ok()) return st.error();
    st->bind(1, id);
    return collect<JobRecord>(*st, read_job, "cannot read jobs");
  });
}

Result<std::optional<JobRecord>> SqliteStore::job(int64_t job_id) {
  return in_read_transaction([&](Connection& c) -> Result<std::optional<JobRecord>> {
    auto st = c.prepare(std::string(kJobColumns) + "WHERE id = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, job_id);
    return first<JobRecord>(*st, read_job, "cannot read a job");
  });
}

Result<std::vector<TimerRecord>> SqliteStore::due_timers(int64_t until, size_t limit) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<TimerRecord>> {
    auto st = c.prepare(
        "SELECT instance_id, key, element_id, due_at FROM timers WHERE due_at <= ?1 "
        "ORDER BY due_at, instance_id, key LIMIT ?2");
    if (!st.ok()) return st.error();
    st->bind(1, until);
    st->bind(2, static_cast<int64_t>(std::min(limit, kMaxTimersPerLoad)));
    return collect<TimerRecord>(*st, read_timer, "cannot read due timers");
  });
}

Result<std::optional<int64_t>> SqliteStore::next_timer_due() {
  return in_read_transaction([&](Connection& c) -> Result<std::optional<int64_t>> {
    // Timer start events too (migration 8): a firing is a timer like any other.
    auto st = c.prepare(
        "SELECT min(due) FROM (SELECT min(due_at) AS due FROM timers UNION ALL SELECT min(due_at) FROM start_timers)");
    if (!st.ok()) return st.error();
    if (st->step() != SQLITE_ROW) return store_error(c.db(), "cannot read the next timer");
    if (st->is_null(0)) return std::optional<int64_t>();
    return std::optional<int64_t>(st->int64(0));
  });
}

Result<std::vector<SubscriptionRecord>> SqliteStore::message_subscriptions(const std::string& name,
                                                                          const std::string& correlation_key) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<SubscriptionRecord>> {
    auto st = c.prepare(
        "SELECT instance_id, key, name, correlation_key, element_id FROM message_subscriptions "
        "WHERE name = ?1 AND correlation_key = ?2 ORDER BY instance_id, key");
    if (!st.ok()) return st.error();
    st->bind(1, name);
    st->bind(2, correlation_key);
    return collect<SubscriptionRecord>(*st, read_subscription, "cannot read message subscriptions");
  });
}

Result<std::vector<SubscriptionRecord>> SqliteStore::signal_subscriptions(const std::string& name) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<SubscriptionRecord>> {
    auto st = c.prepare(
        "SELECT instance_id, key, name, '', element_id FROM signal_subscriptions WHERE name = ?1 "
        "ORDER BY instance_id, key");
    if (!st.ok()) return st.error();
    st->bind(1, name);
    return collect<SubscriptionRecord>(*st, read_subscription, "cannot read signal subscriptions");
  });
}

Result<std::vector<MessageRecord>> SqliteStore::buffered_messages(const std::string& name,
                                                                  const std::string& correlation_key, int64_t now,
                                                                  size_t limit) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<MessageRecord>> {
    // expires_at 0 means the message never expires.
    auto st = c.prepare(
        "SELECT id, name, correlation_key, variables, message_id, published_at, expires_at FROM messages "
        "WHERE name = ?1 AND correlation_key = ?2 AND (expires_at = 0 OR expires_at > ?3) "
        "ORDER BY published_at, id LIMIT ?4");
    if (!st.ok()) return st.error();
    st->bind(1, name);
    st->bind(2, correlation_key);
    st->bind(3, now);
    st->bind(4, static_cast<int64_t>(limit));
    return collect<MessageRecord>(*st, read_message, "cannot read buffered messages");
  });
}

Result<std::vector<IncidentRecord>> SqliteStore::incidents(InstanceId id) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<IncidentRecord>> {
    auto st = id == 0 ? c.prepare(std::string(kIncidentColumns) + "ORDER BY id")
                      : c.prepare(std::string(kIncidentColumns) + "WHERE instance_id = ?1 ORDER BY id");
    if (!st.ok()) return st.error();
    if (id != 0) st->bind(1, id);
    return collect<IncidentRecord>(*st, read_incident, "cannot read incidents");
  });
}

Result<std::vector<IncidentRecord>> SqliteStore::incidents(const IncidentQuery& q, int64_t* total) {
  const std::string columns =
      "SELECT id, instance_id, key, process_id, element_id, kind, message, job_key, created_at FROM incidents n ";
  const char* regions = sqlite_instance_dialect().region_in_list;
  std::vector<Binding> page_bindings, count_bindings;
  const std::string page = incident_page_sql(columns, q, regions, kMaxPageSize, page_bindings);
  const std::string count = incident_page_sql("SELECT count(*) FROM incidents n ", q, regions, 0, count_bindings);
  return in_read_transaction([&](Connection& c) -> Result<std::vector<IncidentRecord>> {
    if (total != nullptr) {
      auto st = c.prepare(count);
      if (!st.ok()) return st.error();
      bind_all(*st, count_bindings);
      if (st->step() != SQLITE_ROW) return store_error(st->db(), "cannot count incidents");
      *total = st->int64(0);
    }
    auto st = c.prepare(page);
    if (!st.ok()) return st.error();
    bind_all(*st, page_bindings);
    return collect<IncidentRecord>(*st, read_incident, "cannot list incidents");
  });
}

Result<std::optional<IncidentRecord>> SqliteStore::incident(int64_t incident_id) {
  return in_read_transaction([&](Connection& c) -> Result<std::optional<IncidentRecord>> {
    auto st = c.prepare(std::string(kIncidentColumns) + "WHERE id = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, incident_id);
    return first<IncidentRecord>(*st, read_incident, "cannot read an incident");
  });
}

Result<std::vector<HistoryRecord>> SqliteStore::history(InstanceId id, int64_t after_seq, size_t limit) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<HistoryRecord>> {
    // LIMIT -1: every row.
    auto st = c.prepare(
        "SELECT instance_id, seq, at, records FROM history WHERE instance_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
    if (!st.ok()) return st.error();
    st->bind(1, id);
    st->bind(2, after_seq);
    st->bind(3, limit == 0 ? int64_t{-1} : static_cast<int64_t>(limit));
    return collect<HistoryRecord>(
        *st, [](const Statement& s) { return HistoryRecord{s.int64(0), s.int64(1), s.int64(2), s.text(3)}; },
        "cannot read history");
  });
}

Result<void> SqliteStore::backup(const std::string& path) {
  std::error_code ec;
  if (path.empty() || path == ":memory:") return Error{"store", "a backup needs a file path"};
  if (std::filesystem::exists(path, ec)) return Error{"store", fmt::format("backup target {} already exists", path)};

  auto target = Connection::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, options_.busy_timeout_ms);
  if (!target.ok()) return target.error();
  Result<void> result = refused();
  if (result.ok()) {
    ReaderLease lease(*this);
    sqlite3* source = lease.connection().db();
    sqlite3_backup* copy = sqlite3_backup_init((*target)->db(), "main", source, "main");
    if (copy == nullptr) {
      result = store_error((*target)->db(), fmt::format("cannot back up to {}", path));
    } else {
      // All pages in one step: the copy is read within one read transaction,
      // so it is one consistent snapshot and writers on other connections
      // never force it to restart.
      int rc = sqlite3_backup_step(copy, -1);
      sqlite3_backup_finish(copy);
      if (rc != SQLITE_DONE) {
        result = Error{"store", fmt::format("cannot back up to {}: {}", path, sqlite3_errstr(rc))};
      }
    }
  }
  // A copy holds only what is durable (write_unsynced()).
  if (result.ok()) result = sync_what_reads_saw();
  target->reset();
  if (!result.ok()) std::filesystem::remove(path, ec);  // never leave half a copy behind
  return result;
}

// --- users, sessions, tokens, audit (AuthStore) ------------------------------

namespace {


bool is_constraint(int rc) { return (rc & 0xff) == SQLITE_CONSTRAINT; }

constexpr const char* kUserColumns =
    "SELECT name, password_hash, roles, department, regions, disabled, created_at, password_changed_at FROM users ";

UserRecord read_user(const Statement& s) { return rows::user(s); }


}  // namespace

Result<void> SqliteStore::add_user(const UserRecord& u) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare(
        "INSERT INTO users (name, password_hash, roles, department, regions, disabled, created_at, "
        "password_changed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!st.ok()) return st.error();
    st->bind(1, u.name);
    st->bind(2, u.password_hash);
    st->bind(3, json_list(u.roles));
    st->bind(4, u.department);
    st->bind(5, json_list(u.regions));
    st->bind(6, int64_t{u.disabled ? 1 : 0});
    st->bind(7, u.created_at);
    st->bind(8, u.password_changed_at);
    int rc = st->step();
    if (is_constraint(rc)) return Error{"duplicate", fmt::format("there is already a user {}", u.name)};
    if (rc != SQLITE_DONE) return store_error(c.db(), "cannot insert a user");
    return {};
  });
}

Result<void> SqliteStore::update_user(const UserRecord& u) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare(
        "UPDATE users SET password_hash = ?2, roles = ?3, department = ?4, regions = ?5, disabled = ?6, "
        "password_changed_at = ?7 WHERE name = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, u.name);
    st->bind(2, u.password_hash);
    st->bind(3, json_list(u.roles));
    st->bind(4, u.department);
    st->bind(5, json_list(u.regions));
    st->bind(6, int64_t{u.disabled ? 1 : 0});
    st->bind(7, u.password_changed_at);
    BANSHI_STORE_TRY(st->run("cannot update a user"));
    if (sqlite3_changes(c.db()) == 0) return Error{"not-found", fmt::format("there is no user {}", u.name)};
    return {};
  });
}

Result<std::optional<UserRecord>> SqliteStore::user(const std::string& name) {
  return in_read_transaction([&](Connection& c) -> Result<std::optional<UserRecord>> {
    auto st = c.prepare(std::string(kUserColumns) + "WHERE name = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, name);
    return first<UserRecord>(*st, read_user, "cannot read a user");
  });
}

Result<std::vector<UserRecord>> SqliteStore::users() {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<UserRecord>> {
    auto st = c.prepare(std::string(kUserColumns) + "ORDER BY name");
    if (!st.ok()) return st.error();
    return collect<UserRecord>(*st, read_user, "cannot list users");
  });
}

Result<void> SqliteStore::add_session(const SessionRecord& s) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare(
        "INSERT INTO sessions (token_hash, user_name, csrf_token, address, created_at, last_seen_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!st.ok()) return st.error();
    st->bind(1, s.token_hash);
    st->bind(2, s.user);
    st->bind(3, s.csrf_token);
    st->bind(4, s.address);
    st->bind(5, s.created_at);
    st->bind(6, s.last_seen_at);
    return st->run("cannot insert a session");
  });
}

Result<std::optional<SessionRecord>> SqliteStore::session(const std::string& token_hash) {
  return in_read_transaction([&](Connection& c) -> Result<std::optional<SessionRecord>> {
    auto st = c.prepare(
        "SELECT token_hash, user_name, csrf_token, address, created_at, last_seen_at FROM sessions "
        "WHERE token_hash = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, token_hash);
    return first<SessionRecord>(
        *st,
        [](const Statement& s) {
          return SessionRecord{s.text(0), s.text(1), s.text(2), s.text(3), s.int64(4), s.int64(5)};
        },
        "cannot read a session");
  });
}

Result<void> SqliteStore::touch_session(const std::string& token_hash, int64_t last_seen_at) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare("UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, token_hash);
    st->bind(2, last_seen_at);
    return st->run("cannot update a session");
  });
}

Result<void> SqliteStore::delete_session(const std::string& token_hash) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare("DELETE FROM sessions WHERE token_hash = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, token_hash);
    return st->run("cannot delete a session");
  });
}

Result<int64_t> SqliteStore::delete_sessions_of(const std::string& user) {
  return in_write_transaction([&](Connection& c) -> Result<int64_t> {
    auto st = c.prepare("DELETE FROM sessions WHERE user_name = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, user);
    BANSHI_STORE_TRY(st->run("cannot delete sessions"));
    return int64_t{sqlite3_changes(c.db())};
  });
}

Result<int64_t> SqliteStore::add_api_token(const ApiTokenRecord& t) {
  return in_write_transaction([&](Connection& c) -> Result<int64_t> {
    auto st = c.prepare(
        "INSERT INTO api_tokens (name, token_hash, topics, created_by, created_at, revoked) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!st.ok()) return st.error();
    st->bind(1, t.name);
    st->bind(2, t.token_hash);
    st->bind(3, json_list(t.topics));
    st->bind(4, t.created_by);
    st->bind(5, t.created_at);
    st->bind(6, int64_t{t.revoked ? 1 : 0});
    int rc = st->step();
    if (is_constraint(rc)) return Error{"duplicate", fmt::format("there is already a token {}", t.name)};
    if (rc != SQLITE_DONE) return store_error(c.db(), "cannot insert a token");
    return int64_t{sqlite3_last_insert_rowid(c.db())};
  });
}

Result<std::optional<ApiTokenRecord>> SqliteStore::api_token(const std::string& token_hash) {
  return in_read_transaction([&](Connection& c) -> Result<std::optional<ApiTokenRecord>> {
    auto st = c.prepare(
        "SELECT id, name, token_hash, topics, created_by, created_at, revoked FROM api_tokens WHERE token_hash = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, token_hash);
    return first<ApiTokenRecord>(*st, rows::api_token<Statement>, "cannot read a token");
  });
}

Result<void> SqliteStore::add_login_failure(const std::string& name, int64_t at) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare("INSERT INTO login_failures (name, at) VALUES (?1, ?2)");
    if (!st.ok()) return st.error();
    st->bind(1, name);
    st->bind(2, at);
    return st->run("cannot record a failed login");
  });
}

Result<std::vector<int64_t>> SqliteStore::login_failures(const std::string& name, int64_t since) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<int64_t>> {
    auto st = c.prepare("SELECT at FROM login_failures WHERE name = ?1 AND at >= ?2 ORDER BY at");
    if (!st.ok()) return st.error();
    st->bind(1, name);
    st->bind(2, since);
    return collect<int64_t>(*st, [](const Statement& s) { return s.int64(0); }, "cannot read failed logins");
  });
}

Result<void> SqliteStore::clear_login_failures(const std::string& name) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare("DELETE FROM login_failures WHERE name = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, name);
    return st->run("cannot clear failed logins");
  });
}

Result<int64_t> SqliteStore::append_audit(const AuditRecord& a) {
  return in_write_transaction([&](Connection& c) { return chain_audit(c, a); });
}

Result<void> SqliteStore::audited(const std::function<Result<void>()>& change, const std::vector<AuditRecord>& rows) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    struct Join {
      explicit Join(const SqliteStore* store) { joined_write = store; }
      ~Join() { joined_write = nullptr; }
      Join(const Join&) = delete;
      Join& operator=(const Join&) = delete;
    };
    {
      Join join(this);
      BANSHI_STORE_TRY(change());
    }
    return chain_audit_rows(c, rows);
  });
}

Result<std::vector<AuditRecord>> SqliteStore::audit_chain(int64_t after_id, size_t limit) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<AuditRecord>> {
    auto st = c.prepare(std::string(kAuditColumns) + "WHERE id > ?1 ORDER BY id LIMIT ?2");
    if (!st.ok()) return st.error();
    st->bind(1, after_id);
    st->bind(2, static_cast<int64_t>(std::min(limit, kMaxPageSize)));
    return collect<AuditRecord>(*st, read_audit, "cannot read the audit trail");
  });
}

Result<std::vector<AuditRecord>> SqliteStore::audit(const AuditQuery& q) {
  std::string sql = std::string(kAuditColumns) + "WHERE at >= ?";
  std::vector<Binding> bindings{Binding(q.since)};
  if (!q.actor.empty()) {
    sql += " AND actor = ?";
    bindings.emplace_back(q.actor);
  }
  if (!q.action.empty()) {
    sql += " AND action = ?";
    bindings.emplace_back(q.action);
  }
  sql += " ORDER BY id DESC LIMIT ? OFFSET ?";
  bindings.emplace_back(static_cast<int64_t>(std::min(q.limit, kMaxPageSize)));
  bindings.emplace_back(static_cast<int64_t>(q.offset));
  return in_read_transaction([&](Connection& c) -> Result<std::vector<AuditRecord>> {
    auto st = c.prepare(sql);
    if (!st.ok()) return st.error();
    bind_all(*st, bindings);
    return collect<AuditRecord>(*st, read_audit, "cannot read the audit trail");
  });
}

// --- monitor figures (docs/sla.md) -----------------------------------------

namespace {

// The state a monitor sees: the stored SLA state, or overdue for a task with
// a due date and no policy once the date has passed (bound: ?1 = now).
constexpr const char* kEffectiveState =
    "(CASE WHEN t.sla_state <> 0 THEN t.sla_state WHEN t.sla_paused_at = 0 AND t.due_at > 0 AND t.due_at <= ?1 "
    "THEN 4 ELSE 0 END)";
// A paused clock's due time still moves, so a task paused before it was
// overdue is not overdue yet.
constexpr const char* kNotPausedBeforeDue = "(t.sla_paused_at = 0 OR t.sla_state NOT IN (0, 1))";
constexpr const char* kInRegions =
    "EXISTS (SELECT 1 FROM json_each(?2) r WHERE substr(t.region, 1, length(r.value)) = r.value)";

}  // namespace

Result<std::vector<MonitorGroup>> SqliteStore::monitor_summary(const std::vector<std::string>& region_prefixes,
                                                               const std::string& group_by, int64_t now) {
  std::string key;
  if (group_by == "department") key = "t.department";
  else if (group_by == "region") key = "t.region";
  else if (group_by == "process") key = "t.process_id";
  else if (group_by == "state") key = kEffectiveState;
  else return Error{"invalid", fmt::format("cannot group by '{}'", group_by)};
  const std::string sql = fmt::format(
      "SELECT {0} AS k, {1} AS s, count(*) FROM user_tasks t WHERE {2} GROUP BY k, s ORDER BY k, s", key,
      kEffectiveState, kInRegions);
  return in_read_transaction([&](Connection& c) -> Result<std::vector<MonitorGroup>> {
    auto st = c.prepare(sql);
    if (!st.ok()) return st.error();
    st->bind(1, now);
    st->bind(2, json_list(region_prefixes));
    static constexpr const char* kStateNames[] = {"on_time", "due_soon", "escalated", "breached", "overdue"};
    std::vector<MonitorGroup> out;
    int rc = 0;
    while ((rc = st->step()) == SQLITE_ROW) {
      const int64_t state = st->int64(1);
      std::string k = group_by == "state" ? std::string(state >= 0 && state <= 4 ? kStateNames[state] : "unknown")
                                          : st->text(0);
      if (out.empty() || out.back().key != k) out.push_back(MonitorGroup{k});
      MonitorGroup& g = out.back();
      const int64_t n = st->int64(2);
      switch (state) {
        case 0: g.on_time += n; break;
        case 1: g.due_soon += n; break;
        case 2: g.escalated += n; break;
        case 3: g.breached += n; break;
        default: g.overdue += n; break;
      }
      g.total += n;
    }
    if (rc != SQLITE_DONE) return store_error(st->db(), "cannot count tasks by SLA state");
    return out;
  });
}

Result<std::vector<TaskRecord>> SqliteStore::monitor_overdue(const std::vector<std::string>& region_prefixes,
                                                             int64_t now, size_t offset, size_t limit,
                                                             int64_t& total) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<TaskRecord>> {
    const std::string where = fmt::format("WHERE t.due_at > 0 AND t.due_at <= ?1 AND {} AND {} ", kInRegions,
                                            kNotPausedBeforeDue);
    auto count = c.prepare("SELECT count(*) FROM user_tasks t " + where);
    if (!count.ok()) return count.error();
    count->bind(1, now);
    count->bind(2, json_list(region_prefixes));
    if (count->step() != SQLITE_ROW) return store_error(count->db(), "cannot count overdue tasks");
    total = count->int64(0);
    auto st = c.prepare(std::string(kTaskColumns) + where + "ORDER BY t.due_at ASC, t.id ASC LIMIT ?3 OFFSET ?4");
    if (!st.ok()) return st.error();
    st->bind(1, now);
    st->bind(2, json_list(region_prefixes));
    st->bind(3, static_cast<int64_t>(std::min(limit, kMaxPageSize)));
    st->bind(4, static_cast<int64_t>(offset));
    return collect<TaskRecord>(*st, read_task, "cannot list overdue tasks");
  });
}

Result<std::vector<MonitorStep>> SqliteStore::monitor_steps(const std::vector<std::string>& region_prefixes,
                                                            int64_t from, int64_t to) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<MonitorStep>> {
    auto st = c.prepare(
        "SELECT t.process_id, t.element_id, t.name, t.completed_at - t.created_at, "
        "(t.sla_state = 3 OR (t.due_at > 0 AND t.completed_at > t.due_at)) FROM task_outcomes t "
        "WHERE t.completed_at >= ?1 AND t.completed_at < ?3 AND " +
        std::string(kInRegions) + " ORDER BY t.process_id, t.element_id, 4");
    if (!st.ok()) return st.error();
    st->bind(1, from);
    st->bind(2, json_list(region_prefixes));
    st->bind(3, to);
    std::vector<MonitorStep> out;
    std::vector<int64_t> handling;
    auto close = [&] {
      if (out.empty() || handling.empty()) return;
      const size_t n = handling.size();
      out.back().median_handling_ms = n % 2 ? handling[n / 2] : (handling[n / 2 - 1] + handling[n / 2]) / 2;
      handling.clear();
    };
    int rc = 0;
    while ((rc = st->step()) == SQLITE_ROW) {
      std::string process = st->text(0), element = st->text(1);
      if (out.empty() || out.back().process_id != process || out.back().element_id != element) {
        close();
        out.push_back(MonitorStep{process, element, st->text(2)});
      }
      MonitorStep& m = out.back();
      ++m.completed;
      m.breached += st->int64(4) != 0;
      handling.push_back(st->int64(3));
    }
    if (rc != SQLITE_DONE) return store_error(st->db(), "cannot read task outcomes");
    close();
    return out;
  });
}

// --- reports, ratings and comparison runs (docs/reports.md) ---------------

namespace {

// A case's region: the region of its first completed task, else of its first
// open one, else '' (docs/reports.md).
constexpr const char* kCaseRegion =
    "coalesce((SELECT o.region FROM task_outcomes o WHERE o.instance_id = i.id ORDER BY o.created_at LIMIT 1), "
    "(SELECT u.region FROM user_tasks u WHERE u.instance_id = i.id ORDER BY u.created_at LIMIT 1), '')";
constexpr const char* kCaseDepartment =
    "coalesce((SELECT o.department FROM task_outcomes o WHERE o.instance_id = i.id ORDER BY o.created_at LIMIT 1), "
    "(SELECT u.department FROM user_tasks u WHERE u.instance_id = i.id ORDER BY u.created_at LIMIT 1), '')";
constexpr const char* kRatingColumns =
    "instance_id, process_id, business_key, region, level, comment, rated_by, on_behalf, rated_at, follow_up_id";

RatingRecord rating_row(const Statement& s) { return rows::rating(s); }

ReportCase report_case_row(const Statement& s) { return rows::report_case(s); }

}  // namespace

Result<std::vector<ReportCase>> SqliteStore::report_cases(const std::vector<std::string>& region_prefixes,
                                                          int64_t from, int64_t to) {
  const std::string sql = fmt::format(
      "SELECT id, process_id, region, status, started_at, ended_at FROM (SELECT i.id, i.process_id, {} AS region, "
      "i.status, i.started_at, i.ended_at FROM instances i WHERE i.parent_id IS NULL AND i.started_at >= ?1 AND "
      "i.started_at < ?3) t WHERE {} ORDER BY started_at, id",
      kCaseRegion, kInRegions);
  return in_read_transaction([&](Connection& c) -> Result<std::vector<ReportCase>> {
    auto st = c.prepare(sql);
    if (!st.ok()) return st.error();
    st->bind(1, from);
    st->bind(2, json_list(region_prefixes));
    st->bind(3, to);
    return collect<ReportCase>(*st, report_case_row, "cannot read cases for a report");
  });
}

Result<ReportCase> SqliteStore::report_case(InstanceId id) {
  const std::string sql = fmt::format(
      "SELECT i.id, i.process_id, {}, i.status, i.started_at, i.ended_at, {} FROM instances i WHERE i.id = ?1",
      kCaseRegion, kCaseDepartment);
  return in_read_transaction([&](Connection& c) -> Result<ReportCase> {
    auto st = c.prepare(sql);
    if (!st.ok()) return st.error();
    st->bind(1, id);
    auto row = first<ReportCase>(
        *st,
        [](Statement& r) {
          ReportCase found = report_case_row(r);
          found.department = r.text(6);
          return found;
        },
        "cannot read a case");
    if (!row.ok()) return row.error();
    if (!*row) return Error{"not-found", fmt::format("there is no instance {}", id)};
    return std::move(**row);
  });
}

Result<std::vector<ReportTask>> SqliteStore::report_tasks(const std::vector<std::string>& region_prefixes,
                                                          int64_t from, int64_t to) {
  const std::string sql = fmt::format(
      "SELECT t.instance_id, t.process_id, t.element_id, t.name, t.department, t.region, t.created_at, t.due_at, "
      "t.completed_at, t.sla_state, t.escalation_level, 0 FROM task_outcomes t "
      "WHERE t.completed_at >= ?1 AND t.completed_at < ?3 AND {0} "
      "UNION ALL SELECT t.instance_id, t.process_id, t.element_id, t.name, t.department, t.region, t.created_at, "
      "t.due_at, 0, t.sla_state, t.escalation_level, t.sla_paused_at FROM user_tasks t "
      "WHERE t.created_at < ?3 AND {0} "
      "ORDER BY 2, 3, 7",
      kInRegions);
  return in_read_transaction([&](Connection& c) -> Result<std::vector<ReportTask>> {
    auto st = c.prepare(sql);
    if (!st.ok()) return st.error();
    st->bind(1, from);
    st->bind(2, json_list(region_prefixes));
    st->bind(3, to);
    return collect<ReportTask>(
        *st,
        [](Statement& r) {
          ReportTask t;
          t.instance_id = r.int64(0);
          t.process_id = r.text(1);
          t.element_id = r.text(2);
          t.name = r.text(3);
          t.department = r.text(4);
          t.region = r.text(5);
          t.created_at = r.int64(6);
          t.due_at = r.int64(7);
          t.completed_at = r.int64(8);
          t.sla_state = static_cast<uint8_t>(r.int64(9));
          t.escalation_level = static_cast<int32_t>(r.int64(10));
          t.sla_paused_at = r.int64(11);
          return t;
        },
        "cannot read tasks for a report");
  });
}

Result<void> SqliteStore::add_rating(const RatingRecord& r) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare(fmt::format("INSERT INTO ratings ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                                    kRatingColumns));
    if (!st.ok()) return st.error();
    st->bind(1, r.instance_id);
    st->bind(2, r.process_id);
    st->bind(3, r.business_key);
    st->bind(4, r.region);
    st->bind(5, int64_t{r.level});
    st->bind(6, r.comment);
    st->bind(7, r.rated_by);
    st->bind(8, int64_t{r.on_behalf ? 1 : 0});
    st->bind(9, r.rated_at);
    st->bind(10, r.follow_up_id);
    int rc = st->step();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) return conflict(fmt::format("case {} is rated already", r.instance_id));
    if (rc != SQLITE_DONE) return store_error(c.db(), fmt::format("cannot store the rating of case {}", r.instance_id));
    return {};
  });
}

Result<void> SqliteStore::set_rating_follow_up(InstanceId rated, InstanceId follow_up) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare("UPDATE ratings SET follow_up_id = ?2 WHERE instance_id = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, rated);
    st->bind(2, follow_up);
    BANSHI_STORE_TRY(st->run("cannot record a rating's follow-up"));
    if (sqlite3_changes(c.db()) == 0) return Error{"not-found", fmt::format("case {} has no rating", rated)};
    return {};
  });
}

Result<std::optional<RatingRecord>> SqliteStore::rating(InstanceId id) {
  return in_read_transaction([&](Connection& c) -> Result<std::optional<RatingRecord>> {
    auto st = c.prepare(fmt::format("SELECT {} FROM ratings WHERE instance_id = ?1", kRatingColumns));
    if (!st.ok()) return st.error();
    st->bind(1, id);
    return first<RatingRecord>(*st, rating_row, "cannot read a rating");
  });
}

Result<std::vector<RatingRecord>> SqliteStore::ratings(const std::vector<std::string>& region_prefixes, int64_t from,
                                                       int64_t to) {
  const std::string sql = fmt::format(
      "SELECT {} FROM ratings t WHERE t.rated_at >= ?1 AND t.rated_at < ?3 AND {} ORDER BY t.rated_at, t.instance_id",
      kRatingColumns, kInRegions);
  return in_read_transaction([&](Connection& c) -> Result<std::vector<RatingRecord>> {
    auto st = c.prepare(sql);
    if (!st.ok()) return st.error();
    st->bind(1, from);
    st->bind(2, json_list(region_prefixes));
    st->bind(3, to);
    return collect<RatingRecord>(*st, rating_row, "cannot read ratings");
  });
}

Result<int64_t> SqliteStore::add_comparison_run(const ComparisonRunRecord& r) {
  return in_write_transaction([&](Connection& c) -> Result<int64_t> {
    auto st = c.prepare(
        "INSERT INTO comparison_runs (instance_id, run_key, at, found, started, found_count, started_count) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (run_key) DO NOTHING");
    if (!st.ok()) return st.error();
    st->bind(1, r.instance_id);
    st->bind(2, r.run_key);
    st->bind(3, r.at);
    st->bind(4, r.found);
    st->bind(5, r.started);
    st->bind(6, r.found_count);
    st->bind(7, r.started_count);
    BANSHI_STORE_TRY(st->run("cannot record a comparison run"));
    auto id = c.prepare("SELECT id FROM comparison_runs WHERE run_key = ?1");
    if (!id.ok()) return id.error();
    id->bind(1, r.run_key);
    if (id->step() != SQLITE_ROW) return store_error(c.db(), "cannot read a comparison run back");
    return id->int64(0);
  });
}

Result<std::vector<ComparisonRunRecord>> SqliteStore::comparison_runs(size_t offset, size_t limit, int64_t& total) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<ComparisonRunRecord>> {
    auto count = c.prepare("SELECT count(*) FROM comparison_runs");
    if (!count.ok()) return count.error();
    if (count->step() != SQLITE_ROW) return store_error(count->db(), "cannot count comparison runs");
    total = count->int64(0);
    auto st = c.prepare(
        "SELECT id, instance_id, at, found, started, found_count, started_count FROM comparison_runs "
        "ORDER BY id DESC LIMIT ?1 OFFSET ?2");
    if (!st.ok()) return st.error();
    st->bind(1, static_cast<int64_t>(limit));
    st->bind(2, static_cast<int64_t>(offset));
    return collect<ComparisonRunRecord>(*st, rows::comparison_run<Statement>, "cannot read comparison runs");
  });
}

Result<IdentityCheckAdmission> SqliteStore::admit_identity_check(const std::string& phone_hash,
                                                                 const std::string& person_hash,
                                                                 const std::string& day, int per_day) {
  // One writer at a time: nothing is added between the count and the insert.
  return in_write_transaction([&](Connection& c) -> Result<IdentityCheckAdmission> {
    auto old = c.prepare("DELETE FROM identity_checks WHERE day < ?1");
    if (!old.ok()) return old.error();
    old->bind(1, day);
    BANSHI_STORE_TRY(old->run("cannot forget earlier identity checks"));
    auto seen = c.prepare(
        "SELECT count(*), count(*) FILTER (WHERE person_hash = ?3) FROM identity_checks "
        "WHERE phone_hash = ?1 AND day = ?2");
    if (!seen.ok()) return seen.error();
    seen->bind(1, phone_hash);
    seen->bind(2, day);
    seen->bind(3, person_hash);
    if (seen->step() != SQLITE_ROW) return store_error(c.db(), "cannot count identity checks");
    if (seen->int64(1) > 0) return IdentityCheckAdmission::kAlreadyToday;
    if (seen->int64(0) >= per_day) return IdentityCheckAdmission::kDayFull;
    auto add = c.prepare("INSERT INTO identity_checks (phone_hash, day, person_hash) VALUES (?1, ?2, ?3)");
    if (!add.ok()) return add.error();
    add->bind(1, phone_hash);
    add->bind(2, day);
    add->bind(3, person_hash);
    BANSHI_STORE_TRY(add->run("cannot record an identity check"));
    return IdentityCheckAdmission::kRecorded;
  });
}

Result<void> SqliteStore::forget_identity_check(const std::string& phone_hash, const std::string& person_hash,
                                                const std::string& day) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare("DELETE FROM identity_checks WHERE phone_hash = ?1 AND day = ?2 AND person_hash = ?3");
    if (!st.ok()) return st.error();
    st->bind(1, phone_hash);
    st->bind(2, day);
    st->bind(3, person_hash);
    return st->run("cannot forget an identity check");
  });
}

}  // namespace banshi::store::sqlite

// --- FrontDoorStore (migration 7, docs/frontdoor.md) ---------------------------

namespace banshi::store::sqlite {

namespace {

IntakeRecord intake_row(const Statement& s) { return rows::intake(s); }

constexpr const char* kIntakeColumns =
    "business_key, instance_id, process_id, services, region, applicant_hash, phone_hash, channel, filed_by, "
    "on_behalf, proxy, receipt, created_at, linked_key";

}  // namespace

Result<void> SqliteStore::add_intake(const IntakeRecord& r) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare(std::string("INSERT INTO intakes (") + kIntakeColumns +
                        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    if (!st.ok()) return st.error();
    st->bind(1, r.business_key);
    st->bind(2, r.instance_id);
    st->bind(3, r.process_id);
    st->bind(4, r.services);
    st->bind(5, r.region);
    st->bind(6, r.applicant_hash);
    st->bind(7, r.phone_hash);
    st->bind(8, r.channel);
    st->bind(9, r.filed_by);
    st->bind(10, int64_t{r.on_behalf ? 1 : 0});
    st->bind(11, r.proxy);
    st->bind(12, r.receipt);
    st->bind(13, r.created_at);
    st->bind(14, r.linked_key);
    int rc = st->step();
    if (is_constraint(rc)) return Error{"duplicate", fmt::format("there is already a case {}", r.business_key)};
    if (rc != SQLITE_DONE) return store_error(c.db(), "cannot insert an intake");
    return {};
  });
}

Result<std::optional<IntakeRecord>> SqliteStore::intake(const std::string& business_key) {
  return in_read_transaction([&](Connection& c) -> Result<std::optional<IntakeRecord>> {
    auto st = c.prepare(std::string("SELECT ") + kIntakeColumns + " FROM intakes WHERE business_key = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, business_key);
    return first<IntakeRecord>(*st, intake_row, "cannot read an intake");
  });
}

Result<std::vector<IntakeRecord>> SqliteStore::intakes_of_phone(const std::string& phone_hash) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<IntakeRecord>> {
    auto st = c.prepare(std::string("SELECT ") + kIntakeColumns +
                        " FROM intakes WHERE phone_hash = ?1 ORDER BY created_at DESC, business_key DESC LIMIT 200");
    if (!st.ok()) return st.error();
    st->bind(1, phone_hash);
    return collect<IntakeRecord>(*st, intake_row, "cannot read intakes");
  });
}

Result<std::optional<IntakeRecord>> SqliteStore::intake_of_applicant(const std::string& applicant_hash) {
  return in_read_transaction([&](Connection& c) -> Result<std::optional<IntakeRecord>> {
    auto st = c.prepare(std::string("SELECT ") + kIntakeColumns +
                        " FROM intakes WHERE applicant_hash = ?1 ORDER BY created_at DESC, business_key DESC LIMIT 1");
    if (!st.ok()) return st.error();
    st->bind(1, applicant_hash);
    return first<IntakeRecord>(*st, intake_row, "cannot read an intake");
  });
}

Result<int64_t> SqliteStore::add_document(const DocumentRecord& d, int max_per_case) {
  // One writer at a time: the count cannot change before the insert.
  return in_write_transaction([&](Connection& c) -> Result<int64_t> {
    auto held = c.prepare("SELECT count(*) FROM case_documents WHERE business_key = ?1");
    if (!held.ok()) return held.error();
    held->bind(1, d.business_key);
    if (held->step() != SQLITE_ROW) return store_error(c.db(), "cannot count a case's documents");
    if (held->int64(0) >= max_per_case) {
      return Error{"limit-reached", fmt::format("case {} already holds {} documents", d.business_key, max_per_case)};
    }
    auto st = c.prepare(
        "INSERT INTO case_documents (business_key, material, media_type, size, stored_name, sha256, uploaded_by, "
        "uploaded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!st.ok()) return st.error();
    st->bind(1, d.business_key);
    st->bind(2, d.material);
    st->bind(3, d.media_type);
    st->bind(4, d.size);
    st->bind(5, d.stored_name);
    st->bind(6, d.sha256);
    st->bind(7, d.uploaded_by);
    st->bind(8, d.uploaded_at);
    BANSHI_STORE_TRY(st->run("cannot insert a document"));
    return int64_t{sqlite3_last_insert_rowid(c.db())};
  });
}

Result<std::vector<DocumentRecord>> SqliteStore::documents(const std::string& business_key) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<DocumentRecord>> {
    auto st = c.prepare(
        "SELECT id, business_key, material, media_type, size, stored_name, sha256, uploaded_by, uploaded_at "
        "FROM case_documents WHERE business_key = ?1 ORDER BY id");
    if (!st.ok()) return st.error();
    st->bind(1, business_key);
    return collect<DocumentRecord>(
        *st,
        [](const Statement& s) {
          return DocumentRecord{s.int64(0), s.text(1), s.text(2), s.text(3), s.int64(4),
                                s.text(5),  s.text(6), s.text(7), s.int64(8)};
        },
        "cannot read documents");
  });
}

Result<CodeAdmission> SqliteStore::add_code(const OneTimeCodeRecord& r, int64_t min_interval_ms, int per_hour,
                                            int per_day) {
  // One writer at a time: nothing is added between the check and the insert.
  return in_write_transaction([&](Connection& c) -> Result<CodeAdmission> {
    auto recent = c.prepare(
        "SELECT count(*) FILTER (WHERE created_at >= ?3), max(created_at), count(*), min(created_at) "
        "FROM applicant_codes WHERE phone_hash = ?1 AND created_at >= ?2");
    if (!recent.ok()) return recent.error();
    recent->bind(1, r.phone_hash);
    recent->bind(2, r.created_at - kCodeDayMs);
    recent->bind(3, r.created_at - kCodeHourMs);
    if (recent->step() != SQLITE_ROW) return store_error(c.db(), "cannot count one-time codes");
    CodeAdmission admission;
    const int64_t in_day = recent->int64(2);
    if (in_day > 0 && r.created_at - recent->int64(1) < min_interval_ms) {
      admission.last_sent_at = recent->int64(1);
      return admission;
    }
    if (in_day >= per_day) {
      admission.day_full = true;
      admission.day_opens_at = recent->int64(3) + kCodeDayMs + 1;
      return admission;
    }
    if (recent->int64(0) >= per_hour) {
      admission.hour_full = true;
      return admission;
    }
    auto st = c.prepare(
        "INSERT INTO applicant_codes (phone_hash, code_hash, created_at, expires_at, attempts, used) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!st.ok()) return st.error();
    st->bind(1, r.phone_hash);
    st->bind(2, r.code_hash);
    st->bind(3, r.created_at);
    st->bind(4, r.expires_at);
    st->bind(5, int64_t{r.attempts});
    st->bind(6, int64_t{r.used ? 1 : 0});
    BANSHI_STORE_TRY(st->run("cannot insert a one-time code"));
    admission.id = sqlite3_last_insert_rowid(c.db());
    return admission;
  });
}

Result<void> SqliteStore::remove_code(int64_t id) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare("DELETE FROM applicant_codes WHERE id = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, id);
    return st->run("cannot remove a one-time code");
  });
}

Result<std::vector<OneTimeCodeRecord>> SqliteStore::codes(const std::string& phone_hash, int64_t since) {
  return in_read_transaction([&](Connection& c) -> Result<std::vector<OneTimeCodeRecord>> {
    auto st = c.prepare(
        "SELECT id, phone_hash, code_hash, created_at, expires_at, attempts, used FROM applicant_codes "
        "WHERE phone_hash = ?1 AND created_at >= ?2 ORDER BY id DESC LIMIT 100");
    if (!st.ok()) return st.error();
    st->bind(1, phone_hash);
    st->bind(2, since);
    return collect<OneTimeCodeRecord>(
        *st,
        [](const Statement& s) {
          return OneTimeCodeRecord{s.int64(0), s.text(1), s.text(2), s.int64(3),
                                   s.int64(4), static_cast<int32_t>(s.int64(5)), s.int64(6) != 0};
        },
        "cannot read one-time codes");
  });
}

Result<bool> SqliteStore::record_code_attempt(int64_t id, bool used, int32_t max_attempts, int64_t now) {
  return in_write_transaction([&](Connection& c) -> Result<bool> {
    auto st = c.prepare(
        "UPDATE applicant_codes SET attempts = attempts + 1, used = MAX(used, ?2) "
        "WHERE id = ?1 AND used = 0 AND attempts < ?3 AND expires_at > ?4");
    if (!st.ok()) return st.error();
    st->bind(1, id);
    st->bind(2, int64_t{used ? 1 : 0});
    st->bind(3, int64_t{max_attempts});
    st->bind(4, now);
    BANSHI_STORE_TRY(st->run("cannot count a code attempt"));
    return sqlite3_changes(c.db()) == 1;
  });
}

Result<void> SqliteStore::add_applicant_session(const ApplicantSessionRecord& s) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare(
        "INSERT INTO applicant_sessions (token_hash, phone_hash, csrf_token, created_at, last_seen_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!st.ok()) return st.error();
    st->bind(1, s.token_hash);
    st->bind(2, s.phone_hash);
    st->bind(3, s.csrf_token);
    st->bind(4, s.created_at);
    st->bind(5, s.last_seen_at);
    return st->run("cannot insert an applicant session");
  });
}

Result<std::optional<ApplicantSessionRecord>> SqliteStore::applicant_session(const std::string& token_hash) {
  return in_read_transaction([&](Connection& c) -> Result<std::optional<ApplicantSessionRecord>> {
    auto st = c.prepare(
        "SELECT token_hash, phone_hash, csrf_token, created_at, last_seen_at FROM applicant_sessions "
        "WHERE token_hash = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, token_hash);
    return first<ApplicantSessionRecord>(
        *st,
        [](const Statement& s) {
          return ApplicantSessionRecord{s.text(0), s.text(1), s.text(2), s.int64(3), s.int64(4)};
        },
        "cannot read an applicant session");
  });
}

Result<void> SqliteStore::touch_applicant_session(const std::string& token_hash, int64_t last_seen_at) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare("UPDATE applicant_sessions SET last_seen_at = ?2 WHERE token_hash = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, token_hash);
    st->bind(2, last_seen_at);
    return st->run("cannot update an applicant session");
  });
}

Result<void> SqliteStore::delete_applicant_session(const std::string& token_hash) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto st = c.prepare("DELETE FROM applicant_sessions WHERE token_hash = ?1");
    if (!st.ok()) return st.error();
    st->bind(1, token_hash);
    return st->run("cannot delete an applicant session");
  });
}

Result<bool> SqliteStore::mark_notified(const std::string& business_key, const std::string& milestone, int64_t at) {
  return in_write_transaction([&](Connection& c) -> Result<bool> {
    auto st = c.prepare(
        "INSERT INTO case_notifications (business_key, milestone, sent_at) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (business_key, milestone) DO NOTHING");
    if (!st.ok()) return st.error();
    st->bind(1, business_key);
    st->bind(2, milestone);
    st->bind(3, at);
    BANSHI_STORE_TRY(st->run("cannot record a notification"));
    return sqlite3_changes(c.db()) > 0;
  });
}

}  // namespace banshi::store::sqlite
