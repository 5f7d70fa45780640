#include "auth/password_file.hpp"

#include "text/base64.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>

namespace outpost::auth {
namespace {

constexpr std::string_view kBlanks = " \t\r\n\v\f";

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(kBlanks);
  return s.substr(first, last - first + 1);
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    char32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF.
    if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// The '$'-separated fields after the leading '$'; an empty field stays (and fails later).
std::vector<std::string_view> split_dollar(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const auto end = s.find('$', start);
    out.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

std::array<unsigned char, kSaltBytes> random_salt() {
  std::array<unsigned char, kSaltBytes> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    throw std::runtime_error("no random bytes for a password salt (OpenSSL RAND_bytes failed)");
  }
  return salt;
}

}  // namespace

std::optional<PasswordFile::Entry> PasswordFile::parse_hash(std::string_view field, std::string& why) {
  if (field.empty() || field.front() != '$') {
    why = "the password is not hashed (a plain-text file is converted with 'outpost passwd -U FILE')";
    return std::nullopt;
  }
  const auto parts = split_dollar(field.substr(1));
  Entry entry;
  std::string_view salt;
  std::string_view digest;
  if (parts[0] == "7") {
    if (parts.size() != 4) {
      why = "a $7$ hash has four fields: $7$ITERATIONS$SALT$HASH";
      return std::nullopt;
    }
    entry.kind = Kind::sha512_pbkdf2;
    const auto iterations = parts[1];
    long long n = 0;
    const auto [end, ec] = std::from_chars(iterations.data(), iterations.data() + iterations.size(), n);
    if (iterations.empty() || ec == std::errc::invalid_argument || end != iterations.data() + iterations.size()) {
      why = fmt::format("the iteration count '{}' is not a number", iterations);
      return std::nullopt;
    }
    if (ec == std::errc::result_out_of_range || n < 1 || n > kMaxIterations) {
      why = fmt::format("the iteration count {} is outside 1..{}", iterations, kMaxIterations);
      return std::nullopt;
    }
    entry.iterations = static_cast<int>(n);
    salt = parts[2];
    digest = parts[3];
  } else if (parts[0] == "6") {
    if (parts.size() != 3) {
      why = "a $6$ hash has three fields: $6$SALT$HASH";
      return std::nullopt;
    }
    entry.kind = Kind::sha512;
    entry.iterations = 1;
    salt = parts[1];
    digest = parts[2];
  } else {
    why = fmt::format("unknown hash type '${}$' (expected $7$ or $6$)", parts[0]);
    return std::nullopt;
  }
  const auto salt_bytes = text::base64_decode(salt);
  if (!salt_bytes || salt_bytes->size() != kSaltBytes) {
    why = fmt::format("the salt is not {} bytes of base64", kSaltBytes);
    return std::nullopt;
  }
  const auto digest_bytes = text::base64_decode(digest);
  if (!digest_bytes || digest_bytes->size() != kDigestBytes) {
    why = fmt::format("the hash is not {} bytes of base64", kDigestBytes);
    return std::nullopt;
  }
  std::copy(salt_bytes->begin(), salt_bytes->end(), entry.salt.begin());
  std::copy(digest_bytes->begin(), digest_bytes->end(), entry.digest.begin());
  return entry;
}

bool is_password_hash(std::string_view field) {
  std::string why;
  return PasswordFile::parse_hash(field, why).has_value();
}

std::optional<std::string> user_name_problem(std::string_view user) {
  if (user.empty()) return "the user name is empty";
  if (user.size() > 65535) return "the user name is longer than 65535 bytes";
  if (!valid_utf8(user)) return "the user name is not UTF-8";
  for (const char c : user) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return "the user name contains a control character";
    if (c == ':') return "the user name contains ':'";
  }
  return std::nullopt;
}

PasswordFile PasswordFile::load(const std::string& path, FileProblems& problems) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error(fmt::format("{}: {}", path, std::strerror(errno)));
  std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (file.bad()) throw std::runtime_error(fmt::format("{}: read error", path));
  return parse(text, path, problems);
}

