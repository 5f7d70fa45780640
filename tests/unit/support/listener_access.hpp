// What a test listener checks its sessions with: the options' authenticator and access
// control, or the built-in rule of a listener with `allow_anonymous`.
#pragma once

#include "core/access.hpp"

#include <memory>

namespace outpost::test {

template <class Options>
core::ListenerAccess listener_access(const Options& options) {
  core::ListenerAccess access;
  access.name = "test";
  access.authenticator = options.authenticator ? options.authenticator
                                               : std::make_shared<core::AnonymousAuthenticator>(options.allow_anonymous);
  access.access = options.access;
  return access;
}

}  // namespace outpost::test
