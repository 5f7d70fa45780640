// Thin owners for an SQLite connection and its prepared statements, so every handle is
// finalized or closed exactly once. Nothing here throws except prepare(), which runs at
// open; stepping returns SQLite result codes, because the writer must turn a failed
// statement into a rollback and a retry, never into an exception.
//
// Not thread-safe: one thread uses a connection at a time (the opener, then restore, then
// the writer thread, each handing over through thread start/join).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace outpost::store::detail {

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, std::string_view sql);  // throws StoreError
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(Statement&& o) noexcept : stmt_(std::exchange(o.stmt_, nullptr)) {}
  Statement& operator=(Statement&& o) noexcept {
    if (this != &o) {
      sqlite3_finalize(stmt_);
      stmt_ = std::exchange(o.stmt_, nullptr);
    }
    return *this;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  sqlite3_stmt* get() const noexcept { return stmt_; }

  // Binds (1-based). Text and blobs are bound without a copy: the caller keeps them alive
  // until the statement is reset, which every user does right after stepping.
  void bind(int i, std::int64_t v) noexcept { sqlite3_bind_int64(stmt_, i, v); }
  void bind(int i, std::uint64_t v) noexcept { sqlite3_bind_int64(stmt_, i, static_cast<std::int64_t>(v)); }
  void bind(int i, std::uint32_t v) noexcept { sqlite3_bind_int64(stmt_, i, v); }
  void bind(int i, int v) noexcept { sqlite3_bind_int(stmt_, i, v); }
  void bind_text(int i, std::string_view s) noexcept {
    // A default string_view has no data pointer, which SQLite would bind as NULL.
    sqlite3_bind_text(stmt_, i, s.data() ? s.data() : "", static_cast<int>(s.size()), SQLITE_STATIC);
  }
  // An empty blob is stored as NULL (one header byte either way) and read back as empty.
  void bind_blob(int i, const void* data, std::size_t size) noexcept {
    if (size == 0) {
      sqlite3_bind_null(stmt_, i);
    } else {
      sqlite3_bind_blob(stmt_, i, data, static_cast<int>(size), SQLITE_STATIC);
    }
  }

  int step() noexcept { return sqlite3_step(stmt_); }
  void reset() noexcept { sqlite3_reset(stmt_); }

  std::int64_t int64(int col) const noexcept { return sqlite3_column_int64(stmt_, col); }
  std::string_view text(int col) const noexcept {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : std::string_view();
  }
  std::span<const std::uint8_t> blob(int col) const noexcept {
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, col));
    return p ? std::span<const std::uint8_t>(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::span<const std::uint8_t>();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement when the scope ends, so no early return leaves it mid-step (a
// statement left running would keep its read transaction open).
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& s) noexcept : s_(s) {}
  ~ResetOnExit() { s_.reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  Statement& s_;
};

class Connection {
 public:
  Connection() = default;
  ~Connection() { close(); }
  Connection(Connection&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
  Connection& operator=(Connection&&) = delete;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Opens read-write, creating the file; `vfs` empty = SQLite's default. Returns the
  // result code; on failure errmsg() says why.
  int open(const std::string& path, const std::string& vfs);
  void close() noexcept;

  sqlite3* get() const noexcept { return db_; }
  // Runs SQL without results (pragmas that return nothing, BEGIN, COMMIT, ...).
  int exec(const char* sql) noexcept { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }
  std::string errmsg() const { return db_ ? sqlite3_errmsg(db_) : "out of memory"; }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace outpost::store::detail
