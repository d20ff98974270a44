#include "store/store.h"

namespace banshi::store {

bool WriteBatch::empty() const {
  return instances.empty() && tasks_added.empty() && tasks_removed.empty() && jobs_added.empty() &&
         jobs_updated.empty() && jobs_removed.empty() && timers_upserted.empty() && timers_removed.empty() &&
         message_subscriptions_added.empty() && message_subscriptions_removed.empty() &&
         signal_subscriptions_added.empty() && signal_subscriptions_removed.empty() && messages_added.empty() &&
         messages_removed.empty() && incidents_added.empty() && incidents_removed.empty() && history.empty() &&
         task_sla_updates.empty() && tasks_completed.empty();
}

}  // namespace banshi::store
