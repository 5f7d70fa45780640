// Message: what the routing core moves. Immutable once built and shared by reference
// count between every queue and delivery that holds it, so the payload exists once no
// matter how many subscribers receive it. Any thread may read a Message.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::core {

struct UserProperty {
  std::string key;
  std::string value;
};

// What a message carries beyond topic and payload. MQTT 5 properties and AMQP basic
// properties meet here (user properties <-> AMQP headers, correlation data <->
// correlation-id, response topic <-> reply-to). Absent in the common case (a null
// pointer in Message), so plain MQTT 3.1.1 traffic pays nothing for it.
struct MessageProperties {
  std::optional<std::uint8_t> payload_format;  // MQTT 5 payload format indicator
  std::string content_type;
  std::string content_encoding;                // AMQP
  std::string response_topic;                  // canonical form
  std::string correlation_data;                // binary
  std::string message_id;                      // AMQP
  std::string type;                            // AMQP
  std::string app_id;                          // AMQP
  std::string user_id;                         // AMQP
  std::optional<std::uint64_t> timestamp;      // AMQP, seconds since the epoch
  std::optional<std::uint8_t> priority;        // AMQP
  std::vector<UserProperty> user_properties;   // order kept [MQTT-3.3.2-18]
  // AMQP only: what an AMQP publish carries that has no MQTT counterpart, so that AMQP to
  // AMQP keeps it exactly (protocols/amqp/properties.cpp maps the rest).
  std::optional<std::string> amqp_exchange;   // the exchange it was published to
  bool amqp_key_verbatim = false;             // topic is the routing key as given (not topic form)
  std::string amqp_headers;                   // headers table as received (encoded, every field type)
  std::string amqp_expiration;                // expiration property as given
  std::string amqp_cluster_id;
  std::optional<std::uint8_t> amqp_delivery_mode;
};

using Clock = std::chrono::steady_clock;

class Message {
 public:
  struct Init {
    std::string topic;  // canonical: levels separated by '/'
    std::span<const std::uint8_t> payload;
    std::uint8_t qos = 0;
    bool retain = false;
    // Who published it, for MQTT 5 "no local" and for logs. 0 = a plugin or the broker.
    std::uint64_t origin = 0;
    // Absolute wall-clock expiry in milliseconds since the epoch; 0 = never. Wall clock
    // rather than steady clock so it survives a restart of the broker.
    std::int64_t expiry_unix_ms = 0;
    std::shared_ptr<const MessageProperties> properties;
  };

  // The only copy of the payload is made here.
  static std::shared_ptr<const Message> make(Init init);

  const std::string& topic() const noexcept { return topic_; }
  std::span<const std::uint8_t> payload() const noexcept { return payload_; }
  std::uint8_t qos() const noexcept { return qos_; }
  bool retain() const noexcept { return retain_; }
  std::uint64_t origin() const noexcept { return origin_; }
  std::int64_t expiry_unix_ms() const noexcept { return expiry_unix_ms_; }
  const MessageProperties* properties() const noexcept { return properties_.get(); }
  const std::shared_ptr<const MessageProperties>& properties_ptr() const noexcept { return properties_; }
  // The id under which the store holds this message (0 = not stored). Set once: by
  // core::ensure_stored, or when the message is restored.
  std::uint64_t store_id() const noexcept { return store_id_.load(std::memory_order_acquire) & ~kStoring; }
  void assign_store_id(std::uint64_t id) const noexcept { store_id_.store(id, std::memory_order_release); }
  // For ensure_stored: claims the right to store the message; false if another thread
  // has it (then wait for store_id()).
  bool claim_store_id(std::uint64_t id) const noexcept {
    std::uint64_t expected = 0;
    return store_id_.compare_exchange_strong(expected, id | kStoring, std::memory_order_acq_rel);
  }
  bool storing() const noexcept { return (store_id_.load(std::memory_order_acquire) & kStoring) != 0; }

  // Bytes this message accounts for in queue limits.
  std::size_t accounted_size() const noexcept { return topic_.size() + payload_.size() + 64; }

  bool expired(std::int64_t now_unix_ms) const noexcept {
    return expiry_unix_ms_ != 0 && now_unix_ms >= expiry_unix_ms_;
  }

  // A copy with another topic/retain flag (e.g. a will, or a retained copy) sharing the
  // properties; the payload is copied, so use only off the hot path.
  std::shared_ptr<const Message> with_retain(bool retain) const;

  // Use make(): the payload lives in the same allocation as the message, behind it.
  struct Tail {
    std::uint8_t* bytes = nullptr;
  };
  Message(Init&& init, const Tail& tail);

 private:
  std::string topic_;
  std::span<const std::uint8_t> payload_;
  std::uint8_t qos_;
  bool retain_;
  std::uint64_t origin_;
  std::int64_t expiry_unix_ms_;
  std::shared_ptr<const MessageProperties> properties_;
  static constexpr std::uint64_t kStoring = std::uint64_t{1} << 63;
  mutable std::atomic<std::uint64_t> store_id_{0};
};

using MessagePtr = std::shared_ptr<const Message>;

// Milliseconds since the epoch, for expiry deadlines.
std::int64_t now_unix_ms();

}  // namespace outpost::core
