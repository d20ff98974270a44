#include "store/sqlite/migrations.h"

#include <array>

namespace banshi::store::sqlite {
namespace {

// Conventions: times are INTEGER milliseconds since the Unix epoch; instance
// keys (uint64) are stored as INTEGER with the same bits; ids shown to people
// (tasks, jobs, incidents, messages) use AUTOINCREMENT so a removed row's id
// is never handed out again. Text that is "absent" is '' unless a unique
// index needs NULL to mean "none".
constexpr const char* kV1 = R"sql(
CREATE TABLE sequences (
  name       TEXT PRIMARY KEY,
  next_value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE definitions (
  key         INTEGER PRIMARY KEY AUTOINCREMENT,
  process_id  TEXT NOT NULL,
  version     INTEGER NOT NULL,
  name        TEXT NOT NULL,
  resource    TEXT NOT NULL,
  xml         TEXT NOT NULL,
  checksum    TEXT NOT NULL,
  deployed_at INTEGER NOT NULL,
  deployed_by TEXT NOT NULL,
  UNIQUE (process_id, version)
);

CREATE TABLE instances (
  id                 INTEGER PRIMARY KEY,
  definition_key     INTEGER NOT NULL REFERENCES definitions (key),
  process_id         TEXT NOT NULL,
  definition_version INTEGER NOT NULL,
  business_key       TEXT NOT NULL,
  status             INTEGER NOT NULL,
  version            INTEGER NOT NULL,
  state              BLOB NOT NULL,
  started_at         INTEGER NOT NULL,
  ended_at           INTEGER NOT NULL,
  parent_id          INTEGER,
  parent_element     INTEGER NOT NULL
);
CREATE INDEX instances_status ON instances (status, started_at);
CREATE INDEX instances_process ON instances (process_id, started_at);
CREATE INDEX instances_business_key ON instances (business_key) WHERE business_key <> '';
CREATE INDEX instances_parent ON instances (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE user_tasks (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id  INTEGER NOT NULL REFERENCES instances (id),
  key          INTEGER NOT NULL,
  process_id   TEXT NOT NULL,
  element_id   TEXT NOT NULL,
  name         TEXT NOT NULL,
  business_key TEXT NOT NULL,
  assignee     TEXT NOT NULL,
  region       TEXT NOT NULL,
  form_key     TEXT NOT NULL,
  priority     INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  due_at       INTEGER NOT NULL,
  follow_up_at INTEGER NOT NULL,
  sla_state    INTEGER NOT NULL,
  payload      TEXT NOT NULL,
  UNIQUE (instance_id, key)
);
CREATE INDEX user_tasks_assignee ON user_tasks (assignee, created_at);
CREATE INDEX user_tasks_region ON user_tasks (region);
CREATE INDEX user_tasks_created ON user_tasks (created_at);
CREATE INDEX user_tasks_due ON user_tasks (due_at) WHERE due_at > 0;
CREATE INDEX user_tasks_process ON user_tasks (process_id, created_at);

CREATE TABLE task_candidates (
  task_id  INTEGER NOT NULL REFERENCES user_tasks (id) ON DELETE CASCADE,
  kind     INTEGER NOT NULL,
  position INTEGER NOT NULL,
  value    TEXT NOT NULL,
  PRIMARY KEY (task_id, kind, position)
) WITHOUT ROWID;
CREATE INDEX task_candidates_value ON task_candidates (kind, value, task_id);

CREATE TABLE jobs (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id     INTEGER NOT NULL REFERENCES instances (id),
  key             INTEGER NOT NULL,
  type            TEXT NOT NULL,
  element_id      TEXT NOT NULL,
  retries         INTEGER NOT NULL,
  due_at          INTEGER NOT NULL,
  lease_owner     TEXT NOT NULL,
  lease_until     INTEGER NOT NULL,
  idempotency_key TEXT,
  last_error      TEXT NOT NULL,
  state           INTEGER NOT NULL,
  payload         TEXT NOT NULL,
  UNIQUE (instance_id, key),
  UNIQUE (idempotency_key)
);
CREATE INDEX jobs_acquire ON jobs (state, type, due_at);

CREATE TABLE timers (
  instance_id INTEGER NOT NULL REFERENCES instances (id),
  key         INTEGER NOT NULL,
  element_id  TEXT NOT NULL,
  due_at      INTEGER NOT NULL,
  PRIMARY KEY (instance_id, key)
) WITHOUT ROWID;
CREATE INDEX timers_due ON timers (due_at);

CREATE TABLE message_subscriptions (
  instance_id     INTEGER NOT NULL REFERENCES instances (id),
  key             INTEGER NOT NULL,
  name            TEXT NOT NULL,
  correlation_key TEXT NOT NULL,
  element_id      TEXT NOT NULL,
  PRIMARY KEY (instance_id, key)
) WITHOUT ROWID;
CREATE INDEX message_subscriptions_name ON message_subscriptions (name, correlation_key);

CREATE TABLE signal_subscriptions (
  instance_id INTEGER NOT NULL REFERENCES instances (id),
  key         INTEGER NOT NULL,
  name        TEXT NOT NULL,
  element_id  TEXT NOT NULL,
  PRIMARY KEY (instance_id, key)
) WITHOUT ROWID;
CREATE INDEX signal_subscriptions_name ON signal_subscriptions (name);

CREATE TABLE messages (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  name            TEXT NOT NULL,
  correlation_key TEXT NOT NULL,
  variables       TEXT NOT NULL,
  message_id      TEXT UNIQUE,
  published_at    INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL
);
CREATE INDEX messages_name ON messages (name, correlation_key, published_at);

CREATE TABLE incidents (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id INTEGER NOT NULL REFERENCES instances (id),
  key         INTEGER NOT NULL,
  process_id  TEXT NOT NULL,
  element_id  TEXT NOT NULL,
  kind        INTEGER NOT NULL,
  message     TEXT NOT NULL,
  job_key     INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  UNIQUE (instance_id, key)
);

CREATE TABLE history (
  instance_id INTEGER NOT NULL REFERENCES instances (id),
  seq         INTEGER NOT NULL,
  at          INTEGER NOT NULL,
  records     BLOB NOT NULL,
  PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
CREATE TRIGGER history_no_update BEFORE UPDATE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER history_no_delete BEFORE DELETE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
)sql";


// Users, login sessions, API tokens, failed logins and the audit trail
// (store/auth_store.h). Secrets are kept only as hashes.
constexpr const char* kV2 = R"sql(
CREATE TABLE users (
  name                TEXT PRIMARY KEY,
  password_hash       TEXT NOT NULL,
  roles               TEXT NOT NULL,
  department          TEXT NOT NULL,
  regions             TEXT NOT NULL,
  disabled            INTEGER NOT NULL,
  created_at          INTEGER NOT NULL,
  password_changed_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE sessions (
  token_hash   TEXT PRIMARY KEY,
  user_name    TEXT NOT NULL REFERENCES users (name),
  csrf_token   TEXT NOT NULL,
  address      TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_name);

CREATE TABLE api_tokens (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT NOT NULL UNIQUE,
  token_hash TEXT NOT NULL UNIQUE,
  topics     TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked    INTEGER NOT NULL
);

CREATE TABLE login_failures (
  name TEXT NOT NULL,
  at   INTEGER NOT NULL
);
CREATE INDEX login_failures_name ON login_failures (name, at);

CREATE TABLE audit (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  at      INTEGER NOT NULL,
  actor   TEXT NOT NULL,
  action  TEXT NOT NULL,
  target  TEXT NOT NULL,
  address TEXT NOT NULL,
  detail  TEXT NOT NULL
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_actor ON audit (actor, at);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
)sql";

// Deployed DMN decisions, versioned per decision id like processes.
constexpr const char* kV4 = R"sql(
CREATE TABLE decisions (
  key         INTEGER PRIMARY KEY AUTOINCREMENT,
  decision_id TEXT NOT NULL,
  version     INTEGER NOT NULL,
  name        TEXT NOT NULL,
  resource    TEXT NOT NULL,
  xml         TEXT NOT NULL,
  checksum    TEXT NOT NULL,
  deployed_at INTEGER NOT NULL,
  deployed_by TEXT NOT NULL,
  UNIQUE (decision_id, version)
);
)sql";

// SLA columns on open tasks and the outcomes of completed ones, for the
// monitor's figures (docs/sla.md).
constexpr const char* kV3 = R"sql(
ALTER TABLE user_tasks ADD COLUMN escalation_level INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user_tasks ADD COLUMN escalated_to TEXT NOT NULL DEFAULT '';
ALTER TABLE user_tasks ADD COLUMN escalated_region TEXT NOT NULL DEFAULT '';
ALTER TABLE user_tasks ADD COLUMN department TEXT NOT NULL DEFAULT '';
CREATE INDEX user_tasks_sla ON user_tasks (sla_state, due_at);

CREATE TABLE task_outcomes (
  instance_id      INTEGER NOT NULL,
  key              INTEGER NOT NULL,
  process_id       TEXT NOT NULL,
  element_id       TEXT NOT NULL,
  name             TEXT NOT NULL,
  department       TEXT NOT NULL,
  region           TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  due_at           INTEGER NOT NULL,
  completed_at     INTEGER NOT NULL,
  sla_state        INTEGER NOT NULL,
  escalation_level INTEGER NOT NULL,
  PRIMARY KEY (instance_id, key)
) WITHOUT ROWID;
CREATE INDEX task_outcomes_completed ON task_outcomes (completed_at);
)sql";

// Ratings of finished cases and the runs of the data comparison (docs/reports.md).
constexpr const char* kV6 = R"sql(
CREATE TABLE ratings (
  instance_id  INTEGER PRIMARY KEY,
  process_id   TEXT NOT NULL,
  business_key TEXT NOT NULL,
  region       TEXT NOT NULL,
  level        INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
  comment      TEXT NOT NULL,
  rated_by     TEXT NOT NULL,
  on_behalf    INTEGER NOT NULL,
  rated_at     INTEGER NOT NULL,
  follow_up_id INTEGER NOT NULL
);
CREATE INDEX ratings_at ON ratings (rated_at);

CREATE TABLE comparison_runs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id   INTEGER NOT NULL,
  run_key       TEXT NOT NULL UNIQUE,
  at            INTEGER NOT NULL,
  found         TEXT NOT NULL,
  started       TEXT NOT NULL,
  found_count   INTEGER NOT NULL,
  started_count INTEGER NOT NULL
);
CREATE INDEX comparison_runs_instance ON comparison_runs (instance_id);
)sql";

// The audit trail's hash chain (store/audit_chain.h; rows written before
// this migration are chained by SqliteStore::migrate()), and the applicant
// and region of an instance as columns for the case search (docs/storage.md).
constexpr const char* kV5 = R"sql(
ALTER TABLE audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN hash TEXT NOT NULL DEFAULT '';
DROP TRIGGER audit_no_update;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit WHEN OLD.hash <> ''
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE INDEX audit_unchained ON audit (id) WHERE hash = '';

ALTER TABLE instances ADD COLUMN applicant_id TEXT NOT NULL DEFAULT '';
ALTER TABLE instances ADD COLUMN applicant_name TEXT NOT NULL DEFAULT '';
ALTER TABLE instances ADD COLUMN region TEXT NOT NULL DEFAULT '';
CREATE INDEX instances_applicant_id ON instances (applicant_id, started_at) WHERE applicant_id <> '';
CREATE INDEX instances_applicant_name ON instances (applicant_name, started_at) WHERE applicant_name <> '';
CREATE INDEX instances_region ON instances (region, started_at);
)sql";

