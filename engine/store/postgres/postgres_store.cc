#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <variant>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <libpq-fe.h>
#include <poll.h>

#include "store/audit_chain.h"
#include "store/postgres/connection.h"
#include "store/postgres/migrations.h"
#include "store/page_sql.h"
#include "store/rows.h"
#include "store/task_sets.h"

// Returns the Error of a failed Result<...> from the enclosing function.
#define BANSHI_PG_TRY(expr)                            \
  do {                                                 \
    auto try_result_ = (expr);                         \
    if (!try_result_.ok()) return try_result_.error(); \
  } while (false)

namespace banshi::store::postgres {
namespace {

constexpr size_t kMaxPageSize = 1000;
constexpr int64_t kCandidateGroup = 1;
constexpr int64_t kCandidateUser = 2;

// SQLSTATEs the store tells apart.
constexpr std::string_view kUniqueViolation = "23505";
constexpr std::string_view kSerializationFailure = "40001";
constexpr std::string_view kDeadlock = "40P01";

using rows::as_int;
using rows::as_key;

// One row of a result, as store/rows.h reads it.
struct RowOf {
  const Rows& rows;
  int row;
  int64_t int64(int column) const { return rows.int64(row, column); }
  std::string text(int column) const { return rows.text(row, column); }
  std::string bytes(int column) const { return rows.bytes(row, column); }
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error conflict(std::string message) { return Error{"conflict", std::move(message)}; }

// A failure as the Store contract names it: concurrent writers that lost
// (serialization failure, deadlock) are conflicts the caller retries.
Error failed(const Failure& f, std::string_view what) {
  if (f.sqlstate == kSerializationFailure || f.sqlstate == kDeadlock) {
    return conflict(fmt::format("{}: {}", what, f.message));
  }
  return store_error(f, what);
}

// Runs a statement; an Error naming `what` when it fails.
Result<std::unique_ptr<Rows>> query(Connection& c, const std::string& sql, const Params& params,
                                    std::string_view what) {
  auto out = c.run(sql, params);
  if (!out.ok()) return failed(out.failure, what);
  return std::move(out.rows);
}

template <typename T, typename Row>
Result<std::vector<T>> collect(Connection& c, const std::string& sql, const Params& params, Row row,
                               std::string_view what) {
  auto rows = query(c, sql, params, what);
  if (!rows.ok()) return rows.error();
  std::vector<T> out;
  const Rows& r = **rows;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) out.push_back(row(r, i));
  return out;
}

template <typename T, typename Row>
Result<std::optional<T>> first(Connection& c, const std::string& sql, const Params& params, Row row,
                               std::string_view what) {
  auto rows = query(c, sql, params, what);
  if (!rows.ok()) return rows.error();
  if ((*rows)->size() == 0) return std::optional<T>();
  return std::optional<T>(row(**rows, 0));
}

// Turns the `?` placeholders of a query assembled from fixed fragments into
// $1, $2, ... in order (none of the fragments holds a `?` of its own).
std::string numbered(const std::string& sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  for (char ch : sql) {
    if (ch == '?') {
      out += fmt::format("${}", ++n);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

// --- rows -----------------------------------------------------------------

constexpr const char* kDefinitionColumns =
    "SELECT key, process_id, version, name, resource, xml, checksum, deployed_at, deployed_by FROM definitions ";

// The file is kept as its bytes (BYTEA, migration 11): the models' reader
// takes GB18030, Latin-1 or UTF-16 as well as UTF-8, which TEXT refuses.
DefinitionRecord read_definition(const Rows& s, int i) {
  DefinitionRecord d = rows::definition(RowOf{s, i});
  d.xml = s.bytes(i, 5);
  return d;
}

constexpr const char* kDecisionColumns =
    "SELECT key, decision_id, version, name, resource, xml, checksum, deployed_at, deployed_by FROM decisions ";

DecisionRecord read_decision(const Rows& s, int i) {
  DecisionRecord d = rows::decision(RowOf{s, i});
  d.xml = s.bytes(i, 5);
  return d;
}

constexpr const char* kInstanceColumns =
    "SELECT id, definition_key, process_id, definition_version, business_key, status, version, state, started_at, "
    "ended_at, parent_id, parent_element, applicant_id, applicant_name, region FROM instances ";
// The same shape without the state blob, for listings.
constexpr const char* kInstanceSummaryColumns =
    "SELECT id, definition_key, process_id, definition_version, business_key, status, version, ''::bytea, "
    "started_at, ended_at, parent_id, parent_element, applicant_id, applicant_name, region FROM instances ";

InstanceRecord read_instance(const Rows& s, int i) { return rows::instance(RowOf{s, i}); }

constexpr const char* kTaskColumns =
    "SELECT t.id, t.instance_id, t.key, t.process_id, t.element_id, t.name, t.business_key, t.assignee, t.region, "
    "t.form_key, t.priority, t.created_at, t.due_at, t.follow_up_at, t.sla_state, t.payload, t.escalation_level, "
    "t.escalated_to, t.escalated_region, t.department, t.sla_paused_at FROM user_tasks t ";

TaskRecord read_task(const Rows& s, int i) { return rows::task(RowOf{s, i}); }

constexpr const char* kJobColumnList =
    "id, instance_id, key, type, element_id, retries, due_at, lease_owner, lease_until, idempotency_key, "
    "last_error, state, payload";

JobRecord read_job(const Rows& s, int i) { return rows::job(RowOf{s, i}); }

TimerRecord read_timer(const Rows& s, int i) { return rows::timer(RowOf{s, i}); }

SubscriptionRecord read_subscription(const Rows& s, int i) { return rows::subscription(RowOf{s, i}); }

MessageRecord read_message(const Rows& s, int i) { return rows::message(RowOf{s, i}); }

constexpr const char* kIncidentColumns =
    "SELECT id, instance_id, key, process_id, element_id, kind, message, job_key, created_at FROM incidents ";

IncidentRecord read_incident(const Rows& s, int i) { return rows::incident(RowOf{s, i}); }

// --- schema ---------------------------------------------------------------

constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL, description TEXT NOT NULL)";

// The cluster's bookkeeping, which only a shared database has: one row per
// node, written by its heartbeat. Not a numbered migration (the SQLite
// store has no nodes); created by migrate() after them.
constexpr const char* kCreateNodesTable =
    "CREATE TABLE IF NOT EXISTS cluster_nodes ("
    " node_id TEXT PRIMARY KEY, role TEXT NOT NULL, address TEXT NOT NULL,"
    " started_at BIGINT NOT NULL, heartbeat_at BIGINT NOT NULL)";

// Who fires a timer: the node holding a live lease on it. Removing or
// rescheduling the timer ends the lease with it.
constexpr const char* kCreateTimerLeasesTable =
    "CREATE TABLE IF NOT EXISTS timer_leases ("
    " instance_id BIGINT NOT NULL, key BIGINT NOT NULL, owner TEXT NOT NULL, lease_until BIGINT NOT NULL,"
    " PRIMARY KEY (instance_id, key),"
    " FOREIGN KEY (instance_id, key) REFERENCES timers (instance_id, key) ON DELETE CASCADE)";

Result<int> read_schema_version(Connection& c) {
  auto exists = query(c, "SELECT to_regclass('schema_migrations') IS NOT NULL", {}, "cannot read the schema version");
  if (!exists.ok()) return exists.error();
  if (!(*exists)->boolean(0, 0)) return 0;
  auto max = query(c, "SELECT coalesce(max(version), 0) FROM schema_migrations", {}, "cannot read the schema version");
  if (!max.ok()) return max.error();
  return static_cast<int>((*max)->int64(0, 0));
}

int latest_version() { return migrations().empty() ? 0 : migrations().back().version; }

Error too_new(int present) {
  return Error{"store", fmt::format("the database schema is version {}; this build knows up to {}", present,
                                    latest_version())};
}

// A transaction-scoped advisory lock named after what it guards and the
// schema, so stores in different schemas of one database do not wait on
// each other. `schema` names it while it may not exist yet (current_schema()
// is NULL then); empty: the current schema.
Result<void> advisory_lock(Connection& c, const std::string& what, const std::string& schema = {}) {
  auto locked = query(c, "SELECT pg_advisory_xact_lock(hashtext($1 || ':' || coalesce(nullif($2, ''), "
                         "current_schema(), '')))",
                      Params().add(what).add(schema), "cannot take a lock");
  if (!locked.ok()) return locked.error();
  return {};
}

// --- batch parts ----------------------------------------------------------

Result<void> write_instance(Connection& c, const InstanceWrite& w) {
  const InstanceRecord& r = w.record;
  Params p;
  p.add(r.id)
      .add(r.definition_key)
      .add(r.process_id)
      .add(int64_t{r.definition_version})
      .add(r.business_key)
      .add(int64_t{r.status})
      .add(r.version)
      .add_bytes(r.state)
      .add(r.started_at)
      .add(r.ended_at);
  if (r.parent_id == 0) {
    p.add_null();
  } else {
    p.add(r.parent_id);
  }
  p.add(as_int(r.parent_element));
  if (w.expected_version == 0) {
    p.add(r.applicant_id).add(r.applicant_name).add(r.region);
    auto out = c.run(
        "INSERT INTO instances (id, definition_key, process_id, definition_version, business_key, status, version, "
        "state, started_at, ended_at, parent_id, parent_element, applicant_id, applicant_name, region) VALUES ($1, $2, "
        "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        p);
    if (out.ok()) return {};
    if (out.failure.sqlstate == kUniqueViolation) return conflict(fmt::format("instance {} already exists", r.id));
    return failed(out.failure, fmt::format("cannot insert instance {}", r.id));
  }
  p.add(w.expected_version);
  auto updated = query(
      c,
      "UPDATE instances SET definition_key = $2, process_id = $3, definition_version = $4, business_key = $5, "
      "status = $6, version = $7, state = $8, started_at = $9, ended_at = $10, parent_id = $11, parent_element = $12 "
      "WHERE id = $1 AND version = $13",
      p, fmt::format("cannot update instance {}", r.id));
  if (!updated.ok()) return updated.error();
  if ((*updated)->affected() == 0) {
    return conflict(fmt::format("instance {} is not at version {}; reload it", r.id, w.expected_version));
  }
  return {};
}

// Adds `t` with its candidates; its new id goes to `ids` when that is set.
Result<void> add_task(Connection& c, const TaskRecord& t, std::vector<int64_t>* ids) {
  Params p;
  p.add(t.instance_id)
      .add(as_int(t.key))
      .add(t.process_id)
      .add(t.element_id)
      .add(t.name)
      .add(t.business_key)
      .add(t.assignee)
      .add(t.region)
      .add(t.form_key)
      .add(int64_t{t.priority})
      .add(t.created_at)
      .add(t.due_at)
      .add(t.follow_up_at)
      .add(int64_t{t.sla_state})
      .add(t.payload)
      .add(int64_t{t.escalation_level})
      .add(t.escalated_to)
      .add(t.escalated_region)
      .add(t.department)
      .add(t.sla_paused_at);
  auto inserted = query(
      c,
      "INSERT INTO user_tasks (instance_id, key, process_id, element_id, name, business_key, assignee, region, "
      "form_key, priority, created_at, due_at, follow_up_at, sla_state, payload, escalation_level, escalated_to, "
      "escalated_region, department, sla_paused_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
      "$14, $15, $16, $17, $18, $19, $20) RETURNING id",
      p, fmt::format("cannot insert task {}/{}", t.instance_id, t.key));
  if (!inserted.ok()) return inserted.error();
  const int64_t task_id = (*inserted)->int64(0, 0);
  if (ids) ids->push_back(task_id);
  if (t.candidate_groups.empty() && t.candidate_users.empty()) return {};
  // All candidates in one statement: kinds and values as two JSON arrays.
  std::vector<std::string> kinds, values;
  for (const auto& g : t.candidate_groups) kinds.push_back(std::to_string(kCandidateGroup)), values.push_back(g);
  for (const auto& u : t.candidate_users) kinds.push_back(std::to_string(kCandidateUser)), values.push_back(u);
  auto cand = query(c,
                    "INSERT INTO task_candidates (task_id, kind, position, value) "
                    "SELECT $1, k.kind::bigint, "
                    "row_number() OVER (PARTITION BY k.kind ORDER BY k.n) - 1, v.value "
                    "FROM jsonb_array_elements_text($2::jsonb) WITH ORDINALITY AS k(kind, n) "
                    "JOIN jsonb_array_elements_text($3::jsonb) WITH ORDINALITY AS v(value, n) ON v.n = k.n",
                    Params().add(task_id).add(json_list(kinds)).add(json_list(values)),
                    "cannot insert task candidates");
  if (!cand.ok()) return cand.error();
  return {};
}

Result<void> remove_keyed(Connection& c, const char* sql, const InstanceKey& k, std::string_view what) {
  auto out = query(c, sql, Params().add(k.instance_id).add(as_int(k.key)), what);
  if (!out.ok()) return out.error();
  return {};
}

// A task a user completes is removed only while its assignee is the one the
// user was checked against: a claim or assignment another node committed
// meanwhile is seen here (the DELETE rechecks the row as committed last).
Result<void> remove_checked_task(Connection& c, const TaskAssigneeCheck& check) {
  auto out = query(c, "DELETE FROM user_tasks WHERE instance_id = $1 AND key = $2 AND assignee = $3",
                   Params().add(check.instance_id).add(as_int(check.key)).add(check.assignee), "cannot remove a task");
  if (!out.ok()) return out.error();
  if ((*out)->affected() != 0) return {};
  auto still = query(c, "SELECT assignee FROM user_tasks WHERE instance_id = $1 AND key = $2",
                     Params().add(check.instance_id).add(as_int(check.key)), "cannot read a task");
  if (!still.ok()) return still.error();
  if ((*still)->size() != 0) {
    return Error{"rejected", fmt::format("the task was given to '{}' meanwhile", (*still)->text(0, 0))};
  }
  return {};
}

// A job a worker reports on is still leased to that worker (the row locked
// until the commit, so a fetch by another node waits for it).
Result<void> check_job_lease(Connection& c, const JobLeaseCheck& check) {
  auto row = query(c, "SELECT lease_owner FROM jobs WHERE instance_id = $1 AND key = $2 FOR UPDATE",
                   Params().add(check.instance_id).add(as_int(check.key)), "cannot read a job");
  if (!row.ok()) return row.error();
  if ((*row)->size() == 0) return Error{"rejected", "the job was reported on meanwhile"};
  if ((*row)->text(0, 0) != check.owner) return Error{"rejected", "the job was fetched by another worker meanwhile"};
  return {};
}

Result<void> add_job(Connection& c, const JobRecord& j) {
  Params p;
  p.add(j.instance_id)
      .add(as_int(j.key))
      .add(j.type)
      .add(j.element_id)
      .add(int64_t{j.retries})
      .add(j.due_at)
      .add(j.lease_owner)
      .add(j.lease_until)
      .add_text_or_null(j.idempotency_key)
      .add(j.last_error)
      .add(int64_t{j.state})
      .add(j.payload);
  auto out = query(c,
                   "INSERT INTO jobs (instance_id, key, type, element_id, retries, due_at, lease_owner, lease_until, "
                   "idempotency_key, last_error, state, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
                   "$11, $12)",
                   p, fmt::format("cannot insert job {}/{}", j.instance_id, j.key));
  if (!out.ok()) return out.error();
  return {};
}

Result<void> update_job(Connection& c, const JobUpdate& u) {
  // A new attempt starts from a free lease.
  auto out = query(c,
                   "UPDATE jobs SET retries = $3, due_at = $4, last_error = $5, state = $6, lease_owner = '', "
                   "lease_until = 0 WHERE instance_id = $1 AND key = $2",
                   Params()
                       .add(u.instance_id)
                       .add(as_int(u.key))
                       .add(int64_t{u.retries})
                       .add(u.due_at)
                       .add(u.last_error)
                       .add(int64_t{u.state}),
                   fmt::format("cannot update job {}/{}", u.instance_id, u.key));
  if (!out.ok()) return out.error();
  return {};
}

Result<void> upsert_timer(Connection& c, const TimerRecord& t) {
  auto out = query(c,
                   "INSERT INTO timers (instance_id, key, element_id, due_at) VALUES ($1, $2, $3, $4) "
                   "ON CONFLICT (instance_id, key) DO UPDATE SET element_id = excluded.element_id, "
                   "due_at = excluded.due_at",
                   Params().add(t.instance_id).add(as_int(t.key)).add(t.element_id).add(t.due_at),
                   fmt::format("cannot write timer {}/{}", t.instance_id, t.key));
  if (!out.ok()) return out.error();
  return {};
}

Result<void> add_message_subscription(Connection& c, const SubscriptionRecord& s) {
  auto out = query(c,
                   "INSERT INTO message_subscriptions (instance_id, key, name, correlation_key, element_id) "
                   "VALUES ($1, $2, $3, $4, $5)",
                   Params().add(s.instance_id).add(as_int(s.key)).add(s.name).add(s.correlation_key).add(s.element_id),
                   fmt::format("cannot insert message subscription {}/{}", s.instance_id, s.key));
  if (!out.ok()) return out.error();
  return {};
}

Result<void> add_signal_subscription(Connection& c, const SubscriptionRecord& s) {
  auto out = query(c, "INSERT INTO signal_subscriptions (instance_id, key, name, element_id) VALUES ($1, $2, $3, $4)",
                   Params().add(s.instance_id).add(as_int(s.key)).add(s.name).add(s.element_id),
                   fmt::format("cannot insert signal subscription {}/{}", s.instance_id, s.key));
  if (!out.ok()) return out.error();
  return {};
}

Result<void> add_message(Connection& c, const MessageRecord& m) {
  auto out = c.run(
      "INSERT INTO messages (name, correlation_key, variables, message_id, published_at, expires_at) "
      "VALUES ($1, $2, $3, $4, $5, $6)",
      Params()
          .add(m.name)
          .add(m.correlation_key)
          .add(m.variables)
          .add_text_or_null(m.message_id)
          .add(m.published_at)
          .add(m.expires_at));
  if (out.ok()) return {};
  // message_id is the only unique column besides the identity.
  if (out.failure.sqlstate == kUniqueViolation) {
    return Error{"duplicate", fmt::format("a message with id '{}' was already published", m.message_id)};
  }
  return failed(out.failure, fmt::format("cannot insert message '{}'", m.name));
}

Result<void> add_incident(Connection& c, const IncidentRecord& i) {
  auto out = query(c,
                   "INSERT INTO incidents (instance_id, key, process_id, element_id, kind, message, job_key, "
                   "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                   Params()
                       .add(i.instance_id)
                       .add(as_int(i.key))
                       .add(i.process_id)
                       .add(i.element_id)
                       .add(int64_t{i.kind})
                       .add(i.message)
                       .add(as_int(i.job_key))
                       .add(i.created_at),
                   fmt::format("cannot insert incident {}/{}", i.instance_id, i.key));
  if (!out.ok()) return out.error();
  return {};
}

Result<void> append_history(Connection& c, const HistoryRecord& h) {
  auto out = query(c, "INSERT INTO history (instance_id, seq, at, records) VALUES ($1, $2, $3, $4)",
                   Params().add(h.instance_id).add(h.seq).add(h.at).add_bytes(h.records),
                   fmt::format("cannot append history {}/{}", h.instance_id, h.seq));
  if (!out.ok()) return out.error();
  return {};
}

Result<void> update_task_sla(Connection& c, const TaskSlaUpdate& u) {
  auto out = query(c,
                   "UPDATE user_tasks SET sla_state = $3, escalation_level = $4, escalated_to = $5, "
                   "escalated_region = $6, due_at = $7, sla_paused_at = $8 WHERE instance_id = $1 AND key = $2",
                   Params()
                       .add(u.instance_id)
                       .add(as_int(u.key))
                       .add(int64_t{u.sla_state})
                       .add(int64_t{u.escalation_level})
                       .add(u.escalated_to)
                       .add(u.escalated_region)
                       .add(u.due_at)
                       .add(u.sla_paused_at),
                   fmt::format("cannot update the SLA of task {}/{}", u.instance_id, u.key));
  if (!out.ok()) return out.error();
  return {};
}

Result<void> keep_task_outcome(Connection& c, const TaskCompletion& done) {
  auto out = query(
      c,
      "INSERT INTO task_outcomes (instance_id, key, process_id, element_id, name, department, region, created_at, "
      "due_at, completed_at, sla_state, escalation_level) SELECT instance_id, key, process_id, element_id, name, "
      "department, region, created_at, due_at, $3, sla_state, escalation_level FROM user_tasks "
      "WHERE instance_id = $1 AND key = $2 ON CONFLICT (instance_id, key) DO UPDATE SET "
      "process_id = excluded.process_id, element_id = excluded.element_id, name = excluded.name, "
      "department = excluded.department, region = excluded.region, created_at = excluded.created_at, "
      "due_at = excluded.due_at, completed_at = excluded.completed_at, sla_state = excluded.sla_state, "
      "escalation_level = excluded.escalation_level",
      Params().add(done.instance_id).add(as_int(done.key)).add(done.completed_at),
      fmt::format("cannot keep the outcome of task {}/{}", done.instance_id, done.key));
  if (!out.ok()) return out.error();
  return {};
}

AuditRecord read_audit(const Rows& s, int i) { return rows::audit(RowOf{s, i}); }

// Appends `a` to the audit hash chain (store/audit_chain.h) inside the
// caller's transaction; writers of every node take turns on an advisory lock.
Result<int64_t> chain_audit(Connection& c, AuditRecord a) {
  BANSHI_PG_TRY(advisory_lock(c, "banshi-audit-chain"));
  auto last = query(c, "SELECT coalesce(max(id), 0), coalesce((SELECT hash FROM audit ORDER BY id DESC LIMIT 1), '') "
                       "FROM audit",
                    Params(), "cannot read the end of the audit chain");
  if (!last.ok()) return last.error();
  a.id = (*last)->int64(0, 0) + 1;
  a.prev_hash = (*last)->text(0, 1);
  if (a.prev_hash.empty()) a.prev_hash = std::string(kAuditGenesisHash);
  a.hash = audit_row_hash(a, a.prev_hash);
  auto out = query(c,
                   "INSERT INTO audit (id, at, actor, action, target, address, detail, prev_hash, hash) "
                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                   Params().add(a.id).add(a.at).add(a.actor).add(a.action).add(a.target).add(a.address).add(a.detail)
                       .add(a.prev_hash).add(a.hash),
                   "cannot append to the audit trail");
  if (!out.ok()) return out.error();
  return a.id;
}

Result<void> chain_audit_rows(Connection& c, const std::vector<AuditRecord>& rows) {
  for (const AuditRecord& a : rows) BANSHI_PG_TRY(chain_audit(c, a));
  return {};
}

// A fired start timer moves on to its next occurrence or goes; either only
// if it is still at the occurrence that fired.
Result<void> fire_start_timer(Connection& c, const StartTimerFiring& f) {
  auto done = f.next_due_at == 0
                  ? query(c, "DELETE FROM start_timers WHERE id = $1 AND due_at = $2", Params().add(f.id).add(f.due_at),
                          fmt::format("cannot move start timer {} on", f.id))
                  : query(c,
                          "UPDATE start_timers SET due_at = $3, repetitions_left = $4, lease_owner = '', "
                          "lease_until = 0 WHERE id = $1 AND due_at = $2",
                          Params().add(f.id).add(f.due_at).add(f.next_due_at).add(f.repetitions_left),
                          fmt::format("cannot move start timer {} on", f.id));
  if (!done.ok()) return done.error();
  if ((*done)->affected() == 0) {
    return conflict(fmt::format("start timer {} is no longer due at {}: it fired elsewhere or was replaced", f.id,
                                f.due_at));
  }
  return {};
}

Result<void> read_tasks_by_keys(Connection& c, const std::vector<InstanceKey>& keys, std::vector<TaskRecord>& out,
                               bool lock = false);

Result<void> apply(Connection& c, const WriteBatch& b) {
  // The same order as the SQLite store: instances first (every other row
  // refers to one); within each kind, additions before removals.
  for (const auto& w : b.instances) BANSHI_PG_TRY(write_instance(c, w));
  if (b.report) *b.report = WriteReport{};
  for (const auto& t : b.tasks_added) BANSHI_PG_TRY(add_task(c, t, b.report ? &b.report->added_task_ids : nullptr));
  for (const auto& u : b.task_sla_updates) BANSHI_PG_TRY(update_task_sla(c, u));
  for (const auto& done : b.tasks_completed) BANSHI_PG_TRY(keep_task_outcome(c, done));
  // Locked until the commit: a claim in between would make the rows read
  // differ from the rows removed.
  if (b.report) BANSHI_PG_TRY(read_tasks_by_keys(c, b.tasks_removed, b.report->removed_tasks, /*lock=*/true));
  for (const auto& k : b.tasks_removed) {
    if (const TaskAssigneeCheck* check = assignee_check_of(b, k)) {
      BANSHI_PG_TRY(remove_checked_task(c, *check));
      continue;
    }
    BANSHI_PG_TRY(remove_keyed(c, "DELETE FROM user_tasks WHERE instance_id = $1 AND key = $2", k,
                               "cannot remove a task"));
  }
  for (const auto& check : b.job_lease_checks) BANSHI_PG_TRY(check_job_lease(c, check));
  for (const auto& j : b.jobs_added) BANSHI_PG_TRY(add_job(c, j));
  for (const auto& u : b.jobs_updated) BANSHI_PG_TRY(update_job(c, u));
  for (const auto& k : b.jobs_removed) {
    BANSHI_PG_TRY(remove_keyed(c, "DELETE FROM jobs WHERE instance_id = $1 AND key = $2", k, "cannot remove a job"));
  }
  for (const auto& t : b.timers_upserted) BANSHI_PG_TRY(upsert_timer(c, t));
  for (const auto& k : b.timers_removed) {
    BANSHI_PG_TRY(
        remove_keyed(c, "DELETE FROM timers WHERE instance_id = $1 AND key = $2", k, "cannot remove a timer"));
  }
  for (const auto& s : b.message_subscriptions_added) BANSHI_PG_TRY(add_message_subscription(c, s));
  for (const auto& k : b.message_subscriptions_removed) {
    BANSHI_PG_TRY(remove_keyed(c, "DELETE FROM message_subscriptions WHERE instance_id = $1 AND key = $2", k,
                               "cannot remove a message subscription"));
  }
  for (const auto& s : b.signal_subscriptions_added) BANSHI_PG_TRY(add_signal_subscription(c, s));
  for (const auto& k : b.signal_subscriptions_removed) {
    BANSHI_PG_TRY(remove_keyed(c, "DELETE FROM signal_subscriptions WHERE instance_id = $1 AND key = $2", k,
                               "cannot remove a signal subscription"));
  }
  for (const auto& m : b.messages_added) BANSHI_PG_TRY(add_message(c, m));
  for (int64_t id : b.messages_removed) {
    // A buffered message is delivered once: another node's batch that
    // delivered it first leaves nothing to delete here, and this batch is
    // built again (a conflict).
    auto out = query(c, "DELETE FROM messages WHERE id = $1", Params().add(id),
                     fmt::format("cannot remove message {}", id));
    if (!out.ok()) return out.error();
    if ((*out)->affected() == 0) return conflict(fmt::format("message {} was delivered elsewhere or expired", id));
  }
  for (const auto& i : b.incidents_added) BANSHI_PG_TRY(add_incident(c, i));
  for (const auto& k : b.incidents_removed) {
    BANSHI_PG_TRY(remove_keyed(c, "DELETE FROM incidents WHERE instance_id = $1 AND key = $2", k,
                               "cannot remove an incident"));
  }
  for (const auto& h : b.history) BANSHI_PG_TRY(append_history(c, h));
  for (const auto& f : b.start_timers_fired) BANSHI_PG_TRY(fire_start_timer(c, f));
  BANSHI_PG_TRY(chain_audit_rows(c, b.audit));
  return {};
}

Result<void> load_candidates(Connection& c, std::vector<TaskRecord>& tasks);

// Appends the open tasks of `keys` (with their candidates) to `out`, in one
// statement; a key with no open task is left out. `lock`: the rows stay
// locked until the transaction ends.
Result<void> read_tasks_by_keys(Connection& c, const std::vector<InstanceKey>& keys, std::vector<TaskRecord>& out,
                               bool lock) {
  if (keys.empty()) return {};
  std::vector<std::string> instances, task_keys;
  for (const InstanceKey& k : keys) {
    instances.push_back(std::to_string(k.instance_id));
    task_keys.push_back(std::to_string(as_int(k.key)));
  }
  auto found = collect<TaskRecord>(
      c,
      std::string(kTaskColumns) +
          "JOIN (SELECT i.value::bigint AS instance_id, k.value::bigint AS key "
          "FROM jsonb_array_elements_text($1::jsonb) WITH ORDINALITY AS i(value, n) "
          "JOIN jsonb_array_elements_text($2::jsonb) WITH ORDINALITY AS k(value, n) ON k.n = i.n) w "
          "ON w.instance_id = t.instance_id AND w.key = t.key" + (lock ? " FOR UPDATE OF t" : ""),
      Params().add(json_list(instances)).add(json_list(task_keys)), read_task, "cannot read tasks");
  if (!found.ok()) return found.error();
  BANSHI_PG_TRY(load_candidates(c, *found));
  for (TaskRecord& t : *found) out.push_back(std::move(t));
  return {};
}

// The candidates of every task in `tasks`, in one statement.
Result<void> load_candidates(Connection& c, std::vector<TaskRecord>& tasks) {
  if (tasks.empty()) return {};
  std::vector<std::string> ids;
  ids.reserve(tasks.size());
  for (const auto& t : tasks) ids.push_back(std::to_string(t.id));
  auto rows = query(c,
                    "SELECT task_id, kind, value FROM task_candidates WHERE task_id IN "
                    "(SELECT value::bigint FROM jsonb_array_elements_text($1::jsonb)) ORDER BY task_id, kind, position",
                    Params().add(json_list(ids)), "cannot read task candidates");
  if (!rows.ok()) return rows.error();
  std::unordered_map<int64_t, TaskRecord*> by_id;
  for (auto& t : tasks) by_id[t.id] = &t;
  const Rows& r = **rows;
  for (int i = 0; i < r.size(); ++i) {
    auto it = by_id.find(r.int64(i, 0));
    if (it == by_id.end()) continue;
    (r.int64(i, 1) == kCandidateGroup ? it->second->candidate_groups : it->second->candidate_users)
        .push_back(r.text(i, 2));
  }
  return {};
}


Params params_of(const std::vector<Binding>& bindings) {
  Params p;
  for (const auto& b : bindings) {
    if (const auto* n = std::get_if<int64_t>(&b)) {
      p.add(*n);
    } else {
      p.add(std::get<std::string>(b));
    }
  }
  return p;
}

}  // namespace

bool is_postgres_url(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

// --- the pool ---------------------------------------------------------------

// A connection borrowed for one call; a broken one is reconnected first.
class PostgresStore::Lease {
 public:
  explicit Lease(PostgresStore& store) : store_(store) {
    std::unique_lock<std::mutex> lock(store.pool_mutex_);
    store.connection_free_.wait(lock, [&] { return !store.idle_.empty(); });
    connection_ = store.idle_.back();
    store.idle_.pop_back();
  }
  ~Lease() {
    // A connection left inside a transaction (a failure between BEGIN and
    // the end) is rolled back before anyone else gets it.
    if (connection_->healthy() && connection_->in_transaction()) (void)connection_->exec("ROLLBACK");
    {
      std::lock_guard<std::mutex> lock(store_.pool_mutex_);
      store_.idle_.push_back(connection_);
    }
    store_.connection_free_.notify_one();
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  // The connection, reconnected when it broke; an error when it cannot be.
  Result<Connection*> connection() {
    if (!connection_->healthy() && !connection_->reset()) {
      return Error{"store", "the connection to PostgreSQL is lost and cannot be made again"};
    }
    return connection_;
  }

 private:
  PostgresStore& store_;
  Connection* connection_ = nullptr;
};

namespace {
// The store and connection of the write transaction this thread runs an
// audited() change in: the store's methods it calls join that transaction.
thread_local const PostgresStore* joined_store = nullptr;
thread_local Connection* joined_connection = nullptr;
}  // namespace

template <typename F>
auto PostgresStore::in_write_transaction(F&& fn) -> decltype(fn(std::declval<Connection&>())) {
  if (joined_store == this) return fn(*joined_connection);
  Lease lease(*this);
  auto got = lease.connection();
  if (!got.ok()) return got.error();
  Connection& c = **got;
  auto begun = c.exec("BEGIN");
  if (!begun.ok()) return failed(begun.failure, "cannot begin a write transaction");
  auto result = fn(c);
  if (result.ok()) {
    if (options_.before_commit) options_.before_commit();
    auto committed = c.exec("COMMIT");
    if (committed.ok()) return result;
    result = failed(committed.failure, "cannot commit");
  }
  if (c.healthy() && c.in_transaction()) (void)c.exec("ROLLBACK");
  return result;
}

template <typename F>
auto PostgresStore::in_read(F&& fn, bool snapshot) -> decltype(fn(std::declval<Connection&>())) {
  Lease lease(*this);
  auto got = lease.connection();
  if (!got.ok()) return got.error();
  Connection& c = **got;
  if (!snapshot) return fn(c);
  auto begun = c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  if (!begun.ok()) return failed(begun.failure, "cannot begin a read transaction");
  auto result = fn(c);
  if (c.healthy() && c.in_transaction()) (void)c.exec(result.ok() ? "COMMIT" : "ROLLBACK");
  return result;
}

namespace {

// The notification channel of the nodes that share a schema: the channels of
// a database are common to all its schemas, and banshi stores in different
// schemas (another cluster, another test) must not hear each other. A hash
// keeps the name within PostgreSQL's 63 bytes; FNV-1a is the same on every
// node and build.
std::string events_channel(const std::string& schema) {
  if (schema.empty() || schema == "public") return "banshi_events";
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : schema) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("banshi_events_{:016x}", h);
}

}  // namespace

PostgresStore::PostgresStore(PostgresOptions options)
    : options_(std::move(options)),
      events_channel_(events_channel(options_.schema)),
      set_sizes_(std::make_unique<TaskSetSizes>()) {}

PostgresStore::~PostgresStore() { stop_events(); }

Result<std::unique_ptr<PostgresStore>> PostgresStore::open(const PostgresOptions& options) {
  if (options.url.empty()) return Error{"store", "the PostgreSQL URL is empty"};
  std::unique_ptr<PostgresStore> store(new PostgresStore(options));
  const int count = std::max(1, options.pool_size);
  for (int i = 0; i < count; ++i) {
    auto c = Connection::open(options.url, options.schema);
    if (!c.ok()) return c.error();
    store->idle_.push_back(c->get());
    store->connections_.push_back(std::move(c.value()));
  }
  auto present = store->schema_version();
  if (!present.ok()) return present.error();
  if (*present > latest_version()) return too_new(*present);
  return store;
}

// --- schema ---------------------------------------------------------------

int PostgresStore::latest_schema_version() const { return latest_version(); }

Result<int> PostgresStore::schema_version() {
  return in_read([](Connection& c) { return read_schema_version(c); });
}

Result<void> PostgresStore::migrate() {
  if (!options_.schema.empty()) {
    auto schema_made = in_write_transaction([&](Connection& c) -> Result<void> {
      BANSHI_PG_TRY(advisory_lock(c, "banshi-migrate", options_.schema));
      auto exists = query(c, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", Params().add(options_.schema),
                          "cannot look for the schema");
      if (!exists.ok()) return exists.error();
      if ((*exists)->int64(0, 0) > 0) return {};
      auto created = query(c, "SELECT format('CREATE SCHEMA IF NOT EXISTS %I', $1::text)",
                           Params().add(options_.schema),
                           "cannot create the schema");
      if (!created.ok()) return created.error();
      auto run = c.exec((*created)->text(0, 0));
      if (!run.ok()) return failed(run.failure, "cannot create the schema");
      return {};
    });
    if (!schema_made.ok()) return schema_made;
  }
  for (const Migration& m : migrations()) {
    auto applied = in_write_transaction([&](Connection& c) -> Result<void> {
      // Nodes starting together migrate one after the other.
      BANSHI_PG_TRY(advisory_lock(c, "banshi-migrate", options_.schema));
      auto table = c.exec(kCreateMigrationsTable);
      if (!table.ok()) return failed(table.failure, "cannot create the migrations table");
      auto present = read_schema_version(c);
      if (!present.ok()) return present.error();
      if (*present > latest_version()) return too_new(*present);
      // Applied when not recorded yet, so that a lower version added after
      // a higher one (migrations are reserved by number) still runs.
      auto recorded = query(c, "SELECT count(*) FROM schema_migrations WHERE version = $1",
                            Params().add(int64_t{m.version}), "cannot read the migrations");
      if (!recorded.ok()) return recorded.error();
      if ((*recorded)->int64(0, 0) > 0) return {};
      auto run = c.exec(m.sql);
      if (!run.ok()) return failed(run.failure, fmt::format("migration {} failed", m.version));
      auto st = query(c, "INSERT INTO schema_migrations (version, applied_at, description) VALUES ($1, $2, $3)",
                      Params().add(int64_t{m.version}).add(now_ms()).add(std::string(m.description)),
                      "cannot record a migration");
      if (!st.ok()) return st.error();
      return {};
    });
    if (!applied.ok()) return applied;
  }
  // Rows written before migration 5 join the audit chain, oldest first.
  auto chained = in_write_transaction([](Connection& c) -> Result<void> {
    BANSHI_PG_TRY(advisory_lock(c, "banshi-audit-chain"));
    auto rows = collect<AuditRecord>(c,
                                     "SELECT id, at, actor, action, target, address, detail, prev_hash, hash FROM audit "
                                     "WHERE hash = '' ORDER BY id",
                                     Params(), read_audit, "cannot read the audit trail");
    if (!rows.ok()) return rows.error();
    if (rows->empty()) return {};
    auto prev = query(c, "SELECT hash FROM audit WHERE id < $1 ORDER BY id DESC LIMIT 1",
                      Params().add(rows->front().id), "cannot read the audit trail");
    if (!prev.ok()) return prev.error();
    std::string prev_hash(kAuditGenesisHash);
    if ((*prev)->size() > 0 && !(*prev)->text(0, 0).empty()) prev_hash = (*prev)->text(0, 0);
    for (AuditRecord& a : *rows) {
      a.hash = audit_row_hash(a, prev_hash);
      auto sealed = query(c, "UPDATE audit SET prev_hash = $2, hash = $3 WHERE id = $1 AND hash = ''",
                          Params().add(a.id).add(prev_hash).add(a.hash), "cannot chain the audit trail");
      if (!sealed.ok()) return sealed.error();
      prev_hash = a.hash;
    }
    return {};
  });
  if (!chained.ok()) return chained;
  return in_write_transaction([&](Connection& c) -> Result<void> {
    BANSHI_PG_TRY(advisory_lock(c, "banshi-migrate", options_.schema));
    auto nodes = c.exec(kCreateNodesTable);
    if (!nodes.ok()) return failed(nodes.failure, "cannot create the cluster_nodes table");
    auto leases = c.exec(kCreateTimerLeasesTable);
    if (!leases.ok()) return failed(leases.failure, "cannot create the timer_leases table");
    return {};
  });
}

// --- writes ---------------------------------------------------------------

Result<void> PostgresStore::write(const WriteBatch& batch) {
  if (batch.empty()) return {};
  return in_write_transaction([&](Connection& c) { return apply(c, batch); });
}

namespace {

// Stores each record as the next version of its id, unless the latest
// version has the same checksum, which is returned instead. Runs under an
// advisory lock, so two nodes deploying at once number versions in turn.
template <typename Record>
Result<void> store_versions(Connection& c, std::vector<Record>& records, const char* table, const char* id_column,
                            const char* columns, Record (*read)(const Rows&, int), std::string Record::*id_of,
                            const char* what, std::vector<bool>* fresh = nullptr) {
  BANSHI_PG_TRY(advisory_lock(c, fmt::format("banshi-deploy-{}", table)));
  for (Record& r : records) {
    if (fresh) fresh->push_back(false);
    auto found = first<Record>(c, fmt::format("{}WHERE {} = $1 ORDER BY version DESC LIMIT 1", columns, id_column),
                               Params().add(r.*id_of), read, fmt::format("cannot read {}s", what));
    if (!found.ok()) return found.error();
    if (found->has_value() && (*found)->checksum == r.checksum) {
      r = std::move(**found);
      continue;
    }
    r.version = found->has_value() ? (*found)->version + 1 : 1;
    auto inserted = query(c,
                          fmt::format("INSERT INTO {} ({}, version, name, resource, xml, checksum, deployed_at, "
                                      "deployed_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING key",
                                      table, id_column),
                          Params()
                              .add(r.*id_of)
                              .add(int64_t{r.version})
                              .add(r.name)
                              .add(r.resource)
                              .add_bytes(r.xml)
                              .add(r.checksum)
                              .add(r.deployed_at)
                              .add(r.deployed_by),
                          fmt::format("cannot deploy {} {}", what, r.*id_of));
    if (!inserted.ok()) return inserted.error();
    r.key = (*inserted)->int64(0, 0);
    if (fresh) fresh->back() = true;
  }
  return {};
}

}  // namespace

Result<std::vector<DefinitionRecord>> PostgresStore::deploy(std::vector<DefinitionRecord> processes) {
  return deploy_audited(std::move(processes), {});
}

Result<std::vector<DefinitionRecord>> PostgresStore::deploy_audited(std::vector<DefinitionRecord> processes,
                                                                    const std::vector<AuditRecord>& audit) {
  if (processes.empty()) return processes;
  return in_write_transaction([&](Connection& c) -> Result<std::vector<DefinitionRecord>> {
    BANSHI_PG_TRY(store_versions(c, processes, "definitions", "process_id", kDefinitionColumns, read_definition,
                                 &DefinitionRecord::process_id, "process"));
    BANSHI_PG_TRY(chain_audit_rows(c, audit));
    return std::move(processes);
  });
}

Result<std::vector<DecisionRecord>> PostgresStore::deploy_decisions(std::vector<DecisionRecord> decisions) {
  return deploy_decisions_audited(std::move(decisions), {});
}

Result<std::vector<DecisionRecord>> PostgresStore::deploy_decisions_audited(std::vector<DecisionRecord> decisions,
                                                                            const std::vector<AuditRecord>& audit) {
  if (decisions.empty()) return decisions;
  return in_write_transaction([&](Connection& c) -> Result<std::vector<DecisionRecord>> {
    BANSHI_PG_TRY(store_versions(c, decisions, "decisions", "decision_id", kDecisionColumns, read_decision,
                                 &DecisionRecord::decision_id, "decision"));
    BANSHI_PG_TRY(chain_audit_rows(c, audit));
    return std::move(decisions);
  });
}

// --- timer start events (migration 8) ---------------------------------------

namespace {

constexpr const char* kStartTimerColumns =
    "SELECT id, definition_key, process_id, element_id, due_at, repetitions_left, period FROM start_timers ";

StartTimerRecord read_start_timer(const Rows& s, int i) { return rows::start_timer(RowOf{s, i}); }

// A process that got a new version: its earlier versions' start timers go,
// its own come.
Result<void> replace_start_timers(Connection& c, const DefinitionRecord& process,
                                  const std::vector<StartTimerRecord>& timers, std::vector<StartTimerRecord>& out) {
  auto dropped = query(c, "DELETE FROM start_timers WHERE process_id = $1", Params().add(process.process_id),
                       fmt::format("cannot remove the start timers of {}", process.process_id));
  if (!dropped.ok()) return dropped.error();
  for (StartTimerRecord t : timers) {
    if (t.process_id != process.process_id) continue;
    t.definition_key = process.key;
    auto inserted = query(c,
                          "INSERT INTO start_timers (definition_key, process_id, element_id, due_at, repetitions_left, "
                          "period, lease_owner, lease_until) VALUES ($1, $2, $3, $4, $5, $6, '', 0) RETURNING id",
                          Params()
                              .add(t.definition_key)
                              .add(t.process_id)
                              .add(t.element_id)
                              .add(t.due_at)
                              .add(t.repetitions_left)
                              .add(t.period),
                          fmt::format("cannot schedule the start timer {} of {}", t.element_id, t.process_id));
    if (!inserted.ok()) return inserted.error();
    t.id = (*inserted)->int64(0, 0);
    out.push_back(std::move(t));
  }
  return {};
}

}  // namespace

Result<StoredDeployment> PostgresStore::deploy_all(DeploymentRecords d) {
  return in_write_transaction([&](Connection& c) -> Result<StoredDeployment> {
    StoredDeployment out;
    BANSHI_PG_TRY(store_versions(c, d.processes, "definitions", "process_id", kDefinitionColumns, read_definition,
                                 &DefinitionRecord::process_id, "process", &out.new_process));
    for (size_t i = 0; i < d.processes.size(); ++i) {
      if (out.new_process[i]) BANSHI_PG_TRY(replace_start_timers(c, d.processes[i], d.start_timers, out.start_timers));
    }
    BANSHI_PG_TRY(store_versions(c, d.decisions, "decisions", "decision_id", kDecisionColumns, read_decision,
                                 &DecisionRecord::decision_id, "decision", &out.new_decision));
    BANSHI_PG_TRY(chain_audit_rows(c, d.audit));
    out.processes = std::move(d.processes);
    out.decisions = std::move(d.decisions);
    return out;
  });
}

Result<std::vector<StartTimerRecord>> PostgresStore::start_timers(const std::string& process_id) {
  return in_read([&](Connection& c) -> Result<std::vector<StartTimerRecord>> {
    if (process_id.empty()) {
      return collect<StartTimerRecord>(c, std::string(kStartTimerColumns) + "ORDER BY due_at, id", Params(),
                                       read_start_timer, "cannot read start timers");
    }
    return collect<StartTimerRecord>(c, std::string(kStartTimerColumns) + "WHERE process_id = $1 ORDER BY due_at, id",
                                     Params().add(process_id), read_start_timer, "cannot read start timers");
  });
}

// Like acquire_timers(): rows are locked as they are chosen, rows another
// node is leasing right now are skipped, and a live lease of another owner
// keeps its timer out; so two nodes never both fire one occurrence.
Result<std::vector<StartTimerRecord>> PostgresStore::acquire_start_timers(const std::string& owner, int64_t until,
                                                                          int64_t now, int64_t lease_ms,
                                                                          size_t limit) {
  if (limit == 0) return std::vector<StartTimerRecord>();
  return in_write_transaction([&](Connection& c) -> Result<std::vector<StartTimerRecord>> {
    auto leased = collect<StartTimerRecord>(
        c,
        "WITH due AS (SELECT id FROM start_timers WHERE due_at <= $1 AND (lease_owner = '' OR lease_owner = $3 OR "
        "lease_until <= $2) ORDER BY due_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) "
        "UPDATE start_timers t SET lease_owner = $3, lease_until = greatest(t.due_at, $2) + $5 FROM due "
        "WHERE t.id = due.id RETURNING t.id, t.definition_key, t.process_id, t.element_id, t.due_at, "
        "t.repetitions_left, t.period",
        Params().add(until).add(now).add(owner).add(static_cast<int64_t>(std::min(limit, kMaxTimersPerLoad))).add(lease_ms),
        read_start_timer, "cannot lease start timers");
    // UPDATE ... RETURNING comes back in the join's order, not the CTE's:
    // earliest first, as the contract says (the caller's window ends at the last).
    if (leased.ok()) {
      std::sort(leased->begin(), leased->end(), [](const StartTimerRecord& a, const StartTimerRecord& b) {
        return a.due_at != b.due_at ? a.due_at < b.due_at : a.id < b.id;
      });
    }
    return leased;
  });
}

Result<int64_t> PostgresStore::allocate_ids(const std::string& sequence, int64_t count) {
  if (count <= 0) return Error{"store", fmt::format("cannot allocate {} ids", count)};
  return in_write_transaction([&](Connection& c) -> Result<int64_t> {
    auto rows = query(c,
                      "INSERT INTO sequences (name, next_value) VALUES ($1, 1 + $2::bigint) "
                      "ON CONFLICT (name) DO UPDATE SET next_value = sequences.next_value + $2::bigint "
                      "RETURNING next_value",
                      Params().add(sequence).add(count), fmt::format("cannot allocate ids of {}", sequence));
    if (!rows.ok()) return rows.error();
    return (*rows)->int64(0, 0) - count;
  });
}

Result<std::vector<JobRecord>> PostgresStore::acquire_jobs(const std::vector<std::string>& types,
                                                           const std::string& owner, int64_t now,
                                                           int64_t lease_until, size_t limit) {
  if (limit == 0) return std::vector<JobRecord>();
  limit = std::min(limit, kMaxPageSize);
  // One statement: the candidate rows are locked as they are chosen, and
  // rows another node is leasing right now are skipped rather than waited for.
  std::string sql = fmt::format(
      "UPDATE jobs SET lease_owner = $3, lease_until = $4 WHERE id IN (SELECT id FROM jobs WHERE state = 1 AND "
      "due_at <= $1 AND lease_until <= $1 {} ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING {}",
      types.empty() ? "" : "AND type IN (SELECT jsonb_array_elements_text($5::jsonb))", kJobColumnList);
  Params p;
  p.add(now).add(static_cast<int64_t>(limit)).add(owner).add(lease_until);
  if (!types.empty()) p.add(json_list(types));
  auto jobs = in_write_transaction([&](Connection& c) -> Result<std::vector<JobRecord>> {
    return collect<JobRecord>(c, sql, p, read_job, "cannot lease jobs");
  });
  if (!jobs.ok()) return jobs;
  std::sort(jobs->begin(), jobs->end(), [](const JobRecord& a, const JobRecord& b) {
    return a.due_at != b.due_at ? a.due_at < b.due_at : a.id < b.id;
  });
  return jobs;
}

Result<int64_t> PostgresStore::delete_expired_messages(int64_t now) {
  return in_write_transaction([&](Connection& c) -> Result<int64_t> {
    auto rows = query(c, "DELETE FROM messages WHERE expires_at <> 0 AND expires_at <= $1", Params().add(now),
                      "cannot delete expired messages");
    if (!rows.ok()) return rows.error();
    return (*rows)->affected();
  });
}

Result<int64_t> PostgresStore::release_leases(const std::string& owner) {
  return in_write_transaction([&](Connection& c) -> Result<int64_t> {
    auto rows = query(c, "UPDATE jobs SET lease_owner = '', lease_until = 0 WHERE lease_owner = $1",
                      Params().add(owner), "cannot release leases");
    if (!rows.ok()) return rows.error();
    return (*rows)->affected();
  });
}

Result<void> PostgresStore::assign_task(int64_t task_id, const std::string& expected, const std::string& assignee) {
  return assign_task_audited(task_id, expected, assignee, {});
}

Result<void> PostgresStore::assign_task_audited(int64_t task_id, const std::string& expected,
                                                const std::string& assignee, const std::vector<AuditRecord>& audit) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto current = query(c, "SELECT assignee FROM user_tasks WHERE id = $1 FOR UPDATE", Params().add(task_id),
                         fmt::format("cannot read task {}", task_id));
    if (!current.ok()) return current.error();
    if ((*current)->size() == 0) return Error{"not-found", fmt::format("there is no task {}", task_id)};
    std::string now_assigned = (*current)->text(0, 0);
    if (now_assigned != expected) {
      return conflict(fmt::format("task {} is assigned to '{}', not '{}'", task_id, now_assigned, expected));
    }
    auto updated = query(c, "UPDATE user_tasks SET assignee = $2 WHERE id = $1", Params().add(task_id).add(assignee),
                         fmt::format("cannot assign task {}", task_id));
    if (!updated.ok()) return updated.error();
    return chain_audit_rows(c, audit);
  });
}

Result<void> PostgresStore::extend_lease(int64_t job_id, const std::string& owner, int64_t now, int64_t lease_until) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto current = query(c, "SELECT lease_owner, lease_until FROM jobs WHERE id = $1 FOR UPDATE",
                         Params().add(job_id), fmt::format("cannot read job {}", job_id));
    if (!current.ok()) return current.error();
    if ((*current)->size() == 0) return Error{"not-found", fmt::format("there is no job {}", job_id)};
    if ((*current)->text(0, 0) != owner || (*current)->int64(0, 1) <= now) {
      return conflict(fmt::format("job {} is not leased to '{}'", job_id, owner));
    }
    auto updated = query(c, "UPDATE jobs SET lease_until = $2 WHERE id = $1", Params().add(job_id).add(lease_until),
                         fmt::format("cannot extend the lease of job {}", job_id));
    if (!updated.ok()) return updated.error();
    return {};
  });
}

