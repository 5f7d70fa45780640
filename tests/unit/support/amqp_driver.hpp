// The one place AMQP session tests make a session: a SessionDriver around
// amqp::make_session_factory. When the factory's signature changes, only this changes.
#pragma once

#include "amqp/amqp_session.hpp"
#include "amqp/vhost.hpp"
#include "core/access.hpp"
#include "listener_access.hpp"
#include "memory_link.hpp"
#include "settings.hpp"

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>

namespace outpost::test {

struct AmqpDriverOptions {
  bool allow_anonymous = true;
  // Null: the built-in rule of a listener with `allow_anonymous`.
  std::shared_ptr<const core::Authenticator> authenticator;
  std::shared_ptr<const core::AccessControl> access;  // null: everything allowed
  // Shared with other drivers to put their connections on one I/O thread; null: its own.
  std::shared_ptr<boost::asio::io_context> io;
  // Adjusts the link before the session is made (address, transport, peer identity).
  std::function<void(MemoryLink&)> configure_link;
  LimitSettings limits;  // the listener's limits
};

// `vhost` and `settings` must outlive the driver.
inline std::unique_ptr<SessionDriver> make_amqp_driver(amqp::Vhost& vhost, const AmqpSettings& settings,
                                                       AmqpDriverOptions options = {}) {
  auto factory = amqp::make_session_factory(vhost, settings, options.limits, listener_access(options));
  return std::make_unique<SessionDriver>(std::move(factory), std::move(options.io), options.configure_link);
}

}  // namespace outpost::test