// The front door (docs/frontdoor.md): cases filed at the window or online,
// their uploaded documents, applicants' one-time codes and sessions, and the
// milestone notices sent. ID and phone numbers only as keyed hashes.
constexpr const char* kV7 = R"sql(
CREATE TABLE intakes (
  business_key   TEXT PRIMARY KEY,
  instance_id    INTEGER NOT NULL,
  process_id     TEXT NOT NULL,
  services       TEXT NOT NULL,
  region         TEXT NOT NULL,
  applicant_hash TEXT NOT NULL,
  phone_hash     TEXT NOT NULL,
  channel        TEXT NOT NULL,
  filed_by       TEXT NOT NULL,
  on_behalf      INTEGER NOT NULL,
  proxy          TEXT NOT NULL,
  receipt        TEXT NOT NULL,
  linked_key     TEXT NOT NULL,
  created_at     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX intakes_phone ON intakes (phone_hash, created_at);
CREATE INDEX intakes_applicant ON intakes (applicant_hash);

CREATE TABLE case_documents (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  business_key TEXT NOT NULL,
  material     TEXT NOT NULL,
  media_type   TEXT NOT NULL,
  size         INTEGER NOT NULL,
  stored_name  TEXT NOT NULL,
  sha256       TEXT NOT NULL,
  uploaded_by  TEXT NOT NULL,
  uploaded_at  INTEGER NOT NULL
);
CREATE INDEX case_documents_key ON case_documents (business_key);

CREATE TABLE applicant_codes (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  phone_hash TEXT NOT NULL,
  code_hash  TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  attempts   INTEGER NOT NULL,
  used       INTEGER NOT NULL
);
CREATE INDEX applicant_codes_phone ON applicant_codes (phone_hash, created_at);

CREATE TABLE applicant_sessions (
  token_hash   TEXT PRIMARY KEY,
  phone_hash   TEXT NOT NULL,
  csrf_token   TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE case_notifications (
  business_key TEXT NOT NULL,
  milestone    TEXT NOT NULL,
  sent_at      INTEGER NOT NULL,
  PRIMARY KEY (business_key, milestone)
) WITHOUT ROWID;
)sql";

// Timer start events (docs/storage.md): the next firing of each top-level
// timer start event of the latest version of a process.
constexpr const char* kV8 = R"sql(
CREATE TABLE start_timers (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  definition_key   INTEGER NOT NULL REFERENCES definitions (key),
  process_id       TEXT NOT NULL,
  element_id       TEXT NOT NULL,
  due_at           INTEGER NOT NULL,
  repetitions_left INTEGER NOT NULL,
  period           TEXT NOT NULL,
  lease_owner      TEXT NOT NULL,
  lease_until      INTEGER NOT NULL,
  UNIQUE (definition_key, element_id)
);
CREATE INDEX start_timers_due ON start_timers (due_at);
CREATE INDEX start_timers_process ON start_timers (process_id);
)sql";

