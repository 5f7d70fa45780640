// Standard base64 (RFC 4648 section 4: '+' and '/', '=' padding, no line breaks): the form
// mosquitto_passwd writes the salt and digest of a password hash in, and the form of HTTP
// Basic credentials (RFC 7617).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::text {

std::string base64_encode(std::span<const unsigned char> bytes);

// Strict: the length is a multiple of 4, padding only at the end, nothing outside the
// alphabet (no whitespace). Anything else is std::nullopt, never a partial result.
std::optional<std::vector<unsigned char>> base64_decode(std::string_view text);

}  // namespace outpost::text
