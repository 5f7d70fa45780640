// The JSON of the admin API: GET /api/v1/clients and GET /api/v1/queues.
#pragma once

#include "core/client_directory.hpp"
#include "observe/snapshot.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace outpost::observe {

// "2026-12-03T07:28:55Z" (UTC, whole seconds) for milliseconds since the Unix epoch.
std::string iso8601_utc(std::int64_t unix_ms);

// [{"id":..,"protocol":"mqtt","protocol_version":"5.0","listener":..,"remote_address":..,
//   "user":..|null,"connected_since":"..Z","connected_since_unix":..,"subscriptions":..,
//   "queued":..,"in_flight":..}, ...]
std::string clients_json(const std::vector<core::ClientRow>& rows);

// [{"name":..,"protocol":"amqp","durable":..,"messages":..,"bytes":..,"consumers":..,"dropped":..}, ...]
std::string queues_json(const std::vector<QueueSample>& queues);

}  // namespace outpost::observe