// PostgreSQL's migration 9 gives task candidates a prefix index; SQLite's
// index already serves prefix ranges (it compares bytes), so the version
// only keeps both stores' numbering in step.
constexpr const char* kV9 = R"sql(
SELECT 1;
)sql";

// History entries and task outcomes are appended in commit order, but their
// keys (instance, then sequence) are not: a commit that ends instances
// started a moment ago inserted between older rows, dirtying a dozen history
// pages per commit (each written whole to the write-ahead log) and splitting
// them half empty. Keyed by an ever-growing rowid, the rows go at the end of
// their table, and only the small (instance, sequence) index entries land
// among the recent ones.
constexpr const char* kV10 = R"sql(
CREATE TABLE history_appended (
  id          INTEGER PRIMARY KEY,
  instance_id INTEGER NOT NULL REFERENCES instances (id),
  seq         INTEGER NOT NULL,
  at          INTEGER NOT NULL,
  records     BLOB NOT NULL
);
INSERT INTO history_appended (instance_id, seq, at, records)
  SELECT instance_id, seq, at, records FROM history ORDER BY at, instance_id, seq;
DROP TRIGGER history_no_update;
DROP TRIGGER history_no_delete;
DROP TABLE history;
ALTER TABLE history_appended RENAME TO history;
CREATE UNIQUE INDEX history_instance ON history (instance_id, seq);
CREATE TRIGGER history_no_update BEFORE UPDATE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER history_no_delete BEFORE DELETE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;

