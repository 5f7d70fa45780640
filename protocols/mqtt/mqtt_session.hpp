// MqttSession: one MQTT connection's protocol state machine (3.1, 3.1.1 and 5.0) on top
// of a byte stream (proto::Link). It decodes packets with the codec, drives the routing
// core (publish, subscribe, session hand-over) and encodes what the client must receive.
// The packet families live in handle_connect.cpp, handle_publish.cpp,
// handle_subscribe.cpp and deliver.cpp.
//
// Threading: created, used and destroyed on its connection's I/O thread. Other threads
// reach it only through `Handle` (a weak_ptr they post to the connection's executor).
//
// Memory: one lives per connected client, most of them idle, so what an idle connection
// does not use (close reason, congested queues, acknowledgements waiting for the store,
// log rate windows, topic aliases, enhanced authentication) is allocated on first use.
#pragma once

#include "common/link.hpp"
#include "common/publish_throttle.hpp"
#include "core/access.hpp"
#include "core/broker.hpp"
#include "core/publisher.hpp"
#include "mqtt/codec/codec.hpp"
#include "mqtt/enhanced_auth.hpp"
#include "mqtt/inflight_window.hpp"
#include "mqtt/session_state.hpp"
#include "settings.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace outpost::mqtt {

// What every MQTT session of one listener shares. Owned by the listener's session
// factory, which outlives the sessions it makes (a listener outlives its connections).
struct SessionContext {
  core::Broker& broker;
  const MqttSettings& settings;
  LimitSettings limits;  // this listener's (limits_of)
  core::ListenerAccess access;
  // Enhanced authentication methods (plugins); null: none, so 0x8C for any method.
  std::shared_ptr<const EnhancedAuth> enhanced_auth;
  // "connected" and "disconnected" lines at info (logging.connections).
  bool log_connections = true;
};

class MqttSession final : public proto::Session {
 public:
  MqttSession(proto::Link& link, const SessionContext& ctx);
  ~MqttSession() override;

  std::size_t on_data(std::span<const std::uint8_t> data) override;
  void on_writable() override;
  void on_closed(proto::CloseCause cause, std::string_view detail) override;
  void on_shutdown() override;
  void on_access_changed() override;
  void on_deadline() override;

 private:
  // The face this session shows to other threads: queue wake-ups, takeover, flow
  // control. Cleared when the connection ends, so late posts find nobody. It has an
  // allocation of its own: the connection keeps running (lingering) after it destroyed
  // its session, so a pointer into the connection's block would outlive the session.
  struct Handle final : core::Consumer, core::SessionOwner, core::PublisherOwner, core::LiveClient {
    MqttSession* session = nullptr;  // touched on the connection's thread only
    // Set before the handle is given to the session registry, then never changed: the
    // registry asks for the executor from other threads.
    std::weak_ptr<proto::Link> link;
    void on_messages_available() override;
    boost::asio::any_io_executor executor() const override;
    void on_taken_over() override;
    void on_space_available() override;
    void on_durable(std::span<const core::HeldAck> acks) override;
    // The admin API (core::ClientDirectory), on the connection's thread.
    std::optional<core::ClientFigures> figures() override;
    void kick(const std::string& by) override;
  };

  // authenticating: CONNECT was read and the authenticator has not answered yet.
  enum class Phase : std::uint8_t { awaiting_connect, authenticating, awaiting_auth, awaiting_session, connected, closing };

  // One packet; returns false when the connection is being closed.
  bool handle_packet(const FixedHeader& header, std::span<const std::uint8_t> body);

  // handle_connect.cpp
  bool handle_connect(std::span<const std::uint8_t> body);
  // The authenticator's answer, on this thread: refuse, or claim the session.
  void on_authenticated(core::AuthDecision decision);
  void on_session_claimed(std::shared_ptr<core::Session> existing, bool superseded);
  void refuse_connect(ReasonCode reason, std::string_view why);
  // After CONNECT (and any enhanced authentication): take the client id's session.
  void claim_session();
  // AUTH from the client, during CONNECT or to re-authenticate (section 4.12).
  bool handle_auth(std::span<const std::uint8_t> body);
  // Runs one round of the exchange and acts on its outcome; false once the packet loop
  // must stop (refused, or waiting for the session).
  bool auth_step(std::string_view client_data, bool reauthenticating);
  void send_connack(bool session_present, ReasonCode reason, std::string_view why = {});
  void handle_disconnect(std::span<const std::uint8_t> body);
  void send_disconnect(ReasonCode reason, std::string_view why = {});
  bool keep_session() const;
  void publish_will();
  core::MessagePtr build_will(std::int64_t publish_unix_ms);
  void start_keepalive();
  // The one deadline of the link: keepalive, and the end of a publish rate pause.
  void arm_deadline();

