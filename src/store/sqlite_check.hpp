// `outpost store check` and `outpost store recover`: an offline look at a store that the
// broker refuses to open, and a salvage of what can still be read into a fresh store.
//
// Both run without a broker (they take the store's exclusive lock, so a running broker
// makes them fail with "locked"), on the calling thread, and block on the disk. Neither
// deletes anything: check only reads; recover moves the damaged files aside.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace outpost::store {

struct StoreCounts {
  std::uint64_t messages = 0;
  std::uint64_t entries = 0;  // queued or in-flight deliveries of those messages
  std::uint64_t sessions = 0;
  std::uint64_t subscriptions = 0;
  std::uint64_t retained = 0;
  std::uint64_t definitions = 0;  // durable AMQP exchanges, queues, bindings
  std::uint64_t incoming_qos2 = 0;
};

struct CheckReport {
  std::string path;                   // the database file
  bool ok = false;
  std::vector<std::string> problems;  // each one makes ok false
  std::vector<std::string> notes;     // what was found, in words
  StoreCounts counts;
};

// Everything the broker checks at start, and more: the log scan, a full integrity_check,
// the schema, the open mark, and a count of what the store holds. Changes nothing.
CheckReport check_store(const std::string& dir);

struct RecoverReport {
  std::string path;
  StoreCounts kept;
  std::vector<std::string> notes;                                // what could not be read
  std::vector<std::pair<std::string, std::string>> moved;        // damaged file -> where it went
};

// Copies every row that can be read from <dir>/outpost.db (and its log, up to any damage)
// into a fresh store, moves the old files aside with a ".damaged-YYYYMMDD-HHMMSS" suffix
// and puts the fresh store in their place. Throws StoreError when there is no store or it
// is locked by a running broker.
RecoverReport recover_store(const std::string& dir);

}  // namespace outpost::store
