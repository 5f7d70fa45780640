#include "store/sqlite_check.hpp"

#include "store/sqlite_db.hpp"
#include "store/sqlite_schema.hpp"
#include "store/store.hpp"
#include "store/op_log.hpp"
#include "store/wal_scan.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sys/stat.h>

#include <ctime>
#include <memory>
#include <filesystem>
#include <system_error>

namespace outpost::store {
namespace {

namespace fs = std::filesystem;
using detail::Connection;
using detail::Statement;

// The store's tables with their keys, in the order recover copies them.
struct Table {
  const char* name;
  const char* key;  // ORDER BY ... DESC reads the b-tree from its other end
  std::uint64_t StoreCounts::*count;
};
constexpr Table kTables[] = {
    {"messages", "id", &StoreCounts::messages},
    {"entries", "queue, seq", &StoreCounts::entries},
    {"retained", "topic", &StoreCounts::retained},
    {"sessions", "client_id", &StoreCounts::sessions},
    {"subscriptions", "client_id, filter", &StoreCounts::subscriptions},
    {"incoming_qos2", "client_id, packet_id", &StoreCounts::incoming_qos2},
    {"definitions", "kind, name", &StoreCounts::definitions},
};

std::string errmsg(sqlite3* db, int rc) {
  return db ? fmt::format("{} ({})", sqlite3_errmsg(db), sqlite3_errstr(rc)) : sqlite3_errstr(rc);
}

// The store as it is, for reading only: no checkpoint at close (that would write the log
// into the file), no write at all; the exclusive lock, so a running broker is refused.
// A log that SQLite creates because it was missing is removed again afterwards.
class ReadOnlyStore {
 public:
  ReadOnlyStore(const std::string& path, bool wal_existed) : path_(path), wal_existed_(wal_existed) {
    rc_ = db_.open(path, "");
    if (rc_ == SQLITE_OK) {
      sqlite3_db_config(db_.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
      rc_ = db_.exec("PRAGMA locking_mode=EXCLUSIVE; PRAGMA query_only=1; BEGIN");
    }
  }
  ~ReadOnlyStore() {
    if (db_.get() && !sqlite3_get_autocommit(db_.get())) db_.exec("ROLLBACK");
    db_.close();
    std::error_code ec;
    if (!wal_existed_ && fs::exists(path_ + "-wal", ec) && fs::file_size(path_ + "-wal", ec) == 0) {
      fs::remove(path_ + "-wal", ec);
    }
  }
  ReadOnlyStore(const ReadOnlyStore&) = delete;
  ReadOnlyStore& operator=(const ReadOnlyStore&) = delete;

  int rc() const { return rc_; }
  sqlite3* get() const { return db_.get(); }
  std::string error() const { return errmsg(db_.get(), rc_); }

  // One integer, or the error.
  bool query(const std::string& sql, std::int64_t& out, std::string& error) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &s, nullptr);
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(s);
      if (rc == SQLITE_ROW) {
        out = sqlite3_column_int64(s, 0);
        rc = SQLITE_DONE;
      }
    }
    if (rc != SQLITE_DONE) error = errmsg(db_.get(), rc);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE;
  }

  bool has_table(const char* name) {
    std::int64_t n = 0;
    std::string ignored;
    return query(fmt::format("SELECT count(*) FROM sqlite_schema WHERE type='table' AND name='{}'", name), n,
                 ignored) &&
           n > 0;
  }

 private:
  std::string path_;
  bool wal_existed_;
  Connection db_;
  int rc_ = SQLITE_OK;
};

bool locked(int rc) { return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED; }

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

}  // namespace