CREATE TABLE task_outcomes_appended (
  id               INTEGER PRIMARY KEY,
  instance_id      INTEGER NOT NULL,
  key              INTEGER NOT NULL,
  process_id       TEXT NOT NULL,
  element_id       TEXT NOT NULL,
  name             TEXT NOT NULL,
  department       TEXT NOT NULL,
  region           TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  due_at           INTEGER NOT NULL,
  completed_at     INTEGER NOT NULL,
  sla_state        INTEGER NOT NULL,
  escalation_level INTEGER NOT NULL
);
INSERT INTO task_outcomes_appended (instance_id, key, process_id, element_id, name, department, region,
                                    created_at, due_at, completed_at, sla_state, escalation_level)
  SELECT instance_id, key, process_id, element_id, name, department, region,
         created_at, due_at, completed_at, sla_state, escalation_level
  FROM task_outcomes ORDER BY completed_at, instance_id, key;
DROP TABLE task_outcomes;
ALTER TABLE task_outcomes_appended RENAME TO task_outcomes;
CREATE UNIQUE INDEX task_outcomes_instance ON task_outcomes (instance_id, key);
CREATE INDEX task_outcomes_completed ON task_outcomes (completed_at);
)sql";

// PostgreSQL's migration 11 keeps deployed files as bytes; SQLite's TEXT
// already keeps whatever bytes it is given, so the version only keeps both
// stores' numbering in step.
constexpr const char* kV11 = R"sql(
SELECT 1;
)sql";

