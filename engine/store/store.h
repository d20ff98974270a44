// store/store.h — where the engine keeps everything, behind one interface.
//
// Two implementations: SQLite (sqlite/, embedded, the default) and PostgreSQL
// (postgres/, several engine nodes). Nothing outside engine/store/<impl> may
// know which one it talks to.
//
// Contract
// - write() applies a WriteBatch in ONE transaction: every instance state,
//   every effect row and every history entry of the batch, or nothing. An
//   instance written with an expected version that no longer matches makes
//   the whole batch fail with Error{"conflict"} and nothing is written; the
//   caller reloads and retries. A buffered message whose message_id is
//   already stored fails the batch the same way with Error{"duplicate"}.
//   Any other failure is Error{"store", ...}.
// - Reads see committed data only. A read may run while a write is in
//   progress on another thread.
// - Thread safety: every method may be called from any thread; the
//   implementation serialises writers as its database requires.
// - Times are milliseconds since the Unix epoch (UTC).
// - Persisted codes (status, kinds, states) are the numbers of core/state.h
//   and core/records.h, documented in docs/storage.md; they never change.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "banshi/result.h"
#include "store/auth_store.h"

namespace banshi::store {

using InstanceId = int64_t;

struct DefinitionRecord {
  int64_t key = 0;            // assigned by the store
  std::string process_id;
  int32_t version = 0;        // 1, 2, ... per process id, assigned by the store
  std::string name;           // the process's name
  std::string resource;       // the deployed file's name
  std::string xml;            // the file as deployed (all processes of a file share it)
  std::string checksum;       // SHA-256 of the file, hex; redeploying the same bytes makes no new version
  int64_t deployed_at = 0;
  std::string deployed_by;
};

// One decision of a deployed DMN file (migration 4). Versions count per
// decision id, like processes; all decisions of a file share its bytes.
struct DecisionRecord {
  int64_t key = 0;            // assigned by the store
  std::string decision_id;
  int32_t version = 0;        // 1, 2, ... per decision id, assigned by the store
  std::string name;
  std::string resource;
  std::string xml;
  std::string checksum;       // SHA-256 of the file, hex; redeploying the same bytes makes no new version
  int64_t deployed_at = 0;
  std::string deployed_by;
};

struct InstanceRecord {
  InstanceId id = 0;          // assigned by the engine (allocate_ids)
  int64_t definition_key = 0;
  std::string process_id;
  int32_t definition_version = 0;
  std::string business_key;
  uint8_t status = 1;         // core::InstanceStatus
  int64_t version = 0;        // optimistic lock: 1 on insert, +1 on every write
  std::string state;          // core::encode() of the instance state
  int64_t started_at = 0;
  int64_t ended_at = 0;       // 0 while running
  InstanceId parent_id = 0;   // called instances: the parent
  uint64_t parent_element = 0;
  // From the start variables' `applicant` object (migration 5), written on
  // insert only: the case search finds instances by them. Personal data:
  // never logged.
  std::string applicant_id = {};    // applicant.idNumber
  std::string applicant_name = {};  // applicant.name
  std::string region = {};          // applicant.region, else a `region` variable; "" when neither
};

// One write of an instance: insert when expected_version is 0, else update
// only if the stored version equals expected_version. An update changes what
// a running instance can change (status, version, state, ended_at); the
// definition, business key, start time, parent and applicant are set once,
// when the instance is inserted.
struct InstanceWrite {
  InstanceRecord record;
  int64_t expected_version = 0;
};

struct TaskRecord {
  int64_t id = 0;             // assigned by the store; the public task id
  InstanceId instance_id = 0;
  uint64_t key = 0;           // the user task's key inside its instance
  std::string process_id;
  std::string element_id;
  std::string name;
  std::string business_key;
  std::string assignee;
  std::vector<std::string> candidate_groups;
  std::vector<std::string> candidate_users;
  std::string region;
  std::string form_key;
  int32_t priority = 50;
  int64_t created_at = 0;
  int64_t due_at = 0;         // 0: no due date
  int64_t follow_up_at = 0;
  uint8_t sla_state = 0;      // core::SlaState: 0 on time, 1 due soon, 2 escalated, 3 breached, 4 overdue
  int32_t escalation_level = 0;  // 0: not escalated; 1: the supervisor group; 2..: administrative levels above
  std::string escalated_to;   // the group escalated to
  std::string escalated_region;  // the region escalated to
  std::string department;     // the first candidate group's department ("dpf" of "dpf-county")
  std::string payload;        // the task as created (JSON), for the form
  int64_t sla_paused_at = 0;  // when its SLA clock was paused; 0: running (or no clock)
};

struct JobRecord {
  int64_t id = 0;             // assigned by the store; the public job id
  InstanceId instance_id = 0;
  uint64_t key = 0;           // the job's key inside its instance
  std::string type;           // connector name or external-task topic
  std::string element_id;
  int32_t retries = 3;
  int64_t due_at = 0;         // when it may (next) be attempted
  std::string lease_owner;    // empty: not leased
  int64_t lease_until = 0;
  std::string idempotency_key;  // the same for every attempt of the job
  std::string last_error;
  uint8_t state = 1;          // 1 ready, 2 failed with no retries (an incident holds it)
  std::string payload;        // JSON: headers, timeout, backoff
};

struct JobUpdate {
  InstanceId instance_id = 0;
  uint64_t key = 0;
  int32_t retries = 0;
  int64_t due_at = 0;
  std::string last_error;
  uint8_t state = 1;
};

struct TimerRecord {
  InstanceId instance_id = 0;
  uint64_t key = 0;
  std::string element_id;
  int64_t due_at = 0;
};

// The next firing of a top-level timer start event (migration 8,
// core/start_timer.h): not an instance's timer, as there is no instance yet.
struct StartTimerRecord {
  int64_t id = 0;               // assigned by the store
  int64_t definition_key = 0;   // the version it starts; assigned by deploy_all()
  std::string process_id;
  std::string element_id;       // the start event
  int64_t due_at = 0;
  int64_t repetitions_left = 0; // firings after this one: 0 none, -1 without end
  std::string period;           // a cycle's period (ISO 8601 duration) or cron expression; empty: fires once
};

// A start timer fired: written with the instance it started. The row must
// still be at `due_at` (else the whole batch fails with Error{"conflict"}:
// another node fired it, or a deployment replaced it).
struct StartTimerFiring {
  int64_t id = 0;
  int64_t due_at = 0;           // the occurrence that fired
  int64_t next_due_at = 0;      // 0: the series ended and the row goes
  int64_t repetitions_left = 0;
};

// A whole deployment of several files, for deploy_all().
struct DeploymentRecords {
  std::vector<DefinitionRecord> processes;
  std::vector<DecisionRecord> decisions;
  // Start timers by process_id (definition_key is filled in): a process that
  // gets a new version has its earlier versions' start timers replaced by its
  // own; one that does not (the same bytes again) keeps them.
  std::vector<StartTimerRecord> start_timers;
  std::vector<AuditRecord> audit;
};
struct StoredDeployment {
  std::vector<DefinitionRecord> processes;  // with keys and versions
  std::vector<bool> new_process;            // per process: whether it got a new version
  std::vector<DecisionRecord> decisions;
  std::vector<bool> new_decision;
  std::vector<StartTimerRecord> start_timers;  // scheduled by this deployment, with ids
};

struct SubscriptionRecord {  // a message or a signal an instance waits for
  InstanceId instance_id = 0;
  uint64_t key = 0;
  std::string name;
  std::string correlation_key;  // empty for signals
  std::string element_id;
};

struct MessageRecord {  // a published message no one was waiting for yet
  int64_t id = 0;             // assigned by the store
  std::string name;
  std::string correlation_key;
  std::string variables;      // JSON object
  std::string message_id;     // optional; a second message with the same id is refused
  int64_t published_at = 0;
  int64_t expires_at = 0;     // 0: never expires
};

struct IncidentRecord {
  int64_t id = 0;             // assigned by the store; the public incident id
  InstanceId instance_id = 0;
  uint64_t key = 0;           // the incident's key inside its instance
  std::string process_id;
  std::string element_id;
  uint8_t kind = 0;           // core::IncidentKind
  std::string message;
  uint64_t job_key = 0;
  int64_t created_at = 0;
};

struct HistoryRecord {  // append-only: one entry per applied command
  InstanceId instance_id = 0;
  int64_t seq = 0;            // 1, 2, ... per instance
  int64_t at = 0;
  std::string records;        // the step's records, encoded (docs/storage.md)
};

// The SLA columns of an open task changed (core/sla.h records).
struct TaskSlaUpdate {
  InstanceId instance_id = 0;
  uint64_t key = 0;
  uint8_t sla_state = 0;
  int32_t escalation_level = 0;
  std::string escalated_to;
  std::string escalated_region;
  int64_t due_at = 0;
  int64_t sla_paused_at = 0;
};

// A task was completed (not cancelled): its row is kept in task_outcomes for
// the monitor's figures per step before it leaves user_tasks.
struct TaskCompletion {
  InstanceId instance_id = 0;
  uint64_t key = 0;
  int64_t completed_at = 0;
};

// A task a user completes: the assignee the engine checked the user against
// ("" when the task was unclaimed). A task given to someone else since then
// is not removed, and the write is refused ("rejected").
struct TaskAssigneeCheck {
  InstanceId instance_id = 0;
  uint64_t key = 0;
  std::string assignee;
};

// A job outcome a worker reports: applied only while the job is still leased
// to that worker, checked in the write's transaction (another worker may
// have fetched it since the report was checked); the write is refused
// ("rejected") otherwise.
struct JobLeaseCheck {
  InstanceId instance_id = 0;
  uint64_t key = 0;
  std::string owner;
};

// Monitor figures (GET /api/v1/monitor/...). Every query takes the region
// code prefixes the caller may see ("" covers all; no prefixes: nothing).
struct MonitorGroup {
  std::string key;
  int64_t on_time = 0, due_soon = 0, overdue = 0, escalated = 0, breached = 0, total = 0;
};
struct MonitorStep {
  std::string process_id, element_id, name;
  int64_t completed = 0, breached = 0, median_handling_ms = 0;
};

// Reports (engine/reports, docs/reports.md). A case's region is the region of
// its first task (completed or open); a case that never had a task has none
// ("") and is seen only by callers who see every region.
struct ReportCase {
  InstanceId id = 0;
  std::string process_id;
  std::string region;
  uint8_t status = 1;         // core::InstanceStatus
  int64_t started_at = 0;
  int64_t ended_at = 0;       // 0 while running
  std::string department;     // report_case() only: the department of its first task
};
// A task for the reports: completed ones from task_outcomes, open ones from user_tasks.
struct ReportTask {
  InstanceId instance_id = 0;
  std::string process_id, element_id, name, department, region;
  int64_t created_at = 0;
  int64_t due_at = 0;         // 0: no due date
  int64_t completed_at = 0;   // 0: still open
  uint8_t sla_state = 0;      // core::SlaState
  int32_t escalation_level = 0;
  int64_t sla_paused_at = 0;  // an open task whose SLA clock is paused: since when (its due time will move)
};
// A rating of a finished case (政务服务"好差评", migration 6): one per case.
struct RatingRecord {
  InstanceId instance_id = 0;
  std::string process_id;
  std::string business_key;
  std::string region;         // the case's region when it was rated
  int32_t level = 0;          // 1 very satisfied, 2 satisfied, 3 basically satisfied, 4 dissatisfied, 5 very dissatisfied
  std::string comment;
  std::string rated_by;       // the user who recorded it
  bool on_behalf = false;     // recorded by staff at the window for the applicant
  int64_t rated_at = 0;
  InstanceId follow_up_id = 0;  // the rating-follow-up instance a bad rating started; 0: none
};
// One run of the data comparison (数据比对, migration 6): what it found and what it started.
struct ComparisonRunRecord {
  int64_t id = 0;             // assigned by the store
  InstanceId instance_id = 0; // the data-comparison instance
  std::string run_key;        // unique per run: the recording job's idempotency key
  int64_t at = 0;
  std::string found;          // JSON array of findings
  std::string started;        // JSON array of what was started or correlated
  int64_t found_count = 0;
  int64_t started_count = 0;
};

struct InstanceKey {
  InstanceId instance_id = 0;
  uint64_t key = 0;
  friend bool operator==(const InstanceKey&, const InstanceKey&) = default;
};

// What write() tells back when asked (WriteBatch::report); meaningful only
// when write() succeeded.
struct WriteReport {
  std::vector<int64_t> added_task_ids;    // the ids given to tasks_added, in their order
  std::vector<TaskRecord> removed_tasks;  // the rows tasks_removed took away, as they were stored
};

struct WriteBatch;
// The assignee check of a task the batch removes; null when there is none.
const TaskAssigneeCheck* assignee_check_of(const WriteBatch& batch, const InstanceKey& task);

// Everything one group commit writes.
struct WriteBatch {
  std::vector<InstanceWrite> instances;
  std::vector<TaskRecord> tasks_added;
  std::vector<InstanceKey> tasks_removed;
  std::vector<JobRecord> jobs_added;
  std::vector<JobUpdate> jobs_updated;
  std::vector<InstanceKey> jobs_removed;
  std::vector<TimerRecord> timers_upserted;  // a rescheduled cycle replaces its row
  std::vector<InstanceKey> timers_removed;
  std::vector<SubscriptionRecord> message_subscriptions_added;
  std::vector<InstanceKey> message_subscriptions_removed;
  std::vector<SubscriptionRecord> signal_subscriptions_added;
  std::vector<InstanceKey> signal_subscriptions_removed;
  std::vector<MessageRecord> messages_added;
  std::vector<int64_t> messages_removed;  // delivered: a conflict when one is gone already
  std::vector<IncidentRecord> incidents_added;
  std::vector<InstanceKey> incidents_removed;
  std::vector<HistoryRecord> history;
  std::vector<TaskSlaUpdate> task_sla_updates;  // applied after tasks_added
  std::vector<TaskCompletion> tasks_completed;  // applied before tasks_removed
  std::vector<TaskAssigneeCheck> task_assignee_checks = {};  // of tasks in tasks_removed
  std::vector<JobLeaseCheck> job_lease_checks = {};           // of jobs the batch reports on
  // Audit rows of the changes in this batch, appended to the hash chain in
  // the same transaction (store/audit_chain.h); id and hashes are assigned.
  std::vector<AuditRecord> audit = {};
  std::vector<StartTimerFiring> start_timers_fired = {};
  // When set, write() tells here what it did to the open tasks, for the
  // engine's live events (which then need not read them back).
  WriteReport* report = nullptr;

