// Opening the store's SQLite database: exclusive lock, WAL, integrity check, and the
// schema by version number (PRAGMA user_version), migrated forward one step at a time.
// Everything here runs once at start-up and reports problems as StoreError naming the file.
#pragma once

#include "store/sqlite_db.hpp"

#include <string>

namespace outpost::store::detail {

// The schema this build writes. A database with a higher user_version was written by a
// newer Outpost and is refused rather than misread.
inline constexpr int kSchemaVersion = 3;

// PRAGMA application_id of an Outpost store ("OPST"), so another program's SQLite file
// in the data directory is refused instead of being taken for an empty store.
inline constexpr int kApplicationId = 0x4F505354;

struct OpenSettings {
  std::string path;             // the database file
  std::string vfs;              // empty = SQLite's default
  const char* synchronous = "FULL";
  bool quick_check = true;
};

// What an operator does about a damaged store; ends every such StoreError.
inline constexpr const char* kRecoverHint =
    "run 'outpost store check' for details and 'outpost store recover' to keep what can be read (with the "
    "broker's -c FILE or --data-dir DIR); recover moves the damaged files aside, it deletes nothing";

// Opens (creating if missing) and prepares the database; throws StoreError. Refuses a
// damaged write-ahead log (scan_wal) and a store that was not closed cleanly whose log is
// missing; marks the store open (set_open_mark), in the database file itself.
Connection open_store_database(const OpenSettings& settings);

// The store was left open (an unclean stop) and its log is gone: StoreError.
void check_log_present(Connection& db, const std::string& path, bool wal_existed);

// Writes meta.open and checkpoints it (TRUNCATE) into the database file. Throws StoreError.
void set_open_mark(Connection& db, const std::string& path, bool open);

// StoreError for `rc` from an operation on the database at `path`, in words an operator
// can act on. `doing` says what was being done ("reading the schema version").
[[noreturn]] void throw_store_error(const std::string& path, sqlite3* db, int rc, const std::string& doing);

}  // namespace outpost::store::detail
