// outpost-store-bench: reproducible figures for SqliteStore.
//
//   outpost-store-bench restore [--count N] [--payload BYTES] [--dir DIR] [--cold 1]
//       Fills a store with N messages, one queue entry each, then times opening it (with
//       and without the quick_check) and restoring it. --cold 1 empties the kernel's page
//       cache before each open (needs root), as after a reboot.
//   outpost-store-bench commit [--sync full|normal|off] [--batch N] [--seconds S] [--queues Q] [--dir DIR]
//       Commits message + entry pairs in groups of --batch (each group ends with an
//       after_commit that the bench waits for) for about S seconds (default 3), and reports
//       pairs per second and bytes written to disk per pair (/proc/self/io write_bytes;
//       WAL checkpoints included). Entries go round-robin to Q queues (default 1, the
//       fan-in of many devices to one consumer); with many queues each commit touches one
//       b-tree leaf per queue, since entries are clustered by (queue, seq).
//   outpost-store-bench matrix [--queues Q] [--dir DIR]
//       commit for sync full and normal × batch 1, 10, 100, 1000.
//
// Without --dir the store lives in a fresh directory under /tmp, removed afterwards. For
// an SD card or another disk, pass a --dir on it.
#include "store/sqlite_store.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using outpost::store::EntryRecord;
using outpost::store::MessageWrite;
using outpost::store::SqliteStore;
using Clock = std::chrono::steady_clock;
using Sync = SqliteStore::Options::Sync;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Bytes this process caused to be written to storage so far.
std::uint64_t write_bytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return 0;
}

std::uint64_t rss_kib(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::strtoull(line.c_str() + std::strlen(field), nullptr, 10);
  }
  return 0;
}

struct Args {
  std::string mode = "matrix";
  std::string dir;
  Sync sync = Sync::full;
  std::uint64_t batch = 100;
  double seconds = 3;
  int queues = 1;
  std::uint64_t count = 1'000'000;
  std::size_t payload = 64;
  bool cold = false;
};

bool drop_page_cache() {
  ::sync();
  std::ofstream f("/proc/sys/vm/drop_caches");
  f << "3\n";
  f.flush();
  return static_cast<bool>(f);
}

// A data directory for one run: --dir/<name>, or a temporary one; removed at the end.
class RunDir {
 public:
  RunDir(const Args& a, const std::string& name) {
    if (a.dir.empty()) {
      char tmpl[] = "/tmp/outpost-store-bench-XXXXXX";
      if (!::mkdtemp(tmpl)) std::exit(1);
      root_ = tmpl;
      temp_ = true;
    } else {
      root_ = a.dir;
    }
    path_ = root_ + "/" + name;
    std::filesystem::remove_all(path_);
  }
  ~RunDir() { std::filesystem::remove_all(temp_ ? root_ : path_); }
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string root_, path_;
  bool temp_ = false;
};

struct Payload {
  std::string topic;
  std::string body;
};

MessageWrite make_message(std::uint64_t id, const std::shared_ptr<const Payload>& p) {
  MessageWrite m;
  m.id = id;
  m.topic = p->topic;
  m.payload = {reinterpret_cast<const std::uint8_t*>(p->body.data()), p->body.size()};
  m.qos = 1;
  m.keep_alive = p;
  return m;
}

EntryRecord make_entry(std::uint64_t id, std::uint64_t seq, int queue) {
  EntryRecord e;
  e.queue = "mqtt:client-" + std::to_string(queue);
  e.seq = seq;
  e.message_id = id;
  e.qos = 1;
  return e;
}

void wait_durable(SqliteStore& s) {
  std::promise<void> done;
  auto f = done.get_future();
  s.after_commit([&done] { done.set_value(); });
  f.wait();
}

struct NullVisitor final : outpost::store::RestoreVisitor {
  std::uint64_t messages = 0, entries = 0;
  void message(outpost::store::StoredMessage&&) override { ++messages; }
  void retained(outpost::store::StoredMessage&&) override {}
  void session(outpost::store::SessionRecord&&) override {}
  void subscription(outpost::store::SubscriptionRecord&&) override {}
  void entry(EntryRecord&&) override { ++entries; }
  void incoming_qos2(const std::string&, std::uint16_t) override {}
};

