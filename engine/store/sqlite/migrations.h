// store/sqlite/migrations.h — the numbered schema migrations of the SQLite store.
//
// A migration, once released, never changes: a new schema takes a new number
// at the end. docs/storage.md ("Database schema") describes every table.
#pragma once

#include <span>

namespace banshi::store::sqlite {

struct Migration {
  int version;
  const char* description;
  const char* sql;  // one or more statements, run in the migration's transaction
};

// In ascending version order, starting at 1, without gaps.
std::span<const Migration> migrations();

}  // namespace banshi::store::sqlite
