#include "core/client_directory.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>

namespace outpost::core {

ClientDirectory::Key ClientDirectory::add(ClientRecord record, boost::asio::any_io_executor executor,
                                          std::weak_ptr<LiveClient> live) {
  std::lock_guard lock(mutex_);
  const Key key = next_key_++;
  entries_.emplace(key, Entry{std::move(record), std::move(executor), std::move(live)});
  return key;
}

void ClientDirectory::remove(Key key) {
  std::lock_guard lock(mutex_);
  entries_.erase(key);
}

std::size_t ClientDirectory::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void ClientDirectory::list(std::function<void(std::vector<ClientRow>)> done) const {
  std::vector<Entry> entries;
  {
    std::lock_guard lock(mutex_);
    entries.reserve(entries_.size());
    for (const auto& [key, e] : entries_) entries.push_back(e);
  }
  if (entries.empty()) {
    done({});
    return;
  }
  // Each client fills its own slot on its own thread; the last to answer hands the rows on.
  struct Gather {
    std::vector<std::optional<ClientRow>> rows;
    std::atomic<std::size_t> left;
    std::function<void(std::vector<ClientRow>)> done;
    void answered() {
      if (left.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
      std::vector<ClientRow> out;
      out.reserve(rows.size());
      for (auto& r : rows) {
        if (r) out.push_back(std::move(*r));
      }
      done(std::move(out));
    }
  };
  auto gather = std::make_shared<Gather>();
  gather->rows.resize(entries.size());
  gather->left.store(entries.size());
  gather->done = std::move(done);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto& e = entries[i];
    boost::asio::post(e.executor, [gather, i, record = std::move(e.record), live = std::move(e.live)]() mutable {
      if (auto l = live.lock()) {
        if (auto f = l->figures()) gather->rows[i] = ClientRow{std::move(record), *f};
      }
      gather->answered();
    });
  }
}

std::size_t ClientDirectory::kick(std::string_view id, const std::string& by) const {
  std::vector<Entry> matches;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, e] : entries_) {
      if (e.record.id == id) matches.push_back(e);
    }
  }
  for (auto& e : matches) {
    boost::asio::post(e.executor, [live = std::move(e.live), by] {
      if (auto l = live.lock()) l->kick(by);
    });
  }
  return matches.size();
}

}  // namespace outpost::core
