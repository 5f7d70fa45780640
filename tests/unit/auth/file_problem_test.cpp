#include "auth/file_problem.hpp"

#include <gtest/gtest.h>

namespace outpost::auth {
namespace {

TEST(FileProblem, NamesFileAndLine) {
  EXPECT_EQ((FileProblem{"/etc/outpost/passwd", 3, "no ':' between user and hash"}).describe(),
            "/etc/outpost/passwd:3: no ':' between user and hash");
}

}  // namespace
}  // namespace outpost::auth
