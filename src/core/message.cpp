#include "core/message.hpp"

namespace outpost::core {

Message::Message(Init&& init)
    : topic_(std::move(init.topic)),
      payload_(init.payload.begin(), init.payload.end()),
      qos_(init.qos),
      retain_(init.retain),
      origin_(init.origin),
      expiry_unix_ms_(init.expiry_unix_ms),
      properties_(std::move(init.properties)) {}

std::shared_ptr<const Message> Message::make(Init init) {
  return std::make_shared<const Message>(std::move(init));
}

std::shared_ptr<const Message> Message::with_retain(bool retain) const {
  Init init;
  init.topic = topic_;
  init.payload = payload();
  init.qos = qos_;
  init.retain = retain;
  init.origin = origin_;
  init.expiry_unix_ms = expiry_unix_ms_;
  init.properties = properties_;
  return make(std::move(init));
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace outpost::core
