// `banshi cluster status`: the nodes sharing the configured database, the
// job leases each holds, how long ago each last beat, and the replication
// lag of the standbys (docs/cluster.md).
#include <chrono>

#include <fmt/format.h>

#include "serve/config.h"
#include "serve/serve.h"
#include "store/store.h"

namespace banshi::serve {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string utc_time(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

std::string age(int64_t ms) {
  if (ms < 0) ms = 0;
  if (ms < 120'000) return fmt::format("{:.1f} s ago", static_cast<double>(ms) / 1000);
  if (ms < 7'200'000) return fmt::format("{} min ago", ms / 60'000);
  return fmt::format("{} h ago", ms / 3'600'000);
}

}  // namespace

int run_cluster_status(const ServeOptions& options, int64_t silent_after_ms) {
  auto config = load_config(options);
  if (!config.ok()) {
    fmt::print(stderr, "banshi cluster status: {}\n", config.error().message);
    return kExitUsage;
  }
  if (config->store_url.empty()) {
    fmt::print("store: sqlite ({}): one node, no cluster\n", config->store_path);
    return kExitOk;
  }
  store::OpenOptions o;
  o.schema = config->store_schema;
  o.connections = 1;
  auto store = store::open_store(config->store_url, o);
  if (!store.ok()) {
    fmt::print(stderr, "banshi cluster status: {}\n", store.error().message);
    return kExitFailed;
  }
  auto version = (*store)->schema_version();
  if (!version.ok()) {
    fmt::print(stderr, "banshi cluster status: {}\n", version.error().message);
    return kExitFailed;
  }
  fmt::print("store: {}, schema version {} (this build: {})\n", (*store)->kind(), *version,
             (*store)->latest_schema_version());
  const int64_t now = now_ms();
  auto nodes = (*store)->nodes(now);
  if (!nodes.ok()) {
    fmt::print(stderr, "banshi cluster status: {}\n", nodes.error().message);
    return kExitFailed;
  }
  int alive = 0;
  fmt::print("nodes: {}\n", nodes->size());
  if (!nodes->empty()) {
    fmt::print("  {:<20} {:<8} {:<22} {:<21} {:<14} {}\n", "NODE", "STATE", "ADDRESS", "STARTED", "HEARTBEAT",
               "JOB LEASES");
  }
  for (const store::NodeRecord& n : *nodes) {
    // A node that stopped beating without saying so has probably died: its
    // leases run out and the other nodes take its work.
    std::string state = n.role;
    if (n.role == "active" && now - n.heartbeat_at > silent_after_ms) state = "silent";
    if (state == "active") ++alive;
    fmt::print("  {:<20} {:<8} {:<22} {:<21} {:<14} {}\n", n.node_id, state, n.address.empty() ? "-" : n.address,
               utc_time(n.started_at), age(now - n.heartbeat_at), n.leases);
  }
  fmt::print("active: {}\n", alive);
  auto replicas = (*store)->replicas();
  if (!replicas.ok()) {
    fmt::print("replicas: unknown ({})\n", replicas.error().message);
  } else if (replicas->empty()) {
    fmt::print("replicas: none streaming from this server\n");
  } else {
    fmt::print("replicas: {}\n", replicas->size());
    for (const store::ReplicaRecord& r : *replicas) {
      fmt::print("  {:<20} {:<22} {:<10} lag {}\n", r.name.empty() ? "-" : r.name, r.address, r.state,
                 r.replay_lag_ms < 0 ? std::string("unknown") : fmt::format("{} ms", r.replay_lag_ms));
    }
  }
  return kExitOk;
}

}  // namespace banshi::serve
