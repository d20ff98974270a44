// exec/batch_builder.h — turns the records of applied commands into the rows
// of one store transaction.
//
// Within a batch a row may be created and removed again (a job created and
// completed in the same group commit, a timer fired and rescheduled); the
// builder nets those out so the store sees each row's final state once.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/records.h"
#include "core/state.h"
#include "core/step.h"
#include "store/store.h"

namespace banshi::exec {

struct InstanceContext {
  store::InstanceId id = 0;
  const core::ExecutableProcess* process = nullptr;
  const core::InstanceState* state = nullptr;  // after the step
  std::string business_key;
  // Jobs of types served by this node's in-process connectors are written
  // already leased to it and handed to its workers after the commit, so no
  // separate lease transaction is needed; others wait for acquire_jobs.
  const std::set<std::string>* local_types = nullptr;
  std::string node_id;
  int64_t lease_ms = 0;
};

class BatchBuilder {
 public:
  // Adds the effect rows for one applied command's records.
  void add(const InstanceContext& ctx, const std::vector<core::Record>& records, int64_t now);
  // Moves everything gathered into `batch` (instances and history are the caller's).
  void flush(store::WriteBatch& batch);

  // Timers created or moved in this batch (to arm after the commit).
  const std::vector<store::TimerRecord>& timers_armed() const { return armed_; }
  bool jobs_created() const { return jobs_created_; }
  // Message subscriptions opened in this batch (not committed yet) for a name and key.
  std::vector<store::SubscriptionRecord> opened_message_subscriptions(const std::string& name,
                                                                     const std::string& correlation_key) const;
  // Whether a stored message subscription was closed in this batch.
  bool message_subscription_closed(store::InstanceId instance, uint64_t key) const;
  // A subscription that takes one message, taken by a message published in
  // this batch whose correlation is still queued: a second message of the
  // batch must not count on it.
  void claim_message_subscription(store::InstanceId instance, uint64_t key) { claimed_.insert({instance, key}); }
  bool message_subscription_claimed(store::InstanceId instance, uint64_t key) const {
    return claimed_.count({instance, key}) > 0;
  }
  // Jobs leased to this node in this batch (dispatch them after the commit).
  std::vector<store::JobRecord> take_local_jobs();

 private:
  using Key = std::pair<store::InstanceId, uint64_t>;
  struct JobOp {
    enum class Kind : uint8_t { kAdd, kUpdate, kRemove } kind = Kind::kAdd;
    store::JobRecord record;
  };
  std::map<Key, std::optional<store::TaskRecord>> tasks_;
  std::map<Key, store::TaskSlaUpdate> sla_updates_;  // tasks created in an earlier batch
  std::vector<store::TaskCompletion> completions_;
  std::map<Key, JobOp> jobs_;
  std::map<Key, std::optional<store::TimerRecord>> timers_;
  std::map<Key, std::optional<store::SubscriptionRecord>> messages_;
  std::set<Key> claimed_;
  std::map<Key, std::optional<store::SubscriptionRecord>> signals_;
  std::map<Key, std::optional<store::IncidentRecord>> incidents_;
  std::vector<store::TimerRecord> armed_;
  std::vector<Key> local_jobs_;
  bool jobs_created_ = false;
};

// All variables visible from an element instance, nearest scope first.
boost::json::object visible_variables(const core::InstanceState& state, core::Key element_instance);

}  // namespace banshi::exec