  bool empty() const;
};

struct TaskQuery {
  std::string assignee;                     // exact; empty: any
  std::vector<std::string> candidate_groups;  // any of them; empty: any
  std::string candidate_user;               // empty: any; with candidate_groups, either one matches
  std::vector<std::string> regions;         // a task region starts with one of these codes; empty: any
  std::string process_id;
  int64_t due_before = 0;                   // 0: any
  int sla_state = -1;                       // -1: any
  bool unassigned_only = false;
  InstanceId instance_id = 0;               // 0: any
  // Who is asking (api/auth.h may_see_task), applied in the query so that
  // offset and limit count only the tasks the caller may see. Inactive: no
  // restriction. A task is visible when
  // - it is offered to the caller (assignee or candidate user `user`, or a
  //   candidate group equal to `department` or starting with "<department>-"),
  //   its region starts with one of `work_regions`, and it is not escalated
  //   or breached (sla_state kEscalatedState or kBreachedState) unless
  //   `see_escalated` or it is assigned to `user`; or
  // - `monitor` is set and its region starts with one of `monitor_regions`
  //   (every region when that list is empty).
  struct Visibility {
    bool active = false;
    std::string user;
    std::string department;
    std::vector<std::string> work_regions;   // region code prefixes ("" covers all)
    bool see_escalated = false;
    bool groups_only = false;                // offered through a department group only
    bool monitor = false;
    std::vector<std::string> monitor_regions;
    static constexpr int kEscalatedState = 2;  // core::SlaState
    static constexpr int kBreachedState = 3;
  } visible;
  enum class Sort : uint8_t { kCreated, kDue, kPriority } sort = Sort::kCreated;
  bool descending = false;
  size_t offset = 0;
  size_t limit = 50;                        // at most 1000
};

struct InstanceQuery {
  std::string process_id;
  std::string business_key;
  int status = -1;                          // -1: any
  int64_t started_after = 0;
  int64_t started_before = 0;               // 0: any
  std::string applicant_id;                 // exact; empty: any
  std::string applicant_name;               // exact, or a prefix when name_prefix; empty: any
  bool name_prefix = false;
  // The instance's region starts with one of these codes; empty: any. A
  // caller limited to regions passes them here (an instance without a
  // region then is not found).
  std::vector<std::string> regions;
  bool any_region = true;                   // false: `regions` applies even when empty (nothing found)
  size_t offset = 0;
  size_t limit = 50;
};

// A page of open incidents (Store::incidents).
struct IncidentQuery {
  InstanceId instance_id = 0;               // 0: any
  // The instance's region starts with one of these codes, as in InstanceQuery.
  std::vector<std::string> regions;
  bool any_region = true;                   // false: `regions` applies even when empty (nothing found)
  size_t offset = 0;
  size_t limit = 100;
};

// A node of a cluster as its heartbeat left it (docs/cluster.md).
struct NodeRecord {
  std::string node_id;
  std::string role;          // "active"; "stopped" after a clean stop
  std::string address;       // where its API listens
  int64_t started_at = 0;
  int64_t heartbeat_at = 0;
  int64_t leases = 0;        // nodes(): jobs it holds a live lease on
};

// A standby server streaming from the primary, as the primary sees it.
struct ReplicaRecord {
  std::string name;          // its application_name
  std::string address;
  std::string state;         // streaming, catchup, ...
  int64_t replay_lag_ms = -1;  // -1: not known
};

// The most timers one call of due_timers(), acquire_timers() or
// acquire_start_timers() returns.
inline constexpr size_t kMaxTimersPerLoad = 10000;

// While one is alive on a thread, reads on that thread may show commits
// that are not durable yet (Store::write_unsynced) without waiting for their
// sync. For the engine's processing thread: what it reads leads only to
// later writes, which are durable before anyone hears of them, and the
// overlap of its work with the sync is the point of deferring it.
class UnsyncedReads {
 public:
  UnsyncedReads();
  ~UnsyncedReads();
  UnsyncedReads(const UnsyncedReads&) = delete;
  UnsyncedReads& operator=(const UnsyncedReads&) = delete;
  // Whether one is alive on the calling thread.
  static bool allowed();
};

class Store {
 public:
  virtual ~Store() = default;

