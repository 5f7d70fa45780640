#include "server/poller.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace outpost::server {

namespace {

// Events fetched per epoll_wait, and batches handled per wake-up before the other
// handlers of the thread get their turn (a wait started on a set that is still ready
// completes at once).
constexpr int kBatch = 64;
constexpr int kRoundsPerWake = 4;

int make_epoll_set() {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  return fd;
}

// The error of a failed recv() or sendmsg(): would_block when the socket has no data or
// no room now, errno otherwise.
void set_error(boost::system::error_code& ec) noexcept {
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    ec = boost::asio::error::would_block;
  } else {
    ec.assign(errno, boost::system::system_category());
  }
}

}  // namespace

Poller::Poller(boost::asio::io_context& io) : set_(io.get_executor(), make_epoll_set()) { wait(); }

Poller::~Poller() = default;

bool Poller::add(int fd, PollTarget* target, boost::system::error_code& ec) noexcept {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = target;
  if (::epoll_ctl(set_.native_handle(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    ec.assign(errno, boost::system::system_category());
    return false;
  }
  ec.clear();
  return true;
}

void Poller::wait() {
  set_.async_wait(boost::asio::posix::descriptor_base::wait_read, [this](const boost::system::error_code& ec) {
    if (ec) return;  // the poller is being destroyed
    drain();
    wait();
  });
}

void Poller::drain() {
  epoll_event events[kBatch];
  for (int round = 0; round < kRoundsPerWake; ++round) {
    const int n = ::epoll_wait(set_.native_handle(), events, kBatch, 0);
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < n; ++i) static_cast<PollTarget*>(events[i].data.ptr)->on_poll(events[i].events);
    if (n < kBatch) return;
  }
}

void PolledSocket::close() noexcept {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
}

void PolledSocket::shutdown_send() noexcept {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

std::size_t PolledSocket::read_some(std::span<std::uint8_t> into, boost::system::error_code& ec) noexcept {
  for (;;) {
    const ssize_t n = ::recv(fd_, into.data(), into.size(), 0);
    if (n > 0) {
      ec.clear();
      return static_cast<std::size_t>(n);
    }
    if (n == 0) {
      ec = boost::asio::error::eof;
      return 0;
    }
    if (errno == EINTR) continue;
    set_error(ec);
    return 0;
  }
}

std::size_t PolledSocket::write_some(std::span<const boost::asio::const_buffer> buffers,
                                     boost::system::error_code& ec) noexcept {
  constexpr std::size_t kMaxIov = 64;
  iovec iov[kMaxIov];
  const std::size_t count = std::min(buffers.size(), kMaxIov);
  for (std::size_t i = 0; i < count; ++i) {
    iov[i].iov_base = const_cast<void*>(buffers[i].data());
    iov[i].iov_len = buffers[i].size();
  }
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = count;
  for (;;) {
    // MSG_NOSIGNAL: a peer that went away is an error to handle, not a SIGPIPE.
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n >= 0) {
      ec.clear();
      return static_cast<std::size_t>(n);
    }
    if (errno == EINTR) continue;
    set_error(ec);
    return 0;
  }
}

}  // namespace outpost::server
