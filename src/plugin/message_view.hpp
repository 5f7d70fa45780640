// Between the core's types and the plugin ABI's views of them: a Message seen as an
// outpost_message, a ClientInfo as an outpost_client, and back.
//
// Threading: pure functions; a view points into what it was made from and lives no longer.
#pragma once

#include "core/access.hpp"
#include "core/client_info.hpp"
#include "core/message.hpp"

#include <outpost/plugin.h>

#include <string>
#include <string_view>
#include <vector>

namespace outpost::plugin {

inline outpost_str str(std::string_view s) noexcept { return outpost_str{s.data(), s.size()}; }
inline std::string_view view(outpost_str s) noexcept {
  return s.data == nullptr ? std::string_view() : std::string_view(s.data, s.len);
}

// An outpost_message over a core message; `properties` holds its user properties' views.
struct MessageView {
  outpost_message message{};
  std::vector<outpost_user_property> properties;
};
void make_view(const core::Message& m, MessageView& out);

// A message built from a plugin's view (everything copied). `origin`: who publishes it.
core::MessagePtr make_message(const outpost_message& m, std::uint64_t origin);

// `m` as `original` was, with what the plugin changed in `edited` (a view of it): the same
// message when nothing changed.
core::MessagePtr apply_edit(const core::MessagePtr& original, const MessageView& before, const outpost_message& edited);

outpost_protocol protocol_of(core::Protocol p) noexcept;
outpost_client client_view(const core::ClientInfo& c) noexcept;

// A client as an auth request names it (the user as sent).
outpost_client client_view(const core::AuthRequest& r) noexcept;

// An outpost_client whose strings it owns: for events handed to another thread.
struct OwnedClient {
  explicit OwnedClient(const core::ClientInfo& c);
  outpost_client view() const noexcept;
  outpost_protocol protocol;
  std::string listener, address, client_id, user, certificate_identity;
  std::uint64_t origin;
};

}  // namespace outpost::plugin