  // Creates or upgrades the schema with the numbered migrations; idempotent.
  virtual Result<void> migrate() = 0;
  // The schema version present, and the one this build migrates to.
  virtual Result<int> schema_version() = 0;
  virtual int latest_schema_version() const = 0;

  // --- writes ---------------------------------------------------------
  virtual Result<void> write(const WriteBatch& batch) = 0;
  // Writes `batch` as write() does, but may return once it is committed and
  // before it is durable: it is durable once a later sync_written() has
  // returned, and the caller tells nobody outside the process of it before
  // then. A crash of the process alone loses nothing either way. Stores
  // whose commits are durable when they return write() here.
  virtual Result<void> write_unsynced(const WriteBatch& batch) { return write(batch); }
  // Makes every commit that write_unsynced() has returned durable. Safe to
  // call from any thread, beside a write; cheap when nothing waits.
  virtual Result<void> sync_written() { return {}; }
  // Stores a deployment (all processes of one file) in one transaction and
  // returns them with keys and versions assigned. A file whose checksum equals
  // the latest version of each of its processes creates nothing and returns
  // the existing records.
  virtual Result<std::vector<DefinitionRecord>> deploy(std::vector<DefinitionRecord> processes) = 0;
  // Reserves `count` consecutive ids of a named sequence ("instance"); returns the first.
  virtual Result<int64_t> allocate_ids(const std::string& sequence, int64_t count) = 0;
  // Leases up to `limit` ready jobs of the given types (all types when empty)
  // whose due time has come and whose lease is free or expired.
  virtual Result<std::vector<JobRecord>> acquire_jobs(const std::vector<std::string>& types, const std::string& owner,
                                                      int64_t now, int64_t lease_until, size_t limit) = 0;
  // Deletes buffered messages whose time to live ended before `now`; returns how many.
  virtual Result<int64_t> delete_expired_messages(int64_t now) = 0;
  // Frees every lease held by `owner`: a node that restarts runs none of the
  // jobs it had leased before, so they need not wait for their leases to end.
  // Returns how many were freed.
  virtual Result<int64_t> release_leases(const std::string& owner) = 0;
  // Sets who a task is assigned to; fails with Error{"conflict"} when
  // `expected` (the current assignee, empty for none) does not match, and
  // with Error{"not-found"} when there is no such task.
  virtual Result<void> assign_task(int64_t task_id, const std::string& expected, const std::string& assignee) = 0;
  // deploy(), deploy_decisions() and assign_task() that append `audit` rows
  // to the audit chain (auth_store.h) in the same transaction. The defaults
  // make the change and then append the rows on their own (AuthStore), which
  // a store that can do both at once overrides.
  virtual Result<std::vector<DefinitionRecord>> deploy_audited(std::vector<DefinitionRecord> processes,
                                                               const std::vector<AuditRecord>& audit);
  virtual Result<std::vector<DecisionRecord>> deploy_decisions_audited(std::vector<DecisionRecord> decisions,
                                                                       const std::vector<AuditRecord>& audit);
  virtual Result<void> assign_task_audited(int64_t task_id, const std::string& expected, const std::string& assignee,
                                           const std::vector<AuditRecord>& audit);
  // Stores a whole deployment in ONE transaction, all or nothing: every
  // process and decision as deploy() and deploy_decisions() would, the start
  // timers of every process that gets a new version (its earlier versions'
  // are removed), and the audit rows. The default is for stores that cannot:
  // it stores the parts one after the other and refuses start timers.
  virtual Result<StoredDeployment> deploy_all(DeploymentRecords deployment);
  // Moves the end of `owner`'s lease on a job to `lease_until`; conflict when
  // the job is leased to someone else or its lease has ended, not-found when
  // there is no such job.
  virtual Result<void> extend_lease(int64_t job_id, const std::string& owner, int64_t now, int64_t lease_until) {
    (void)job_id, (void)owner, (void)now, (void)lease_until;
    return Error{"store", "this store cannot extend job leases"};
  }

