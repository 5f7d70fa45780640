// The write operations of SqliteStore as they wait for the writer thread: one value per
// Store call, kept in call order. `live` turns false when a later operation in the same
// batch makes this one pointless (see SqliteWriter::coalesce); a cancelled operation
// never reaches SQLite but still counts as done for every barrier after it.
#pragma once

#include "store/store.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <variant>

namespace outpost::store::detail {

struct PutMessageOp {
  MessageWrite m;
  std::uint64_t bytes = 0;  // topic + payload + properties, as added to bytes_used
  bool referenced = false;  // some put_entry in the same batch names this message
  std::uint32_t live_entries = 0;  // ... and this many of those are not cancelled
  bool written = false;     // inserted by the current transaction attempt
};
struct PutEntryOp {
  EntryRecord e;
};
struct UpdateEntryOp {
  std::string queue;
  std::uint64_t seq = 0;
  EntryState state = EntryState::queued;
  std::uint16_t packet_id = 0;
};
struct DeleteEntryOp {
  std::string queue;
  std::uint64_t seq = 0;
};
struct DeleteQueueOp {
  std::string queue;
};
struct PutRetainedOp {
  MessageWrite m;
};
struct DeleteRetainedOp {
  std::string topic;
};
struct PutSessionOp {
  SessionRecord s;
};
struct DeleteSessionOp {
  std::string client_id;
};
struct PutSubscriptionOp {
  SubscriptionRecord s;
};
struct DeleteSubscriptionOp {
  std::string client_id;
  std::string filter;
};
struct PutQos2Op {
  std::string client_id;
  std::uint16_t packet_id = 0;
};
struct DeleteQos2Op {
  std::string client_id;
  std::uint16_t packet_id = 0;
};
struct PutDefinitionOp {
  DefinitionRecord d;
};
struct DeleteDefinitionOp {
  std::string kind;
  std::string name;
};
struct BarrierOp {
  std::function<void()> on_durable;
};

struct Op {
  std::variant<PutMessageOp, PutEntryOp, UpdateEntryOp, DeleteEntryOp, DeleteQueueOp, PutRetainedOp,
               DeleteRetainedOp, PutSessionOp, DeleteSessionOp, PutSubscriptionOp, DeleteSubscriptionOp,
               PutQos2Op, DeleteQos2Op, PutDefinitionOp, DeleteDefinitionOp, BarrierOp>
      v;
  bool live = true;
  // When an entry put or delete was queued (the writer learns from it how soon consumers
  // acknowledge, see GroupCommit); left unset for the other operations.
  std::chrono::steady_clock::time_point at{};
};

// Figures shared between the callers' threads (stats()) and the writer.
struct Counters {
  std::atomic<std::uint64_t> messages{0};
  std::atomic<std::uint64_t> bytes{0};  // the would_exceed budget; callers add, the writer subtracts
  std::atomic<std::uint64_t> commits{0};
  std::atomic<std::uint64_t> operations{0};
  std::atomic<std::uint64_t> coalesced{0};
  std::atomic<std::uint64_t> commit_failures{0};
  std::atomic<bool> failing{false};
  // Written by the writer thread only.
  std::array<std::atomic<std::uint64_t>, kCommitSecondsBounds.size() + 1> commit_seconds{};
  std::atomic<std::uint64_t> commit_microseconds_sum{0};
  std::array<std::atomic<std::uint64_t>, kCommitOperationsBounds.size() + 1> commit_operations{};
};

}  // namespace outpost::store::detail