// --- reads ----------------------------------------------------------------

Result<std::vector<DefinitionRecord>> PostgresStore::definitions(const std::string& process_id) {
  return in_read([&](Connection& c) -> Result<std::vector<DefinitionRecord>> {
    if (process_id.empty()) {
      return collect<DefinitionRecord>(c, std::string(kDefinitionColumns) + "ORDER BY process_id COLLATE \"C\", version DESC", {},
                                       read_definition, "cannot read definitions");
    }
    return collect<DefinitionRecord>(c, std::string(kDefinitionColumns) + "WHERE process_id = $1 ORDER BY version DESC",
                                     Params().add(process_id), read_definition, "cannot read definitions");
  });
}

Result<std::optional<DefinitionRecord>> PostgresStore::definition(const std::string& process_id, int32_t version) {
  return in_read([&](Connection& c) -> Result<std::optional<DefinitionRecord>> {
    if (version == 0) {
      return first<DefinitionRecord>(c,
                                     std::string(kDefinitionColumns) +
                                         "WHERE process_id = $1 ORDER BY version DESC LIMIT 1",
                                     Params().add(process_id), read_definition, "cannot read a definition");
    }
    return first<DefinitionRecord>(c, std::string(kDefinitionColumns) + "WHERE process_id = $1 AND version = $2",
                                   Params().add(process_id).add(int64_t{version}), read_definition,
                                   "cannot read a definition");
  });
}

