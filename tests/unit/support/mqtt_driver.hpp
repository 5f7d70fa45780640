// The one place MQTT session tests make a session: a SessionDriver around
// mqtt::make_session_factory. When the factory's signature changes, only this changes.
#pragma once

#include "core/broker.hpp"
#include "core/access.hpp"
#include "listener_access.hpp"
#include "memory_link.hpp"
#include "mqtt/enhanced_auth.hpp"
#include "mqtt/mqtt_session.hpp"
#include "settings.hpp"

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>

namespace outpost::test {

struct MqttDriverOptions {
  bool allow_anonymous = true;
  // Null: the built-in rule of a listener with `allow_anonymous`.
  std::shared_ptr<const core::Authenticator> authenticator;
  std::shared_ptr<const core::AccessControl> access;  // null: everything allowed
  std::shared_ptr<const mqtt::EnhancedAuth> enhanced_auth;
  // Shared with other drivers to put their connections on one I/O thread; null: its own.
  std::shared_ptr<boost::asio::io_context> io;
  // Adjusts the link before the session is made (address, transport, peer identity).
  std::function<void(MemoryLink&)> configure_link;
  LimitSettings limits;  // the listener's limits
};

// `broker` and `settings` must outlive the driver.
inline std::unique_ptr<SessionDriver> make_mqtt_driver(core::Broker& broker, const MqttSettings& settings,
                                                       MqttDriverOptions options = {}) {
  auto factory = mqtt::make_session_factory(broker, settings, options.limits, listener_access(options), std::move(options.enhanced_auth));
  return std::make_unique<SessionDriver>(std::move(factory), std::move(options.io), options.configure_link);
}

}  // namespace outpost::test
