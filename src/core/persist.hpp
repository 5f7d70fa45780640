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
std::uint64_t ensure_stored(const MessagePtr& message, store::Store& store);

// A message rebuilt from the store (its store id set). Null if its properties blob is
// damaged.
MessagePtr from_store(store::StoredMessage&& stored);

// Properties blob: a sequence of (tag byte, 4-byte little-endian length, bytes).
std::string encode_properties(const MessageProperties* properties);
std::optional<MessageProperties> decode_properties(std::string_view blob);

}  // namespace outpost::core
