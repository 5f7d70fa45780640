// Opening the store's SQLite database: exclusive lock, WAL, integrity check, and the
// schema by version number (PRAGMA user_version), migrated forward one step at a time.
// Everything here runs once at start-up and reports problems as StoreError naming the file.
#pragma once

#include "store/sqlite_db.hpp"

#include <string>

namespace outpost::store::detail {

// The schema this build writes. A database with a higher user_version was written by a
// newer Outpost and is refused rather than misread.
inline constexpr int kSchemaVersion = 2;

// PRAGMA application_id of an Outpost store ("OPST"), so another program's SQLite file
// in the data directory is refused instead of being taken for an empty store.
inline constexpr int kApplicationId = 0x4F505354;

struct OpenSettings {
  std::string path;             // the database file
  std::string vfs;              // empty = SQLite's default
  const char* synchronous = "FULL";
  bool quick_check = true;
};

// Opens (creating if missing) and prepares the database; throws StoreError.
Connection open_store_database(const OpenSettings& settings);

// StoreError for `rc` from an operation on the database at `path`, in words an operator
// can act on. `doing` says what was being done ("reading the schema version").
[[noreturn]] void throw_store_error(const std::string& path, sqlite3* db, int rc, const std::string& doing);

}  // namespace outpost::store::detail
