// ConfigTree: a part of the configuration file kept as it was written, for a reader the
// settings do not know (a plugin's `config:` section). Every node remembers where it
// stands in the file, so whoever reads it can name file:line:column in its errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace outpost {

struct ConfigTree {
  enum class Kind : std::uint8_t { null, scalar, sequence, map };
  Kind kind = Kind::null;
  std::string scalar;    // Kind::scalar: the value as written, unquoted
  std::string position;  // "file:line:column"
  // Kind::sequence: the items (keys empty); Kind::map: keys and values, in file order.
  std::vector<std::string> keys;
  std::vector<ConfigTree> values;
};

}  // namespace outpost