Result<std::optional<DefinitionRecord>> PostgresStore::definition_by_key(int64_t key) {
  return in_read([&](Connection& c) -> Result<std::optional<DefinitionRecord>> {
    return first<DefinitionRecord>(c, std::string(kDefinitionColumns) + "WHERE key = $1", Params().add(key),
                                   read_definition, "cannot read a definition");
  });
}

Result<std::vector<DecisionRecord>> PostgresStore::decisions(const std::string& decision_id) {
  return in_read([&](Connection& c) -> Result<std::vector<DecisionRecord>> {
    if (decision_id.empty()) {
      return collect<DecisionRecord>(c,
                                     std::string(kDecisionColumns) +
                                         "WHERE version = (SELECT max(version) FROM decisions d WHERE d.decision_id = "
                                         "decisions.decision_id) ORDER BY decision_id COLLATE \"C\"",
                                     {}, read_decision, "cannot read decisions");
    }
    return collect<DecisionRecord>(c, std::string(kDecisionColumns) + "WHERE decision_id = $1 ORDER BY version DESC",
                                   Params().add(decision_id), read_decision, "cannot read decisions");
  });
}

Result<std::optional<DecisionRecord>> PostgresStore::decision(const std::string& decision_id, int32_t version) {
  return in_read([&](Connection& c) -> Result<std::optional<DecisionRecord>> {
    if (version == 0) {
      return first<DecisionRecord>(c,
                                   std::string(kDecisionColumns) +
                                       "WHERE decision_id = $1 ORDER BY version DESC LIMIT 1",
                                   Params().add(decision_id), read_decision, "cannot read a decision");
    }
    return first<DecisionRecord>(c, std::string(kDecisionColumns) + "WHERE decision_id = $1 AND version = $2",
                                 Params().add(decision_id).add(int64_t{version}), read_decision,
                                 "cannot read a decision");
  });
}