  // --- reads ------------------------------------------------------------
  // All versions of a process, newest first; an empty id lists every process (by id, newest first).
  virtual Result<std::vector<DefinitionRecord>> definitions(const std::string& process_id) = 0;
  virtual Result<std::optional<DefinitionRecord>> definition(const std::string& process_id, int32_t version) = 0;  // 0: latest
  virtual Result<std::optional<DefinitionRecord>> definition_by_key(int64_t key) = 0;
  // Decisions (DMN), stored like processes: deploy_decisions() gives each
  // decision of a file a new version unless its latest version has the same
  // checksum; decisions("") lists the latest version of every decision.
  virtual Result<std::vector<DecisionRecord>> deploy_decisions(std::vector<DecisionRecord> decisions) {
    (void)decisions;
    return Error{"store", "this store cannot keep decisions"};
  }
  virtual Result<std::vector<DecisionRecord>> decisions(const std::string& decision_id) {
    (void)decision_id;
    return Error{"store", "this store cannot keep decisions"};
  }
  virtual Result<std::optional<DecisionRecord>> decision(const std::string& decision_id, int32_t version) {  // 0: latest
    (void)decision_id, (void)version;
    return Error{"store", "this store cannot keep decisions"};
  }
  virtual Result<std::optional<InstanceRecord>> instance(InstanceId id) = 0;
  virtual Result<std::vector<InstanceRecord>> instances(const InstanceQuery& query) = 0;  // without state blobs, newest first
  virtual Result<std::vector<InstanceRecord>> running_instances_of(InstanceId parent) = 0;
  virtual Result<std::vector<TaskRecord>> tasks(const TaskQuery& query) = 0;
  virtual Result<std::optional<TaskRecord>> task(int64_t task_id) = 0;
  // The open tasks with these (instance, key) pairs, in one read; a pair
  // with no open task is left out.
  virtual Result<std::vector<TaskRecord>> tasks_by_keys(const std::vector<InstanceKey>& keys) = 0;
  virtual Result<std::vector<JobRecord>> jobs_of(InstanceId id) = 0;
  // One job by its public id: an external worker's lease is checked here, so
  // it holds across a restart of the server (and on every node of a cluster).
  virtual Result<std::optional<JobRecord>> job(int64_t job_id) {
    (void)job_id;
    return Error{"store", "this store cannot read a job by id"};
  }
  // Timers due at or before `until`, earliest first: `limit` of them when
  // there are so many, up to kMaxTimersPerLoad (the engine keeps that many
  // armed in memory, and takes a full answer to mean there may be more).
  virtual Result<std::vector<TimerRecord>> due_timers(int64_t until, size_t limit) = 0;
  // The earliest due time of any timer, timer start events included; none when there is none.
  virtual Result<std::optional<int64_t>> next_timer_due() = 0;
  // The start timers of a process ("": of every process), earliest first.
  virtual Result<std::vector<StartTimerRecord>> start_timers(const std::string& process_id) {
    (void)process_id;
    return std::vector<StartTimerRecord>();
  }
  // Leases up to `limit` start timers due at or before `until` to `owner`, as
  // acquire_timers() does for instance timers; earliest first.
  virtual Result<std::vector<StartTimerRecord>> acquire_start_timers(const std::string& owner, int64_t until,
                                                                     int64_t now, int64_t lease_ms, size_t limit) {
    (void)owner, (void)until, (void)now, (void)lease_ms, (void)limit;
    return std::vector<StartTimerRecord>();
  }
  virtual Result<std::vector<SubscriptionRecord>> message_subscriptions(const std::string& name,
                                                                       const std::string& correlation_key) = 0;
  virtual Result<std::vector<SubscriptionRecord>> signal_subscriptions(const std::string& name) = 0;
  // Buffered messages for a subscription that opens; unexpired ones only,
  // oldest first, at most `limit` of them (the engine needs the oldest one
  // not already delivered in the batch it is building).
  virtual Result<std::vector<MessageRecord>> buffered_messages(const std::string& name,
                                                               const std::string& correlation_key, int64_t now,
                                                               size_t limit) = 0;
  // The open incidents of one instance, oldest first (0: of every instance;
  // for tests and tools on small stores: a list for people is a page of
  // incidents() below).
  virtual Result<std::vector<IncidentRecord>> incidents(InstanceId id) = 0;
  // A page of open incidents, oldest first; `total` (when given) counts
  // every open incident the query matches.
  virtual Result<std::vector<IncidentRecord>> incidents(const IncidentQuery& q, int64_t* total) = 0;
  virtual Result<std::optional<IncidentRecord>> incident(int64_t incident_id) = 0;
  // An instance's history in seq order: the entries after `after_seq`, at
  // most `limit` of them (0: all; pages for people come from the API).
  virtual Result<std::vector<HistoryRecord>> history(InstanceId id, int64_t after_seq, size_t limit) = 0;
  Result<std::vector<HistoryRecord>> history(InstanceId id) { return history(id, 0, 0); }

