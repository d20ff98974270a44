#include "store/audit_chain.h"

#include <openssl/sha.h>

#include <fmt/format.h>

namespace banshi::store {
namespace {

void field(std::string& out, std::string_view value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += '\n';
}

}  // namespace

std::string audit_canonical(const AuditRecord& row, std::string_view prev_hash) {
  std::string out = "banshi-audit-1\n";
  field(out, std::to_string(row.id));
  field(out, std::to_string(row.at));
  field(out, row.actor);
  field(out, row.action);
  field(out, row.target);
  field(out, row.address);
  field(out, row.detail);
  field(out, prev_hash);
  return out;
}

std::string audit_row_hash(const AuditRecord& row, std::string_view prev_hash) {
  std::string text = audit_canonical(row, prev_hash);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof digest);
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

bool AuditChainVerifier::add(const AuditRecord& row) {
  if (bad_id_ != 0) return false;
  auto fail = [&](int64_t id, std::string why) {
    bad_id_ = id;
    problem_ = std::move(why);
    return false;
  };
  if (row.id != last_id_ + 1) {
    if (row.id <= last_id_) return fail(row.id, fmt::format("row {} is out of order after row {}", row.id, last_id_));
    if (row.id == last_id_ + 2) return fail(last_id_ + 1, fmt::format("row {} was removed", last_id_ + 1));
    return fail(last_id_ + 1, fmt::format("rows {} to {} were removed", last_id_ + 1, row.id - 1));
  }
  if (row.hash.empty()) return fail(row.id, fmt::format("row {} carries no hash", row.id));
  if (audit_row_hash(row, row.prev_hash) != row.hash) {
    return fail(row.id, fmt::format("row {} was changed: its content does not match its hash", row.id));
  }
  if (row.prev_hash != head_) {
    return fail(row.id, fmt::format("row {} does not follow row {}: the chain was rewritten from here or row {} "
                                    "was changed",
                                    row.id, last_id_, last_id_));
  }
  last_id_ = row.id;
  head_ = row.hash;
  ++rows_;
  return true;
}

}  // namespace banshi::store