CheckReport check_store(const std::string& dir) {
  CheckReport r;
  r.path = (fs::path(dir) / "outpost.db").string();
  struct stat st {};
  if (::stat(r.path.c_str(), &st) != 0) {
    r.problems.push_back("there is no store database here (" + r.path + " does not exist)");
    return r;
  }
  const WalScan wal = scan_wal(r.path + "-wal");
  if (wal.damaged) {
    r.problems.push_back("the write-ahead log " + r.path + "-wal is damaged: " + wal.damage);
  } else if (wal.exists && wal.transactions > 0) {
    r.notes.push_back(fmt::format("write-ahead log: {} frames, {} committed transactions (the broker did not stop "
                                  "cleanly; the next start replays them)",
                                  wal.valid_frames, wal.transactions));
  }
  if (st.st_size == 0 && !(wal.exists && wal.size > 0)) {
    r.problems.push_back("the database file is empty (0 bytes) and there is no write-ahead log: its contents are lost");
    return r;
  }

  ReadOnlyStore db(r.path, wal.exists);
  if (db.rc() != SQLITE_OK) {
    r.problems.push_back(locked(db.rc()) ? "the store is locked by another process (is the broker running?)"
                                         : "cannot be read: " + db.error());
    r.ok = false;
    return r;
  }
  std::int64_t app = 0, version = 0;
  std::string error;
  if (!db.query("PRAGMA application_id", app, error) || !db.query("PRAGMA user_version", version, error)) {
    r.problems.push_back(locked(sqlite3_errcode(db.get())) ? "the store is locked by another process (is the "
                                                              "broker running?)"
                                                            : "cannot be read: " + error);
    return r;
  }
  if (app != detail::kApplicationId) {
    r.problems.push_back(fmt::format("not an Outpost store (application id {:#010x})", app & 0xffffffff));
    return r;
  }
  if (version > detail::kSchemaVersion) {
    r.problems.push_back(fmt::format("schema version {} was written by a newer Outpost (this one knows up to {})",
                                     version, detail::kSchemaVersion));
    return r;
  }
  r.notes.push_back(fmt::format("schema version {}{}", version,
                                version < detail::kSchemaVersion
                                    ? fmt::format(" (the next start migrates it to {})", detail::kSchemaVersion)
                                    : std::string()));

  {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db.get(), "PRAGMA integrity_check(20)", -1, &s, nullptr);
    std::vector<std::string> rows;
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
      const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
      rows.emplace_back(t ? t : "");
      rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_OK) rows.push_back(errmsg(db.get(), rc));
    sqlite3_finalize(s);
    if (rows.size() == 1 && rows[0] == "ok") {
      r.notes.push_back("integrity check: ok");
    } else {
      for (const auto& row : rows) r.problems.push_back("integrity check: " + row);
    }
  }

  if (db.has_table("meta")) {
    std::int64_t open = 0;
    if (db.query("SELECT ifnull((SELECT value FROM meta WHERE key='open'), 0)", open, error) && open != 0 &&
        !wal.exists) {
      r.problems.push_back("the store was not closed cleanly and its write-ahead log " + r.path +
                           "-wal is missing: what was committed since the last checkpoint is lost");
    }
  }

  {
    // The operation log: records the database does not hold yet.
    bool exists = false;
    const detail::LogContents log = detail::read_log_file(r.path + "-log", exists);
    std::int64_t mark = 0;
    if (exists && db.has_table("meta")) {
      db.query("SELECT ifnull((SELECT value FROM meta WHERE key='log_applied'), 0)", mark, error);
    }
    std::size_t operations = 0;
    const std::size_t records = detail::records_above(log, static_cast<std::uint64_t>(mark), operations);
    if (!log.damage.empty()) {
      r.problems.push_back("the operation log " + r.path + "-log is damaged: " + log.damage +
                           " (`outpost store recover` keeps the records before it)");
    }
    if (records > 0) {
      r.notes.push_back(fmt::format("operation log: {} records, {} operations not yet in the database (the next "
                                    "start applies them)",
                                    records, operations));
    }
    if (log.torn) {
      r.notes.push_back(fmt::format("operation log: its last {} bytes are an incomplete record (a write that did "
                                    "not finish, never acknowledged); the next start drops them",
                                    log.file_bytes - log.valid_bytes));
    }
  }

  for (const auto& t : kTables) {
    if (!db.has_table(t.name)) continue;
    std::int64_t n = 0;
    if (db.query(fmt::format("SELECT count(*) FROM {}", t.name), n, error)) {
      r.counts.*t.count = static_cast<std::uint64_t>(n);
    } else {
      r.problems.push_back(fmt::format("table {} cannot be read: {}", t.name, error));
    }
  }
  r.ok = r.problems.empty();
  return r;
}