// The moment a task's SLA clock was paused (0: running), so a monitor does
// not count a paused task overdue by a due time the pause will move.
constexpr const char* kV12 = R"sql(
ALTER TABLE user_tasks ADD COLUMN sla_paused_at INTEGER NOT NULL DEFAULT 0;
)sql";

// The people each phone checked against the household registration today,
// one count for every node (docs/frontdoor.md).
constexpr const char* kV13 = R"sql(
CREATE TABLE identity_checks (
  phone_hash  TEXT NOT NULL,
  day         TEXT NOT NULL,
  person_hash TEXT NOT NULL,
  PRIMARY KEY (phone_hash, day, person_hash)
) WITHOUT ROWID;
CREATE INDEX identity_checks_day ON identity_checks (day);
)sql";

// Task candidates without a foreign key: the cascade that removed them with
// their task ran as a trigger program on every task removal, even for a
// task without candidates, and cost about as much as the removal of the
// task's row itself. The store removes them with their task
// (remove_tasks).
constexpr const char* kV14 = R"sql(
CREATE TABLE task_candidates_plain (
  task_id  INTEGER NOT NULL,
  kind     INTEGER NOT NULL,
  position INTEGER NOT NULL,
  value    TEXT NOT NULL,
  PRIMARY KEY (task_id, kind, position)
) WITHOUT ROWID;
INSERT INTO task_candidates_plain (task_id, kind, position, value)
  SELECT task_id, kind, position, value FROM task_candidates;
DROP TABLE task_candidates;
ALTER TABLE task_candidates_plain RENAME TO task_candidates;
CREATE INDEX task_candidates_value ON task_candidates (kind, value, task_id);
)sql";

constexpr std::array kMigrations{
    Migration{1, "instances, definitions, work queues and history", kV1},
    Migration{2, "users, sessions, API tokens, login failures and the audit trail", kV2},
    Migration{3, "SLA columns of tasks and the outcomes of completed tasks", kV3},
    Migration{4, "deployed DMN decisions", kV4},
    Migration{5, "the audit trail's hash chain; applicant and region columns of instances", kV5},
    Migration{6, "ratings of finished cases and data comparison runs", kV6},
    Migration{7, "front door: intakes, documents, applicant codes and sessions, notices sent", kV7},
    Migration{8, "timer start events", kV8},
    Migration{9, "prefix index on task candidates (PostgreSQL only)", kV9},
    Migration{10, "history and task outcomes appended in commit order", kV10},
    Migration{11, "deployed files kept as bytes (PostgreSQL only)", kV11},
    Migration{12, "when a task\'s SLA clock was paused", kV12},
    Migration{13, "the people each phone checked against the household registration today", kV13},
    Migration{14, "task candidates removed by the store, not by a cascade (SQLite only)", kV14},
};

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

}  // namespace banshi::store::sqlite
