// Conversions between the core's messages and the store's records. The store keeps
// message properties as an opaque blob; its layout is defined here (and only here), so a
// change to it is a schema change of the core's, not of the store's.
#pragma once

#include "core/message.hpp"
#include "store/store.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace outpost::core {

// A write of `message` (id already assigned); keeps the message alive until written.
store::MessageWrite to_store(const MessagePtr& message, std::uint64_t id);

// The message's store id, writing the message to the store first if no one has yet.
// Any thread: however many queues take it, a message is written once, and its write is
// queued in the store before any caller gets the id (so entries never precede it).
//
// The store deletes a message with its last entry. So that a consumer acknowledging the
// first queue's copy cannot take the message away before the other queues' entries are
// written, the write also puts a "pin" entry; whoever wrote the message (`*pinned` set
// to true) calls unpin() once all its entries are queued. A pin put and removed within
// one commit group never reaches the disk; pins left by a crash are cleared at start.
std::uint64_t ensure_stored(const MessagePtr& message, store::Store& store, bool* pinned = nullptr);
void unpin(store::Store& store, std::uint64_t id);
// The store queue that holds pins.
inline constexpr std::string_view kPinQueue = "core:pin";

// A message rebuilt from the store (its store id set). Null if its properties blob is
// damaged.
MessagePtr from_store(store::StoredMessage&& stored);

// Properties blob: a sequence of (tag byte, 4-byte little-endian length, bytes).
std::string encode_properties(const MessageProperties* properties);
std::optional<MessageProperties> decode_properties(std::string_view blob);

}  // namespace outpost::core
