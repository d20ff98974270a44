// store/sqlite/sqlite_store.h — the embedded Store: one SQLite file.
//
// Model
// - The database runs in WAL mode, so readers never wait for the writer and
//   the writer never waits for readers.
// - ONE writer connection, guarded by a mutex: every writing method runs
//   exactly one BEGIN IMMEDIATE ... COMMIT on it and rolls back on any error,
//   so nothing is ever half-written.
// - A small pool of reader connections; each read borrows one for the
//   duration of one read transaction (a consistent snapshot of committed
//   data) and gives it back. A read waits only when every reader is busy.
// - ":memory:" opens a private in-memory database for tests; it has no
//   reader pool (an in-memory database cannot be shared between
//   connections here), so reads then take the writer's mutex.
// - Statements are prepared once per connection and cached; values are
//   always bound, never spliced into SQL.
//
// Threads: every method may be called from any thread at any time.
// Errors: Error{"conflict"} as documented in store.h; everything the database
// reports (cannot open, not a database, disk full, constraint broken) is
// Error{"store", "<what> : <SQLite's message>"}.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/auth_store.h"
#include "store/frontdoor_store.h"
#include "store/store.h"

namespace banshi::store {
class TaskSetSizes;  // store/task_sets.h
}  // namespace banshi::store

namespace banshi::store::sqlite {

class Connection;

struct SqliteOptions {
  std::string path;              // a file (created if missing) or ":memory:"
  // true: synchronous=FULL — a commit is on disk before write() returns.
  // false: synchronous=NORMAL — the faster, weaker mode: a power cut or OS
  // crash may lose the last commits (the database stays consistent); a crash
  // of the process alone loses nothing.
  bool durable = true;
  int busy_timeout_ms = 5000;    // how long to wait for another process holding the write lock
  int reader_connections = 4;    // at least 1; ignored for ":memory:"
  // Tests only: runs inside every write transaction just before COMMIT, with
  // the write lock held. Empty in production.
  std::function<void()> before_commit;
  // Tests only: syncs the write-ahead log for sync_written() in place of
  // fdatasync(fd), returning as it does (0, or -1 with errno set). Empty in
  // production.
  std::function<int(int fd)> sync_log;
};

class SqliteStore final : public Store, public AuthStore, public FrontDoorStore {
 public:
  // Opens (and creates) the database. Fails if the file cannot be opened, is
  // not a database, or carries a schema newer than this build knows. Does not
  // migrate: call migrate() before anything else on a new database.
  static Result<std::unique_ptr<SqliteStore>> open(const SqliteOptions& options);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Result<void> migrate() override;
  Result<int> schema_version() override;
  int latest_schema_version() const override;
  std::string kind() const override { return "sqlite"; }

  Result<void> write(const WriteBatch& batch) override;
  // Durable stores commit the batch with the log's sync left to
  // sync_written() (store/sqlite/wal_buffer.h DeferredLogSync); other
  // stores write() it. A read syncs every commit it may have seen before
  // its result is returned, so that nobody reads a commit that is not
  // durable yet (store::UnsyncedReads excepted).
  Result<void> write_unsynced(const WriteBatch& batch) override;
  // One fdatasync of the write-ahead log covers every commit returned by
  // then. If it fails, those commits may be lost: the store refuses every
  // read and write from then on, and the process must be restarted.
  Result<void> sync_written() override;
  Result<std::vector<DefinitionRecord>> deploy(std::vector<DefinitionRecord> processes) override;
  Result<std::vector<DefinitionRecord>> deploy_audited(std::vector<DefinitionRecord> processes,
                                                       const std::vector<AuditRecord>& audit) override;
  Result<int64_t> allocate_ids(const std::string& sequence, int64_t count) override;
  Result<int64_t> release_leases(const std::string& owner) override;
  Result<int64_t> delete_expired_messages(int64_t now) override;
  Result<std::vector<JobRecord>> acquire_jobs(const std::vector<std::string>& types, const std::string& owner,
                                              int64_t now, int64_t lease_until, size_t limit) override;
  Result<void> assign_task(int64_t task_id, const std::string& expected, const std::string& assignee) override;
  Result<void> assign_task_audited(int64_t task_id, const std::string& expected, const std::string& assignee,
                                   const std::vector<AuditRecord>& audit) override;
  Result<void> extend_lease(int64_t job_id, const std::string& owner, int64_t now, int64_t lease_until) override;

