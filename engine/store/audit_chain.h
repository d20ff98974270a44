// store/audit_chain.h — the audit trail's hash chain (migration 5).
//
// Every audit row stores the SHA-256 of its canonical content together with
// the hash of the row before it, so that changing, inserting or removing a
// row breaks the chain from that row on (docs/storage.md, "The audit chain").
//
// Contract
// - audit_row_hash() is a pure function of the row's id, time, actor,
//   action, target, address, detail and the previous row's hash; every store
//   computes it the same way, so a chain verifies whichever store wrote it.
// - AuditChainVerifier takes the rows oldest first (ascending id) and stops
//   at the first row that does not fit; it never throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/auth_store.h"

namespace banshi::store {

// The "previous hash" of the first row: 64 zeros.
inline constexpr std::string_view kAuditGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The bytes hashed for a row: a version tag, then each field as
// "<decimal byte length>:<bytes>\n", in the order id, at, actor, action,
// target, address, detail, prev_hash.
std::string audit_canonical(const AuditRecord& row, std::string_view prev_hash);
// SHA-256 of audit_canonical(), lower-case hex.
std::string audit_row_hash(const AuditRecord& row, std::string_view prev_hash);

class AuditChainVerifier {
 public:
  // Checks the next row (ids ascending). False once a row does not fit;
  // problem() then names the first bad row.
  bool add(const AuditRecord& row);
  bool ok() const { return bad_id_ == 0; }
  int64_t rows() const { return rows_; }
  int64_t first_bad_id() const { return bad_id_; }
  const std::string& problem() const { return problem_; }
  // The hash of the last good row (kAuditGenesisHash when there is none):
  // kept outside the database, it also shows rows removed from the end.
  const std::string& head() const { return head_; }

 private:
  int64_t last_id_ = 0;
  int64_t rows_ = 0;
  int64_t bad_id_ = 0;
  std::string head_ = std::string(kAuditGenesisHash);
  std::string problem_;
};

}  // namespace banshi::store
