#include "store/sqlite_schema.hpp"

#include "store/store.hpp"
#include "store/wal_scan.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

namespace outpost::store::detail {
namespace {

// One step of the schema per version. A new version appends a step (never edits an old
// one): durable AMQP exchanges, queues and bindings and plugin-owned tables will arrive
// this way, and a store written by this build migrates forward on the next start.
struct Migration {
  int to_version;
  const char* sql;
};

// Version 1. Kept lean for flash storage: no secondary indexes (the writer keeps
// reference counts in memory instead of asking entries by message id), and the keyed
// tables are WITHOUT ROWID so a row lives in one b-tree and a change dirties one page
// path rather than two.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE messages (
  id          INTEGER PRIMARY KEY,  -- Store::next_message_id
  topic       TEXT NOT NULL,
  payload     BLOB,                 -- NULL when empty
  qos         INTEGER NOT NULL,
  retain      INTEGER NOT NULL,
  expiry      INTEGER NOT NULL,     -- ms since the epoch, 0 = never
  properties  BLOB                  -- the core's encoding, opaque here; NULL when empty
);
CREATE TABLE entries (
  queue             TEXT NOT NULL,  -- "mqtt:<client id>", ...
  seq               INTEGER NOT NULL,
  message_id        INTEGER NOT NULL,
  qos               INTEGER NOT NULL,
  retain            INTEGER NOT NULL,
  state             INTEGER NOT NULL,  -- EntryState
  packet_id         INTEGER NOT NULL,
  subscription_ids  BLOB,              -- 4-byte little-endian ids; NULL when none
  PRIMARY KEY (queue, seq)
) WITHOUT ROWID;
CREATE TABLE retained (
  topic       TEXT PRIMARY KEY,
  id          INTEGER NOT NULL,
  payload     BLOB,
  qos         INTEGER NOT NULL,
  retain      INTEGER NOT NULL,
  expiry      INTEGER NOT NULL,
  properties  BLOB
) WITHOUT ROWID;
CREATE TABLE sessions (
  client_id        TEXT PRIMARY KEY,
  protocol_level   INTEGER NOT NULL,
  expiry_interval  INTEGER NOT NULL,
  disconnected_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE subscriptions (
  client_id        TEXT NOT NULL,
  filter           TEXT NOT NULL,
  qos              INTEGER NOT NULL,
  options          INTEGER NOT NULL,
  subscription_id  INTEGER NOT NULL,
  PRIMARY KEY (client_id, filter)
) WITHOUT ROWID;
CREATE TABLE incoming_qos2 (
  client_id  TEXT NOT NULL,
  packet_id  INTEGER NOT NULL,
  PRIMARY KEY (client_id, packet_id)
) WITHOUT ROWID;
)sql";

// Version 2: durable definitions of the AMQP side (exchanges, queues, bindings), each an
// opaque body under (kind, name). Their messages are ordinary entries ("amqp:<queue>").
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE definitions (
  kind  TEXT NOT NULL,
  name  TEXT NOT NULL,
  body  BLOB,
  PRIMARY KEY (kind, name)
) WITHOUT ROWID;
)sql";

// Version 3: facts about the store itself. `open` is 1 from the start of a broker on the
// store until its clean stop, and reaches the database file itself (a checkpoint), so it
// is there even when the write-ahead log is not: a store found open, without the log the
// unclean stop left, has lost whatever the log held (see open_store_database).
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE meta (
  key    TEXT PRIMARY KEY,
  value  INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
    {2, kSchemaV2},
    {3, kSchemaV3},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion,
              "one migration step per schema version");

std::string describe_rc(sqlite3* db, int rc) {
  const std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string os_error;
  if (db) {
    if (const int e = sqlite3_system_errno(db); e != 0) os_error = std::string(", ") + std::strerror(e);
  }
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
      return std::string("is not an SQLite database (its header is damaged, or another file took its place); ") +
             kRecoverHint;
    case SQLITE_CORRUPT:
      return "is damaged (" + msg + "); " + kRecoverHint;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "is locked by another process (is another Outpost running with this data directory?)";
    case SQLITE_CANTOPEN:
      return "cannot be opened (" + msg + os_error + ")";
    case SQLITE_READONLY:
      return "is read-only (" + msg + os_error + ")";
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return "is not accessible (" + msg + os_error + ")";
    case SQLITE_FULL:
      return "cannot be written: the disk is full";
    case SQLITE_IOERR:
      return "gives an I/O error (" + msg + os_error + ")";
    default:
      return "gives an error (" + msg + ")";
  }
}

// Single-value pragma or query; throws on failure.
std::int64_t query_int(Connection& db, const std::string& path, const char* sql, const char* doing) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db.get(), sql, -1, &raw, nullptr);
  if (rc != SQLITE_OK) throw_store_error(path, db.get(), rc, doing);
  std::int64_t v = 0;
  rc = sqlite3_step(raw);
  if (rc == SQLITE_ROW) {
    v = sqlite3_column_int64(raw, 0);
    rc = sqlite3_step(raw);
  }
  sqlite3_finalize(raw);
  if (rc != SQLITE_DONE) throw_store_error(path, db.get(), rc, doing);
  return v;
}