  Result<std::vector<DefinitionRecord>> definitions(const std::string& process_id) override;
  Result<std::optional<DefinitionRecord>> definition(const std::string& process_id, int32_t version) override;
  Result<std::optional<DefinitionRecord>> definition_by_key(int64_t key) override;
  Result<std::vector<DecisionRecord>> deploy_decisions(std::vector<DecisionRecord> decisions) override;
  Result<std::vector<DecisionRecord>> deploy_decisions_audited(std::vector<DecisionRecord> decisions,
                                                               const std::vector<AuditRecord>& audit) override;
  Result<std::vector<DecisionRecord>> decisions(const std::string& decision_id) override;
  Result<std::optional<DecisionRecord>> decision(const std::string& decision_id, int32_t version) override;
  Result<std::optional<InstanceRecord>> instance(InstanceId id) override;
  Result<std::vector<InstanceRecord>> instances(const InstanceQuery& query) override;
  Result<std::vector<InstanceRecord>> running_instances_of(InstanceId parent) override;
  Result<std::vector<TaskRecord>> tasks(const TaskQuery& query) override;
  Result<std::optional<TaskRecord>> task(int64_t task_id) override;
  Result<std::vector<TaskRecord>> tasks_by_keys(const std::vector<InstanceKey>& keys) override;
  Result<std::vector<JobRecord>> jobs_of(InstanceId id) override;
  Result<std::optional<JobRecord>> job(int64_t job_id) override;
  Result<StoredDeployment> deploy_all(DeploymentRecords deployment) override;
  Result<std::vector<StartTimerRecord>> start_timers(const std::string& process_id) override;
  Result<std::vector<StartTimerRecord>> acquire_start_timers(const std::string& owner, int64_t until, int64_t now,
                                                             int64_t lease_ms, size_t limit) override;
  Result<std::vector<TimerRecord>> due_timers(int64_t until, size_t limit) override;
  Result<std::optional<int64_t>> next_timer_due() override;
  Result<std::vector<SubscriptionRecord>> message_subscriptions(const std::string& name,
                                                               const std::string& correlation_key) override;
  Result<std::vector<SubscriptionRecord>> signal_subscriptions(const std::string& name) override;
  Result<std::vector<MessageRecord>> buffered_messages(const std::string& name, const std::string& correlation_key,
                                                       int64_t now,
                                                       size_t limit) override;
  Result<std::vector<IncidentRecord>> incidents(InstanceId id) override;
  Result<std::vector<IncidentRecord>> incidents(const IncidentQuery& q, int64_t* total) override;
  Result<std::optional<IncidentRecord>> incident(int64_t incident_id) override;
  using Store::history;
  Result<std::vector<HistoryRecord>> history(InstanceId id, int64_t after_seq, size_t limit) override;
  Result<std::vector<MonitorGroup>> monitor_summary(const std::vector<std::string>& region_prefixes,
                                                    const std::string& group_by, int64_t now) override;
  Result<std::vector<TaskRecord>> monitor_overdue(const std::vector<std::string>& region_prefixes, int64_t now,
                                                  size_t offset, size_t limit, int64_t& total) override;
  Result<std::vector<MonitorStep>> monitor_steps(const std::vector<std::string>& region_prefixes, int64_t from,
                                                 int64_t to) override;
  Result<std::vector<ReportCase>> report_cases(const std::vector<std::string>& region_prefixes, int64_t from,
                                               int64_t to) override;
  Result<std::vector<ReportTask>> report_tasks(const std::vector<std::string>& region_prefixes, int64_t from,
                                               int64_t to) override;
  Result<ReportCase> report_case(InstanceId id) override;
  Result<void> add_rating(const RatingRecord& rating) override;
  Result<void> set_rating_follow_up(InstanceId rated, InstanceId follow_up) override;
  Result<std::optional<RatingRecord>> rating(InstanceId id) override;
  Result<std::vector<RatingRecord>> ratings(const std::vector<std::string>& region_prefixes, int64_t from,
                                            int64_t to) override;
  Result<int64_t> add_comparison_run(const ComparisonRunRecord& run) override;
  Result<std::vector<ComparisonRunRecord>> comparison_runs(size_t offset, size_t limit, int64_t& total) override;

  // Uses SQLite's online backup from a reader's snapshot: the copy holds
  // exactly the commits made before it started, and writes go on meanwhile.
  // Refuses to overwrite an existing file.
  Result<void> backup(const std::string& path) override;

  // --- AuthStore ----------------------------------------------------------
  Result<void> add_user(const UserRecord& user) override;
  Result<void> update_user(const UserRecord& user) override;
  Result<std::optional<UserRecord>> user(const std::string& name) override;
  Result<std::vector<UserRecord>> users() override;
  Result<void> add_session(const SessionRecord& session) override;
  Result<std::optional<SessionRecord>> session(const std::string& token_hash) override;
  Result<void> touch_session(const std::string& token_hash, int64_t last_seen_at) override;
  Result<void> delete_session(const std::string& token_hash) override;
  Result<int64_t> delete_sessions_of(const std::string& user) override;
  Result<int64_t> add_api_token(const ApiTokenRecord& token) override;
  Result<std::optional<ApiTokenRecord>> api_token(const std::string& token_hash) override;
  Result<void> add_login_failure(const std::string& name, int64_t at) override;
  Result<std::vector<int64_t>> login_failures(const std::string& name, int64_t since) override;
  Result<void> clear_login_failures(const std::string& name) override;
  Result<int64_t> append_audit(const AuditRecord& record) override;
  Result<void> audited(const std::function<Result<void>()>& change, const std::vector<AuditRecord>& rows) override;
  Result<std::vector<AuditRecord>> audit_chain(int64_t after_id, size_t limit) override;
  Result<std::vector<AuditRecord>> audit(const AuditQuery& query) override;


