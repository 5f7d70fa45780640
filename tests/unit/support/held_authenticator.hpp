// An Authenticator for session tests that answers only when the test says so (posted to
// the connection's executor, as a real one does) and remembers what it was asked.
#pragma once

#include "core/access.hpp"

#include <boost/asio/post.hpp>

#include <utility>
#include <vector>

namespace outpost::test {

class HeldAuthenticator final : public core::Authenticator {
 public:
  struct Call {
    core::AuthRequest request;
    boost::asio::any_io_executor ex;
    Done done;
  };
  void authenticate(core::AuthRequest request, boost::asio::any_io_executor ex, Done done) const override {
    calls.push_back(Call{std::move(request), std::move(ex), std::move(done)});
  }
  // Answers the oldest call.
  void answer(core::AuthDecision decision) const {
    auto call = std::move(calls.front());
    calls.erase(calls.begin());
    boost::asio::post(call.ex, [d = std::move(decision), done = std::move(call.done)]() mutable { done(std::move(d)); });
  }
  mutable std::vector<Call> calls;
};

}  // namespace outpost::test
