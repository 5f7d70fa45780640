#include "store/wal_scan.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

namespace outpost::store {
namespace {

// The WAL format (https://www.sqlite.org/fileformat2.html#walformat): a 32-byte header,
// then frames of a 24-byte header and one page.
constexpr std::size_t kHeader = 32;
constexpr std::size_t kFrameHeader = 24;
constexpr std::uint32_t kMagic = 0x377f0682;  // | 1: checksums over big-endian words

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
std::uint32_t le32(const unsigned char* p) {
  return (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) | p[0];
}

using Sum = std::array<std::uint32_t, 2>;

// SQLite's walChecksumBytes: Fletcher-like over pairs of 32-bit words.
Sum checksum(bool big_endian, const unsigned char* data, std::size_t n, Sum in) {
  std::uint32_t s1 = in[0], s2 = in[1];
  for (std::size_t i = 0; i + 8 <= n; i += 8) {
    const std::uint32_t a = big_endian ? be32(data + i) : le32(data + i);
    const std::uint32_t b = big_endian ? be32(data + i + 4) : le32(data + i + 4);
    s1 += a + s2;
    s2 += b + s1;
  }
  return {s1, s2};
}

}  // namespace

WalScan scan_wal(const std::string& wal_path) {
  WalScan r;
  struct stat st {};
  if (::stat(wal_path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      r.exists = true;
      r.damaged = true;
      r.damage = fmt::format("cannot be examined: {}", std::strerror(errno));
    }
    return r;
  }
  r.exists = true;
  r.size = static_cast<std::uint64_t>(st.st_size);
  if (r.size == 0) return r;  // emptied by a checkpoint: nothing to replay
  std::ifstream f(wal_path, std::ios::binary);
  if (!f) {
    r.damaged = true;
    r.damage = fmt::format("cannot be read: {}", std::strerror(errno));
    return r;
  }
  if (r.size < kHeader) {
    // SQLite ignores it; a tear while writing the header of an empty log.
    return r;
  }
  unsigned char h[kHeader];
  f.read(reinterpret_cast<char*>(h), kHeader);
  const std::uint32_t magic = be32(h);
  const bool big_endian = (magic & 1) != 0;
  r.page_size = be32(h + 8);
  const bool page_size_ok = r.page_size >= 512 && r.page_size <= 65536 && (r.page_size & (r.page_size - 1)) == 0;
  const std::uint64_t frame_size = kFrameHeader + (page_size_ok ? r.page_size : 0);
  if ((magic & ~1u) != kMagic || !page_size_ok) {
    r.damaged = true;
    r.damage = "its header is not a write-ahead log header (SQLite would ignore the whole log)";
    return r;
  }
  const Sum header_sum = checksum(big_endian, h, 24, {0, 0});
  const Sum stored_header_sum{be32(h + 24), be32(h + 28)};
  const std::uint32_t salt1 = be32(h + 16), salt2 = be32(h + 20);
  r.frames = (r.size - kHeader) / frame_size;
  if (header_sum != stored_header_sum) {
    if (r.frames > 0) {
      r.damaged = true;
      r.damage = fmt::format("its header fails its checksum: SQLite would ignore all {} frames of the log", r.frames);
    }
    return r;
  }
  r.header_ok = true;

  std::vector<unsigned char> frame(frame_size);
  Sum running = header_sum;  // the chain SQLite follows
  Sum previous_stored = header_sum;
  bool chain = true;
  std::uint64_t first_bad = 0;
  for (std::uint64_t i = 1; i <= r.frames; ++i) {
    if (!f.read(reinterpret_cast<char*>(frame.data()), static_cast<std::streamsize>(frame_size))) {
      r.damaged = true;
      r.damage = fmt::format("cannot be read at frame {}", i);
      return r;
    }
    const unsigned char* fh = frame.data();
    const bool same_log = be32(fh + 8) == salt1 && be32(fh + 12) == salt2;
    const Sum stored{be32(fh + 16), be32(fh + 20)};
    auto sum_from = [&](Sum seed) {
      return checksum(big_endian, frame.data() + kFrameHeader, r.page_size, checksum(big_endian, fh, 8, seed));
    };
    if (chain) {
      if (same_log && be32(fh) != 0 && sum_from(running) == stored) {
        running = stored;
        if (be32(fh + 4) != 0) {  // a commit frame: the database size after it
          r.valid_frames = i;
          ++r.transactions;
        }
      } else {
        chain = false;
        first_bad = i;
      }
    } else if (same_log && be32(fh) != 0 && be32(fh + 4) != 0 && sum_from(previous_stored) == stored) {
      // A committed transaction, intact, after the frame where SQLite stops. Only a commit
      // frame counts: frames of a transaction still being written may legitimately break
      // the chain (SQLite rewrites a frame in place when a large transaction changes a
      // page twice, and fixes the checksums after it only when it commits).
      r.damaged = true;
      r.damage = fmt::format(
          "frame {} of {} (byte {}) fails its checksum, and the transaction committed in frame {} after it is "
          "intact: SQLite would silently drop everything from frame {} on, committed transactions included",
          first_bad, r.frames, kHeader + (first_bad - 1) * frame_size, i, first_bad);
      return r;
    }
    previous_stored = stored;
  }
  return r;
}

long long write_unbroken_wal(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  std::vector<unsigned char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < kHeader) return -1;
  unsigned char* h = data.data();
  const std::uint32_t magic = be32(h);
  const bool big_endian = (magic & 1) != 0;
  const std::uint32_t page_size = be32(h + 8);
  if ((magic & ~1u) != kMagic || page_size < 512 || page_size > 65536 || (page_size & (page_size - 1)) != 0) return -1;
  const std::size_t frame_size = kFrameHeader + page_size;
  const std::size_t frames = (data.size() - kHeader) / frame_size;
  auto put_be32 = [](unsigned char* p, std::uint32_t v) {
    p[0] = static_cast<unsigned char>(v >> 24);
    p[1] = static_cast<unsigned char>(v >> 16);
    p[2] = static_cast<unsigned char>(v >> 8);
    p[3] = static_cast<unsigned char>(v);
  };
  long long changed = 0;
  if (frames > 0 && (be32(h + 16) != be32(h + kHeader + 8) || be32(h + 20) != be32(h + kHeader + 12))) {
    // A damaged salt in the header: the frames carry the log's real salts.
    std::memcpy(h + 16, h + kHeader + 8, 8);
    ++changed;
  }
  Sum running = checksum(big_endian, h, 24, {0, 0});
  if (be32(h + 24) != running[0] || be32(h + 28) != running[1]) {
    put_be32(h + 24, running[0]);
    put_be32(h + 28, running[1]);
    ++changed;
  }
  for (std::size_t i = 0; i < frames; ++i) {
    unsigned char* fh = h + kHeader + i * frame_size;
    if (std::memcmp(fh + 8, h + 16, 8) != 0 || be32(fh) == 0) break;  // an older log's frames
    running = checksum(big_endian, fh + kFrameHeader, page_size, checksum(big_endian, fh, 8, running));
    if (be32(fh + 16) != running[0] || be32(fh + 20) != running[1]) {
      put_be32(fh + 16, running[0]);
      put_be32(fh + 20, running[1]);
      ++changed;
    }
  }
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return out ? changed : -1;
}

}  // namespace outpost::store
