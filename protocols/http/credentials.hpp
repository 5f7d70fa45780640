// Small pieces of HTTP the admin API needs: the user and password of a Basic
// Authorization header (RFC 7617) and percent-decoding of a path segment (RFC 3986 2.1).
//
// Threading: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace outpost::http {

struct BasicCredentials {
  std::string user;
  std::string password;
};

// "Basic dXNlcjpwYXNz" -> {user, pass}; nullopt for another scheme or malformed base64 /
// no ':' (the user name cannot hold one, RFC 7617 section 2).
std::optional<BasicCredentials> parse_basic_authorization(std::string_view header);

// "%2Fa%20b" -> "/a b"; nullopt for a '%' not followed by two hex digits. '+' stays '+'
// (a path, not a form).
std::optional<std::string> percent_decode(std::string_view s);

}  // namespace outpost::http
