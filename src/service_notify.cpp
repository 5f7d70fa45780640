#include "service_notify.hpp"

#include <string>
#include <time.h>

#if OUTPOST_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace outpost::service {

namespace {

void send(const std::string& state) {
#if OUTPOST_HAVE_SYSTEMD
  // unset_environment = 0: a reload or stop later in the same process notifies again.
  sd_notify(0, state.c_str());
#else
  (void)state;
#endif
}

// systemd 253 and later want the time of a RELOADING=1 (Type=notify-reload); older ones
// ignore the field.
std::string monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::to_string(static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                        static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL);
}

}  // namespace

void notify_ready(std::string_view status) {
  std::string state = "READY=1";
  if (!status.empty()) {
    state += "\nSTATUS=";
    state += status;
  }
  send(state);
}

void notify_stopping() { send("STOPPING=1\nSTATUS=shutting down"); }

ReloadScope::ReloadScope() { send("RELOADING=1\nMONOTONIC_USEC=" + monotonic_usec()); }

ReloadScope::~ReloadScope() { send("READY=1"); }

}  // namespace outpost::service
