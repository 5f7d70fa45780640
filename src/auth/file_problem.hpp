// A line of a password or ACL file that was not understood: reported with its place and
// skipped, never guessed at (a skipped password line accepts nobody; a skipped ACL line
// grants nothing).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace outpost::auth {

struct FileProblem {
  std::string file;       // the path as configured
  std::size_t line = 0;   // 1-based
  std::string message;    // what is wrong, without the place

  // "FILE:LINE: MESSAGE"
  std::string describe() const;
};

using FileProblems = std::vector<FileProblem>;

}  // namespace outpost::auth