Result<std::optional<InstanceRecord>> PostgresStore::instance(InstanceId id) {
  return in_read([&](Connection& c) -> Result<std::optional<InstanceRecord>> {
    return first<InstanceRecord>(c, std::string(kInstanceColumns) + "WHERE id = $1", Params().add(id), read_instance,
                                 "cannot read an instance");
  });
}

namespace {

// How an instance page's SQL is written here (store/page_sql.h).
InstancePageDialect postgres_instance_dialect() {
  InstancePageDialect d;
  d.name_starts_with = [](const std::string& name, std::vector<Binding>& bindings) -> std::string {
    bindings.emplace_back(name);
    return "starts_with(applicant_name, ?)";
  };
  d.region_in_list =
      "EXISTS (SELECT 1 FROM jsonb_array_elements_text(?::jsonb) r(value) WHERE starts_with(region, r.value))";
  return d;
}

}  // namespace

Result<std::vector<InstanceRecord>> PostgresStore::instances(const InstanceQuery& q) {
  std::vector<Binding> bindings;
  const std::string sql =
      instance_page_sql(kInstanceSummaryColumns, q, postgres_instance_dialect(), kMaxPageSize, bindings);
  return in_read([&](Connection& c) -> Result<std::vector<InstanceRecord>> {
    return collect<InstanceRecord>(c, numbered(sql), params_of(bindings), read_instance, "cannot list instances");
  });
}

