// Enhanced authentication (MQTT 5 section 4.12) through the EnhancedAuth hook: an
// MqttSession on an in-memory link, driven with encoded packets.
#include "core/broker.hpp"
#include "mqtt/codec/codec.hpp"
#include "mqtt/mqtt_session.hpp"
#include "store/store.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <deque>

namespace outpost::mqtt {
namespace {

// A link that keeps what the session writes.
class MemoryLink final : public proto::Link, public std::enable_shared_from_this<MemoryLink> {
 public:
  explicit MemoryLink(boost::asio::io_context& io) : io_(io) {}
  void write(std::span<const std::uint8_t> bytes) override { out.insert(out.end(), bytes.begin(), bytes.end()); }
  void write_shared(std::shared_ptr<const void>, std::span<const std::uint8_t> bytes) override { write(bytes); }
  std::size_t pending_bytes() const override { return 0; }
  bool write_pressure() const override { return false; }
  void close(std::string_view) override { closed = true; }
  void pause_reading() override {}
  void resume_reading() override {}
  const std::string& remote_address() const override { return address_; }
  std::string_view transport_name() const override { return "memory"; }
  const std::string& peer_identity() const override { return identity_; }
  boost::asio::any_io_executor executor() override { return io_.get_executor(); }
  void set_deadline(std::chrono::steady_clock::time_point) override {}
  std::weak_ptr<Link> weak_from_link() override { return weak_from_this(); }

  // The packets written so far, as (type, body); consumed.
  std::deque<std::pair<PacketType, Bytes>> packets() {
    std::deque<std::pair<PacketType, Bytes>> result;
    std::span<const std::uint8_t> rest(out);
    while (!rest.empty()) {
      auto f = parse_fixed_header(rest, 0);
      EXPECT_EQ(f.status, FrameStatus::complete);
      if (f.status != FrameStatus::complete) break;
      auto body = rest.subspan(f.header.header_length, f.header.remaining_length);
      result.emplace_back(f.header.type, Bytes(body.begin(), body.end()));
      rest = rest.subspan(f.header.header_length + f.header.remaining_length);
    }
    out.clear();
    return result;
  }

  Bytes out;
  bool closed = false;

 private:
  boost::asio::io_context& io_;
  std::string address_ = "memory";
  std::string identity_;
};

// A challenge-response method: the client proves it knows the secret by answering
// the challenge with "<challenge>:<secret>".
class ChallengeMethod final : public EnhancedAuth {
 public:
  std::unique_ptr<AuthExchange> begin(std::string_view method, std::string_view) const override {
    if (method != "CHALLENGE") return nullptr;
    return std::make_unique<Exchange>();
  }

 private:
  struct Exchange final : AuthExchange {
    int round = 0;
    AuthOutcome step(std::string_view data) override {
      if (round++ == 0) return {AuthOutcome::Kind::proceed, "nonce-1"};
      if (data == "nonce-1:secret") return {AuthOutcome::Kind::success, "welcome"};
      return {AuthOutcome::Kind::failure, {}};
    }
  };
};

class EnhancedAuthTest : public ::testing::Test {
 protected:
  EnhancedAuthTest() : broker_(store_) {
    link_ = std::make_shared<MemoryLink>(io_);
    factory_ = make_session_factory(broker_, settings_, core::ListenerAccess{"test", std::make_shared<core::AnonymousAuthenticator>(false), nullptr}, std::make_shared<ChallengeMethod>());
    session_ = factory_(*link_);
  }
  ~EnhancedAuthTest() override {
    session_->on_closed(proto::CloseCause::local_close, "end of test");
    io_.run();
  }

  void feed(const Bytes& bytes) {
    EXPECT_EQ(session_->on_data(bytes), bytes.size());
    io_.restart();
    io_.run();
  }

  Bytes connect(std::optional<std::string> method, std::optional<std::string> data) {
    ConnectPacket c;
    c.version = ProtocolVersion::v5;
    c.client_id = "auth-client";
    c.properties.authentication_method = std::move(method);
    c.properties.authentication_data = std::move(data);
    Bytes out;
    encode_connect(out, c);
    return out;
  }

  static Bytes auth(ReasonCode reason, std::string method, std::string data) {
    Properties p;
    p.authentication_method = std::move(method);
    p.authentication_data = std::move(data);
    Bytes out;
    encode_auth(out, reason, &p);
    return out;
  }

