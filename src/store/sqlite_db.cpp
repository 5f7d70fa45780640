#include "store/sqlite_db.hpp"

#include "store/store.hpp"

namespace outpost::store::detail {

Statement::Statement(sqlite3* db, std::string_view sql) {
  // PERSISTENT: these statements live as long as the connection, which tells SQLite to
  // allocate them outside its short-lived lookaside memory.
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    throw StoreError("cannot prepare store statement (" + std::string(sqlite3_errmsg(db)) + "): " + std::string(sql));
  }
}

int Connection::open(const std::string& path, const std::string& vfs) {
  close();
  // NOMUTEX: a connection is only ever used by one thread at a time (see the header), so
  // SQLite's own per-call mutex would be pure cost on the writer's path.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, vfs.empty() ? nullptr : vfs.c_str());
  if (db_) sqlite3_extended_result_codes(db_, 1);
  return rc;
}

void Connection::close() noexcept {
  if (db_) {
    // close_v2 tolerates unfinalized statements (finalized later by their owners).
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

}  // namespace outpost::store::detail
