// SysPublisher: every `interval`, a snapshot's $SYS topics published as retained QoS 0
// messages by the broker itself, each only when its value changed (a topic that is gone,
// such as a deleted queue's, is cleared). Subscribers to $SYS/# get the whole picture at
// once from the retained messages; ACLs decide who may subscribe.
//
// Threading: start() and stop() on the executor's thread; stop() before the executor's
// context ends.
#pragma once

#include "core/publisher.hpp"
#include "observe/load_average.hpp"
#include "observe/observer.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <map>
#include <string>

namespace outpost::observe {

class SysPublisher {
 public:
  SysPublisher(Observer& observer, core::Broker& broker, std::chrono::milliseconds interval);
  void start(boost::asio::any_io_executor ex);
  void stop();
  // One round now (also what the timer runs).
  void publish_now();

 private:
  void arm();
  void publish(const std::string& topic, const std::string& value);

  Observer& observer_;
  core::Broker& broker_;
  const std::chrono::milliseconds interval_;
  core::Publisher publisher_;
  LoadAverages load_;
  std::chrono::steady_clock::time_point last_;
  std::map<std::string, std::string> published_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
};

}  // namespace outpost::observe