  store::MemoryStore store_;
  core::Broker broker_;
  MqttSettings settings_;
  boost::asio::io_context io_;
  std::shared_ptr<MemoryLink> link_;
  proto::SessionFactory factory_;  // owns what its sessions share: outlives them, as a listener does
  std::unique_ptr<proto::Session> session_;
};

TEST_F(EnhancedAuthTest, UnknownMethodIsRefusedWith0x8C) {
  feed(connect("SCRAM-SHA-256", std::nullopt));
  auto packets = link_->packets();
  ASSERT_EQ(packets.size(), 1u);
  ASSERT_EQ(packets[0].first, PacketType::connack);
  EXPECT_EQ(decode_connack(ProtocolVersion::v5, packets[0].second)->reason, ReasonCode::bad_authentication_method);
  EXPECT_TRUE(link_->closed);
}

TEST_F(EnhancedAuthTest, ChallengeAndResponseThenConnack) {
  feed(connect("CHALLENGE", "hello"));
  auto packets = link_->packets();
  ASSERT_EQ(packets.size(), 1u);
  ASSERT_EQ(packets[0].first, PacketType::auth);
  auto challenge = decode_auth(packets[0].second);
  ASSERT_TRUE(challenge);
  EXPECT_EQ(challenge->reason, ReasonCode::continue_authentication);
  EXPECT_EQ(challenge->properties.authentication_method, "CHALLENGE");
  EXPECT_EQ(challenge->properties.authentication_data, "nonce-1");

  feed(auth(ReasonCode::continue_authentication, "CHALLENGE", "nonce-1:secret"));
  packets = link_->packets();
  ASSERT_EQ(packets.size(), 1u);
  ASSERT_EQ(packets[0].first, PacketType::connack);
  auto connack = decode_connack(ProtocolVersion::v5, packets[0].second);
  ASSERT_TRUE(connack);
  EXPECT_EQ(connack->reason, ReasonCode::success);
  EXPECT_EQ(connack->properties.authentication_method, "CHALLENGE");
  EXPECT_EQ(connack->properties.authentication_data, "welcome");
  EXPECT_FALSE(link_->closed);

  // Re-authentication on the live connection: a new exchange, ending in AUTH 0x00.
  feed(auth(ReasonCode::re_authenticate, "CHALLENGE", ""));
  packets = link_->packets();
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(decode_auth(packets[0].second)->reason, ReasonCode::continue_authentication);
  feed(auth(ReasonCode::continue_authentication, "CHALLENGE", "nonce-1:secret"));
  packets = link_->packets();
  ASSERT_EQ(packets.size(), 1u);
  ASSERT_EQ(packets[0].first, PacketType::auth);
  EXPECT_EQ(decode_auth(packets[0].second)->reason, ReasonCode::success);
  EXPECT_FALSE(link_->closed);
}

TEST_F(EnhancedAuthTest, WrongResponseIsNotAuthorized) {
  feed(connect("CHALLENGE", std::nullopt));
  link_->packets();
  feed(auth(ReasonCode::continue_authentication, "CHALLENGE", "nonce-1:guess"));
  auto packets = link_->packets();
  ASSERT_EQ(packets.size(), 1u);
  ASSERT_EQ(packets[0].first, PacketType::connack);
  EXPECT_EQ(decode_connack(ProtocolVersion::v5, packets[0].second)->reason, ReasonCode::not_authorized);
  EXPECT_TRUE(link_->closed);
}

TEST_F(EnhancedAuthTest, AnotherMethodInAuthIsAProtocolError) {
  feed(connect("CHALLENGE", std::nullopt));
  link_->packets();
  feed(auth(ReasonCode::continue_authentication, "OTHER", "x"));
  auto packets = link_->packets();
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(decode_connack(ProtocolVersion::v5, packets[0].second)->reason, ReasonCode::protocol_error);
  EXPECT_TRUE(link_->closed);
}

TEST_F(EnhancedAuthTest, AuthWithoutAMethodInConnectIsAProtocolError) {
  settings_.max_packet_size = 1 << 20;
  auto factory = make_session_factory(broker_, settings_, core::ListenerAccess{"test", std::make_shared<core::AnonymousAuthenticator>(true), nullptr}, std::make_shared<ChallengeMethod>());
  auto link = std::make_shared<MemoryLink>(io_);
  auto session = factory(*link);
  Bytes c = connect(std::nullopt, std::nullopt);
  session->on_data(c);
  io_.restart();
  io_.run();
  ASSERT_EQ(link->packets().size(), 1u);  // CONNACK
  Bytes a = auth(ReasonCode::re_authenticate, "CHALLENGE", "");
  session->on_data(a);
  auto packets = link->packets();
  ASSERT_EQ(packets.size(), 1u);
  ASSERT_EQ(packets[0].first, PacketType::disconnect);
  EXPECT_EQ(decode_disconnect(ProtocolVersion::v5, packets[0].second)->reason, ReasonCode::protocol_error);
  session->on_closed(proto::CloseCause::local_close, "end of test");
  io_.restart();
  io_.run();
}

}  // namespace
}  // namespace outpost::mqtt