Result<std::vector<InstanceRecord>> PostgresStore::running_instances_of(InstanceId parent) {
  return in_read([&](Connection& c) -> Result<std::vector<InstanceRecord>> {
    return collect<InstanceRecord>(c, std::string(kInstanceColumns) + "WHERE parent_id = $1 AND status = 1 ORDER BY id",
                                   Params().add(parent), read_instance, "cannot read called instances");
  });
}

namespace {

// The prefix's upper bound in byte order when it ends in an ASCII character
// below DEL: everything that starts with `p` lies in [p, successor).
std::optional<std::string> prefix_successor(const std::string& p) {
  if (p.empty() || static_cast<unsigned char>(p.back()) >= 0x7f) return std::nullopt;
  std::string up = p;
  up.back() = static_cast<char>(up.back() + 1);
  return up;
}

// `column` starts with `prefix`: a byte-order range (the pattern operators,
// whatever the database's collation; text_pattern_ops indexes serve them),
// or starts_with() when the prefix has no simple successor.
std::string starts_with(const std::string& column, const std::string& prefix, std::vector<Binding>& bindings) {
  bindings.emplace_back(prefix);
  if (auto up = prefix_successor(prefix)) {
    bindings.emplace_back(*up);
    return fmt::format("({0} ~>=~ ?::text AND {0} ~<~ ?::text)", column);
  }
  return fmt::format("starts_with({}, ?::text)", column);
}

TaskSetDialect postgres_dialect(Connection& c) {
  return TaskSetDialect{
      [&c](const std::string& from_where, const std::vector<Binding>& bindings) -> Result<int64_t> {
        auto rows = query(c, numbered(fmt::format("SELECT count(*) FROM (SELECT 1 {} LIMIT {}) s", from_where,
                                                  kSmallTaskSet)),
                          params_of(bindings), "cannot count tasks");
        if (!rows.ok()) return rows.error();
        return (*rows)->int64(0, 0);
      },
      starts_with};
}

// How a task page's SQL is written here (store/page_sql.h). Candidate
// checks are fenced with OFFSET 0: without the fence the planner turns them
// into a hashed set of every matching candidate, built on every request
// (tens of milliseconds at 100,000 open tasks), where a page walked in order
// needs one index probe per row it reads.
TaskPageDialect postgres_page_dialect() {
  TaskPageDialect d;
  d.starts_with = starts_with;
  d.region_column = "t.region";
  d.group_in_list =
      "EXISTS (SELECT 1 FROM task_candidates c WHERE c.task_id = t.id AND c.kind = 1 AND c.value IN "
      "(SELECT jsonb_array_elements_text(?::jsonb)) OFFSET 0)";
  d.user_is =
      "EXISTS (SELECT 1 FROM task_candidates c WHERE c.task_id = t.id AND c.kind = 2 AND c.value = ? OFFSET 0)";
  d.offered = [](bool groups_only, const std::string& user, const std::string& department,
                 std::vector<Binding>& bindings) -> std::string {
    bindings.insert(bindings.end(), {user, user, department});
    const std::string groups = starts_with("c.value", department + "-", bindings);
    return fmt::format(
        fmt::runtime(groups_only
            ? "(?::text = ?::text AND EXISTS (SELECT 1 FROM task_candidates c WHERE c.task_id = t.id AND c.kind = 1 "
              "AND (c.value = ?::text OR {}) OFFSET 0))"
            : "(t.assignee = ?::text OR EXISTS (SELECT 1 FROM task_candidates c WHERE c.task_id = t.id AND "
              "((c.kind = 2 AND c.value = ?::text) OR (c.kind = 1 AND (c.value = ?::text OR {}))) OFFSET 0))"),
        groups);
  };
  d.flag = "?::bigint = 1";
  d.always = "TRUE";
  return d;
}

}  // namespace

Result<std::vector<TaskRecord>> PostgresStore::tasks(const TaskQuery& q) {
  std::vector<Binding> bindings;
  const std::string sql = task_page_sql(kTaskColumns, q, postgres_page_dialect(), kMaxPageSize, bindings);

  return in_read(
      [&](Connection& c) -> Result<std::vector<TaskRecord>> {
        // When few tasks can be visible to the caller, read just those and
        // sort them (store/task_sets.h).
        // (Copies: a lost connection runs this again.)
        std::string text = sql;
        std::vector<Binding> values = bindings;
        if (q.visible.active || !q.regions.empty()) {
          auto drive = small_task_set(postgres_dialect(c), *set_sizes_, q);
          if (!drive.ok()) return drive.error();
          if (*drive) {
            const std::string from = "FROM user_tasks t ";
            text.replace(text.find(from), from.size(),
                         "FROM (" + (*drive)->sql + ") d JOIN user_tasks t ON t.id = d.id ");
            values.insert(values.begin(), (*drive)->bindings.begin(), (*drive)->bindings.end());
          }
        }
        auto found = collect<TaskRecord>(c, numbered(text), params_of(values), read_task, "cannot list tasks");
        if (!found.ok()) return found.error();
        BANSHI_PG_TRY(load_candidates(c, *found));
        return found;
      },
      /*snapshot=*/true);
}

Result<std::optional<TaskRecord>> PostgresStore::task(int64_t task_id) {
  return in_read(
      [&](Connection& c) -> Result<std::optional<TaskRecord>> {
        auto found = collect<TaskRecord>(c, std::string(kTaskColumns) + "WHERE t.id = $1", Params().add(task_id),
                                         read_task, "cannot read a task");
        if (!found.ok()) return found.error();
        if (found->empty()) return std::optional<TaskRecord>();
        BANSHI_PG_TRY(load_candidates(c, *found));
        return std::optional<TaskRecord>(std::move(found->front()));
      },
      /*snapshot=*/true);
}

Result<std::vector<TaskRecord>> PostgresStore::tasks_by_keys(const std::vector<InstanceKey>& keys) {
  return in_read(
      [&](Connection& c) -> Result<std::vector<TaskRecord>> {
        std::vector<TaskRecord> out;
        BANSHI_PG_TRY(read_tasks_by_keys(c, keys, out));
        return out;
      },
      /*snapshot=*/true);
}

Result<std::vector<JobRecord>> PostgresStore::jobs_of(InstanceId id) {
  return in_read([&](Connection& c) -> Result<std::vector<JobRecord>> {
    return collect<JobRecord>(c, fmt::format("SELECT {} FROM jobs WHERE instance_id = $1 ORDER BY key", kJobColumnList),
                              Params().add(id), read_job, "cannot read jobs");
  });
}

Result<std::optional<JobRecord>> PostgresStore::job(int64_t job_id) {
  return in_read([&](Connection& c) -> Result<std::optional<JobRecord>> {
    return first<JobRecord>(c, fmt::format("SELECT {} FROM jobs WHERE id = $1", kJobColumnList), Params().add(job_id),
                            read_job, "cannot read a job");
  });
}

Result<std::vector<TimerRecord>> PostgresStore::due_timers(int64_t until, size_t limit) {
  return in_read([&](Connection& c) -> Result<std::vector<TimerRecord>> {
    return collect<TimerRecord>(c,
                                "SELECT instance_id, key, element_id, due_at FROM timers WHERE due_at <= $1 "
                                "ORDER BY due_at, instance_id, key LIMIT $2",
                                Params().add(until).add(static_cast<int64_t>(std::min(limit, kMaxTimersPerLoad))),
                                read_timer, "cannot read due timers");
  });
}

Result<std::optional<int64_t>> PostgresStore::next_timer_due() {
  return in_read([&](Connection& c) -> Result<std::optional<int64_t>> {
    // Timer start events too (migration 8): a firing is a timer like any other.
    auto rows = query(c,
                      "SELECT min(due) FROM (SELECT min(due_at) AS due FROM timers UNION ALL SELECT min(due_at) FROM "
                      "start_timers) t",
                      {}, "cannot read the next timer");
    if (!rows.ok()) return rows.error();
    if ((*rows)->is_null(0, 0)) return std::optional<int64_t>();
    return std::optional<int64_t>((*rows)->int64(0, 0));
  });
}

Result<std::vector<SubscriptionRecord>> PostgresStore::message_subscriptions(const std::string& name,
                                                                            const std::string& correlation_key) {
  return in_read([&](Connection& c) -> Result<std::vector<SubscriptionRecord>> {
    return collect<SubscriptionRecord>(c,
                                       "SELECT instance_id, key, name, correlation_key, element_id FROM "
                                       "message_subscriptions WHERE name = $1 AND correlation_key = $2 "
                                       "ORDER BY instance_id, key",
                                       Params().add(name).add(correlation_key), read_subscription,
                                       "cannot read message subscriptions");
  });
}

Result<std::vector<SubscriptionRecord>> PostgresStore::signal_subscriptions(const std::string& name) {
  return in_read([&](Connection& c) -> Result<std::vector<SubscriptionRecord>> {
    return collect<SubscriptionRecord>(c,
                                       "SELECT instance_id, key, name, '', element_id FROM signal_subscriptions "
                                       "WHERE name = $1 ORDER BY instance_id, key",
                                       Params().add(name), read_subscription, "cannot read signal subscriptions");
  });
}

Result<std::vector<MessageRecord>> PostgresStore::buffered_messages(const std::string& name,
                                                                    const std::string& correlation_key, int64_t now,
                                                                    size_t limit) {
  return in_read([&](Connection& c) -> Result<std::vector<MessageRecord>> {
    // expires_at 0 means the message never expires.
    return collect<MessageRecord>(c,
                                  "SELECT id, name, correlation_key, variables, message_id, published_at, expires_at "
                                  "FROM messages WHERE name = $1 AND correlation_key = $2 AND "
                                  "(expires_at = 0 OR expires_at > $3) ORDER BY published_at, id LIMIT $4",
                                  Params().add(name).add(correlation_key).add(now).add(
                                      static_cast<int64_t>(limit)),
                                  read_message,
                                  "cannot read buffered messages");
  });
}

Result<std::vector<IncidentRecord>> PostgresStore::incidents(InstanceId id) {
  return in_read([&](Connection& c) -> Result<std::vector<IncidentRecord>> {
    if (id == 0) {
      return collect<IncidentRecord>(c, std::string(kIncidentColumns) + "ORDER BY id", {}, read_incident,
                                     "cannot read incidents");
    }
    return collect<IncidentRecord>(c, std::string(kIncidentColumns) + "WHERE instance_id = $1 ORDER BY id",
                                   Params().add(id), read_incident, "cannot read incidents");
  });
}

Result<std::vector<IncidentRecord>> PostgresStore::incidents(const IncidentQuery& q, int64_t* total) {
  const std::string columns =
      "SELECT id, instance_id, key, process_id, element_id, kind, message, job_key, created_at FROM incidents n ";
  const char* regions = postgres_instance_dialect().region_in_list;
  std::vector<Binding> page_bindings, count_bindings;
  const std::string page = incident_page_sql(columns, q, regions, kMaxPageSize, page_bindings);
  const std::string count = incident_page_sql("SELECT count(*) FROM incidents n ", q, regions, 0, count_bindings);
  return in_read(
      [&](Connection& c) -> Result<std::vector<IncidentRecord>> {
        if (total != nullptr) {
          auto rows = query(c, numbered(count), params_of(count_bindings), "cannot count incidents");
          if (!rows.ok()) return rows.error();
          *total = (*rows)->int64(0, 0);
        }
        return collect<IncidentRecord>(c, numbered(page), params_of(page_bindings), read_incident,
                                       "cannot list incidents");
      },
      /*snapshot=*/total != nullptr);
}

Result<std::optional<IncidentRecord>> PostgresStore::incident(int64_t incident_id) {
  return in_read([&](Connection& c) -> Result<std::optional<IncidentRecord>> {
    return first<IncidentRecord>(c, std::string(kIncidentColumns) + "WHERE id = $1", Params().add(incident_id),
                                 read_incident, "cannot read an incident");
  });
}

Result<std::vector<HistoryRecord>> PostgresStore::history(InstanceId id, int64_t after_seq, size_t limit) {
  return in_read([&](Connection& c) -> Result<std::vector<HistoryRecord>> {
    // LIMIT NULL: every row.
    Params params;
    params.add(id).add(after_seq);
    if (limit == 0) params.add_null();
    else params.add(static_cast<int64_t>(limit));
    return collect<HistoryRecord>(
        c, "SELECT instance_id, seq, at, records FROM history WHERE instance_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        params,
        [](const Rows& s, int i) { return HistoryRecord{s.int64(i, 0), s.int64(i, 1), s.int64(i, 2), s.bytes(i, 3)}; },
        "cannot read history");
  });
}

Result<void> PostgresStore::backup(const std::string& path) {
  (void)path;
  return Error{"unsupported",
               "a PostgreSQL store is backed up with PostgreSQL's own tools (pg_basebackup or pg_dump); see "
               "docs/operations.md"};
}

// --- cluster ----------------------------------------------------------------

