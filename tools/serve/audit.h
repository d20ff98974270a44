// serve/audit.h — `banshi audit verify`: walks the audit trail's hash chain
// (store/audit_chain.h) of the database `banshi serve` uses.
#pragma once

#include "serve/serve.h"

namespace banshi::serve {

// Exit 0 when every row verifies (prints the row count and the head hash);
// 1 naming the first changed or removed row, or when the store cannot be
// read; 2 on a usage or configuration error. Reads only: never migrates.
// `known_head`, when given, is a head printed by an earlier run and kept
// elsewhere: the chain must still pass through it, which also shows rows
// removed from its end.
int run_audit_verify(const ServeOptions& options, const std::string& known_head = {});

}  // namespace banshi::serve
