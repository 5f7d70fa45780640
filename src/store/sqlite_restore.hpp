// Restore: reads the whole store once at start-up, in the order RestoreVisitor documents,
// and rebuilds the writer's reference counts on the way. Runs on the starting thread
// before the writer thread exists; throws StoreError.
#pragma once

#include "store/ref_counts.hpp"
#include "store/sqlite_db.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <string>

namespace outpost::store::detail {

struct RestoreResult {
  std::uint64_t bytes = 0;       // topic + payload + properties of the messages kept
  std::uint64_t max_id = 0;      // highest message id seen (messages and retained)
  std::uint64_t orphans = 0;     // messages no entry named, deleted (Orphans::remove)
  std::uint64_t dangling = 0;    // entries whose message was missing, deleted
};

// What restore_store does with a message that no entry of the database names.
enum class Orphans {
  remove,  // deleted, never handed out: the start, once nothing else can name it
  // Kept with a count of 0 and not handed out: before the operation log is applied, whose
  // entries may name a message a fold wrote ahead of them.
  keep,
};

// Hands every record to `visitor` and fills `refs` with the number of entries per stored
// message. Orphan messages are handled as `orphans` says; entries whose message is missing
// are deleted and never handed out (they could not be delivered).
RestoreResult restore_store(Connection& db, const std::string& path, RefCounts& refs, RestoreVisitor& visitor,
                            Orphans orphans = Orphans::remove);

}  // namespace outpost::store::detail