Result<std::vector<TimerRecord>> PostgresStore::acquire_timers(const std::string& owner, int64_t until, int64_t now,
                                                               int64_t lease_ms, size_t limit) {
  if (limit == 0) return std::vector<TimerRecord>();
  // Timer rows are locked as they are chosen; rows another node is leasing
  // right now are skipped; a lease of another owner that has not ended keeps
  // its timer out. The lease row is the arbiter: the statement's snapshot may
  // predate a lease another node committed a moment ago (its timer row is
  // then no longer locked, and locking it does not look at the lease again),
  // so a lease is taken over only where the lease as committed now allows it,
  // and only the timers whose lease was written here are returned.
  return in_write_transaction([&](Connection& c) -> Result<std::vector<TimerRecord>> {
    return collect<TimerRecord>(
        c,
        "WITH due AS (SELECT t.instance_id, t.key, t.element_id, t.due_at FROM timers t "
        "LEFT JOIN timer_leases l ON l.instance_id = t.instance_id AND l.key = t.key "
        "WHERE t.due_at <= $1 AND (l.owner IS NULL OR l.owner = $3 OR l.lease_until <= $2) "
        "ORDER BY t.due_at, t.instance_id, t.key LIMIT $4 FOR UPDATE OF t SKIP LOCKED), "
        "leased AS (INSERT INTO timer_leases AS held (instance_id, key, owner, lease_until) "
        "SELECT instance_id, key, $3, greatest(due_at, $2) + $5 FROM due ON CONFLICT (instance_id, key) "
        "DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until "
        "WHERE held.owner = excluded.owner OR held.lease_until <= $2 RETURNING instance_id, key) "
        "SELECT d.instance_id, d.key, d.element_id, d.due_at FROM due d "
        "JOIN leased USING (instance_id, key) ORDER BY d.due_at, d.instance_id, d.key",
        Params().add(until).add(now).add(owner).add(static_cast<int64_t>(std::min(limit, kMaxTimersPerLoad))).add(
            lease_ms),
        read_timer, "cannot lease timers");
  });
}

Result<void> PostgresStore::relay_events(const std::vector<std::string>& payloads) {
  if (payloads.empty()) return {};
  return in_read([&](Connection& c) -> Result<void> {
    // Outside a transaction block: each notification goes out at once.
    auto sent = query(c, "SELECT pg_notify($2, p) FROM jsonb_array_elements_text($1::jsonb) p",
                      Params().add(json_list(payloads)).add(events_channel_), "cannot relay events");
    if (!sent.ok()) return sent.error();
    return {};
  });
}

Result<void> PostgresStore::listen_events(std::function<void(const std::string&)> on_event) {
  if (events_thread_.joinable()) return Error{"store", "this store already listens for events"};
  auto first = Connection::open(options_.url, options_.schema);
  if (!first.ok()) return first.error();
  const std::string listen = "LISTEN " + events_channel_;
  if (auto l = (*first)->exec(listen); !l.ok()) return store_error(l.failure, "cannot listen");
  events_stop_ = false;
  events_thread_ = std::thread([this, listen, on_event = std::move(on_event),
                                conn = std::move(first).value()]() mutable {
    while (!events_stop_) {
      if (!conn->healthy()) {
        // Made again after a break; events relayed meanwhile are missed (the
        // clients' lists are read from the database anyway).
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        if (!conn->reset() || !conn->exec(listen).ok()) continue;
      }
      const int fd = PQsocket(conn->raw());
      if (fd < 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      if (PQconsumeInput(conn->raw()) == 0) continue;  // the connection broke: healthy() says so next round
      while (PGnotify* n = PQnotifies(conn->raw())) {
        std::string payload = n->extra != nullptr ? n->extra : "";
        PQfreemem(n);
        try {
          on_event(payload);
        } catch (...) {
          // A listener's failure must not end the relay.
        }
      }
    }
  });
  return {};
}

void PostgresStore::stop_events() {
  events_stop_ = true;
  if (events_thread_.joinable()) events_thread_.join();
}

Result<std::vector<ReplicaRecord>> PostgresStore::replicas() {
  return in_read([&](Connection& c) -> Result<std::vector<ReplicaRecord>> {
    return collect<ReplicaRecord>(
        c,
        "SELECT application_name, coalesce(host(client_addr), ''), state, "
        "coalesce((extract(epoch FROM replay_lag) * 1000)::bigint, -1) FROM pg_stat_replication "
        "ORDER BY application_name",
        {},
        [](const Rows& s, int i) { return ReplicaRecord{s.text(i, 0), s.text(i, 1), s.text(i, 2), s.int64(i, 3)}; },
        "cannot read the replication state");
  });
}

Result<void> PostgresStore::heartbeat(const NodeRecord& node) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto rows = query(c,
                      "INSERT INTO cluster_nodes (node_id, role, address, started_at, heartbeat_at) "
                      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (node_id) DO UPDATE SET role = excluded.role, "
                      "address = excluded.address, started_at = excluded.started_at, "
                      "heartbeat_at = excluded.heartbeat_at",
                      Params().add(node.node_id).add(node.role).add(node.address).add(node.started_at).add(
                          node.heartbeat_at),
                      "cannot record the node's heartbeat");
    if (!rows.ok()) return rows.error();
    return {};
  });
}

Result<std::vector<NodeRecord>> PostgresStore::nodes(int64_t now) {
  return in_read([&](Connection& c) -> Result<std::vector<NodeRecord>> {
    return collect<NodeRecord>(
        c,
        "SELECT n.node_id, n.role, n.address, n.started_at, n.heartbeat_at, "
        "(SELECT count(*) FROM jobs j WHERE j.lease_owner = n.node_id AND j.lease_until > $1) "
        "FROM cluster_nodes n ORDER BY n.node_id COLLATE \"C\"",
        Params().add(now),
        [](const Rows& s, int i) {
          return NodeRecord{s.text(i, 0), s.text(i, 1), s.text(i, 2), s.int64(i, 3), s.int64(i, 4), s.int64(i, 5)};
        },
        "cannot list the cluster's nodes");
  });
}

Result<void> PostgresStore::forget_node(const std::string& node_id) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto rows = query(c, "DELETE FROM cluster_nodes WHERE node_id = $1", Params().add(node_id),
                      "cannot remove the node");
    if (!rows.ok()) return rows.error();
    return {};
  });
}

// --- users, sessions, tokens, audit (AuthStore) ------------------------------

namespace {

constexpr const char* kUserColumns =
    "SELECT name, password_hash, roles, department, regions, disabled, created_at, password_changed_at FROM users ";

UserRecord read_user(const Rows& s, int i) { return rows::user(RowOf{s, i}); }


// Runs a statement that changes rows; unique violations become "duplicate".
Result<int64_t> change(Connection& c, const std::string& sql, const Params& params, std::string_view what,
                       const std::string& duplicate = {}) {
  auto out = c.run(sql, params);
  if (!out.ok()) {
    if (!duplicate.empty() && out.failure.sqlstate == kUniqueViolation) return Error{"duplicate", duplicate};
    return failed(out.failure, what);
  }
  return out.rows->affected();
}

}  // namespace

Result<void> PostgresStore::add_user(const UserRecord& u) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto r = change(c,
                    "INSERT INTO users (name, password_hash, roles, department, regions, disabled, created_at, "
                    "password_changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    Params()
                        .add(u.name)
                        .add(u.password_hash)
                        .add(json_list(u.roles))
                        .add(u.department)
                        .add(json_list(u.regions))
                        .add(int64_t{u.disabled ? 1 : 0})
                        .add(u.created_at)
                        .add(u.password_changed_at),
                    "cannot insert a user", fmt::format("there is already a user {}", u.name));
    if (!r.ok()) return r.error();
    return {};
  });
}

Result<void> PostgresStore::update_user(const UserRecord& u) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto r = change(c,
                    "UPDATE users SET password_hash = $2, roles = $3, department = $4, regions = $5, disabled = $6, "
                    "password_changed_at = $7 WHERE name = $1",
                    Params()
                        .add(u.name)
                        .add(u.password_hash)
                        .add(json_list(u.roles))
                        .add(u.department)
                        .add(json_list(u.regions))
                        .add(int64_t{u.disabled ? 1 : 0})
                        .add(u.password_changed_at),
                    "cannot update a user");
    if (!r.ok()) return r.error();
    if (*r == 0) return Error{"not-found", fmt::format("there is no user {}", u.name)};
    return {};
  });
}

Result<std::optional<UserRecord>> PostgresStore::user(const std::string& name) {
  return in_read([&](Connection& c) -> Result<std::optional<UserRecord>> {
    return first<UserRecord>(c, std::string(kUserColumns) + "WHERE name = $1", Params().add(name), read_user,
                             "cannot read a user");
  });
}

Result<std::vector<UserRecord>> PostgresStore::users() {
  return in_read([&](Connection& c) -> Result<std::vector<UserRecord>> {
    return collect<UserRecord>(c, std::string(kUserColumns) + "ORDER BY name COLLATE \"C\"", {}, read_user, "cannot list users");
  });
}

Result<void> PostgresStore::add_session(const SessionRecord& s) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto r = change(c,
                    "INSERT INTO sessions (token_hash, user_name, csrf_token, address, created_at, last_seen_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6)",
                    Params().add(s.token_hash).add(s.user).add(s.csrf_token).add(s.address).add(s.created_at).add(
                        s.last_seen_at),
                    "cannot insert a session");
    if (!r.ok()) return r.error();
    return {};
  });
}

Result<std::optional<SessionRecord>> PostgresStore::session(const std::string& token_hash) {
  return in_read([&](Connection& c) -> Result<std::optional<SessionRecord>> {
    return first<SessionRecord>(
        c,
        "SELECT token_hash, user_name, csrf_token, address, created_at, last_seen_at FROM sessions "
        "WHERE token_hash = $1",
        Params().add(token_hash),
        [](const Rows& s, int i) {
          return SessionRecord{s.text(i, 0), s.text(i, 1), s.text(i, 2), s.text(i, 3), s.int64(i, 4), s.int64(i, 5)};
        },
        "cannot read a session");
  });
}

Result<void> PostgresStore::touch_session(const std::string& token_hash, int64_t last_seen_at) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto r = change(c, "UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1",
                    Params().add(token_hash).add(last_seen_at), "cannot update a session");
    if (!r.ok()) return r.error();
    return {};
  });
}

Result<void> PostgresStore::delete_session(const std::string& token_hash) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto r = change(c, "DELETE FROM sessions WHERE token_hash = $1", Params().add(token_hash),
                    "cannot delete a session");
    if (!r.ok()) return r.error();
    return {};
  });
}

Result<int64_t> PostgresStore::delete_sessions_of(const std::string& user) {
  return in_write_transaction([&](Connection& c) -> Result<int64_t> {
    return change(c, "DELETE FROM sessions WHERE user_name = $1", Params().add(user), "cannot delete sessions");
  });
}

Result<int64_t> PostgresStore::add_api_token(const ApiTokenRecord& t) {
  return in_write_transaction([&](Connection& c) -> Result<int64_t> {
    auto out = c.run(
        "INSERT INTO api_tokens (name, token_hash, topics, created_by, created_at, revoked) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        Params()
            .add(t.name)
            .add(t.token_hash)
            .add(json_list(t.topics))
            .add(t.created_by)
            .add(t.created_at)
            .add(int64_t{t.revoked ? 1 : 0}));
    if (!out.ok()) {
      if (out.failure.sqlstate == kUniqueViolation) {
        return Error{"duplicate", fmt::format("there is already a token {}", t.name)};
      }
      return failed(out.failure, "cannot insert a token");
    }
    return out.rows->int64(0, 0);
  });
}

Result<std::optional<ApiTokenRecord>> PostgresStore::api_token(const std::string& token_hash) {
  return in_read([&](Connection& c) -> Result<std::optional<ApiTokenRecord>> {
    return first<ApiTokenRecord>(
        c,
        "SELECT id, name, token_hash, topics, created_by, created_at, revoked FROM api_tokens WHERE token_hash = $1",
        Params().add(token_hash),
        [](const Rows& s, int i) { return rows::api_token(RowOf{s, i}); }, "cannot read a token");
  });
}

Result<void> PostgresStore::add_login_failure(const std::string& name, int64_t at) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto r = change(c, "INSERT INTO login_failures (name, at) VALUES ($1, $2)", Params().add(name).add(at),
                    "cannot record a failed login");
    if (!r.ok()) return r.error();
    return {};
  });
}

Result<std::vector<int64_t>> PostgresStore::login_failures(const std::string& name, int64_t since) {
  return in_read([&](Connection& c) -> Result<std::vector<int64_t>> {
    return collect<int64_t>(c, "SELECT at FROM login_failures WHERE name = $1 AND at >= $2 ORDER BY at",
                            Params().add(name).add(since), [](const Rows& s, int i) { return s.int64(i, 0); },
                            "cannot read failed logins");
  });
}

Result<void> PostgresStore::clear_login_failures(const std::string& name) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto r = change(c, "DELETE FROM login_failures WHERE name = $1", Params().add(name), "cannot clear failed logins");
    if (!r.ok()) return r.error();
    return {};
  });
}

Result<int64_t> PostgresStore::append_audit(const AuditRecord& a) {
  return in_write_transaction([&](Connection& c) { return chain_audit(c, a); });
}

Result<void> PostgresStore::audited(const std::function<Result<void>()>& change, const std::vector<AuditRecord>& rows) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    struct Join {
      Join(const PostgresStore* store, Connection* connection) {
        joined_store = store;
        joined_connection = connection;
      }
      ~Join() {
        joined_store = nullptr;
        joined_connection = nullptr;
      }
      Join(const Join&) = delete;
      Join& operator=(const Join&) = delete;
    };
    {
      Join join(this, &c);
      BANSHI_PG_TRY(change());
    }
    return chain_audit_rows(c, rows);
  });
}

Result<std::vector<AuditRecord>> PostgresStore::audit_chain(int64_t after_id, size_t limit) {
  return in_read([&](Connection& c) -> Result<std::vector<AuditRecord>> {
    return collect<AuditRecord>(c,
                                "SELECT id, at, actor, action, target, address, detail, prev_hash, hash FROM audit "
                                "WHERE id > $1 ORDER BY id LIMIT $2",
                                Params().add(after_id).add(static_cast<int64_t>(std::min(limit, kMaxPageSize))),
                                read_audit, "cannot read the audit trail");
  });
}

