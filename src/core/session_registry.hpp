// SessionRegistry: which client ids have a session, which connection holds each, and
// the hand-over when a second connection claims an id that is in use (takeover).
//
// A session's state is touched only by the connection that holds it, on that
// connection's thread. A takeover therefore runs in two steps: the new connection's
// claim asks the old holder (on its thread) to let go; the old holder closes and
// releases the state; only then does the claim complete, on the new connection's thread,
// with the state to resume or discard. A detached state is touched by nobody until then.
//
// Threading: every method may be called from any thread; one mutex guards the map.
// Callbacks are posted to the executors given, never run under the lock.
#pragma once

#include "core/client_id.hpp"
#include "core/message.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace outpost::core {

// What of a client's session can outlive its connection. Protocols derive from it.
class Session {
 public:
  Session(ClientId client_id, std::uint64_t origin) : client_id_(std::move(client_id)), origin_(origin) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  virtual ~Session() = default;

  const ClientId& client_id() const noexcept { return client_id_; }
  // Unique per session instance; messages published through it carry it (no-local).
  std::uint64_t origin() const noexcept { return origin_; }

  // Releases what the session holds in the core (bindings, queue). Called once when the
  // session ends: by its holder, or by the registry when a detached session expires.
  virtual void destroy() = 0;

  // A will waiting for its delay to pass while the session is detached (MQTT 5 will
  // delay interval). Touched only by whoever holds the session, or by the registry
  // while it is detached. Rare, so kept out of line.
  void set_delayed_will(MessagePtr will, Clock::time_point due) {
    if (!will) {
      delayed_will_.reset();
      return;
    }
    delayed_will_ = std::make_unique<DelayedWill>(DelayedWill{std::move(will), due});
  }
  MessagePtr take_delayed_will() {
    if (!delayed_will_) return nullptr;
    MessagePtr will = std::move(delayed_will_->will);
    delayed_will_.reset();
    return will;
  }
  Clock::time_point will_due() const noexcept { return delayed_will_ ? delayed_will_->due : Clock::time_point::max(); }

 private:
  struct DelayedWill {
    MessagePtr will;
    Clock::time_point due;
  };
  std::unique_ptr<DelayedWill> delayed_will_;
  const ClientId client_id_;
  const std::uint64_t origin_;
};

// The live connection holding a session.
class SessionOwner {
 public:
  virtual ~SessionOwner() = default;
  // Any thread, while the caller holds the owner (locked from its weak_ptr): where the
  // owner's callbacks run. Empty once the owner's connection is gone.
  virtual boost::asio::any_io_executor executor() const = 0;
  // Runs on the owner's executor: another connection claimed the same client id. The
  // owner must close and then call SessionRegistry::release.
  virtual void on_taken_over() = 0;
};

class SessionRegistry {
 public:
  // `existing` is the session left by the previous holder (null if none); `superseded`
  // is true when yet another connection claimed the id before this claim completed
  // (the claimer must then give up: close without a session).
  using ClaimCallback = std::function<void(std::shared_ptr<Session> existing, bool superseded)>;

  // The callback is posted to `ex`, the claimer's executor.
  void claim(ClientId client_id, std::weak_ptr<SessionOwner> owner, boost::asio::any_io_executor ex,
             ClaimCallback callback);

  // The holder lets go (its connection ended). `keep` stays for a later resume until
  // `expiry` passes (nullopt = never); a null `keep` ends the session (the caller has
  // already destroyed it). Ignored if `owner` no longer holds the id.
  void release(std::string_view client_id, const SessionOwner* owner, std::shared_ptr<Session> keep,
               std::optional<std::chrono::seconds> expiry);

  // Start-up: a detached session restored from the store, expiring after `expiry`
  // (nullopt = never).
  void adopt(ClientId client_id, std::shared_ptr<Session> session, std::optional<std::chrono::seconds> expiry);

  // Ends detached sessions whose expiry has passed (calls destroy()). Returns how many.
  // Delayed wills that came due, or whose session ended, are moved to `wills` for the
  // caller to publish.
  std::size_t expire(Clock::time_point now, std::vector<MessagePtr>* wills = nullptr);

  // Ends every detached session without calling destroy (broker shutdown).
  void clear();

  std::size_t size() const;
  std::size_t connected() const;

 private:
  struct Pending {
    std::weak_ptr<SessionOwner> owner;
    boost::asio::any_io_executor ex;
    ClaimCallback callback;
  };
  // One per client id with a session or a holder; one per idle connection, so kept small:
  // the holder's executor comes from the holder (SessionOwner::executor) when a takeover
  // needs it, and the key shares the id's characters with the session and its holder.
  struct Entry {
    std::shared_ptr<Session> session;  // detached state, when there is no holder
    std::weak_ptr<SessionOwner> owner;  // the holder; empty when detached (expired: it died)
    Clock::time_point expires_at = Clock::time_point::max();  // max: never
    std::unique_ptr<Pending> pending;  // rare (a takeover in progress): kept out of line
  };
  using Map = std::unordered_map<ClientId, Entry, ClientIdHash, ClientIdEqual>;

  void grant_locked(const ClientId& client_id, Entry& entry, Pending pending);
  // Whether the entry has a holder (alive or not) rather than being detached.
  static bool held(const Entry& e) noexcept { return std::weak_ptr<SessionOwner>{}.owner_before(e.owner); }

  mutable std::mutex mutex_;
  Map entries_;
};

}  // namespace outpost::core