  // --- monitor figures (docs/sla.md) ------------------------------------
  // Open tasks counted by SLA state, grouped by "department", "region",
  // "process" or "state". A task with a due date and no SLA policy counts as
  // overdue once the date has passed.
  virtual Result<std::vector<MonitorGroup>> monitor_summary(const std::vector<std::string>& region_prefixes,
                                                            const std::string& group_by, int64_t now) {
    (void)region_prefixes, (void)group_by, (void)now;
    return Error{"unsupported", "this store keeps no monitor figures"};
  }
  // Open tasks past their due date, the latest first; `total` counts them all.
  virtual Result<std::vector<TaskRecord>> monitor_overdue(const std::vector<std::string>& region_prefixes, int64_t now,
                                                          size_t offset, size_t limit, int64_t& total) {
    (void)region_prefixes, (void)now, (void)offset, (void)limit, (void)total;
    return Error{"unsupported", "this store keeps no monitor figures"};
  }
  // Tasks completed in [from, to) per step: how many, how many after their
  // due date, and the median time from creation to completion.
  virtual Result<std::vector<MonitorStep>> monitor_steps(const std::vector<std::string>& region_prefixes, int64_t from,
                                                         int64_t to) {
    (void)region_prefixes, (void)from, (void)to;
    return Error{"unsupported", "this store keeps no monitor figures"};
  }

