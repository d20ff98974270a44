// store/postgres/migrations.h — the numbered schema migrations of the
// PostgreSQL store: the same numbers, tables and columns as the SQLite store's
// (store/sqlite/migrations.cc), in PostgreSQL's dialect.
//
// A migration, once released, never changes: a new schema takes a new number
// at the end, and the SAME number in both stores. docs/storage.md ("Database
// schema") describes every table.
#pragma once

#include <span>

namespace banshi::store::postgres {

struct Migration {
  int version;
  const char* description;
  const char* sql;  // one or more statements, run in the migration's transaction
};

// In ascending version order, starting at 1, without gaps.
std::span<const Migration> migrations();

}  // namespace banshi::store::postgres