int run_restore(const Args& a) {
  RunDir dir(a, "restore");
  SqliteStore::Options o;
  o.dir = dir.path();
  o.sync = Sync::off;
  auto payload = std::make_shared<Payload>(Payload{"sensors/room/temperature", std::string(a.payload, 'p')});
  {
    const auto t = Clock::now();
    SqliteStore s(o);
    NullVisitor v;
    s.restore(v);
    for (std::uint64_t id = 1; id <= a.count; ++id) {
      s.put_message(make_message(id, payload));
      s.put_entry(make_entry(id, id, static_cast<int>(id % 100)));
      if (id % 10000 == 0) wait_durable(s);  // keeps the queued operations bounded
    }
    s.close();
    std::printf("fill: %llu messages (+1 entry each, %zu-byte payload) in %.2f s, database %.1f MB\n",
                static_cast<unsigned long long>(a.count), a.payload, seconds_since(t),
                static_cast<double>(std::filesystem::file_size(dir.path() + "/outpost.db")) / 1e6);
  }
  for (bool check : {false, true}) {
    o.quick_check = check;
    if (a.cold && !drop_page_cache()) std::printf("(cannot drop the page cache: not root?)\n");
    const auto rss_before = rss_kib("VmRSS:");
    auto t = Clock::now();
    SqliteStore s(o);
    const double open_s = seconds_since(t);
    NullVisitor v;
    t = Clock::now();
    s.restore(v);
    const double restore_s = seconds_since(t);
    std::printf("%sopen%s: %.3f s, restore: %.3f s (%llu messages, %llu entries), open + restore %.3f s, "
                "RSS +%.1f MB\n",
                a.cold ? "cold cache, " : "", check ? " with quick_check" : " without quick_check", open_s, restore_s,
                static_cast<unsigned long long>(v.messages), static_cast<unsigned long long>(v.entries),
                open_s + restore_s, static_cast<double>(rss_kib("VmRSS:") - rss_before) / 1024.0);
  }
  return 0;
}

void run_commit(const Args& a) {
  RunDir dir(a, "commit");
  SqliteStore::Options o;
  o.dir = dir.path();
  o.sync = a.sync;
  auto payload = std::make_shared<Payload>(Payload{"sensors/room/temperature", std::string(a.payload, 'p')});
  SqliteStore s(o);
  NullVisitor v;
  s.restore(v);

  const auto written_before = write_bytes();
  const auto t = Clock::now();
  std::uint64_t id = 0;
  while (seconds_since(t) < a.seconds) {
    for (std::uint64_t i = 0; i < a.batch; ++i) {
      ++id;
      s.put_message(make_message(id, payload));
      s.put_entry(make_entry(id, id, static_cast<int>(id % static_cast<std::uint64_t>(a.queues))));
    }
    wait_durable(s);
  }
  const double elapsed = seconds_since(t);
  const std::uint64_t pairs = id;
  const auto written_run = write_bytes() - written_before;
  const auto stats = s.stats();
  s.close();  // the final checkpoint copies the WAL into the database: part of the cost
  const auto written_all = write_bytes() - written_before;
  const char* sync = a.sync == Sync::full ? "full" : a.sync == Sync::normal ? "normal" : "off";
  std::printf("sync %-6s queues %3d batch %5llu: %8.0f pairs/s (%8.0f ops/s), %6llu commits, %7.0f bytes written per pair "
              "(%7.0f with the closing checkpoint)\n",
              sync, a.queues, static_cast<unsigned long long>(a.batch), static_cast<double>(pairs) / elapsed,
              2.0 * static_cast<double>(pairs) / elapsed, static_cast<unsigned long long>(stats.commits),
              static_cast<double>(written_run) / static_cast<double>(pairs),
              static_cast<double>(written_all) / static_cast<double>(pairs));
  std::fflush(stdout);
}

int usage() {
  std::fprintf(stderr,
               "usage: outpost-store-bench restore [--count N] [--payload BYTES] [--dir DIR] [--cold 1]\n"
               "       outpost-store-bench commit [--sync full|normal|off] [--batch N] [--seconds S] [--queues Q] "
               "[--payload BYTES] [--dir DIR]\n"
               "       outpost-store-bench matrix [--seconds S] [--queues Q] [--payload BYTES] [--dir DIR]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  int i = 1;
  if (i < argc && argv[i][0] != '-') a.mode = argv[i++];
  for (; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) return usage();
    const std::string v = argv[++i];
    if (k == "--dir") {
      a.dir = v;
    } else if (k == "--sync") {
      if (v == "full") a.sync = Sync::full;
      else if (v == "normal") a.sync = Sync::normal;
      else if (v == "off") a.sync = Sync::off;
      else return usage();
    } else if (k == "--batch") {
      a.batch = std::max<std::uint64_t>(1, std::strtoull(v.c_str(), nullptr, 10));
    } else if (k == "--seconds") {
      a.seconds = std::strtod(v.c_str(), nullptr);
    } else if (k == "--queues") {
      a.queues = std::max(1, std::atoi(v.c_str()));
    } else if (k == "--count") {
      a.count = std::strtoull(v.c_str(), nullptr, 10);
    } else if (k == "--cold") {
      a.cold = v != "0";
    } else if (k == "--payload") {
      a.payload = std::strtoull(v.c_str(), nullptr, 10);
    } else {
      return usage();
    }
  }
  try {
    if (a.mode == "restore") return run_restore(a);
    if (a.mode == "commit") {
      run_commit(a);
      return 0;
    }
    if (a.mode == "matrix") {
      for (Sync sync : {Sync::full, Sync::normal}) {
        for (std::uint64_t batch : {1, 10, 100, 1000}) {
          Args b = a;
          b.sync = sync;
          b.batch = batch;
          run_commit(b);
        }
      }
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "outpost-store-bench: %s\n", e.what());
    return 1;
  }
  return usage();
}