  // handle_publish.cpp
  bool handle_publish(const FixedHeader& header, std::span<const std::uint8_t> body);
  bool handle_puback(std::span<const std::uint8_t> body);
  bool handle_pubrec(std::span<const std::uint8_t> body);
  bool handle_pubrel(std::span<const std::uint8_t> body);
  bool handle_pubcomp(std::span<const std::uint8_t> body);
  bool complete_outgoing(PacketType type, OutFlight::Stage expected, std::span<const std::uint8_t> body);
  void send_ack(PacketType type, std::uint16_t packet_id, ReasonCode reason = ReasonCode::success);
  // Sends the acknowledgement now, or once the store has committed what this publish
  // wrote (`needs_commit`) [the durability rule: nothing acknowledged is lost].
  void acknowledge_when_durable(PacketType type, std::uint16_t packet_id, ReasonCode reason, bool needs_commit);
  void log_store_full();
  // End of a read: held acknowledgements, wake-ups, and a pause if a queue is congested.
  void flush_publisher();
  // Moves the packet's forwarded properties into the message.
  core::MessagePtr make_message(PublishPacket& p, std::string topic);
  // The topic a PUBLISH with a topic alias names, or nullopt after failing the
  // connection (alias out of range, or used before it was set) [MQTT-3.3.2-7..12].
  std::optional<std::string_view> resolve_topic_alias(std::uint16_t alias, std::string_view topic);
  // After a PUBLISH of `bytes` (the whole packet): true when the client went above
  // limits.max_publish_rate / max_publish_bytes_rate and reading paused (or, MQTT 5 and
  // above it for publish_rate_disconnect_after, the connection is closing).
  bool throttle_publish(std::size_t bytes);
  void resume_after_throttle(std::chrono::steady_clock::time_point now);
  // A refusal by a limit, logged at most once a second per client (a client could
  // otherwise flood the log); the lines held back are counted in the next one.
  void log_limit(std::string_view line);

  // handle_subscribe.cpp
  bool handle_subscribe(std::span<const std::uint8_t> body);
  bool handle_unsubscribe(std::span<const std::uint8_t> body);
  void queue_retained(const std::string& filter, const SubscriptionRecord& record);

  // deliver.cpp
  void deliver();
  // Sends from one queue within the window; `shared` and `record` for a shared group's.
  void drain(core::Queue& queue, const core::QueuePtr* shared, const SubscriptionRecord* record);
  // False (and nothing written) when the packet is larger than the client accepts.
  bool send_publish(const core::Delivery& d, std::uint16_t packet_id, bool dup);
  void resend_inflight();

  // Close after a protocol violation: log it, tell a 5.0 client why, close.
  void fail(ReasonCode reason, std::string_view why);
  void close(std::string_view why);
  void flush_wakeups() { publisher_.wakeups().flush(); }
  // QoS 1/2 messages that may be unacknowledged towards the client now.
  std::size_t send_window() const noexcept;
  // An acknowledgement that ends an outgoing exchange (PUBACK, PUBCOMP, failing PUBREC).
  void outgoing_done(std::uint16_t packet_id);
  InflightWindow* window() const noexcept;
  // The rarely used state below, allocated by the first call.
  struct Extras;
  Extras& extras();
  std::uint32_t puback_waiting() const noexcept;
  void end_session();
  std::string describe() const;
  core::ClientInfo& client() noexcept { return publisher_.client(); }
  const core::ClientInfo& client() const noexcept { return publisher_.client(); }
  // Scratch for encoding a packet before Link::write (which copies it); cleared.
  static std::vector<std::uint8_t>& encode_buffer();
  // A reason string for CONNACK / DISCONNECT from a log message.
  static std::string reason_text(std::string_view why);
  core::QueueLimits queue_limits() const;

