// Host: every plugin instance of the configuration, and where they attach to the broker:
// - restore: the stored queues ("plugin:<instance>:<queue>") and key-value pairs (kind
//   "plugin:<instance>") go back to their instance (core::RestoreOwner);
// - the message hook of every Publisher (core::MessageHook), plugins in configuration order;
// - each listener's authenticator, access control and client observer, wrapped so the
//   plugins are asked before the broker's own rules (security_chain.hpp);
// - SIGHUP and shutdown.
//
// Start-up order (main.cpp): load() (before the store is restored, so a missing or wrong
// library stops the start at once), register() with the restore router, restore,
// init() (throws naming the plugin), attach() with the access control of plugin
// publishes, wrap() per listener, start() once the server runs, stop() after it stopped.
//
// Threading: main thread, except the hooks (I/O threads).
#pragma once

#include "core/access.hpp"
#include "core/broker.hpp"
#include "core/hooks.hpp"
#include "core/restore_router.hpp"
#include "plugin/instance.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace outpost::plugin {

class ForwardingAccess;

class Host final : public core::RestoreOwner, public core::MessageHook {
 public:
  explicit Host(core::Broker& broker);
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;
  ~Host() override;

  bool empty() const noexcept { return instances_.empty(); }
  void load(std::vector<Spec> specs);
  // For tests: an instance of a library whose entry points are already known.
  void load_library_for_test(Spec spec, Library library);
  void register_restore(core::RestoreRouter& router);
  void init();
  // `publish_access`: the ACLs plugin publishes are checked against (null: none).
  void attach(std::shared_ptr<const core::AccessControl> publish_access);
  core::ListenerAccess wrap(core::ListenerAccess access) const;
  // True if some plugin authenticates clients.
  bool authenticates() const;
  void start();
  void stop();
  // SIGHUP: each instance's section as read again, by instance name; an instance not in
  // `configs` gets the section it runs with.
  void reload(const std::map<std::string, std::shared_ptr<const ConfigTree>>& configs);

  // For Instance::open_queue: a queue restored from the store under `store_name`, or null.
  core::QueuePtr take_restored(const std::string& store_name);

  // core::RestoreOwner
  void definition(store::DefinitionRecord&& d) override;
  void entry(store::EntryRecord&& e, const core::MessagePtr& message) override;
  // core::MessageHook
  core::HookVerdict on_message(const core::ClientInfo& client, core::MessagePtr& message) const override;

  const std::vector<std::shared_ptr<Instance>>& instances() const noexcept { return instances_; }

 private:
  std::vector<std::shared_ptr<Instance>> with(bool (*has)(const outpost_callbacks&)) const;

  core::Broker& broker_;
  std::vector<std::shared_ptr<Instance>> instances_;
  std::shared_ptr<ForwardingAccess> publish_access_;
  std::vector<std::shared_ptr<Instance>> message_hooks_;
  std::map<std::string, core::QueuePtr> restored_;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> restored_kv_;
  bool inited_ = false;
  bool stopped_ = false;
};

}  // namespace outpost::plugin