  // --- reports, ratings and comparison runs (docs/reports.md) ------------
  // Region prefixes as for the monitor figures ("" covers all; none: nothing).
  // Cases started in [from, to), oldest first.
  virtual Result<std::vector<ReportCase>> report_cases(const std::vector<std::string>& region_prefixes, int64_t from,
                                                       int64_t to) {
    (void)region_prefixes, (void)from, (void)to;
    return Error{"unsupported", "this store keeps no reports"};
  }
  // Tasks completed in [from, to) and tasks still open that were created before `to`.
  virtual Result<std::vector<ReportTask>> report_tasks(const std::vector<std::string>& region_prefixes, int64_t from,
                                                       int64_t to) {
    (void)region_prefixes, (void)from, (void)to;
    return Error{"unsupported", "this store keeps no reports"};
  }
  // The region of a case as report_cases() gives it; not-found when there is no such instance.
  virtual Result<ReportCase> report_case(InstanceId id) {
    (void)id;
    return Error{"unsupported", "this store keeps no reports"};
  }
  // Stores a rating; Error{"conflict"} when the case is rated already.
  virtual Result<void> add_rating(const RatingRecord& rating) {
    (void)rating;
    return Error{"unsupported", "this store keeps no ratings"};
  }
  // Records the follow-up instance a bad rating started.
  virtual Result<void> set_rating_follow_up(InstanceId rated, InstanceId follow_up) {
    (void)rated, (void)follow_up;
    return Error{"unsupported", "this store keeps no ratings"};
  }
  virtual Result<std::optional<RatingRecord>> rating(InstanceId id) {
    (void)id;
    return Error{"unsupported", "this store keeps no ratings"};
  }
  // Ratings recorded in [from, to), oldest first.
  virtual Result<std::vector<RatingRecord>> ratings(const std::vector<std::string>& region_prefixes, int64_t from,
                                                    int64_t to) {
    (void)region_prefixes, (void)from, (void)to;
    return Error{"unsupported", "this store keeps no ratings"};
  }
  // Appends a comparison run and returns its id. A second call with the same
  // run_key stores nothing and returns the first one's id.
  virtual Result<int64_t> add_comparison_run(const ComparisonRunRecord& run) {
    (void)run;
    return Error{"unsupported", "this store keeps no comparison runs"};
  }
  // Comparison runs, newest first; `total` counts them all.
  virtual Result<std::vector<ComparisonRunRecord>> comparison_runs(size_t offset, size_t limit, int64_t& total) {
    (void)offset, (void)limit, (void)total;
    return Error{"unsupported", "this store keeps no comparison runs"};
  }

