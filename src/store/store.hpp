// Store: the narrow interface through which the core makes state durable. The core
// never writes SQL; an implementation decides how (SQLite with WAL and group commit is
// the persistent one). Until a persistent implementation is configured, MemoryStore
// keeps nothing and reports every write durable at once.
//
// Threading: any thread may call. Completion callbacks are invoked by the store (on its
// writer thread, or inline for MemoryStore); callers post them to their own thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace outpost::store {

class Store {
 public:
  virtual ~Store() = default;

  // True if writes survive a restart; decides whether acknowledgements must wait.
  virtual bool persistent() const = 0;

  // Runs `on_durable` once everything written before this call is durable as
  // configured. PUBACK / PUBREC / AMQP confirms are released from here.
  virtual void after_commit(std::function<void()> on_durable) = 0;

  // A human-readable description for the start-up log.
  virtual std::string describe() const = 0;
};

// Keeps nothing: state lives only in memory and is lost on restart.
class MemoryStore final : public Store {
 public:
  bool persistent() const override { return false; }
  void after_commit(std::function<void()> on_durable) override { on_durable(); }
  std::string describe() const override { return "in memory (nothing persisted)"; }
};

}  // namespace outpost::store