Result<std::vector<AuditRecord>> PostgresStore::audit(const AuditQuery& q) {
  std::string sql = "SELECT id, at, actor, action, target, address, detail, prev_hash, hash FROM audit WHERE at >= ?";
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
  return in_read([&](Connection& c) -> Result<std::vector<AuditRecord>> {
    return collect<AuditRecord>(c, numbered(sql), params_of(bindings), read_audit, "cannot read the audit trail");
  });
}

// --- monitor figures (docs/sla.md) -----------------------------------------

namespace {

// The state a monitor sees: the stored SLA state, or overdue for a task with
// a due date and no policy once the date has passed (bound: $1 = now).
constexpr const char* kEffectiveState =
    "(CASE WHEN t.sla_state <> 0 THEN t.sla_state WHEN t.sla_paused_at = 0 AND t.due_at > 0 AND t.due_at <= $1 "
    "THEN 4 ELSE 0 END)";
// A paused clock's due time still moves, so a task paused before it was
// overdue is not overdue yet.
constexpr const char* kNotPausedBeforeDue = "(t.sla_paused_at = 0 OR t.sla_state NOT IN (0, 1))";
constexpr const char* kInRegions =
    "EXISTS (SELECT 1 FROM jsonb_array_elements_text($2::jsonb) r(value) WHERE "
    "substr(t.region, 1, length(r.value)) = r.value)";

}  // namespace

Result<std::vector<MonitorGroup>> PostgresStore::monitor_summary(const std::vector<std::string>& region_prefixes,
                                                                 const std::string& group_by, int64_t now) {
  std::string key;
  if (group_by == "department") key = "t.department";
  else if (group_by == "region") key = "t.region";
  else if (group_by == "process") key = "t.process_id";
  else if (group_by == "state") key = std::string(kEffectiveState) + "::text";
  else return Error{"invalid", fmt::format("cannot group by '{}'", group_by)};
  const std::string sql = fmt::format(
      "SELECT {0} AS k, {1} AS s, count(*) FROM user_tasks t WHERE {2} GROUP BY k, s ORDER BY k, s", key,
      kEffectiveState, kInRegions);
  return in_read([&](Connection& c) -> Result<std::vector<MonitorGroup>> {
    auto rows = query(c, sql, Params().add(now).add(json_list(region_prefixes)), "cannot count tasks by SLA state");
    if (!rows.ok()) return rows.error();
    static constexpr const char* kStateNames[] = {"on_time", "due_soon", "escalated", "breached", "overdue"};
    std::vector<MonitorGroup> out;
    const Rows& r = **rows;
    for (int i = 0; i < r.size(); ++i) {
      const int64_t state = r.int64(i, 1);
      std::string k = group_by == "state" ? std::string(state >= 0 && state <= 4 ? kStateNames[state] : "unknown")
                                          : r.text(i, 0);
      if (out.empty() || out.back().key != k) out.push_back(MonitorGroup{k});
      MonitorGroup& g = out.back();
      const int64_t n = r.int64(i, 2);
      switch (state) {
        case 0: g.on_time += n; break;
        case 1: g.due_soon += n; break;
        case 2: g.escalated += n; break;
        case 3: g.breached += n; break;
        default: g.overdue += n; break;
      }
      g.total += n;
    }
    return out;
  });
}

Result<std::vector<TaskRecord>> PostgresStore::monitor_overdue(const std::vector<std::string>& region_prefixes,
                                                               int64_t now, size_t offset, size_t limit,
                                                               int64_t& total) {
  return in_read(
      [&](Connection& c) -> Result<std::vector<TaskRecord>> {
        const std::string where = fmt::format("WHERE t.due_at > 0 AND t.due_at <= $1 AND {} AND {} ", kInRegions,
                                              kNotPausedBeforeDue);
        auto count = query(c, "SELECT count(*) FROM user_tasks t " + where,
                           Params().add(now).add(json_list(region_prefixes)), "cannot count overdue tasks");
        if (!count.ok()) return count.error();
        total = (*count)->int64(0, 0);
        auto found = collect<TaskRecord>(
            c, std::string(kTaskColumns) + where + "ORDER BY t.due_at ASC, t.id ASC LIMIT $3 OFFSET $4",
            Params()
                .add(now)
                .add(json_list(region_prefixes))
                .add(static_cast<int64_t>(std::min(limit, kMaxPageSize)))
                .add(static_cast<int64_t>(offset)),
            read_task, "cannot list overdue tasks");
        if (!found.ok()) return found.error();
        BANSHI_PG_TRY(load_candidates(c, *found));
        return found;
      },
      /*snapshot=*/true);
}

Result<std::vector<MonitorStep>> PostgresStore::monitor_steps(const std::vector<std::string>& region_prefixes,
                                                              int64_t from, int64_t to) {
  return in_read([&](Connection& c) -> Result<std::vector<MonitorStep>> {
    auto rows = query(c,
                      "SELECT t.process_id, t.element_id, t.name, t.completed_at - t.created_at, "
                      "(t.sla_state = 3 OR (t.due_at > 0 AND t.completed_at > t.due_at))::int FROM task_outcomes t "
                      "WHERE t.completed_at >= $1 AND t.completed_at < $3 AND " +
                          std::string(kInRegions) + " ORDER BY t.process_id COLLATE \"C\", t.element_id COLLATE \"C\", 4",
                      Params().add(from).add(json_list(region_prefixes)).add(to), "cannot read task outcomes");
    if (!rows.ok()) return rows.error();
    std::vector<MonitorStep> out;
    std::vector<int64_t> handling;
    auto close = [&] {
      if (out.empty() || handling.empty()) return;
      const size_t n = handling.size();
      out.back().median_handling_ms = n % 2 ? handling[n / 2] : (handling[n / 2 - 1] + handling[n / 2]) / 2;
      handling.clear();
    };
    const Rows& r = **rows;
    for (int i = 0; i < r.size(); ++i) {
      std::string process = r.text(i, 0), element = r.text(i, 1);
      if (out.empty() || out.back().process_id != process || out.back().element_id != element) {
        close();
        out.push_back(MonitorStep{process, element, r.text(i, 2)});
      }
      MonitorStep& m = out.back();
      ++m.completed;
      m.breached += r.int64(i, 4) != 0;
      handling.push_back(r.int64(i, 3));
    }
    close();
    return out;
  });
}

// --- reports, ratings and comparison runs (docs/reports.md) ---------------

namespace {

// A case's region and department: those of its first completed task, else
// of its first open one, else '' (docs/reports.md).
constexpr const char* kCaseRegion =
    "coalesce((SELECT o.region FROM task_outcomes o WHERE o.instance_id = i.id ORDER BY o.created_at LIMIT 1), "
    "(SELECT u.region FROM user_tasks u WHERE u.instance_id = i.id ORDER BY u.created_at LIMIT 1), '')";
constexpr const char* kCaseDepartment =
    "coalesce((SELECT o.department FROM task_outcomes o WHERE o.instance_id = i.id ORDER BY o.created_at LIMIT 1), "
    "(SELECT u.department FROM user_tasks u WHERE u.instance_id = i.id ORDER BY u.created_at LIMIT 1), '')";
constexpr const char* kRatingColumns =
    "instance_id, process_id, business_key, region, level, comment, rated_by, on_behalf, rated_at, follow_up_id";

RatingRecord rating_row(const Rows& s, int i) { return rows::rating(RowOf{s, i}); }

ReportCase report_case_row(const Rows& s, int i) { return rows::report_case(RowOf{s, i}); }

}  // namespace

Result<std::vector<ReportCase>> PostgresStore::report_cases(const std::vector<std::string>& region_prefixes,
                                                            int64_t from, int64_t to) {
  const std::string sql = fmt::format(
      "SELECT id, process_id, region, status, started_at, ended_at FROM (SELECT i.id, i.process_id, {} AS region, "
      "i.status, i.started_at, i.ended_at FROM instances i WHERE i.parent_id IS NULL AND i.started_at >= $1 AND "
      "i.started_at < $3) t WHERE {} ORDER BY started_at, id",
      kCaseRegion, kInRegions);
  return in_read([&](Connection& c) {
    return collect<ReportCase>(c, sql, Params().add(from).add(json_list(region_prefixes)).add(to), report_case_row,
                               "cannot read cases for a report");
  });
}

Result<ReportCase> PostgresStore::report_case(InstanceId id) {
  const std::string sql = fmt::format(
      "SELECT i.id, i.process_id, {}, i.status, i.started_at, i.ended_at, {} FROM instances i WHERE i.id = $1",
      kCaseRegion, kCaseDepartment);
  return in_read([&](Connection& c) -> Result<ReportCase> {
    auto row = first<ReportCase>(
        c, sql, Params().add(id),
        [](const Rows& r, int i) {
          ReportCase found = report_case_row(r, i);
          found.department = r.text(i, 6);
          return found;
        },
        "cannot read a case");
    if (!row.ok()) return row.error();
    if (!*row) return Error{"not-found", fmt::format("there is no instance {}", id)};
    return std::move(**row);
  });
}

Result<std::vector<ReportTask>> PostgresStore::report_tasks(const std::vector<std::string>& region_prefixes,
                                                            int64_t from, int64_t to) {
  const std::string sql = fmt::format(
      "SELECT t.instance_id, t.process_id, t.element_id, t.name, t.department, t.region, t.created_at, t.due_at, "
      "t.completed_at, t.sla_state, t.escalation_level, 0 FROM task_outcomes t "
      "WHERE t.completed_at >= $1 AND t.completed_at < $3 AND {0} "
      "UNION ALL SELECT t.instance_id, t.process_id, t.element_id, t.name, t.department, t.region, t.created_at, "
      "t.due_at, 0, t.sla_state, t.escalation_level, t.sla_paused_at FROM user_tasks t "
      "WHERE t.created_at < $3 AND {0} "
      "ORDER BY 2, 3, 7",
      kInRegions);
  return in_read([&](Connection& c) {
    return collect<ReportTask>(
        c, sql, Params().add(from).add(json_list(region_prefixes)).add(to),
        [](const Rows& r, int i) {
          ReportTask t;
          t.instance_id = r.int64(i, 0);
          t.process_id = r.text(i, 1);
          t.element_id = r.text(i, 2);
          t.name = r.text(i, 3);
          t.department = r.text(i, 4);
          t.region = r.text(i, 5);
          t.created_at = r.int64(i, 6);
          t.due_at = r.int64(i, 7);
          t.completed_at = r.int64(i, 8);
          t.sla_state = static_cast<uint8_t>(r.int64(i, 9));
          t.escalation_level = static_cast<int32_t>(r.int64(i, 10));
          t.sla_paused_at = r.int64(i, 11);
          return t;
        },
        "cannot read tasks for a report");
  });
}

Result<void> PostgresStore::add_rating(const RatingRecord& r) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto rows = query(c,
                      fmt::format("INSERT INTO ratings ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                                  "ON CONFLICT (instance_id) DO NOTHING",
                                  kRatingColumns),
                      Params()
                          .add(r.instance_id)
                          .add(r.process_id)
                          .add(r.business_key)
                          .add(r.region)
                          .add(int64_t{r.level})
                          .add(r.comment)
                          .add(r.rated_by)
                          .add(int64_t{r.on_behalf ? 1 : 0})
                          .add(r.rated_at)
                          .add(r.follow_up_id),
                      fmt::format("cannot store the rating of case {}", r.instance_id));
    if (!rows.ok()) return rows.error();
    if ((*rows)->affected() == 0) return conflict(fmt::format("case {} is rated already", r.instance_id));
    return {};
  });
}

Result<void> PostgresStore::set_rating_follow_up(InstanceId rated, InstanceId follow_up) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto rows = query(c, "UPDATE ratings SET follow_up_id = $2 WHERE instance_id = $1",
                      Params().add(rated).add(follow_up), "cannot record a rating's follow-up");
    if (!rows.ok()) return rows.error();
    if ((*rows)->affected() == 0) return Error{"not-found", fmt::format("case {} has no rating", rated)};
    return {};
  });
}

Result<std::optional<RatingRecord>> PostgresStore::rating(InstanceId id) {
  return in_read([&](Connection& c) {
    return first<RatingRecord>(c, fmt::format("SELECT {} FROM ratings WHERE instance_id = $1", kRatingColumns),
                               Params().add(id), rating_row, "cannot read a rating");
  });
}

Result<std::vector<RatingRecord>> PostgresStore::ratings(const std::vector<std::string>& region_prefixes,
                                                         int64_t from, int64_t to) {
  const std::string sql = fmt::format(
      "SELECT {} FROM ratings t WHERE t.rated_at >= $1 AND t.rated_at < $3 AND {} ORDER BY t.rated_at, t.instance_id",
      kRatingColumns, kInRegions);
  return in_read([&](Connection& c) {
    return collect<RatingRecord>(c, sql, Params().add(from).add(json_list(region_prefixes)).add(to), rating_row,
                                 "cannot read ratings");
  });
}

Result<int64_t> PostgresStore::add_comparison_run(const ComparisonRunRecord& r) {
  return in_write_transaction([&](Connection& c) -> Result<int64_t> {
    auto inserted = query(c,
                          "INSERT INTO comparison_runs (instance_id, run_key, at, found, started, found_count, "
                          "started_count) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_key) DO NOTHING",
                          Params()
                              .add(r.instance_id)
                              .add(r.run_key)
                              .add(r.at)
                              .add(r.found)
                              .add(r.started)
                              .add(r.found_count)
                              .add(r.started_count),
                          "cannot record a comparison run");
    if (!inserted.ok()) return inserted.error();
    auto id = query(c, "SELECT id FROM comparison_runs WHERE run_key = $1", Params().add(r.run_key),
                    "cannot read a comparison run back");
    if (!id.ok()) return id.error();
    if ((*id)->size() == 0) return Error{"store", "cannot read a comparison run back"};
    return (*id)->int64(0, 0);
  });
}