PasswordFile PasswordFile::parse(std::string_view text, const std::string& name, FileProblems& problems) {
  PasswordFile result;
  std::map<std::string, std::size_t, std::less<>> first_line;
  bool decoy_set = false;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = text.find('\n', pos);
    const auto line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    ++line_no;
    const auto report = [&](std::string message) { problems.push_back({name, line_no, std::move(message)}); };

    if (trim(line).empty() || line.front() == '#') continue;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      report("no ':' between user and password hash");
      continue;
    }
    const auto user = trim(line.substr(0, colon));
    const auto field = trim(line.substr(colon + 1));
    if (field.find(':') != std::string_view::npos) {
      report("more than one ':' (user names cannot contain ':')");
      continue;
    }
    if (const auto why = user_name_problem(user)) {
      report(*why);
      continue;
    }
    if (field.empty()) {
      report(fmt::format("no password hash for user '{}'", user));
      continue;
    }
    std::string why;
    auto entry = parse_hash(field, why);
    if (!entry) {
      report(fmt::format("user '{}': {}", user, why));
      continue;
    }
    if (const auto seen = first_line.find(user); seen != first_line.end()) {
      report(fmt::format("user '{}' is listed again (first on line {}); this line is ignored", user, seen->second));
      continue;
    }
    first_line.emplace(std::string(user), line_no);
    if (!decoy_set) {
      result.decoy_.kind = entry->kind;
      result.decoy_.iterations = entry->iterations;
      decoy_set = true;
    }
    result.entries_.emplace(std::string(user), *entry);
  }
  result.decoy_.salt = random_salt();
  return result;
}

std::size_t PasswordFile::size() const { return entries_.size(); }

bool PasswordFile::contains(std::string_view user) const { return entries_.find(user) != entries_.end(); }

std::vector<std::string> PasswordFile::users() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [user, entry] : entries_) out.push_back(user);
  return out;
}

std::array<unsigned char, kDigestBytes> PasswordFile::compute(const Entry& entry, std::string_view password) {
  std::array<unsigned char, kDigestBytes> out{};
  bool ok = false;
  if (entry.kind == Kind::sha512_pbkdf2) {
    ok = PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), entry.salt.data(),
                           static_cast<int>(entry.salt.size()), entry.iterations, EVP_sha512(),
                           static_cast<int>(out.size()), out.data()) == 1;
  } else {
    const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    unsigned int length = 0;
    ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha512(), nullptr) == 1 &&
         EVP_DigestUpdate(ctx.get(), password.data(), password.size()) == 1 &&
         EVP_DigestUpdate(ctx.get(), entry.salt.data(), entry.salt.size()) == 1 &&
         EVP_DigestFinal_ex(ctx.get(), out.data(), &length) == 1 && length == out.size();
  }
  if (!ok) throw std::runtime_error("OpenSSL could not compute a SHA-512 password hash");
  return out;
}

bool PasswordFile::verify(std::string_view user, std::string_view password) const {
  if (password.size() > static_cast<std::size_t>(INT_MAX)) return false;
  const auto it = entries_.find(user);
  const Entry& entry = it != entries_.end() ? it->second : decoy_;
  const auto digest = compute(entry, password);
  const bool same = CRYPTO_memcmp(digest.data(), entry.digest.data(), digest.size()) == 0;
  return it != entries_.end() && same;
}

std::string hash_password(std::string_view password, int iterations) {
  if (iterations < 1 || iterations > kMaxIterations) {
    throw std::invalid_argument(fmt::format("iterations must be 1..{}, not {}", kMaxIterations, iterations));
  }
  if (password.size() > static_cast<std::size_t>(INT_MAX)) throw std::invalid_argument("password too long");
  PasswordFile::Entry entry;
  entry.kind = PasswordFile::Kind::sha512_pbkdf2;
  entry.iterations = iterations;
  entry.salt = random_salt();
  entry.digest = PasswordFile::compute(entry, password);
  return fmt::format("$7${}${}${}", iterations, text::base64_encode(entry.salt), text::base64_encode(entry.digest));
}

std::string hash_password_sha512(std::string_view password) {
  PasswordFile::Entry entry;
  entry.kind = PasswordFile::Kind::sha512;
  entry.iterations = 1;
  entry.salt = random_salt();
  entry.digest = PasswordFile::compute(entry, password);
  return fmt::format("$6${}${}", text::base64_encode(entry.salt), text::base64_encode(entry.digest));
}

}  // namespace outpost::auth
