// OpLog: the store's operation log, a file beside the database ("outpost.db-log"). A
// batch of queue operations (message and entry puts, entry updates and deletes, incoming
// QoS 2 ids) is made durable by one append to it instead of one SQLite transaction; the
// writer thread folds what the log holds into the database in groups (SqliteStore::fold),
// where an entry put and its delete cancel before either is written, and then empties the
// log. At open, records not yet folded (their sequence number above the database's mark,
// meta.log_applied) are applied first, so restore and the store tools see one database.
//
// With `sync: normal` and `off` an append is a write to the page cache and emptying cuts
// the file. With `sync: full` (synced) an append is synced to the disk before it returns,
// and the file is never cut: emptying writes the floor record (no operations, the sequence
// number the fold applied) at its start and later records overwrite the older ones, so a
// commit changes no file size and costs the file system no journal commit of its own.
//
// Record: u32 body length, u32 CRC-32 of the body, body = u64 sequence, u32 operation
// count, operations; integers little-endian. Sequence numbers rise through the file. A
// synced log ends its records with an end marker, 8 zero bytes the next append writes
// over; what follows the marker (or a record cut short) is older records, at or below the
// floor, which reading skips. The file goes through the database's SQLite VFS, so the
// fault-injecting VFS of the tests reaches it too.
#pragma once

#include "store/sqlite_ops.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

struct sqlite3_file;
struct sqlite3_vfs;

namespace outpost::store::detail {

// Whether the log can carry an operation (the others take a transaction of their own,
// after what the log holds is folded).
bool loggable(const Op& op) noexcept;

// Appends the record of `ops` (live, loggable ones; barriers skipped) to `out`.
void encode_log_record(std::vector<std::uint8_t>& out, std::uint64_t seq, std::span<const Op> ops);

struct LogRecord {
  std::uint64_t seq = 0;
  std::vector<Op> ops;  // messages own their bytes (keep_alive)
};

struct LogContents {
  std::vector<LogRecord> records;
  std::uint64_t valid_bytes = 0;  // the whole records from the start
  std::uint64_t file_bytes = 0;
  // The bytes after valid_bytes: after an end marker, older records of a log rewritten in
  // place (neither torn nor damage); a record cut short (a write the process or the
  // machine did not finish; never acknowledged) is `torn`; a record that cannot be read
  // with a later one after it is damage, described in `damage`.
  bool torn = false;
  std::string damage;
};

// Parses a log's bytes.
LogContents decode_log(std::span<const std::uint8_t> bytes);

// Reads and parses the log file at `path` (the store tools, without a VFS); `exists`
// false when there is none. Throws StoreError when it cannot be read.
LogContents read_log_file(const std::string& path, bool& exists);

// Operations in the records of `c` above `mark`, and how many records those are.
std::size_t records_above(const LogContents& c, std::uint64_t mark, std::size_t& operations);

class OpLog {
 public:
  // Opens (creating it) `path` through `vfs` (nullptr: the default). Throws StoreError.
  OpLog(const std::string& db_path, const std::string& path, sqlite3_vfs* vfs);
  ~OpLog();
  OpLog(const OpLog&) = delete;
  OpLog& operator=(const OpLog&) = delete;

  // The whole file as it is.
  LogContents read();
  // Appends one record (synced: on the disk when it returns); on failure the file is cut
  // back to where the record began and the SQLite result code is returned (SQLITE_FULL,
  // SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC ...).
  int append(std::uint64_t seq, std::span<const Op> ops);
  // Empties the log once its records are applied, `applied` the last one's sequence
  // number (synced: the floor record); an SQLite result code.
  int clear(std::uint64_t applied);
  // Bytes of the records appended since the log was last emptied (at open: the file's).
  std::uint64_t size() const noexcept { return size_; }
  // sync full: appends synced, the file rewritten in place (see the top of this file).
  void set_synced(bool on) noexcept { synced_ = on; }
  const std::string& path() const noexcept { return path_; }

 private:
  // Writes buf_ at `offset`, in pieces the VFS takes; an SQLite result code.
  int write_at(std::uint64_t offset);

  std::string path_;
  sqlite3_vfs* vfs_ = nullptr;
  char* filename_ = nullptr;  // sqlite3_create_filename's, for the VFS
  std::unique_ptr<std::uint8_t[]> file_mem_;
  sqlite3_file* file_ = nullptr;
  std::uint64_t end_ = 0;  // where the next record goes
  std::uint64_t size_ = 0;
  bool synced_ = false;
  std::vector<std::uint8_t> buf_;
};

}  // namespace outpost::store::detail
