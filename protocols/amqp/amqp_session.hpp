// AmqpSession: one AMQP 0-9-1 connection's state machine on top of a byte stream
// (proto::Link): protocol header, connection negotiation (start / tune / open), channels,
// and the methods of the exchange, queue, basic and confirm classes, driving the routing
// core through the Vhost. The method families live in handle_connection.cpp,
// handle_declare.cpp, handle_publish.cpp and deliver.cpp.
//
// Threading: created, used and destroyed on its connection's I/O thread. Other threads
// reach it only through Handle (queue wake-ups, store commits, queue deletions).
#pragma once

#include "amqp/codec/content.hpp"
#include "amqp/codec/frame.hpp"
#include "amqp/codec/method.hpp"
#include "amqp/vhost.hpp"
#include "common/link.hpp"
#include "common/publish_throttle.hpp"
#include "core/access.hpp"
#include "core/broker.hpp"
#include "core/publisher.hpp"
#include "core/trace_context.hpp"
#include "settings.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace outpost::amqp {

struct SessionContext {
  Vhost& vhost;
  const AmqpSettings& settings;
  LimitSettings limits;  // this listener's (limits_of)
  core::ListenerAccess access;
  // "connected" and "disconnected" lines at info (logging.connections).
  bool log_connections = true;
};

class AmqpSession;

// One basic.consume: what the queue wakes. Owned by its channel (shared so that the
// queue's weak reference and posted wake-ups can outlive it safely).
struct ConsumerState final : core::Consumer, QueueWatcher, std::enable_shared_from_this<ConsumerState> {
  AmqpSession* session = nullptr;  // null once cancelled or the connection ended
  std::uint16_t channel = 0;
  std::string tag;
  AmqpQueuePtr queue;
  bool no_ack = false;
  bool exclusive = false;
  std::uint32_t prefetch = 0;  // 0 = unlimited
  std::uint32_t unacked = 0;
  bool starved = false;  // stopped with messages left (no credit, write pressure)
  bool stalled = false;  // told the queue it has no credit (Queue::stall), until rearmed
  void on_messages_available() override;
  void on_queue_deleted(const std::string& queue) override;
};

class AmqpSession final : public proto::Session {
 public:
  AmqpSession(proto::Link& link, std::shared_ptr<const SessionContext> ctx);
  ~AmqpSession() override;

  std::size_t on_data(std::span<const std::uint8_t> data) override;
  void on_writable() override;
  void on_deadline() override;
  void on_closed(proto::CloseCause cause, std::string_view detail) override;
  void on_shutdown() override;
  void on_access_changed() override;

 private:
  friend struct ConsumerState;

  // The face this session shows to other threads.
  struct Handle final : core::PublisherOwner, core::LiveClient {
    AmqpSession* session = nullptr;
    void on_space_available() override;
    void on_durable(std::span<const core::HeldAck> acks) override;
    // The admin API (core::ClientDirectory), on the connection's thread.
    std::optional<core::ClientFigures> figures() override;
    void kick(const std::string& by) override;
  };

  // authenticating: start-ok was read and the authenticator has not answered yet.
  enum class Phase { header, start_ok, authenticating, tune_ok, open, opened, closing, closed };

  struct Unacked {
    std::uint64_t tag = 0;
    AmqpQueuePtr queue;
    core::Delivery delivery;
    std::shared_ptr<ConsumerState> consumer;  // null for basic.get
  };

  struct PendingPublish {
    std::string exchange;
    std::string routing_key;
    bool mandatory = false;
    bool have_header = false;
    ContentHeader header;
    std::vector<std::uint8_t> header_bytes;  // the header frame's payload (header.headers_raw points here)
    std::vector<std::uint8_t> body;
    std::uint64_t body_size = 0;
  };

  struct Channel {
    std::uint16_t id = 0;
    // Which channel.open of this connection made it: a confirm held for a commit belongs to
    // this opening, not to a channel opened later under the same number.
    std::uint32_t opening = 0;
    bool closing = false;  // sent channel.close, waiting for close-ok
    bool flow = true;      // channel.flow active
    bool confirm = false;
    std::uint64_t publish_seq = 0;
    std::uint64_t next_tag = 1;
    std::uint32_t prefetch_consumer = 0;  // basic.qos global=false: for consumers made after
    std::uint32_t prefetch_channel = 0;   // basic.qos global=true
    std::uint32_t unacked_count = 0;
    std::map<std::uint64_t, Unacked> unacked;
    std::map<std::string, std::shared_ptr<ConsumerState>> consumers;
    std::unique_ptr<PendingPublish> publish;
    std::string last_queue;  // the queue last declared: what an empty queue name means
  };

  // Frames.
  bool handle_frame(const FrameRead& f);
  bool handle_method(std::uint16_t channel, const Method& m);
  bool handle_content_header(Channel& ch, std::span<const std::uint8_t> payload);
  bool handle_content_body(Channel& ch, std::span<const std::uint8_t> payload);

  // handle_connection.cpp
  void send_start();
  bool handle_connection_method(const Method& m);
  bool handle_start_ok(const Method& m);
  void on_authenticated(core::AuthDecision decision, const std::string& mechanism);
  bool handle_tune_ok(const Method& m);
  bool handle_open(const Method& m);
  bool handle_channel_method(std::uint16_t channel, const Method& m);
  void arm_deadline();