  // Copies the whole database to `path` while the engine keeps running.
  virtual Result<void> backup(const std::string& path) = 0;

  // --- cluster: several engine nodes on one database (docs/cluster.md) ---
  // The database behind the store, for /readyz and the metrics: "sqlite",
  // "postgresql".
  virtual std::string kind() const { return "unknown"; }
  // Leases up to `limit` timers due at or before `until` to `owner`, until
  // max(due, now) + lease_ms, skipping timers another owner holds a live
  // lease on; earliest first. A timer whose owner died is fired by another
  // node once its lease has ended. Where one node owns the database there is
  // nobody to share with, and this is due_timers().
  virtual Result<std::vector<TimerRecord>> acquire_timers(const std::string& owner, int64_t until, int64_t now,
                                                          int64_t lease_ms, size_t limit) {
    (void)owner, (void)now, (void)lease_ms;
    return due_timers(until, limit);
  }
  // Records that a node is alive now (nodes sharing the database beat every
  // few seconds); unsupported where one node owns the database.
  virtual Result<void> heartbeat(const NodeRecord& node) {
    (void)node;
    return Error{"unsupported", "this store has no cluster"};
  }
  // Every node that ever beat, by id, with the job leases it holds at `now`.
  virtual Result<std::vector<NodeRecord>> nodes(int64_t now) {
    (void)now;
    return Error{"unsupported", "this store has no cluster"};
  }
  virtual Result<void> forget_node(const std::string& node_id) {
    (void)node_id;
    return Error{"unsupported", "this store has no cluster"};
  }
  // The standbys replicating the database, when this is their primary.
  virtual Result<std::vector<ReplicaRecord>> replicas() {
    return Error{"unsupported", "this store has no replicas"};
  }
  // Live events between the nodes sharing the database: relay_events()
  // hands each payload to every node listening, this one too (PostgreSQL
  // NOTIFY; a payload holds at most 7999 bytes). listen_events() calls
  // `on_event` on a thread of the store with every payload relayed by any
  // node from now on, until stop_events() or the store's end.
  virtual Result<void> relay_events(const std::vector<std::string>& payloads) {
    (void)payloads;
    return Error{"unsupported", "this store has no other nodes"};
  }
  virtual Result<void> listen_events(std::function<void(const std::string&)> on_event) {
    (void)on_event;
    return Error{"unsupported", "this store has no other nodes"};
  }
  virtual void stop_events() {}
};

// How open_store() opens a store.
struct OpenOptions {
  bool durable = true;     // SQLite: synchronous=FULL (see SqliteOptions)
  int connections = 8;     // PostgreSQL: the connection pool's size
  std::string schema;      // PostgreSQL: the schema of banshi's tables; empty: the default
};
// Opens, without migrating, the store at `location`: a postgresql:// or
// postgres:// URL opens the PostgreSQL store (postgres/), anything else is
// a SQLite database file (sqlite/). Both implement AuthStore too.
Result<std::unique_ptr<Store>> open_store(const std::string& location, const OpenOptions& options = {});

}  // namespace banshi::store