std::vector<std::string> query_texts(Connection& db, const std::string& path, const char* sql, const char* doing) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db.get(), sql, -1, &raw, nullptr);
  if (rc != SQLITE_OK) throw_store_error(path, db.get(), rc, doing);
  std::vector<std::string> rows;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(raw, 0));
    rows.emplace_back(t ? t : "");
  }
  sqlite3_finalize(raw);
  if (rc != SQLITE_DONE) throw_store_error(path, db.get(), rc, doing);
  return rows;
}

void exec_or_throw(Connection& db, const std::string& path, const char* sql, const char* doing) {
  const int rc = db.exec(sql);
  if (rc != SQLITE_OK) throw_store_error(path, db.get(), rc, doing);
}

std::uint64_t mem_available() {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char line[128];
  unsigned long long kib = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "MemAvailable: %llu kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib * 1024;
}

// Reads the database file once from start to end. The quick_check and the restore then
// visit pages in b-tree order, which on a cold cache means scattered reads: measured on a
// 141 MB store, 4.3 s for the quick_check alone, against 0.3 s to read the file in order
// plus 0.5 s to check it from the cache. Reads go through SQLite's own file handle:
// opening and closing a second descriptor on the file would drop the process's POSIX
// locks on it, the exclusive lock included. Skipped when the file would crowd out the
// memory (the reads would evict each other).
void prefetch(Connection& db) {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db.get(), "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK || !file ||
      !file->pMethods) {
    return;
  }
  sqlite3_int64 size = 0;
  if (file->pMethods->xFileSize(file, &size) != SQLITE_OK || size <= 0) return;
  if (static_cast<std::uint64_t>(size) > mem_available() / 2) return;
  constexpr int kChunk = 1 << 20;
  std::vector<char> buffer(kChunk);
  for (sqlite3_int64 offset = 0; offset < size; offset += kChunk) {
    const int n = static_cast<int>(std::min<sqlite3_int64>(kChunk, size - offset));
    if (file->pMethods->xRead(file, buffer.data(), n, offset) != SQLITE_OK) return;  // the check will tell
  }
}

// Whether another process holds SQLite's lock on the database file (the lock bytes at
// 1 GiB). Only asked when the log looks damaged: a broker running on the store may be
// rewriting its log under the scan. Opening and closing a descriptor drops this process's
// own POSIX locks on the file, which is harmless here: the start is about to fail anyway.
bool locked_by_another_process(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0x40000000;
  fl.l_len = 512 + 2;
  const bool locked = ::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  ::close(fd);
  return locked;
}

void check_integrity(Connection& db, const std::string& path) {
  // quick_check reads every page and verifies the b-tree structure (not index contents,
  // which the schema does not have): it catches damaged or truncated files before
  // restore could hand out half a store. Ten problems are plenty to name the damage.
  const auto rows = query_texts(db, path, "PRAGMA quick_check(10)", "checking its integrity");
  if (rows.size() == 1 && rows[0] == "ok") return;
  std::string detail;
  for (const auto& r : rows) {
    if (!detail.empty()) detail += "; ";
    detail += r;
  }
  throw StoreError("store database " + path + " is damaged (integrity check: " + detail + "); " + kRecoverHint);
}

void migrate(Connection& db, const std::string& path, int from_version) {
  for (const auto& m : kMigrations) {
    if (m.to_version <= from_version) continue;
    exec_or_throw(db, path, "BEGIN IMMEDIATE", "starting a schema migration");
    int rc = db.exec(m.sql);
    if (rc == SQLITE_OK) {
      char sql[96];
      std::snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d", kApplicationId,
                    m.to_version);
      rc = db.exec(sql);
    }
    if (rc == SQLITE_OK) rc = db.exec("COMMIT");
    if (rc != SQLITE_OK) {
      const std::string why = describe_rc(db.get(), rc);
      db.exec("ROLLBACK");
      throw StoreError("store database " + path + ": migrating the schema to version " +
                       std::to_string(m.to_version) + " failed: the file " + why);
    }
  }
}

void check_schema(Connection& db, const std::string& path) {
  const auto app = query_int(db, path, "PRAGMA application_id", "reading its application id");
  const auto version = query_int(db, path, "PRAGMA user_version", "reading its schema version");
  const auto objects = query_int(db, path, "SELECT count(*) FROM sqlite_schema", "reading its schema");
  if (app == 0 && version == 0 && objects == 0) {
    migrate(db, path, 0);  // a new, empty file
    // Until the first checkpoint a WAL database keeps everything in the -wal file and the
    // database file stays 0 bytes. Checkpointing now means a 0-byte store file without a
    // WAL can only be damage, which the opener refuses.
    exec_or_throw(db, path, "PRAGMA wal_checkpoint(TRUNCATE)", "writing the new schema");
    return;
  }
  if (app != kApplicationId) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08llx", static_cast<unsigned long long>(app) & 0xffffffffull);
    throw StoreError("store database " + path + " is an SQLite database but not an Outpost store (application id " +
                     hex + ", " + std::to_string(objects) + " schema objects); refusing to use it");
  }
  if (version > kSchemaVersion) {
    throw StoreError("store database " + path + " has schema version " + std::to_string(version) +
                     ", written by a newer Outpost; this build understands versions up to " +
                     std::to_string(kSchemaVersion) + " and will not guess at the newer layout");
  }
  if (version < 1) {
    throw StoreError("store database " + path + " is an Outpost store without a schema version (damaged?)");
  }
  if (version < kSchemaVersion) migrate(db, path, static_cast<int>(version));
}

}  // namespace