RecoverReport recover_store(const std::string& dir) {
  RecoverReport r;
  r.path = (fs::path(dir) / "outpost.db").string();
  if (!fs::exists(r.path)) throw StoreError("there is no store database to recover: " + r.path + " does not exist");
  // A suffix no earlier recover used (two in one second must not overwrite each other).
  std::string suffix = ".damaged-" + timestamp();
  for (int n = 2; fs::exists(r.path + suffix) || fs::exists(r.path + "-wal" + suffix); ++n) {
    suffix = ".damaged-" + timestamp() + "-" + std::to_string(n);
  }
  const std::string fresh_path = r.path + ".recovering";
  std::error_code ec;
  for (const char* ext : {"", "-wal", "-shm", "-log"}) fs::remove(fresh_path + ext, ec);  // a recover cut short
  const WalScan wal = scan_wal(r.path + "-wal");
  const std::string work = r.path + ".recovering-source";  // a repaired copy of a damaged log
  fs::remove_all(work, ec);

  // The operation log is read first: its entries may name messages the database holds
  // without an entry yet (a fold wrote the message ahead of them), which must stay.
  bool log_exists = false;
  detail::LogContents log;
  try {
    log = detail::read_log_file(r.path + "-log", log_exists);
  } catch (const StoreError& e) {
    r.notes.push_back(std::string(e.what()) + "; its records are lost");
  }

  {
    // Held on the store itself throughout, so that no broker starts on it meanwhile.
    ReadOnlyStore original(r.path, wal.exists);
    std::int64_t ignored = 0;
    std::string why;
    if (locked(original.rc()) || (original.rc() == SQLITE_OK && !original.query("PRAGMA user_version", ignored, why) &&
                                  locked(sqlite3_errcode(original.get())))) {
      throw StoreError("store database " + r.path + " is locked by another process (is the broker running?)");
    }
    // SQLite stops reading a damaged log at the damage; a copy with its checksums
    // re-chained lets it read on, taking the damaged frames as they are (the row copy
    // below skips what they break).
    std::unique_ptr<ReadOnlyStore> repaired;
    if (wal.damaged) {
      const std::string copy = (fs::path(work) / "outpost.db").string();
      long long frames = -1;
      if (fs::create_directories(work, ec); !ec && fs::copy_file(r.path, copy, ec) && !ec) {
        frames = write_unbroken_wal(r.path + "-wal", copy + "-wal");
      }
      if (frames >= 0) {
        repaired = std::make_unique<ReadOnlyStore>(copy, true);
        r.notes.push_back(fmt::format("the write-ahead log is damaged ({}); it was read past the damage (checksums of "
                                      "{} frame(s) recomputed, damaged pages taken as they are)",
                                      wal.damage, frames));
      } else {
        r.notes.push_back("the write-ahead log is damaged (" + wal.damage +
                          "); what it holds before the damage is kept, the rest cannot be read");
      }
    }
    ReadOnlyStore& old = repaired ? *repaired : original;
    detail::OpenSettings o;
    o.path = fresh_path;
    o.synchronous = "FULL";
    o.quick_check = false;
    Connection fresh = detail::open_store_database(o);
    fresh.exec("BEGIN");
    std::int64_t app = 0;
    std::string error;
    const bool opened = old.rc() == SQLITE_OK;
    const bool header_read = opened && old.query("PRAGMA application_id", app, error);
    if (!opened) {
      r.notes.push_back("the database cannot be opened (" + old.error() + "): nothing could be read");
    } else if (!header_read) {
      if (locked(sqlite3_errcode(old.get()))) {
        throw StoreError("store database " + r.path + " is locked by another process (is the broker running?)");
      }
      r.notes.push_back("its schema cannot be read (" + error + "); trying each table anyway");
    } else if (app == 0) {
      r.notes.push_back("the database holds nothing (an empty file, or its header was zeroed)");
    } else if (app != detail::kApplicationId) {
      throw StoreError(fmt::format("{} is not an Outpost store (application id {:#010x}); nothing was changed",
                                   r.path, app & 0xffffffff));
    }
    if (opened) {
      for (const auto& t : kTables) {
        if (header_read && !old.has_table(t.name)) continue;
        std::uint64_t read = 0;
        std::string failure;
        // Forwards until the first error, then backwards from the other end until the
        // first error: a damaged page in the middle costs only the rows it holds.
        for (const char* order : {"", " DESC"}) {
          sqlite3_stmt* sel = nullptr;
          int rc = sqlite3_prepare_v2(old.get(), fmt::format("SELECT * FROM {} ORDER BY {}{}", t.name, t.key, order)
                                                     .c_str(),
                                      -1, &sel, nullptr);
          if (rc != SQLITE_OK) {
            failure = errmsg(old.get(), rc);
            sqlite3_finalize(sel);
            break;
          }
          const int columns = sqlite3_column_count(sel);
          std::string insert = fmt::format("INSERT OR IGNORE INTO {} VALUES (", t.name);
          for (int i = 0; i < columns; ++i) insert += i ? ",?" : "?";
          insert += ")";
          Statement ins(fresh.get(), insert);
          while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
            for (int i = 0; i < columns; ++i) sqlite3_bind_value(ins.get(), i + 1, sqlite3_column_value(sel, i));
            const int irc = ins.step();
            ins.reset();
            if (irc != SQLITE_DONE) {
              sqlite3_finalize(sel);
              throw StoreError("cannot write the recovered store " + fresh_path + ": " + errmsg(fresh.get(), irc));
            }
            ++read;
          }
          if (rc != SQLITE_DONE && failure.empty()) failure = errmsg(old.get(), rc);
          sqlite3_finalize(sel);
          if (rc == SQLITE_DONE) break;  // read to the end: no second pass needed
        }
        if (!failure.empty()) {
          r.notes.push_back(fmt::format("table {}: rows past a damaged page could not be read ({})", t.name, failure));
        }
      }
    }
    // What the broker's restore would drop anyway: deliveries of a message that was not
    // recovered, and messages no delivery names, in the database or in the log.
    if (fresh.exec("DELETE FROM entries WHERE message_id NOT IN (SELECT id FROM messages)") == SQLITE_OK) {
      if (const int n = sqlite3_changes(fresh.get()); n > 0) {
        r.notes.push_back(fmt::format("{} queued deliveries dropped: their message could not be read", n));
      }
    }
    fresh.exec("CREATE TEMP TABLE log_named (id INTEGER PRIMARY KEY)");
    {
      Statement named(fresh.get(), "INSERT OR IGNORE INTO temp.log_named VALUES (?)");
      for (const auto& rec : log.records) {
        for (const auto& op : rec.ops) {
          if (const auto* put = std::get_if<detail::PutEntryOp>(&op.v)) {
            named.bind(1, put->e.message_id);
            named.step();
            named.reset();
          }
        }
      }
    }
    if (fresh.exec("DELETE FROM messages WHERE id NOT IN (SELECT message_id FROM entries) AND id NOT IN (SELECT id "
                   "FROM temp.log_named)") == SQLITE_OK) {
      if (const int n = sqlite3_changes(fresh.get()); n > 0) {
        r.notes.push_back(fmt::format("{} messages dropped: no queue that could be read holds them", n));
      }
    }
    if (fresh.exec("COMMIT") != SQLITE_OK) {
      throw StoreError("cannot write the recovered store " + fresh_path + ": " + sqlite3_errmsg(fresh.get()));
    }
    // What was kept, counted in the fresh store itself.
    for (const auto& t : kTables) {
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v2(fresh.get(), fmt::format("SELECT count(*) FROM {}", t.name).c_str(), -1, &s, nullptr) ==
              SQLITE_OK &&
          sqlite3_step(s) == SQLITE_ROW) {
        r.kept.*t.count = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
      }
      sqlite3_finalize(s);
    }
    detail::set_open_mark(fresh, fresh_path, false);
  }
  fs::remove_all(work, ec);

  // The operation log: the records before any damage go with the fresh store (its meta
  // table, copied above, has the mark that says which of them it holds already).
  if (log_exists) {
    if (!log.damage.empty()) {
      r.notes.push_back("the operation log is damaged (" + log.damage + "); the " +
                        std::to_string(log.records.size()) + " records before the damage are kept");
    }
    std::ifstream in(r.path + "-log", std::ios::binary);
    std::vector<char> bytes(static_cast<std::size_t>(log.valid_bytes));
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::ofstream out(fresh_path + "-log", std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!in || !out) throw StoreError("cannot copy the operation log into " + fresh_path + "-log");
  }

  for (const char* ext : {"", "-wal", "-shm", "-log"}) {
    const std::string from = r.path + ext;
    if (!fs::exists(from, ec)) continue;
    const std::string to = r.path + ext + suffix;
    fs::rename(from, to, ec);
    if (ec) throw StoreError("cannot move " + from + " aside to " + to + ": " + ec.message());
    r.moved.emplace_back(from, to);
  }
  for (const char* ext : {"-wal", "-shm"}) fs::remove(fresh_path + ext, ec);
  if (log_exists) {
    fs::rename(fresh_path + "-log", r.path + "-log", ec);
    if (ec) throw StoreError("cannot put the recovered operation log in place: " + ec.message());
  }
  fs::rename(fresh_path, r.path, ec);
  if (ec) throw StoreError("cannot put the recovered store " + fresh_path + " in place of " + r.path + ": " + ec.message());
  return r;
}

}  // namespace outpost::store