  // handle_declare.cpp
  bool handle_exchange_method(Channel& ch, const Method& m);
  bool handle_queue_method(Channel& ch, const Method& m);
  // The access control's word on a binding (topic exchanges) and on consuming a queue.
  bool may_bind(const std::string& exchange, const std::string& key) const;
  bool may_consume(const std::string& queue) const;
  // RabbitMQ's resource permissions: true when allowed; otherwise the channel is closed
  // with 403 ACCESS_REFUSED ("configure access to queue 'q' in vhost '/' refused for user
  // 'u'") and `closed` is set to what the handler returns.
  bool permitted(Channel& ch, const Method* m, core::AccessControl::Permission permission,
                 core::AccessControl::Resource resource, std::string_view name, bool& closed);

  // handle_publish.cpp
  bool start_publish(Channel& ch, const Method& m);
  bool finish_publish(Channel& ch);
  // After a message of `bytes` (its body): pauses reading while the connection is above
  // limits.max_publish_rate / max_publish_bytes_rate (until on_deadline finds it under).
  void throttle_publish(std::uint64_t bytes);
  void confirm(Channel& ch, std::uint64_t seq, bool ack, bool needs_commit);
  void send_confirm(std::uint16_t channel, std::uint64_t seq, bool ack);
  // End of a read or of a delivery round: held confirms, wake-ups, congestion.
  void flush_publisher();

  // deliver.cpp
  bool handle_basic_method(Channel& ch, const Method& m);
  bool handle_consume(Channel& ch, const Method& m);
  void cancel_consumer(Channel& ch, const std::string& tag, bool requeue_nothing = false);
  bool handle_ack(Channel& ch, std::uint64_t tag, bool multiple, bool ack, bool requeue);
  bool handle_get(Channel& ch, const Method& m);
  void requeue_all(Channel& ch);
  void deliver(ConsumerState& c);
  void resume_starved(Channel* only);
  std::uint32_t credit(const Channel& ch, const ConsumerState& c) const;
  void send_content(std::uint16_t channel, const core::Message& m);
  void queue_deleted(ConsumerState& c);

  // Errors: a channel error closes the channel, a connection error the connection
  // (AMQP 0-9-1 section 1.2 / the reply codes).
  bool fail(std::uint16_t channel, const Error& e, const Method* m);
  // `trace`: the trace id of the message refused, for the log line (not sent to the client).
  bool channel_fail(Channel& ch, std::uint16_t code, std::string text, const Method* m, core::TraceNote trace = {});
  bool connection_error(std::uint16_t code, std::string text, const Method* m = nullptr,
                        std::uint16_t class_id = 0, std::uint16_t method_id = 0);
  void close_channel_state(Channel& ch);
  void end_all_channels();
  void close_link(std::string_view why);

  void send_method(std::uint16_t channel, std::uint16_t class_id, std::uint16_t method_id,
                   std::initializer_list<ArgIn> args);
  Channel* find_channel(std::uint16_t id);
  core::ClientInfo& client() noexcept { return publisher_.client(); }
  const core::ClientInfo& client() const noexcept { return publisher_.client(); }
  std::string describe() const;
  // The first reason given wins: what started the close, not how the socket ended.
  void set_close_reason(std::string reason);

  proto::Link& link_;
  std::shared_ptr<const SessionContext> ctx_;
  std::shared_ptr<Handle> handle_;
  core::DirectoryEntry directory_entry_;  // in the broker's client directory while open
  std::string connection_name_;           // the client property connection_name, if sent
  // Holds who this connection is (client()); its origin (an id the broker issues, shared
  // with MQTT sessions) also names the owner of its exclusive queues.
  core::Publisher publisher_;
  // Dead letters this connection's acks, rejects and expiries cause: the vhost's identity.
  core::Publisher dead_letters_;
  const std::uint64_t id_;
  Phase phase_ = Phase::header;
  std::uint16_t channel_max_ = 0;
  std::uint32_t frame_max_ = kFrameMinSize;  // until tune-ok
  std::uint16_t heartbeat_ = 0;               // seconds; 0 = none
  bool client_cancel_notify_ = false;
  bool client_blocked_notify_ = false;
  std::optional<std::string> write_permitted_exchange_;  // the last exchange write access was checked for
  bool blocked_ = false;  // connection.blocked sent, unblocked not yet
  std::chrono::steady_clock::time_point last_received_;
  std::chrono::steady_clock::time_point next_heartbeat_;
  std::chrono::steady_clock::time_point close_deadline_{};
  std::unordered_map<std::uint16_t, std::unique_ptr<Channel>> channels_;
  std::vector<std::uint8_t> out_;  // frames encoded while handling one read
  bool closed_ = false;
  bool opened_once_ = false;  // connection.open-ok was sent: the observer was told
  std::uint32_t channels_opened_ = 0;  // channel.open accepted so far (Channel::opening)
  std::string vhost_;            // as the client opened it
  std::string close_reason_;     // why the connection ends, for the "disconnected" line
  bool in_deliver_ = false;
  bool rate_paused_ = false;  // reading paused by the publish rate limit
  std::unique_ptr<proto::PublishThrottle> throttle_;  // with a publish rate limit, at the first message
};

// The factory a listener uses for AMQP connections.
proto::SessionFactory make_session_factory(Vhost& vhost, const AmqpSettings& settings, LimitSettings limits,
                                          core::ListenerAccess access, bool log_connections = true);

}  // namespace outpost::amqp