  // --- FrontDoorStore (docs/frontdoor.md) -------------------------------------
  Result<void> add_intake(const IntakeRecord& intake) override;
  Result<std::optional<IntakeRecord>> intake(const std::string& business_key) override;
  Result<std::vector<IntakeRecord>> intakes_of_phone(const std::string& phone_hash) override;
  Result<std::optional<IntakeRecord>> intake_of_applicant(const std::string& applicant_hash) override;
  Result<int64_t> add_document(const DocumentRecord& document, int max_per_case) override;
  Result<std::vector<DocumentRecord>> documents(const std::string& business_key) override;
  Result<CodeAdmission> add_code(const OneTimeCodeRecord& code, int64_t min_interval_ms, int per_hour,
                                 int per_day) override;
  Result<void> remove_code(int64_t id) override;
  Result<std::vector<OneTimeCodeRecord>> codes(const std::string& phone_hash, int64_t since) override;
  Result<bool> record_code_attempt(int64_t id, bool used, int32_t max_attempts, int64_t now) override;
  Result<IdentityCheckAdmission> admit_identity_check(const std::string& phone_hash, const std::string& person_hash,
                                                      const std::string& day, int per_day) override;
  Result<void> forget_identity_check(const std::string& phone_hash, const std::string& person_hash,
                                     const std::string& day) override;
  Result<void> add_applicant_session(const ApplicantSessionRecord& session) override;
  Result<std::optional<ApplicantSessionRecord>> applicant_session(const std::string& token_hash) override;
  Result<void> touch_applicant_session(const std::string& token_hash, int64_t last_seen_at) override;
  Result<void> delete_applicant_session(const std::string& token_hash) override;
  Result<bool> mark_notified(const std::string& business_key, const std::string& milestone, int64_t at) override;

 private:
  class ReaderLease;
  explicit SqliteStore(SqliteOptions options);

  // Runs fn(Connection&) inside BEGIN IMMEDIATE ... COMMIT on the writer;
  // rolls back when fn or COMMIT fails.
  // With `defer_sync`, the COMMIT leaves the log's sync to sync_written().
  template <typename F>
  auto in_write_transaction(F&& fn, bool defer_sync = false) -> decltype(fn(std::declval<Connection&>()));
  // Its part under the write lock.
  template <typename F>
  auto in_locked_write(F&& fn, bool defer_sync) -> decltype(fn(std::declval<Connection&>()));
  // After a COMMIT, with the write lock held: copies the log into the
  // database once it holds kCheckpointFrames frames, as SQLite's automatic
  // checkpoint would, but never under DeferredLogSync.
  void checkpoint_if_due();
  // Runs fn(Connection&) inside one read transaction on a pooled reader.
  template <typename F>
  auto in_read_transaction(F&& fn) -> decltype(fn(std::declval<Connection&>()));

  SqliteOptions options_;
  std::mutex write_mutex_;
  std::unique_ptr<Connection> writer_;
  int log_frames_ = 0;  // in the log after the last commit (write_mutex_)

  // Commits whose log sync was left to sync_written(): counted as they
  // begin and as they return (a failed one too), and how many of those
  // returned are known durable.
  bool defer_sync_ = false;  // a durable file store: write_unsynced() defers
  std::atomic<uint64_t> commits_begun_{0};
  std::atomic<uint64_t> commits_unsynced_{0};
  std::atomic<uint64_t> commits_synced_{0};
  std::atomic<bool> sync_failed_{false};
  std::mutex sync_mutex_;  // one sync at a time; guards what follows
  int log_fd_ = -1;        // the write-ahead log, opened with the store for syncing it
  std::string sync_error_;
  // Marks the store failed: nothing more is read or written. The second
  // with sync_mutex_ held.
  Error refuse_from_now_on(const std::string& why);
  // The store's error once it refuses (sync_failed_), else nothing.
  Result<void> refused();
  Error refuse_locked(const std::string& why);
  // Before a read's result leaves: syncs every commit the read may have
  // seen, waiting for one that was publishing meanwhile to be counted.
  Result<void> sync_what_reads_saw();

  std::mutex readers_mutex_;
  std::condition_variable reader_free_;
  std::vector<std::unique_ptr<Connection>> readers_;  // all of them, owned
  std::vector<Connection*> idle_readers_;

  // How big the sets a task page may be read from were lately (tasks()).
  std::unique_ptr<TaskSetSizes> set_sizes_;
};

}  // namespace banshi::store::sqlite
