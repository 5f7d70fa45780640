#include "auth/file_problem.hpp"

#include <fmt/format.h>

namespace outpost::auth {

std::string FileProblem::describe() const { return fmt::format("{}:{}: {}", file, line, message); }

}  // namespace outpost::auth
