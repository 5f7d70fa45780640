#include "observe/sys_publisher.hpp"

#include "observe/sys_topics.hpp"

#include <set>

namespace outpost::observe {

SysPublisher::SysPublisher(Observer& observer, core::Broker& broker, std::chrono::milliseconds interval)
    : observer_(observer),
      broker_(broker),
      interval_(interval),
      publisher_(broker, core::ClientInfo{}, nullptr),
      load_(make_sys_load()) {}

void SysPublisher::start(boost::asio::any_io_executor ex) {
  timer_ = std::make_unique<boost::asio::steady_timer>(ex);
  publish_now();
  arm();
}

void SysPublisher::stop() {
  if (timer_) {
    timer_->cancel();
    timer_.reset();
  }
}

void SysPublisher::arm() {
  timer_->expires_after(interval_);
  timer_->async_wait([this](const boost::system::error_code& ec) {
    // A wait that had already completed when stop() ran comes here without an error.
    if (ec || !timer_) return;
    publish_now();
    if (timer_) arm();
  });
}

void SysPublisher::publish(const std::string& topic, const std::string& value) {
  core::Message::Init init;
  init.topic = topic;
  init.payload = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(value.data()), value.size());
  init.retain = true;
  publisher_.publish(broker_.mqtt_exchange(), core::Message::make(std::move(init)), core::Source::broker);
}

void SysPublisher::publish_now() {
  const auto now = std::chrono::steady_clock::now();
  const Snapshot s = observer_.collect();
  load_.update(last_.time_since_epoch().count() == 0 ? 0.0 : std::chrono::duration<double>(now - last_).count(),
               sys_load_totals(s));
  last_ = now;
  std::set<std::string> seen;
  for (auto& t : sys_topics(s, &load_)) {
    seen.insert(t.topic);
    auto it = published_.find(t.topic);
    if (it != published_.end() && it->second == t.value) continue;
    publish(t.topic, t.value);
    published_[t.topic] = std::move(t.value);
  }
  for (auto it = published_.begin(); it != published_.end();) {
    if (seen.count(it->first) != 0) {
      ++it;
      continue;
    }
    publish(it->first, {});  // an empty retained message clears the topic
    it = published_.erase(it);
  }
  publisher_.wakeups().flush();
}

}  // namespace outpost::observe
