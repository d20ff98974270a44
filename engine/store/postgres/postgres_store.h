// store/postgres/postgres_store.h — the Store of a cluster: one PostgreSQL
// database shared by several engine nodes.
//
// Model
// - A pool of libpq connections; each call borrows one for one transaction
//   and gives it back. A call waits only when every connection is busy. A
//   connection that broke (server restart, failover) is reconnected the next
//   time it is borrowed; the call that met the break fails with "store".
// - Writes run in READ COMMITTED transactions and rely on row locks: an
//   instance is updated only WHERE its version is the expected one (a
//   concurrent writer makes it "conflict"), jobs are leased with
//   SELECT ... FOR UPDATE SKIP LOCKED so two nodes never lease the same job,
//   deployments and migrations take a transaction-scoped advisory lock.
//   Serialization failures and deadlocks are reported as "conflict": the
//   engine retries the batch on reloaded states.
// - Reads that take several statements (a task and its candidates) run in
//   one REPEATABLE READ, READ ONLY transaction: one snapshot.
// - Statements are prepared once per connection; values are always bound
//   (blobs in binary), never spliced into SQL.
// - The same numbered migrations as the SQLite store (migrations.cc).
//
// Threads: every method may be called from any thread at any time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/auth_store.h"
#include "store/frontdoor_store.h"
#include "store/store.h"

namespace banshi::store {
class TaskSetSizes;  // store/task_sets.h
}  // namespace banshi::store

namespace banshi::store::postgres {

class Connection;

struct PostgresOptions {
  // A libpq connection URL, e.g. postgresql://banshi@db.example:5432/banshi
  // (https://www.postgresql.org/docs/current/libpq-connect.html); a password
  // may also come from PGPASSWORD or ~/.pgpass.
  std::string url;
  // The schema holding banshi's tables; empty: the user's default
  // (search_path). migrate() creates it when missing.
  std::string schema;
  int pool_size = 8;  // connections, at least 1
  // Tests only: runs inside every write transaction just before COMMIT.
  std::function<void()> before_commit;
};

class PostgresStore final : public Store, public AuthStore, public FrontDoorStore {
 public:
  // Connects the pool. Fails when the server cannot be reached or refuses
  // the login, or carries a schema newer than this build knows. Does not
  // migrate: call migrate() before anything else on a new database.
  static Result<std::unique_ptr<PostgresStore>> open(const PostgresOptions& options);

  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  Result<void> migrate() override;
  Result<int> schema_version() override;
  int latest_schema_version() const override;

  Result<void> write(const WriteBatch& batch) override;
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

  // PostgreSQL is backed up with its own tools (pg_basebackup, pg_dump; see
  // docs/operations.md): this always fails with "unsupported".
  Result<void> backup(const std::string& path) override;

  // --- cluster --------------------------------------------------------------
  std::string kind() const override { return "postgresql"; }
  // Timers are leased in timer_leases, a table of the cluster's own (not a
  // numbered migration), with SELECT ... FOR UPDATE SKIP LOCKED on timers.
  Result<std::vector<TimerRecord>> acquire_timers(const std::string& owner, int64_t until, int64_t now,
                                                  int64_t lease_ms, size_t limit) override;
  Result<void> heartbeat(const NodeRecord& node) override;
  Result<std::vector<NodeRecord>> nodes(int64_t now) override;
  Result<void> forget_node(const std::string& node_id) override;
  Result<std::vector<ReplicaRecord>> replicas() override;
  // NOTIFY in one statement, on the schema's channel (banshi_events, or
  // banshi_events_<hash of the schema>); LISTEN on a connection of its own,
  // outside the pool, made again when it breaks.
  Result<void> relay_events(const std::vector<std::string>& payloads) override;
  Result<void> listen_events(std::function<void(const std::string&)> on_event) override;
  void stop_events() override;

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

  const PostgresOptions& options() const { return options_; }


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
  class Lease;
  explicit PostgresStore(PostgresOptions options);

  // Runs fn(Connection&) inside BEGIN ... COMMIT; rolls back when fn or
  // COMMIT fails.
  template <typename F>
  auto in_write_transaction(F&& fn) -> decltype(fn(std::declval<Connection&>()));
  // Runs fn(Connection&) in one REPEATABLE READ, READ ONLY transaction
  // (snapshot) or, without it, statement by statement.
  template <typename F>
  auto in_read(F&& fn, bool snapshot = false) -> decltype(fn(std::declval<Connection&>()));

  PostgresOptions options_;
  std::string events_channel_;  // the schema's notification channel
  // Live events (listen_events): the listening thread and its stop flag.
  std::thread events_thread_;
  std::atomic<bool> events_stop_{false};
  std::mutex pool_mutex_;
  std::condition_variable connection_free_;
  std::vector<std::unique_ptr<Connection>> connections_;  // all of them, owned
  std::vector<Connection*> idle_;

  // How big the sets a task page may be read from were lately (tasks()).
  std::unique_ptr<TaskSetSizes> set_sizes_;
};

// True for a libpq connection URL ("postgresql://" or "postgres://").
bool is_postgres_url(const std::string& location);

}  // namespace banshi::store::postgres
