// Reads an SQLite write-ahead log (the -wal file) the way SQLite's recovery does, before
// SQLite itself opens it, to find the damage SQLite would pass over in silence.
//
// SQLite replays the frames of a WAL from the start for as long as each frame carries the
// header's salts and its cumulative checksum matches, and stops at the first that does
// not: everything from there on is dropped without an error. That is right for a
// transaction torn by a crash (never acknowledged), and wrong for a flipped bit in the
// middle of the log, which drops every later transaction, acknowledged ones included. The
// scan tells them apart: after the first bad frame it checks each later frame against its
// predecessor's stored checksum; a later commit frame of the same log (same salts) that
// verifies means a committed transaction lies beyond the bad frame, so the bad frame is
// damage, not a tear (nor a transaction that was still being written).
// A header that fails its checksum over a log holding frames is damage too (SQLite would
// ignore the whole log).
//
// What the scan cannot see: a flipped bit in the last transaction of the log looks like a
// transaction torn by the crash (see docs/robustness.md, "Damaged stores").
//
// Pure file reading, no SQLite; safe on any thread; may block on the disk.
#pragma once

#include <cstdint>
#include <string>

namespace outpost::store {

struct WalScan {
  bool exists = false;
  std::uint64_t size = 0;
  bool header_ok = false;     // magic, version and header checksum
  std::uint32_t page_size = 0;
  std::uint64_t frames = 0;           // complete frames in the file (of any generation)
  std::uint64_t valid_frames = 0;     // frames SQLite will replay (up to the last commit)
  std::uint64_t transactions = 0;     // commit frames among them
  bool damaged = false;
  std::string damage;                 // what is wrong, in words, when damaged
};

// Scans `wal_path`. A missing file gives exists=false; an unreadable one is damage.
WalScan scan_wal(const std::string& wal_path);

// For `outpost store recover`: writes a copy of the log at `from` to `to` in which SQLite
// reads past the damage — the header checksum recomputed (its salts taken from the first
// frame when they no longer match it) and every frame of the log re-chained, damaged ones
// included, which are then taken as they are. Returns the number of frames whose checksum
// changed, or -1 when `from` is not a log that can be read this way.
long long write_unbroken_wal(const std::string& from, const std::string& to);

}  // namespace outpost::store
