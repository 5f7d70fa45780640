// ClientDirectory: the clients connected now, whatever their protocol, for the admin API
// (list them, disconnect one). A session adds itself once it has accepted its client
// (MQTT: CONNACK sent; AMQP: connection.open-ok sent) and removes itself when it ends.
//
// What never changes while a client is connected (who, from where, since when) is kept
// here; what changes with every message (queued, in flight) is the session's and lives on
// its I/O thread, so the directory keeps each client's executor and a weak handle to it
// and asks there. Nothing here is touched on the publish path.
//
// Threading: add/remove/list/kick from any thread (one mutex, held for the map only).
// LiveClient's calls run on the client's own thread.
#pragma once

#include "core/client_info.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::core {

// A client's figures at one moment.
struct ClientFigures {
  std::uint64_t subscriptions = 0;  // MQTT: the session's subscriptions; AMQP: its consumers
  std::uint64_t queued = 0;         // MQTT: messages in the session's queue; AMQP: see the session
  std::uint64_t in_flight = 0;      // MQTT: outgoing QoS 1/2 not acknowledged; AMQP: unacked deliveries
};

// What a client is, recorded when it connected.
struct ClientRecord {
  Protocol protocol = Protocol::mqtt;
  std::string id;                // MQTT client id; AMQP: connection_name, else the remote address
  std::string protocol_version;  // "3.1.1", "5.0", "0-9-1"
  std::string listener;          // "mqtt 127.0.0.1:1883"
  std::string remote_address;
  std::string user;                     // empty: anonymous
  std::int64_t connected_unix_ms = 0;   // wall clock
};

struct ClientRow {
  ClientRecord record;
  ClientFigures figures;
};

// The session's side, implemented by the handle it shares with other threads. Called on
// the session's thread only; a handle whose session has ended answers nullopt / nothing.
class LiveClient {
 public:
  virtual ~LiveClient() = default;
  virtual std::optional<ClientFigures> figures() = 0;
  // Disconnect the client as an administrator asked (`by` says who, for the log).
  virtual void kick(const std::string& by) = 0;
};

class ClientDirectory {
 public:
  using Key = std::uint64_t;

  // On the session's thread, once the client is accepted. Returns what remove() takes.
  Key add(ClientRecord record, boost::asio::any_io_executor executor, std::weak_ptr<LiveClient> live);
  void remove(Key key);
  std::size_t size() const;

  // Every client with its figures, sorted by connection time; `done` is called once,
  // from any thread (at once when nobody is connected, else on the thread of the last
  // client to answer). Clients gone meanwhile are left out.
  void list(std::function<void(std::vector<ClientRow>)> done) const;

  // Asks every client whose id is `id` to disconnect; returns how many were asked.
  std::size_t kick(std::string_view id, const std::string& by) const;

 private:
  struct Entry {
    ClientRecord record;
    boost::asio::any_io_executor executor;
    std::weak_ptr<LiveClient> live;
  };
  mutable std::mutex mutex_;
  std::map<Key, Entry> entries_;  // keys grow with time: ordered by connection
  Key next_key_ = 1;
};

// RAII for a session: removes its entry when reset or destroyed.
class DirectoryEntry {
 public:
  DirectoryEntry() = default;
  DirectoryEntry(ClientDirectory& directory, ClientDirectory::Key key) : directory_(&directory), key_(key) {}
  DirectoryEntry(const DirectoryEntry&) = delete;
  DirectoryEntry& operator=(const DirectoryEntry&) = delete;
  DirectoryEntry(DirectoryEntry&& o) noexcept : directory_(o.directory_), key_(o.key_) { o.directory_ = nullptr; }
  DirectoryEntry& operator=(DirectoryEntry&& o) noexcept {
    if (this != &o) {
      reset();
      directory_ = o.directory_;
      key_ = o.key_;
      o.directory_ = nullptr;
    }
    return *this;
  }
  ~DirectoryEntry() { reset(); }
  void reset() {
    if (directory_) directory_->remove(key_);
    directory_ = nullptr;
  }

 private:
  ClientDirectory* directory_ = nullptr;
  ClientDirectory::Key key_ = 0;
};

}  // namespace outpost::core