void throw_store_error(const std::string& path, sqlite3* db, int rc, const std::string& doing) {
  throw StoreError("store database " + path + " " + describe_rc(db, rc) + " (while " + doing + ")");
}

Connection open_store_database(const OpenSettings& s) {
  // The log is read before SQLite replays it: SQLite drops a damaged log's tail silently.
  const std::string wal_path = s.path + "-wal";
  const WalScan wal = scan_wal(wal_path);
  if (wal.damaged) {
    if (locked_by_another_process(s.path)) throw_store_error(s.path, nullptr, SQLITE_BUSY, "opening it");
    throw StoreError("store write-ahead log " + wal_path + " is damaged: " + wal.damage + "; " + kRecoverHint);
  }
  Connection db;
  if (const int rc = db.open(s.path, s.vfs); rc != SQLITE_OK) throw_store_error(s.path, db.get(), rc, "opening it");

  // EXCLUSIVE before the first access: with WAL this takes the file's exclusive lock on
  // the first read and keeps it, so a second broker on the same data directory fails at
  // once (busy timeout 0) instead of two writers sharing one store. It also keeps the WAL
  // index in process memory: no -shm file.
  // The page size of a new store (an existing one keeps its own). A commit appends every
  // page it changed to the log, and a message stored for an offline session changes two
  // (the last page of `messages` and of `entries`): with 1 KiB pages that is about 2 KiB
  // a commit instead of 8 KiB with SQLite's default 4 KiB (docs/performance.md, "Bytes
  // written per message"). Larger payloads span overflow pages either way.
  exec_or_throw(db, s.path, "PRAGMA page_size=1024", "setting the page size");
  exec_or_throw(db, s.path, "PRAGMA locking_mode=EXCLUSIVE", "taking the exclusive lock");
  const auto mode = query_texts(db, s.path, "PRAGMA journal_mode=WAL", "switching it to WAL");
  if (mode.size() != 1 || mode[0] != "wal") {
    throw StoreError("store database " + s.path + " cannot use write-ahead logging (journal mode stays " +
                     (mode.empty() ? std::string("unknown") : mode[0]) + ")");
  }
  // Makes sure the exclusive lock is held now, not at the first write.
  exec_or_throw(db, s.path, "BEGIN IMMEDIATE", "taking the exclusive lock");
  exec_or_throw(db, s.path, "COMMIT", "taking the exclusive lock");

  prefetch(db);
  if (s.quick_check) check_integrity(db, s.path);

  std::string sync = std::string("PRAGMA synchronous=") + s.synchronous;
  exec_or_throw(db, s.path, sync.c_str(), "setting synchronous");
  // Foreign keys stay off: the writer keeps messages and entries consistent itself, and
  // a per-row check would cost a lookup on every entry write. The WAL is truncated back
  // to 64 MiB after a checkpoint so one large burst does not keep its disk space.
  exec_or_throw(db, s.path, "PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY; PRAGMA journal_size_limit=67108864",
                "setting pragmas");

  check_schema(db, s.path);
  check_log_present(db, s.path, wal.exists);
  set_open_mark(db, s.path, true);
  return db;
}

void check_log_present(Connection& db, const std::string& path, bool wal_existed) {
  const auto open = query_int(db, path, "SELECT ifnull((SELECT value FROM meta WHERE key='open'), 0)",
                              "reading whether it was closed cleanly");
  if (open != 0 && !wal_existed) {
    throw StoreError("store database " + path + " was not closed cleanly and its write-ahead log " + path +
                     "-wal is missing: what was committed since the last checkpoint is lost (was the file copied "
                     "without its -wal, or the -wal deleted?); put the -wal file back beside it if you have it, "
                     "otherwise " + kRecoverHint);
  }
}

void set_open_mark(Connection& db, const std::string& path, bool open) {
  // Into the database file itself, not only the log: see kSchemaV3.
  exec_or_throw(db, path,
                open ? "INSERT OR REPLACE INTO meta(key, value) VALUES ('open', 1)"
                     : "INSERT OR REPLACE INTO meta(key, value) VALUES ('open', 0)",
                "marking it open");
  exec_or_throw(db, path, "PRAGMA wal_checkpoint(TRUNCATE)", "checkpointing the open mark");
}

}  // namespace outpost::store::detail
