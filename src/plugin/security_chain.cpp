#include "plugin/security_chain.hpp"

#include "plugin/instance.hpp"
#include "plugin/message_view.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <atomic>

namespace outpost::plugin {

// One authentication on its way through the chain; the plugin holds it as an
// outpost_auth_ticket while it is PENDING.
struct ChainAuthenticator::Ticket {
  std::shared_ptr<const ChainAuthenticator> chain;
  std::size_t index = 0;  // the plugin asked now
  core::AuthRequest request;
  boost::asio::any_io_executor ex;
  Done done;
  std::atomic<bool> completed{false};
};

void ChainAuthenticator::authenticate(core::AuthRequest request, boost::asio::any_io_executor ex, Done done) const {
  auto t = std::make_unique<Ticket>();
  t->chain = shared_from_this();
  t->request = std::move(request);
  t->ex = std::move(ex);
  t->done = std::move(done);
  ask(std::move(t));
}

void ChainAuthenticator::ask(std::unique_ptr<Ticket> t) {
  const auto& plugins = t->chain->plugins_;
  if (t->index >= plugins.size()) {
    // Every plugin deferred: the listener's own rules decide.
    const auto& next = t->chain->next_;
    next->authenticate(std::move(t->request), std::move(t->ex), std::move(t->done));
    return;
  }
  auto plugin = plugins[t->index];
  boost::asio::post(plugin->executor(), [plugin, t = std::move(t)]() mutable {
    if (!plugin->live()) {
      decide(std::move(t), OUTPOST_ERROR, nullptr, "the plugin is stopping");
      return;
    }
    const auto client = client_view(t->request);
    outpost_auth_request r{};
    r.size = sizeof(r);
    r.client = &client;
    r.has_user = t->request.user ? 1 : 0;
    r.has_password = t->request.password ? 1 : 0;
    r.password = t->request.password ? str(*t->request.password) : outpost_str{"", 0};
    r.mechanism = str(t->request.mechanism);
    // The plugin may complete the ticket before returning PENDING, from any thread.
    Ticket* raw = t.release();
    outpost_result result = OUTPOST_ERROR;
    try {
      result = plugin->callbacks().authenticate(plugin->state(), &r, reinterpret_cast<outpost_auth_ticket*>(raw));
    } catch (...) {
      result = OUTPOST_ERROR;  // a plugin must not throw; if it does, it refused
    }
    if (result == OUTPOST_PENDING) return;  // the plugin owns the ticket until auth_complete
    std::unique_ptr<Ticket> back(raw);
    if (back->completed.exchange(true)) {
      // It completed the ticket and still answered: the completion counts.
      (void)back.release();
      spdlog::warn("plugin {}: authenticate completed its ticket and returned {} (expected PENDING)", plugin->name(),
                   static_cast<int>(result));
      return;
    }
    decide(std::move(back), result, nullptr, nullptr);
  });
}

void ChainAuthenticator::complete(outpost_auth_ticket* ticket, outpost_result result, const char* user,
                                  const char* reason) {
  if (ticket == nullptr) return;
  auto* raw = reinterpret_cast<Ticket*>(ticket);
  if (raw->completed.exchange(true)) {
    spdlog::error("plugin: an authentication ticket was completed twice; the second completion is ignored");
    return;
  }
  std::unique_ptr<Ticket> t(raw);
  // Back on the plugin's thread, so the chain goes on in one place.
  const auto index = t->index;
  auto plugin = t->chain->plugins_[index];
  std::string u = user ? user : "";
  const bool has_user = user != nullptr;
  std::string why = reason ? reason : "";
  boost::asio::post(plugin->executor(), [t = std::move(t), result, u = std::move(u), has_user, why = std::move(why)]() mutable {
    decide(std::move(t), result, has_user ? u.c_str() : nullptr, why.empty() ? nullptr : why.c_str());
  });
}

void ChainAuthenticator::decide(std::unique_ptr<Ticket> t, outpost_result result, const char* user,
                                const char* reason) {
  const auto& plugin = t->chain->plugins_[t->index];
  core::AuthDecision d;
  switch (result) {
    case OUTPOST_DEFER:
      ++t->index;
      t->completed.store(false);
      ask(std::move(t));
      return;
    case OUTPOST_OK:
      d.status = core::AuthStatus::accepted;
      d.by_plugin = true;
      d.user = user ? std::string(user) : t->request.user.value_or(std::string());
      d.reason = reason ? reason : fmt::format("accepted by plugin {}", plugin->name());
      break;
    case OUTPOST_DENY:
      d.status = t->request.user || t->request.password ? core::AuthStatus::bad_credentials
                                                         : core::AuthStatus::not_authorized;
      d.reason = reason ? reason : fmt::format("refused by plugin {}", plugin->name());
      break;
    default:
      spdlog::error("plugin {}: authenticate failed ({}){}{}; the client is refused", plugin->name(),
                    static_cast<int>(result), reason ? ": " : "", reason ? reason : "");
      d.status = core::AuthStatus::not_authorized;
      d.reason = fmt::format("plugin {} failed", plugin->name());
      break;
  }
  boost::asio::post(t->ex, [done = std::move(t->done), d = std::move(d)]() mutable { done(std::move(d)); });
}

outpost_result ChainAccess::ask(const core::ClientInfo& client, outpost_access access, std::string_view exchange,
                                std::string_view name) const {
  const auto c = client_view(client);
  for (const auto& p : plugins_) {
    outpost_result r = OUTPOST_ERROR;
    try {
      r = p->callbacks().authorize(p->state(), &c, access, str(exchange), str(name));
    } catch (...) {
      r = OUTPOST_ERROR;
    }
    if (r == OUTPOST_DEFER) continue;
    if (r == OUTPOST_OK) return OUTPOST_OK;
    if (r != OUTPOST_DENY) {
      spdlog::error("plugin {}: authorize failed ({}) on '{}'; refused", p->name(), static_cast<int>(r), name);
    }
    return OUTPOST_DENY;
  }
  return OUTPOST_DEFER;
}

bool ChainAccess::may_publish(const core::ClientInfo& client, std::string_view exchange, std::string_view topic) const {
  const auto r = ask(client, OUTPOST_ACCESS_PUBLISH, exchange, topic);
  if (r != OUTPOST_DEFER) return r == OUTPOST_OK;
  return !next_ || next_->may_publish(client, exchange, topic);
}

bool ChainAccess::may_subscribe(const core::ClientInfo& client, std::string_view exchange,
                                std::string_view filter) const {
  const auto r = ask(client, OUTPOST_ACCESS_SUBSCRIBE, exchange, filter);
  if (r != OUTPOST_DEFER) return r == OUTPOST_OK;
  return !next_ || next_->may_subscribe(client, exchange, filter);
}

bool ChainAccess::may_consume(const core::ClientInfo& client, std::string_view queue, std::string_view topic) const {
  const auto r = queue.empty() ? ask(client, OUTPOST_ACCESS_CONSUME, "amq.topic", topic)
                               : ask(client, OUTPOST_ACCESS_CONSUME, "", queue);
  if (r != OUTPOST_DEFER) return r == OUTPOST_OK;
  return !next_ || next_->may_consume(client, queue, topic);
}

void ChainObserver::connected(const core::ClientInfo& client) const {
  auto owned = std::make_shared<const OwnedClient>(client);
  for (const auto& p : plugins_) {
    if (!p->callbacks().client_connected) continue;
    boost::asio::post(p->executor(), [p, owned] {
      if (!p->live()) return;
      const auto c = owned->view();
      p->callbacks().client_connected(p->state(), &c);
    });
  }
  if (next_) next_->connected(client);
}

void ChainObserver::disconnected(const core::ClientInfo& client) const {
  auto owned = std::make_shared<const OwnedClient>(client);
  for (const auto& p : plugins_) {
    if (!p->callbacks().client_disconnected) continue;
    boost::asio::post(p->executor(), [p, owned] {
      if (!p->live()) return;
      const auto c = owned->view();
      p->callbacks().client_disconnected(p->state(), &c);
    });
  }
  if (next_) next_->disconnected(client);
}

}  // namespace outpost::plugin
