#include "core/session_registry.hpp"

#include <boost/asio/post.hpp>

#include <vector>

namespace outpost::core {

void SessionRegistry::claim(const std::string& client_id, std::weak_ptr<SessionOwner> owner,
                            boost::asio::any_io_executor ex, ClaimCallback callback) {
  Pending p;
  p.owner_raw = owner.lock().get();
  p.owner = std::move(owner);
  p.ex = std::move(ex);
  p.callback = std::move(callback);

  std::lock_guard lock(mutex_);
  Entry& e = entries_[client_id];
  auto holder = e.owner.lock();
  if (e.owner_raw != nullptr && holder) {
    // Takeover [MQTT-3.1.4-2]: the holder must close first; the newest claim wins.
    if (e.pending) {
      boost::asio::post(e.pending->ex, [cb = std::move(e.pending->callback)] { cb(nullptr, true); });
    }
    e.pending = std::make_unique<Pending>(std::move(p));
    boost::asio::post(e.owner_ex, [w = e.owner] {
      if (auto o = w.lock()) o->on_taken_over();
    });
    return;
  }
  grant_locked(client_id, e, std::move(p));
}

void SessionRegistry::grant_locked(const std::string& client_id, Entry& e, Pending p) {
  e.owner = p.owner;
  e.owner_raw = p.owner_raw;
  e.owner_ex = p.ex;
  auto session = std::move(e.session);
  e.session.reset();
  auto previous_expiry = e.expires_at;
  e.expires_at = Clock::time_point::max();
  boost::asio::post(p.ex, [this, client_id, session = std::move(session), previous_expiry, w = std::move(p.owner),
                           raw = p.owner_raw, cb = std::move(p.callback)]() mutable {
    if (w.lock()) {
      cb(std::move(session), false);
      return;
    }
    // The claimer went away before the hand-over completed: keep the session detached.
    std::lock_guard lock(mutex_);
    auto it = entries_.find(client_id);
    if (it == entries_.end() || it->second.owner_raw != raw) return;
    Entry& entry = it->second;
    entry.owner.reset();
    entry.owner_raw = nullptr;
    entry.owner_ex = {};
    entry.session = std::move(session);
    entry.expires_at = previous_expiry;
    if (entry.pending) {
      Pending next = std::move(*entry.pending);
      entry.pending.reset();
      grant_locked(client_id, entry, std::move(next));
    } else if (!entry.session) {
      entries_.erase(it);
    }
  });
}

void SessionRegistry::release(const std::string& client_id, const SessionOwner* owner, std::shared_ptr<Session> keep,
                              std::optional<std::chrono::seconds> expiry) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(client_id);
  if (it == entries_.end() || it->second.owner_raw != owner) return;
  Entry& e = it->second;
  e.owner.reset();
  e.owner_raw = nullptr;
  e.owner_ex = {};
  e.session = std::move(keep);
  if (e.session && expiry) {
    e.expires_at = Clock::now() + *expiry;
  } else {
    e.expires_at = Clock::time_point::max();
  }
  if (e.pending) {
    Pending next = std::move(*e.pending);
    e.pending.reset();
    grant_locked(client_id, e, std::move(next));
  } else if (!e.session) {
    entries_.erase(it);
  }
}

void SessionRegistry::adopt(const std::string& client_id, std::shared_ptr<Session> session,
                            std::optional<std::chrono::seconds> expiry) {
  std::lock_guard lock(mutex_);
  Entry& e = entries_[client_id];
  e.session = std::move(session);
  e.expires_at = expiry ? Clock::now() + *expiry : Clock::time_point::max();
}

std::size_t SessionRegistry::expire(Clock::time_point now, std::vector<MessagePtr>* wills) {
  std::vector<std::shared_ptr<Session>> ended;
  {
    std::lock_guard lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      Entry& e = it->second;
      const bool detached = e.owner_raw == nullptr && !e.pending && e.session;
      if (detached && wills && now >= e.session->will_due()) wills->push_back(e.session->take_delayed_will());
      if (detached && now >= e.expires_at) {
        // The session ends: a will still waiting goes out with it.
        if (auto w = e.session->take_delayed_will(); w && wills) wills->push_back(std::move(w));
        ended.push_back(std::move(e.session));
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& s : ended) s->destroy();
  return ended.size();
}

void SessionRegistry::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::size_t SessionRegistry::connected() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [id, e] : entries_) n += e.owner_raw != nullptr;
  return n;
}

}  // namespace outpost::core
