// The exchange and queue classes: declare, delete, bind, unbind, purge.
#include "amqp/amqp_session.hpp"

#include "core/topic.hpp"

#include <fmt/format.h>

namespace outpost::amqp {

namespace {
using Permission = core::AccessControl::Permission;
using Resource = core::AccessControl::Resource;
}  // namespace

bool AmqpSession::permitted(Channel& ch, const Method* m, Permission permission, Resource resource,
                            std::string_view name, bool& closed) {
  const auto* access = ctx_->access.access.get();
  if (!access || access->may_use(client(), permission, resource, name)) return true;
  closed = channel_fail(ch, access_refused,
                        fmt::format("ACCESS_REFUSED - {} access to {} '{}' in vhost '/' refused for user '{}'",
                                    core::to_string(permission), core::to_string(resource),
                                    name.empty() && resource == Resource::exchange ? "amq.default" : name,
                                    client().user.view()),
                        m);
  return false;
}

bool AmqpSession::handle_exchange_method(Channel& ch, const Method& m) {
  auto& vhost = ctx_->vhost;
  bool closed = false;
  switch (m.method_id()) {
    case m::ex_declare: {
      if (!m.flag(3) && !permitted(ch, &m, Permission::configure, Resource::exchange, m.str(1), closed)) return closed;
      // ticket, exchange, type, passive, durable, auto-delete, internal, no-wait, arguments
      if (auto e = vhost.declare_exchange(m.str(1), m.str(2), m.flag(3), m.flag(4), m.flag(5), m.flag(6), m.table(8))) {
        return fail(ch.id, e, &m);
      }
      if (!m.flag(7)) send_method(ch.id, cls::exchange, m::ex_declare_ok, {});
      return true;
    }
    case m::ex_delete:
      // ticket, exchange, if-unused, no-wait
      if (!permitted(ch, &m, Permission::configure, Resource::exchange, m.str(1), closed)) return closed;
      if (auto e = vhost.delete_exchange(m.str(1), m.flag(2))) return fail(ch.id, e, &m);
      if (!m.flag(3)) send_method(ch.id, cls::exchange, m::ex_delete_ok, {});
      return true;
    case m::ex_bind:
    case m::ex_unbind:
      return connection_error(not_implemented, "NOT_IMPLEMENTED - exchange-to-exchange bindings are not supported", &m);
    default: break;
  }
  return connection_error(command_invalid, "COMMAND_INVALID - unexpected exchange method", &m);
}

bool AmqpSession::handle_queue_method(Channel& ch, const Method& m) {
  auto& vhost = ctx_->vhost;
  // An empty queue name means the queue this channel declared last (0-9-1 queue class).
  auto queue_name = [&](std::size_t i) -> const std::string& { return m.str(i).empty() ? ch.last_queue : m.str(i); };
  bool closed = false;
  switch (m.method_id()) {
    case m::q_declare: {
      // A server-named queue is checked by the kind of name it gets, as RabbitMQ does.
      if (!m.flag(2) && !permitted(ch, &m, Permission::configure, Resource::queue,
                                   m.str(1).empty() ? std::string_view("amq.gen-") : std::string_view(m.str(1)), closed)) {
        return closed;
      }
      // ticket, queue, passive, durable, exclusive, auto-delete, no-wait, arguments
      auto r = vhost.declare_queue(m.str(1), m.flag(2), m.flag(3), m.flag(4), m.flag(5), m.table(7), id_);
      if (r.error) return fail(ch.id, r.error, &m);
      ch.last_queue = r.queue->name;
      if (!m.flag(6)) send_method(ch.id, cls::queue, m::q_declare_ok, {r.queue->name, r.messages, r.consumers});
      return true;
    }
    case m::q_bind:
      // ticket, queue, exchange, routing-key, no-wait, arguments
      if (!permitted(ch, &m, Permission::write, Resource::queue, queue_name(1), closed) ||
          !permitted(ch, &m, Permission::read, Resource::exchange, m.str(2), closed)) {
        return closed;
      }
      if (!may_bind(m.str(2), m.str(3))) {
        return channel_fail(ch, access_refused,
                            fmt::format("ACCESS_REFUSED - access to topic '{}' in exchange '{}' refused for user '{}'",
                                        m.str(3), m.str(2), client().user.view()),
                            &m);
      }
      if (auto e = vhost.bind(queue_name(1), m.str(2), m.str(3), m.table(5), id_)) return fail(ch.id, e, &m);
      if (!m.flag(4)) send_method(ch.id, cls::queue, m::q_bind_ok, {});
      return true;
    case m::q_unbind:
      // ticket, queue, exchange, routing-key, arguments
      if (!permitted(ch, &m, Permission::write, Resource::queue, queue_name(1), closed) ||
          !permitted(ch, &m, Permission::read, Resource::exchange, m.str(2), closed)) {
        return closed;
      }
      if (auto e = vhost.unbind(queue_name(1), m.str(2), m.str(3), m.table(4), id_)) return fail(ch.id, e, &m);
      send_method(ch.id, cls::queue, m::q_unbind_ok, {});
      return true;
    case m::q_purge: {
      // ticket, queue, no-wait
      if (!permitted(ch, &m, Permission::read, Resource::queue, queue_name(1), closed)) return closed;
      Error e;
      auto q = vhost.find_queue(queue_name(1), id_, e);
      if (!q) return fail(ch.id, e, &m);
      const auto n = vhost.purge(q);
      if (!m.flag(2)) send_method(ch.id, cls::queue, m::q_purge_ok, {n});
      return true;
    }
    case m::q_delete: {
      // ticket, queue, if-unused, if-empty, no-wait
      if (!permitted(ch, &m, Permission::configure, Resource::queue, queue_name(1), closed)) return closed;
      std::uint32_t n = 0;
      if (auto e = vhost.delete_queue(queue_name(1), m.flag(2), m.flag(3), id_, n)) return fail(ch.id, e, &m);
      if (!m.flag(4)) send_method(ch.id, cls::queue, m::q_delete_ok, {n});
      return true;
    }
    default: break;
  }
  return connection_error(command_invalid, "COMMAND_INVALID - unexpected queue method", &m);
}

bool AmqpSession::may_bind(const std::string& exchange, const std::string& key) const {
  const auto* access = ctx_->access.access.get();
  if (!access) return true;
  // Topic authorization, as RabbitMQ's: a binding key on a topic exchange is a
  // subscription to its topics (in canonical form on amq.topic, as MQTT sees them).
  const auto target = ctx_->vhost.resolve(exchange);
  if (!target.found || !target.exchange || target.exchange->type() != core::ExchangeType::topic) return true;
  return access->may_subscribe(client(), exchange, core::amqp_pattern_to_filter(key));
}

}  // namespace outpost::amqp