Result<std::vector<ComparisonRunRecord>> PostgresStore::comparison_runs(size_t offset, size_t limit, int64_t& total) {
  return in_read([&](Connection& c) -> Result<std::vector<ComparisonRunRecord>> {
    auto count = query(c, "SELECT count(*) FROM comparison_runs", Params(), "cannot count comparison runs");
    if (!count.ok()) return count.error();
    total = (*count)->int64(0, 0);
    return collect<ComparisonRunRecord>(
        c,
        "SELECT id, instance_id, at, found, started, found_count, started_count FROM comparison_runs "
        "ORDER BY id DESC LIMIT $1 OFFSET $2",
        Params().add(static_cast<int64_t>(limit)).add(static_cast<int64_t>(offset)),
        [](const Rows& s, int i) { return rows::comparison_run(RowOf{s, i}); }, "cannot read comparison runs");
  }, /*snapshot=*/true);  // the total and the page from one snapshot
}

Result<IdentityCheckAdmission> PostgresStore::admit_identity_check(const std::string& phone_hash,
                                                                   const std::string& person_hash,
                                                                   const std::string& day, int per_day) {
  return in_write_transaction([&](Connection& c) -> Result<IdentityCheckAdmission> {
    // Checks for one phone take turns (from every node); the count, read
    // after the lock, sees every check committed before it.
    BANSHI_PG_TRY(advisory_lock(c, "banshi-identity-checks:" + phone_hash));
    auto old = change(c, "DELETE FROM identity_checks WHERE phone_hash = $1 AND day < $2",
                      Params().add(phone_hash).add(day), "cannot forget earlier identity checks");
    if (!old.ok()) return old.error();
    // Other phones' earlier days go too, by one transaction at a time (the
    // others skip it rather than queue behind its row locks).
    auto purger = query(c, "SELECT pg_try_advisory_xact_lock(hashtext('banshi-identity-checks-purge:' || "
                           "coalesce(current_schema(), '')))",
                        Params(), "cannot take a lock");
    if (!purger.ok()) return purger.error();
    if ((*purger)->boolean(0, 0)) {
      auto purged = change(c, "DELETE FROM identity_checks WHERE day < $1", Params().add(day),
                           "cannot forget earlier identity checks");
      if (!purged.ok()) return purged.error();
    }
    auto seen = query(c,
                      "SELECT count(*), count(*) FILTER (WHERE person_hash = $3) FROM identity_checks "
                      "WHERE phone_hash = $1 AND day = $2",
                      Params().add(phone_hash).add(day).add(person_hash), "cannot count identity checks");
    if (!seen.ok()) return seen.error();
    if ((*seen)->int64(0, 1) > 0) return IdentityCheckAdmission::kAlreadyToday;
    if ((*seen)->int64(0, 0) >= per_day) return IdentityCheckAdmission::kDayFull;
    auto added = change(c, "INSERT INTO identity_checks (phone_hash, day, person_hash) VALUES ($1, $2, $3)",
                        Params().add(phone_hash).add(day).add(person_hash), "cannot record an identity check");
    if (!added.ok()) return added.error();
    return IdentityCheckAdmission::kRecorded;
  });
}

Result<void> PostgresStore::forget_identity_check(const std::string& phone_hash, const std::string& person_hash,
                                                  const std::string& day) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto done = change(c, "DELETE FROM identity_checks WHERE phone_hash = $1 AND day = $2 AND person_hash = $3",
                       Params().add(phone_hash).add(day).add(person_hash), "cannot forget an identity check");
    if (!done.ok()) return done.error();
    return {};
  });
}

}  // namespace banshi::store::postgres

// --- FrontDoorStore (migration 7, docs/frontdoor.md) ---------------------------

namespace banshi::store::postgres {

namespace {

constexpr const char* kIntakeColumns =
    "business_key, instance_id, process_id, services, region, applicant_hash, phone_hash, channel, filed_by, "
    "on_behalf, proxy, receipt, created_at, linked_key";

IntakeRecord intake_row(const Rows& s, int i) { return rows::intake(RowOf{s, i}); }

}  // namespace

Result<void> PostgresStore::add_intake(const IntakeRecord& r) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto done = change(c,
                       std::string("INSERT INTO intakes (") + kIntakeColumns +
                           ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                       Params()
                           .add(r.business_key)
                           .add(r.instance_id)
                           .add(r.process_id)
                           .add(r.services)
                           .add(r.region)
                           .add(r.applicant_hash)
                           .add(r.phone_hash)
                           .add(r.channel)
                           .add(r.filed_by)
                           .add(int64_t{r.on_behalf ? 1 : 0})
                           .add(r.proxy)
                           .add(r.receipt)
                           .add(r.created_at)
                           .add(r.linked_key),
                       "cannot insert an intake", fmt::format("there is already a case {}", r.business_key));
    if (!done.ok()) return done.error();
    return {};
  });
}

Result<std::optional<IntakeRecord>> PostgresStore::intake(const std::string& business_key) {
  return in_read([&](Connection& c) -> Result<std::optional<IntakeRecord>> {
    return first<IntakeRecord>(c, std::string("SELECT ") + kIntakeColumns + " FROM intakes WHERE business_key = $1",
                               Params().add(business_key), intake_row, "cannot read an intake");
  });
}

Result<std::vector<IntakeRecord>> PostgresStore::intakes_of_phone(const std::string& phone_hash) {
  return in_read([&](Connection& c) -> Result<std::vector<IntakeRecord>> {
    return collect<IntakeRecord>(
        c,
        std::string("SELECT ") + kIntakeColumns +
            " FROM intakes WHERE phone_hash = $1 ORDER BY created_at DESC, business_key COLLATE \"C\" DESC LIMIT 200",
        Params().add(phone_hash), intake_row, "cannot read intakes");
  });
}

Result<std::optional<IntakeRecord>> PostgresStore::intake_of_applicant(const std::string& applicant_hash) {
  return in_read([&](Connection& c) -> Result<std::optional<IntakeRecord>> {
    return first<IntakeRecord>(
        c,
        std::string("SELECT ") + kIntakeColumns +
            " FROM intakes WHERE applicant_hash = $1 ORDER BY created_at DESC, business_key COLLATE \"C\" DESC LIMIT 1",
        Params().add(applicant_hash), intake_row, "cannot read an intake");
  });
}

Result<int64_t> PostgresStore::add_document(const DocumentRecord& d, int max_per_case) {
  return in_write_transaction([&](Connection& c) -> Result<int64_t> {
    // Uploads to one case take turns (from every node); the count, read
    // after the lock, sees every upload committed before it.
    BANSHI_PG_TRY(advisory_lock(c, "banshi-documents:" + d.business_key));
    auto held = query(c, "SELECT count(*) FROM case_documents WHERE business_key = $1", Params().add(d.business_key),
                      "cannot count a case's documents");
    if (!held.ok()) return held.error();
    if ((*held)->int64(0, 0) >= max_per_case) {
      return Error{"limit-reached", fmt::format("case {} already holds {} documents", d.business_key, max_per_case)};
    }
    auto out = c.run(
        "INSERT INTO case_documents (business_key, material, media_type, size, stored_name, sha256, uploaded_by, "
        "uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        Params()
            .add(d.business_key)
            .add(d.material)
            .add(d.media_type)
            .add(d.size)
            .add(d.stored_name)
            .add(d.sha256)
            .add(d.uploaded_by)
            .add(d.uploaded_at));
    if (!out.ok()) return failed(out.failure, "cannot insert a document");
    return out.rows->int64(0, 0);
  });
}

Result<std::vector<DocumentRecord>> PostgresStore::documents(const std::string& business_key) {
  return in_read([&](Connection& c) -> Result<std::vector<DocumentRecord>> {
    return collect<DocumentRecord>(
        c,
        "SELECT id, business_key, material, media_type, size, stored_name, sha256, uploaded_by, uploaded_at "
        "FROM case_documents WHERE business_key = $1 ORDER BY id",
        Params().add(business_key),
        [](const Rows& s, int i) {
          return DocumentRecord{s.int64(i, 0), s.text(i, 1), s.text(i, 2), s.text(i, 3), s.int64(i, 4),
                                s.text(i, 5),  s.text(i, 6), s.text(i, 7), s.int64(i, 8)};
        },
        "cannot read documents");
  });
}

Result<CodeAdmission> PostgresStore::add_code(const OneTimeCodeRecord& r, int64_t min_interval_ms, int per_hour,
                                              int per_day) {
  return in_write_transaction([&](Connection& c) -> Result<CodeAdmission> {
    // Requests for one phone take turns (from every node); the count, read
    // after the lock, sees every code committed before it.
    BANSHI_PG_TRY(advisory_lock(c, "banshi-codes:" + r.phone_hash));
    auto recent = query(c,
                        "SELECT count(*) FILTER (WHERE created_at >= $3), coalesce(max(created_at), 0), count(*), "
                        "coalesce(min(created_at), 0) FROM applicant_codes WHERE phone_hash = $1 AND created_at >= $2",
                        Params().add(r.phone_hash).add(r.created_at - kCodeDayMs).add(r.created_at - kCodeHourMs),
                        "cannot count one-time codes");
    if (!recent.ok()) return recent.error();
    CodeAdmission admission;
    const int64_t in_hour = (*recent)->int64(0, 0);
    const int64_t newest = (*recent)->int64(0, 1);
    const int64_t in_day = (*recent)->int64(0, 2);
    if (in_day > 0 && r.created_at - newest < min_interval_ms) {
      admission.last_sent_at = newest;
      return admission;
    }
    if (in_day >= per_day) {
      admission.day_full = true;
      admission.day_opens_at = (*recent)->int64(0, 3) + kCodeDayMs + 1;
      return admission;
    }
    if (in_hour >= per_hour) {
      admission.hour_full = true;
      return admission;
    }
    auto out = c.run(
        "INSERT INTO applicant_codes (phone_hash, code_hash, created_at, expires_at, attempts, used) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        Params()
            .add(r.phone_hash)
            .add(r.code_hash)
            .add(r.created_at)
            .add(r.expires_at)
            .add(int64_t{r.attempts})
            .add(int64_t{r.used ? 1 : 0}));
    if (!out.ok()) return failed(out.failure, "cannot insert a one-time code");
    admission.id = out.rows->int64(0, 0);
    return admission;
  });
}

Result<void> PostgresStore::remove_code(int64_t id) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto out = c.run("DELETE FROM applicant_codes WHERE id = $1", Params().add(id));
    if (!out.ok()) return failed(out.failure, "cannot remove a one-time code");
    return {};
  });
}

Result<std::vector<OneTimeCodeRecord>> PostgresStore::codes(const std::string& phone_hash, int64_t since) {
  return in_read([&](Connection& c) -> Result<std::vector<OneTimeCodeRecord>> {
    return collect<OneTimeCodeRecord>(
        c,
        "SELECT id, phone_hash, code_hash, created_at, expires_at, attempts, used FROM applicant_codes "
        "WHERE phone_hash = $1 AND created_at >= $2 ORDER BY id DESC LIMIT 100",
        Params().add(phone_hash).add(since),
        [](const Rows& s, int i) {
          return OneTimeCodeRecord{s.int64(i, 0), s.text(i, 1), s.text(i, 2), s.int64(i, 3),
                                   s.int64(i, 4), static_cast<int32_t>(s.int64(i, 5)), s.int64(i, 6) != 0};
        },
        "cannot read one-time codes");
  });
}

Result<bool> PostgresStore::record_code_attempt(int64_t id, bool used, int32_t max_attempts, int64_t now) {
  // The row is locked and the conditions checked again on the version
  // committed last: of two requests at once, one counts, the other finds the
  // code spent or used up.
  return in_write_transaction([&](Connection& c) -> Result<bool> {
    auto done = change(c,
                       "UPDATE applicant_codes SET attempts = attempts + 1, used = GREATEST(used, $2) "
                       "WHERE id = $1 AND used = 0 AND attempts < $3 AND expires_at > $4",
                       Params().add(id).add(int64_t{used ? 1 : 0}).add(int64_t{max_attempts}).add(now),
                       "cannot count a code attempt");
    if (!done.ok()) return done.error();
    return *done == 1;
  });
}

Result<void> PostgresStore::add_applicant_session(const ApplicantSessionRecord& s) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto done = change(c,
                       "INSERT INTO applicant_sessions (token_hash, phone_hash, csrf_token, created_at, last_seen_at) "
                       "VALUES ($1, $2, $3, $4, $5)",
                       Params().add(s.token_hash).add(s.phone_hash).add(s.csrf_token).add(s.created_at).add(
                           s.last_seen_at),
                       "cannot insert an applicant session");
    if (!done.ok()) return done.error();
    return {};
  });
}

Result<std::optional<ApplicantSessionRecord>> PostgresStore::applicant_session(const std::string& token_hash) {
  return in_read([&](Connection& c) -> Result<std::optional<ApplicantSessionRecord>> {
    return first<ApplicantSessionRecord>(
        c,
        "SELECT token_hash, phone_hash, csrf_token, created_at, last_seen_at FROM applicant_sessions "
        "WHERE token_hash = $1",
        Params().add(token_hash),
        [](const Rows& s, int i) {
          return ApplicantSessionRecord{s.text(i, 0), s.text(i, 1), s.text(i, 2), s.int64(i, 3), s.int64(i, 4)};
        },
        "cannot read an applicant session");
  });
}

Result<void> PostgresStore::touch_applicant_session(const std::string& token_hash, int64_t last_seen_at) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto done = change(c, "UPDATE applicant_sessions SET last_seen_at = $2 WHERE token_hash = $1",
                       Params().add(token_hash).add(last_seen_at), "cannot update an applicant session");
    if (!done.ok()) return done.error();
    return {};
  });
}

Result<void> PostgresStore::delete_applicant_session(const std::string& token_hash) {
  return in_write_transaction([&](Connection& c) -> Result<void> {
    auto done = change(c, "DELETE FROM applicant_sessions WHERE token_hash = $1", Params().add(token_hash),
                       "cannot delete an applicant session");
    if (!done.ok()) return done.error();
    return {};
  });
}

Result<bool> PostgresStore::mark_notified(const std::string& business_key, const std::string& milestone, int64_t at) {
  return in_write_transaction([&](Connection& c) -> Result<bool> {
    auto done = change(c,
                       "INSERT INTO case_notifications (business_key, milestone, sent_at) VALUES ($1, $2, $3) "
                       "ON CONFLICT (business_key, milestone) DO NOTHING",
                       Params().add(business_key).add(milestone).add(at), "cannot record a notification");
    if (!done.ok()) return done.error();
    return *done > 0;
  });
}

}  // namespace banshi::store::postgres
