#include "plugin/host.hpp"

#include "core/topic.hpp"
#include "plugin/message_view.hpp"
#include "plugin/security_chain.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <stdexcept>

namespace outpost::plugin {

// What a plugin's publishes are checked with: set once plugins have said whether they
// authorize (after init), while the instances' publishers already point here.
class ForwardingAccess final : public core::AccessControl {
 public:
  void set(std::shared_ptr<const core::AccessControl> inner) { inner_ = std::move(inner); }
  bool may_publish(const core::ClientInfo& c, std::string_view e, std::string_view t) const override {
    return !inner_ || inner_->may_publish(c, e, t);
  }
  bool may_subscribe(const core::ClientInfo& c, std::string_view e, std::string_view f) const override {
    return !inner_ || inner_->may_subscribe(c, e, f);
  }
  bool may_consume(const core::ClientInfo& c, std::string_view q, std::string_view t) const override {
    return !inner_ || inner_->may_consume(c, q, t);
  }

 private:
  std::shared_ptr<const core::AccessControl> inner_;
};

namespace {
constexpr std::string_view kPrefix = "plugin:";

// "plugin:<instance>:<queue>" -> "<instance>"; "plugin:<instance>" -> "<instance>".
std::string_view instance_of(std::string_view name) {
  name.remove_prefix(kPrefix.size());
  return name.substr(0, name.find(':'));
}
}  // namespace

Host::Host(core::Broker& broker) : broker_(broker), publish_access_(std::make_shared<ForwardingAccess>()) {}

Host::~Host() { stop(); }

void Host::load(std::vector<Spec> specs) {
  for (auto& spec : specs) {
    Library lib;
    try {
      lib = Library::open(spec.library);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("plugin '{}': {}", spec.name, e.what()));
    }
    instances_.push_back(std::make_shared<Instance>(*this, broker_, std::move(spec), std::move(lib), publish_access_.get()));
  }
}

void Host::load_library_for_test(Spec spec, Library library) {
  instances_.push_back(std::make_shared<Instance>(*this, broker_, std::move(spec), std::move(library), publish_access_.get()));
}

void Host::register_restore(core::RestoreRouter& router) {
  router.add_queue_owner(kPrefix, *this);
  router.add_definition_owner(kPrefix, *this);
}

void Host::definition(store::DefinitionRecord&& d) {
  restored_kv_[std::string(instance_of(d.kind))].emplace_back(std::move(d.name), std::move(d.body));
}

void Host::entry(store::EntryRecord&& e, const core::MessagePtr& message) {
  auto& q = restored_[e.queue];
  if (!q) {
    q = broker_.make_queue(e.queue, core::QueueLimits{});
    q->make_durable(broker_.store(), e.queue);
  }
  core::Delivery d;
  d.message = message;
  d.qos = e.qos;
  d.retain = e.retain;
  // Handed to the plugin before the restart and not acknowledged: it may have gone out.
  d.redelivered = e.state != store::EntryState::queued;
  d.seq = e.seq;
  d.subscription_ids.assign(e.subscription_ids.begin(), e.subscription_ids.end());
  q->restore(std::move(d));
}

core::QueuePtr Host::take_restored(const std::string& store_name) {
  auto it = restored_.find(store_name);
  if (it == restored_.end()) return nullptr;
  auto q = std::move(it->second);
  restored_.erase(it);
  return q;
}

void Host::init() {
  for (auto& i : instances_) {
    if (auto it = restored_kv_.find(i->name()); it != restored_kv_.end()) {
      for (auto& [k, v] : it->second) i->restore_kv(std::move(k), std::move(v));
    }
  }
  restored_kv_.clear();
  for (auto& i : instances_) i->init();
  inited_ = true;
  for (const auto& [name, q] : restored_) {
    spdlog::warn("stored queue {} holds {} message(s) but no plugin opened it (plugin '{}' not configured, or it "
                 "no longer opens that queue); they stay in the store", name, q->stats().messages, instance_of(name));
  }
  restored_.clear();
  message_hooks_ = with([](const outpost_callbacks& c) { return c.message != nullptr; });
  if (!message_hooks_.empty()) broker_.set_message_hook(this);
}

std::vector<std::shared_ptr<Instance>> Host::with(bool (*has)(const outpost_callbacks&)) const {
  std::vector<std::shared_ptr<Instance>> out;
  for (const auto& i : instances_) {
    if (has(i->callbacks())) out.push_back(i);
  }
  return out;
}

void Host::attach(std::shared_ptr<const core::AccessControl> publish_access) {
  auto authorizers = with([](const outpost_callbacks& c) { return c.authorize != nullptr; });
  if (authorizers.empty()) {
    publish_access_->set(std::move(publish_access));
  } else {
    publish_access_->set(std::make_shared<ChainAccess>(std::move(authorizers), std::move(publish_access)));
  }
}

bool Host::authenticates() const {
  return !with([](const outpost_callbacks& c) { return c.authenticate != nullptr; }).empty();
}

core::ListenerAccess Host::wrap(core::ListenerAccess access) const {
  if (auto a = with([](const outpost_callbacks& c) { return c.authenticate != nullptr; }); !a.empty()) {
    access.authenticator = std::make_shared<ChainAuthenticator>(std::move(a), std::move(access.authenticator));
  }
  if (auto a = with([](const outpost_callbacks& c) { return c.authorize != nullptr; }); !a.empty()) {
    access.access = std::make_shared<ChainAccess>(std::move(a), std::move(access.access));
  }
  if (auto a = with([](const outpost_callbacks& c) {
        return c.client_connected != nullptr || c.client_disconnected != nullptr;
      });
      !a.empty()) {
    access.observer = std::make_shared<ChainObserver>(std::move(a), std::move(access.observer));
  }
  return access;
}

void Host::start() {
  for (auto& i : instances_) i->start();
}

void Host::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (!message_hooks_.empty()) broker_.set_message_hook(nullptr);
  // Last configured, first stopped.
  for (auto it = instances_.rbegin(); it != instances_.rend(); ++it) (*it)->stop();
}

void Host::reload(const std::map<std::string, std::shared_ptr<const ConfigTree>>& configs) {
  // An instance the file no longer names (or a file that no longer loads: no sections at
  // all) is given the section it runs with.
  for (auto& i : instances_) {
    auto it = configs.find(i->name());
    i->reload(it != configs.end() ? it->second : i->config());
  }
}

core::HookVerdict Host::on_message(const core::ClientInfo& client, core::MessagePtr& message) const {
  const auto c = client_view(client);
  MessageView before;
  for (const auto& p : message_hooks_) {
    if (!p->live()) continue;
    make_view(*message, before);
    outpost_message edited = before.message;
    outpost_result r = OUTPOST_ERROR;
    try {
      r = p->callbacks().message(p->state(), &c, &edited);
    } catch (...) {
      r = OUTPOST_ERROR;
    }
    switch (r) {
      case OUTPOST_OK:
        message = apply_edit(message, before, edited);
        if (!core::valid_topic_name(message->topic())) {
          spdlog::error("plugin {}: message callback set the topic '{}', which is not a topic name; the message is "
                        "refused", p->name(), message->topic());
          return core::HookVerdict::refuse;
        }
        continue;
      case OUTPOST_DROP: return core::HookVerdict::drop;
      case OUTPOST_DENY: return core::HookVerdict::refuse;
      default:
        spdlog::error("plugin {}: message callback failed ({}) on '{}'; the message is refused", p->name(),
                      static_cast<int>(r), message->topic());
        return core::HookVerdict::refuse;
    }
  }
  return core::HookVerdict::pass;
}

}  // namespace outpost::plugin
