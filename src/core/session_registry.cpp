#include "core/session_registry.hpp"

#include <boost/asio/post.hpp>

#include <vector>

namespace outpost::core {

void SessionRegistry::claim(ClientId client_id, std::weak_ptr<SessionOwner> owner, boost::asio::any_io_executor ex,
                            ClaimCallback callback) {
  Pending p{std::move(owner), std::move(ex), std::move(callback)};
  std::shared_ptr<SessionOwner> holder;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.try_emplace(std::move(client_id)).first;
    Entry& e = it->second;
    holder = e.owner.lock();
    if (!holder) {
      grant_locked(it->first, e, std::move(p));
      return;
    }
    // Takeover [MQTT-3.1.4-2]: the holder must close first; the newest claim wins.
    if (e.pending) {
      boost::asio::post(e.pending->ex, [cb = std::move(e.pending->callback)] { cb(nullptr, true); });
    }
    e.pending = std::make_unique<Pending>(std::move(p));
  }
  // Outside the lock: asking the holder for its executor touches its connection's
  // shared state. A holder whose connection is already gone has released, or will.
  if (auto holder_ex = holder->executor()) {
    boost::asio::post(holder_ex, [w = std::weak_ptr<SessionOwner>(holder)] {
      if (auto o = w.lock()) o->on_taken_over();
    });
  }
}

void SessionRegistry::grant_locked(const ClientId& client_id, Entry& e, Pending p) {
  e.owner = p.owner;
  auto session = std::move(e.session);
  e.session.reset();
  auto previous_expiry = e.expires_at;
  e.expires_at = Clock::time_point::max();
  boost::asio::post(p.ex, [this, client_id, session = std::move(session), previous_expiry, w = std::move(p.owner),
                           cb = std::move(p.callback)]() mutable {
    if (w.lock()) {
      cb(std::move(session), false);
      return;
    }
    // The claimer went away before the hand-over completed: keep the session detached.
    std::lock_guard lock(mutex_);
    auto it = entries_.find(client_id.view());
    // Still ours? The same owner (compared by control block: it is expired now).
    if (it == entries_.end() || it->second.owner.owner_before(w) || w.owner_before(it->second.owner)) return;
    Entry& entry = it->second;
    entry.owner.reset();
    entry.session = std::move(session);
    entry.expires_at = previous_expiry;
    if (entry.pending) {
      Pending next = std::move(*entry.pending);
      entry.pending.reset();
      grant_locked(it->first, entry, std::move(next));
    } else if (!entry.session) {
      entries_.erase(it);
    }
  });
}

void SessionRegistry::release(std::string_view client_id, const SessionOwner* owner, std::shared_ptr<Session> keep,
                              std::optional<std::chrono::seconds> expiry) {
  std::shared_ptr<SessionOwner> holder;  // dropped after the lock
  std::lock_guard lock(mutex_);
  auto it = entries_.find(client_id);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  holder = e.owner.lock();
  if (owner == nullptr || holder.get() != owner) return;
  e.owner.reset();
  e.session = std::move(keep);
  if (e.session && expiry) {
    e.expires_at = Clock::now() + *expiry;
  } else {
    e.expires_at = Clock::time_point::max();
  }
  if (e.pending) {
    Pending next = std::move(*e.pending);
    e.pending.reset();
    grant_locked(it->first, e, std::move(next));
  } else if (!e.session) {
    entries_.erase(it);
  }
}

void SessionRegistry::adopt(ClientId client_id, std::shared_ptr<Session> session,
                            std::optional<std::chrono::seconds> expiry) {
  std::lock_guard lock(mutex_);
  Entry& e = entries_.try_emplace(std::move(client_id)).first->second;
  e.session = std::move(session);
  e.expires_at = expiry ? Clock::now() + *expiry : Clock::time_point::max();
}

std::size_t SessionRegistry::expire(Clock::time_point now, std::vector<MessagePtr>* wills) {
  std::vector<std::shared_ptr<Session>> ended;
  {
    std::lock_guard lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      Entry& e = it->second;
      const bool detached = !held(e) && !e.pending && e.session;
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
  for (const auto& [id, e] : entries_) n += held(e);
  return n;
}

}  // namespace outpost::core