  proto::Link& link_;
  const SessionContext* ctx_;
  std::shared_ptr<Handle> handle_;
  core::DirectoryEntry directory_entry_;  // in the broker's client directory while connected
  // Holds who this client is (client()). Its client id is shared with the session state
  // and the registry's entry (one copy of the characters); its origin is the session
  // state's.
  core::Publisher publisher_;
  std::shared_ptr<SessionState> state_;
  // The will as CONNECT gave it, published on an abnormal end (built then, so that its
  // expiry counts from the publication).
  struct PendingWill {
    core::Message::Init init;
    std::vector<std::uint8_t> payload;
    std::uint32_t delay = 0;                       // will delay interval, seconds
    std::optional<std::uint32_t> expiry_interval;  // message expiry interval, seconds
  };
  std::unique_ptr<PendingWill> pending_will_;
  std::unique_ptr<Extras> extras_;
  std::chrono::steady_clock::time_point last_packet_;
  std::optional<std::uint32_t> session_expiry_;  // seconds; nullopt = never (3.1.1 persistent)
  std::uint16_t keepalive_ = 0;
  Phase phase_ = Phase::awaiting_connect;
  ProtocolVersion version_ = ProtocolVersion::v311;

  // What a 5.0 client asked of the packets we send it (CONNECT properties).
  std::uint16_t client_receive_maximum_ = 65535;  // its receive maximum [MQTT-3.3.4-9]
  std::uint16_t client_alias_maximum_ = 0;        // topic aliases it accepts from us
  std::uint32_t client_max_packet_ = 0;           // largest packet it accepts; 0 = no limit
  bool problem_information_ = true;               // reason strings allowed beyond CONNACK/DISCONNECT
  bool client_receive_maximum_set_ = false;       // it announced one (else the window adapts)

  bool clean_start_ = true;
  bool assigned_client_id_ = false;
  bool server_keepalive_ = false;
  bool will_cleared_ = false;         // normal DISCONNECT: no will [MQTT-3.1.2-10]
  bool shutting_down_ = false;
  bool closed_ = false;
  bool delivering_ = false;
  bool rate_paused_ = false;  // reading paused by the publish rate limit

  // Topic aliases of this connection, both directions [MQTT-3.3.2-7: they do not outlive
  // it].
  struct TopicAliases {
    std::vector<std::string> inbound;                          // alias - 1 -> topic
    std::unordered_map<std::string, std::uint16_t> outbound;   // topic -> alias we assigned
  };
  // An enhanced authentication in progress or done (only when CONNECT named a method).
  struct AuthState {
    std::string method;
    std::unique_ptr<AuthExchange> exchange;
    std::string final_data;  // for CONNACK
  };
  AuthState* auth() const noexcept;
};

struct MqttSession::Extras {
  std::string close_reason;
  std::uint32_t puback_waiting = 0;       // QoS 1 acknowledgements the publisher holds for a commit
  std::chrono::steady_clock::time_point store_full_logged{};
  std::unique_ptr<TopicAliases> aliases;  // allocated at first use
  std::unique_ptr<AuthState> auth;
  std::unique_ptr<proto::PublishThrottle> throttle;  // with a publish rate limit, at the first PUBLISH
  std::chrono::steady_clock::time_point limit_logged{};
  std::uint64_t limit_unlogged = 0;
  // Towards a client without a Receive Maximum: made the first time the window holds
  // delivery back (until then the window is InflightWindow::kInitial, within the cap).
  std::unique_ptr<InflightWindow> window;
};

inline MqttSession::Extras& MqttSession::extras() {
  if (!extras_) extras_ = std::make_unique<Extras>();
  return *extras_;
}
inline std::uint32_t MqttSession::puback_waiting() const noexcept { return extras_ ? extras_->puback_waiting : 0; }
inline InflightWindow* MqttSession::window() const noexcept { return extras_ ? extras_->window.get() : nullptr; }
inline void MqttSession::outgoing_done(std::uint16_t packet_id) {
  if (auto* w = window(); w && w->acked(packet_id)) w->end(std::chrono::steady_clock::now());
}
inline MqttSession::AuthState* MqttSession::auth() const noexcept { return extras_ ? extras_->auth.get() : nullptr; }


// The factory a listener uses for MQTT connections.
proto::SessionFactory make_session_factory(core::Broker& broker, const MqttSettings& settings, LimitSettings limits,
                                          core::ListenerAccess access,
                                          std::shared_ptr<const EnhancedAuth> enhanced_auth = nullptr,
                                          bool log_connections = true);

}  // namespace outpost::mqtt
