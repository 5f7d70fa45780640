// A mosquitto-format password file: one "user:hash" per line, the hash as mosquitto 2 reads
// and mosquitto_passwd writes it:
//   $7$ITERATIONS$SALT$DIGEST  PBKDF2-HMAC-SHA512 (mosquitto_passwd's default since 2.0)
//   $6$SALT$DIGEST             SHA-512 over the password bytes followed by the salt bytes
// SALT is 12 bytes and DIGEST 64 bytes, both in standard base64 with padding. Blank lines
// and lines starting with '#' are ignored; a line that is not understood is reported and
// skipped, so it lets nobody in.
//
// A PasswordFile is immutable once built: load it on the start-up or reload thread, then
// verify() from any number of threads at once.
#pragma once

#include "auth/file_problem.hpp"

#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::auth {

inline constexpr std::size_t kSaltBytes = 12;
inline constexpr std::size_t kDigestBytes = 64;
inline constexpr int kDefaultIterations = 101;
// Past this a single login costs about a second of a worker's time; a line asking for more
// is a mistake (or an attack on the worker pool), reported and skipped.
inline constexpr int kMaxIterations = 1'000'000;

// Whether the text after a user's ':' is a well-formed $6$ or $7$ hash.
bool is_password_hash(std::string_view field);

// A new hash field as mosquitto_passwd writes it by default: "$7$ITER$SALT$DIGEST", with 12
// fresh random bytes of salt (OpenSSL RAND_bytes). Passwords are bytes: MQTT passwords are
// binary data. Throws std::invalid_argument if iterations is outside 1..kMaxIterations,
// std::runtime_error if no random bytes can be had.
std::string hash_password(std::string_view password, int iterations = kDefaultIterations);
// The older form, "$6$SALT$DIGEST" (mosquitto_passwd -H sha512).
std::string hash_password_sha512(std::string_view password);

class PasswordFile {
 public:
  PasswordFile() = default;  // empty: nobody

  // Reads and parses the file; throws std::runtime_error("PATH: why") if it cannot be read.
  static PasswordFile load(const std::string& path, FileProblems& problems);
  // `name` is used in problems. A user listed twice is reported and the first line kept
  // (mosquitto 2.0 keeps no such rule: its hash table makes the last line win, silently).
  static PasswordFile parse(std::string_view text, const std::string& name, FileProblems& problems);

  std::size_t size() const;
  bool contains(std::string_view user) const;
  std::vector<std::string> users() const;  // sorted

  // Thread-safe; deliberately slow (the hash's own cost). The digests are compared in
  // constant time, and an unknown user costs one check too, with the parameters of the
  // file's first entry, so the time taken does not tell which users exist.
  bool verify(std::string_view user, std::string_view password) const;

 private:
  enum class Kind { sha512, sha512_pbkdf2 };
  struct Entry {
    Kind kind = Kind::sha512_pbkdf2;
    int iterations = kDefaultIterations;
    std::array<unsigned char, kSaltBytes> salt{};
    std::array<unsigned char, kDigestBytes> digest{};
  };
  friend bool is_password_hash(std::string_view field);
  friend std::string hash_password(std::string_view password, int iterations);
  friend std::string hash_password_sha512(std::string_view password);

  // The entry a hash field stands for, or std::nullopt with `why` set.
  static std::optional<Entry> parse_hash(std::string_view field, std::string& why);

  static std::array<unsigned char, kDigestBytes> compute(const Entry& entry, std::string_view password);

  std::map<std::string, Entry, std::less<>> entries_;
  Entry decoy_;  // what an unknown user is checked against
};

// Why `user` cannot be a user of a password file (empty, longer than 65535 bytes, not
// UTF-8, a control character, a ':'), or std::nullopt if it can.
std::optional<std::string> user_name_problem(std::string_view user);

}  // namespace outpost::auth
