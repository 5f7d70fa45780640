// Telling the service manager what the broker is doing (sd_notify(3)): the systemd unit is
// Type=notify, so `systemctl start outpost` returns once clients can connect, and
// `systemctl reload` shows the reload while it runs. Outside systemd (no NOTIFY_SOCKET), and
// in a build without libsystemd (OUTPOST_SYSTEMD=OFF), every call does nothing.
// Any thread may call these; none blocks for long (one datagram on a local socket).
#pragma once

#include <string_view>

namespace outpost::service {

// READY=1: the store is restored and the listeners accept. `status` is shown by
// `systemctl status` (STATUS=).
void notify_ready(std::string_view status);

// STOPPING=1: shutdown has begun.
void notify_stopping();

// RELOADING=1 for its lifetime, then READY=1 again: one SIGHUP reload, whatever its outcome.
class ReloadScope {
 public:
  ReloadScope();
  ~ReloadScope();
  ReloadScope(const ReloadScope&) = delete;
  ReloadScope& operator=(const ReloadScope&) = delete;
};

}  // namespace outpost::service
