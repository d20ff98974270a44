#include "store/store.h"

#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace banshi::store {

namespace {
thread_local bool t_unsynced_reads = false;  // UnsyncedReads
}  // namespace

UnsyncedReads::UnsyncedReads() { t_unsynced_reads = true; }
UnsyncedReads::~UnsyncedReads() { t_unsynced_reads = false; }
bool UnsyncedReads::allowed() { return t_unsynced_reads; }

bool WriteBatch::empty() const {
  return instances.empty() && tasks_added.empty() && tasks_removed.empty() && jobs_added.empty() &&
         jobs_updated.empty() && jobs_removed.empty() && timers_upserted.empty() && timers_removed.empty() &&
         message_subscriptions_added.empty() && message_subscriptions_removed.empty() &&
         signal_subscriptions_added.empty() && signal_subscriptions_removed.empty() && messages_added.empty() &&
         messages_removed.empty() && incidents_added.empty() && incidents_removed.empty() && history.empty() &&
         task_sla_updates.empty() && tasks_completed.empty() && audit.empty() &&
         start_timers_fired.empty();
}

const TaskAssigneeCheck* assignee_check_of(const WriteBatch& batch, const InstanceKey& task) {
  for (const TaskAssigneeCheck& c : batch.task_assignee_checks) {
    if (c.instance_id == task.instance_id && c.key == task.key) return &c;
  }
  return nullptr;
}

Result<std::unique_ptr<Store>> open_store(const std::string& location, const OpenOptions& options) {
  if (postgres::is_postgres_url(location)) {
    postgres::PostgresOptions o;
    o.url = location;
    o.schema = options.schema;
    o.pool_size = options.connections;
    auto store = postgres::PostgresStore::open(o);
    if (!store.ok()) return store.error();
    return std::unique_ptr<Store>(std::move(store).value());
  }
  sqlite::SqliteOptions o;
  o.path = location;
  o.durable = options.durable;
  auto store = sqlite::SqliteStore::open(o);
  if (!store.ok()) return store.error();
  return std::unique_ptr<Store>(std::move(store).value());
}

namespace {

Result<void> append_after(Store& store, const std::vector<AuditRecord>& audit) {
  if (audit.empty()) return {};
  auto* trail = dynamic_cast<AuthStore*>(&store);
  if (trail == nullptr) return Error{"store", "this store keeps no audit trail"};
  for (const AuditRecord& a : audit) {
    if (auto r = trail->append_audit(a); !r.ok()) return r.error();
  }
  return {};
}

}  // namespace

Result<std::vector<DefinitionRecord>> Store::deploy_audited(std::vector<DefinitionRecord> processes,
                                                            const std::vector<AuditRecord>& audit) {
  auto r = deploy(std::move(processes));
  if (!r.ok()) return r;
  if (auto a = append_after(*this, audit); !a.ok()) return a.error();
  return r;
}

Result<std::vector<DecisionRecord>> Store::deploy_decisions_audited(std::vector<DecisionRecord> decisions,
                                                                    const std::vector<AuditRecord>& audit) {
  auto r = deploy_decisions(std::move(decisions));
  if (!r.ok()) return r;
  if (auto a = append_after(*this, audit); !a.ok()) return a.error();
  return r;
}

Result<StoredDeployment> Store::deploy_all(DeploymentRecords deployment) {
  if (!deployment.start_timers.empty()) return Error{"store", "this store cannot keep timer start events"};
  StoredDeployment out;
  // A record got a new version when its key is not the latest one from before.
  std::vector<int64_t> before;
  for (const DefinitionRecord& p : deployment.processes) {
    auto latest = definition(p.process_id, 0);
    before.push_back(latest.ok() && *latest ? (*latest)->key : 0);
  }
  if (!deployment.processes.empty()) {
    auto p = deploy_audited(std::move(deployment.processes), deployment.audit);
    if (!p.ok()) return p.error();
    deployment.audit.clear();
    out.processes = std::move(*p);
    for (size_t i = 0; i < out.processes.size(); ++i) out.new_process.push_back(out.processes[i].key != before[i]);
  }
  if (!deployment.decisions.empty()) {
    std::vector<int64_t> keys;
    for (const DecisionRecord& d : deployment.decisions) {
      auto latest = decision(d.decision_id, 0);
      keys.push_back(latest.ok() && *latest ? (*latest)->key : 0);
    }
    auto d = deploy_decisions_audited(std::move(deployment.decisions), deployment.audit);
    if (!d.ok()) return d.error();
    out.decisions = std::move(*d);
    for (size_t i = 0; i < out.decisions.size(); ++i) out.new_decision.push_back(out.decisions[i].key != keys[i]);
  }
  return out;
}

Result<void> Store::assign_task_audited(int64_t task_id, const std::string& expected, const std::string& assignee,
                                        const std::vector<AuditRecord>& audit) {
  if (auto r = assign_task(task_id, expected, assignee); !r.ok()) return r;
  return append_after(*this, audit);
}

}  // namespace banshi::store
