#include "serve/audit.h"

#include <filesystem>

#include <fmt/format.h>

#include "store/audit_chain.h"
#include "store/auth_store.h"
#include "store/store.h"

namespace banshi::serve {

namespace {
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr size_t kPage = 1000;
}  // namespace

int run_audit_verify(const ServeOptions& options, const std::string& known_head) {
  auto config = load_config(options);
  if (!config.ok()) {
    fmt::print(stderr, "banshi audit verify: {}\n", config.error().message);
    return kExitUsage;
  }
  const std::string& location = config->store_path;
  bool url = location.starts_with("postgresql://") || location.starts_with("postgres://");
  std::error_code ec;
  if (!url && !std::filesystem::is_regular_file(location, ec)) {
    fmt::print(stderr, "banshi audit verify: {}: no such database\n", location);
    return kExitFailed;
  }
  auto store = store::open_store(location);
  if (!store.ok()) {
    fmt::print(stderr, "banshi audit verify: {}\n", store.error().message);
    return kExitFailed;
  }
  auto* trail = dynamic_cast<store::AuthStore*>(store->get());
  if (trail == nullptr) {
    fmt::print(stderr, "banshi audit verify: this store keeps no audit trail\n");
    return kExitFailed;
  }
  auto version = (*store)->schema_version();
  if (!version.ok() || *version < 5) {
    fmt::print(stderr, "banshi audit verify: the database predates the audit chain (schema version {}); "
                       "start banshi serve on it once to migrate\n",
               version.ok() ? *version : 0);
    return kExitFailed;
  }
  store::AuditChainVerifier verifier;
  int64_t after = 0;
  bool head_seen = known_head.empty() || known_head == store::kAuditGenesisHash;
  for (;;) {
    auto rows = trail->audit_chain(after, kPage);
    if (!rows.ok()) {
      fmt::print(stderr, "banshi audit verify: {}\n", rows.error().message);
      return kExitFailed;
    }
    for (const store::AuditRecord& row : *rows) {
      if (!verifier.add(row)) {
        fmt::print(stderr, "banshi audit verify: FAILED at row {}: {}\n", verifier.first_bad_id(), verifier.problem());
        fmt::print("{} rows verified before row {}\n", verifier.rows(), verifier.first_bad_id());
        return kExitFailed;
      }
      after = row.id;
      head_seen = head_seen || row.hash == known_head;
    }
    if (rows->size() < kPage) break;
  }
  if (!head_seen) {
    fmt::print(stderr,
               "banshi audit verify: FAILED: the chain does not pass through the recorded head {}: rows were "
               "removed from its end or it was rewritten\n",
               known_head);
    return kExitFailed;
  }
  fmt::print("audit chain verified: {} rows; head {}\n", verifier.rows(), verifier.head());
  return kExitOk;
}

}  // namespace banshi::serve
