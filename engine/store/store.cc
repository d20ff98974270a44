#include "store/store.h"

#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace banshi::store {

bool WriteBatch::empty() const {
  return instances.empty() && tasks_added.empty() && tasks_removed.empty() && jobs_added.empty() &&
         jobs_updated.empty() && jobs_removed.empty() && timers_upserted.empty() && timers_removed.empty() &&
         message_subscriptions_added.empty() && message_subscriptions_removed.empty() &&
         signal_subscriptions_added.empty() && signal_subscriptions_removed.empty() && messages_added.empty() &&
         messages_removed.empty() && incidents_added.empty() && incidents_removed.empty() && history.empty() &&
         task_sla_updates.empty() && tasks_completed.empty();
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

}  // namespace banshi::store
