#include "store/op_log.hpp"

#include "store/overloaded.hpp"

#include <boost/crc.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

namespace outpost::store::detail {

namespace {

enum class Kind : std::uint8_t {
  put_message = 1,
  put_entry = 2,
  update_entry = 3,
  delete_entry = 4,
  put_qos2 = 5,
  delete_qos2 = 6,
};

constexpr std::size_t kRecordHeader = 8;  // length, CRC
// The most one read or write of the file moves: SQLite's unix VFS writes at most 128 KiB
// per call (never more than a database page in its own use) and fails a larger write as
// SQLITE_FULL, so a record is written in pieces.
constexpr std::size_t kPiece = 64 * 1024;
// A body longer than this is not a record of ours (a message is at most 4 GiB, but
// the log refuses a record past this size: the batch goes to SQLite instead).
constexpr std::uint32_t kMaxBody = 0x7FFF'FFFF;

std::uint32_t crc32(std::span<const std::uint8_t> bytes) {
  boost::crc_32_type crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { fixed(v, 2); }
  void u32(std::uint32_t v) { fixed(v, 4); }
  void u64(std::uint64_t v) { fixed(v, 8); }
  void bytes(const void* p, std::size_t n) {
    u32(static_cast<std::uint32_t>(n));
    const auto* b = static_cast<const std::uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  void str(std::string_view s) { bytes(s.data(), s.size()); }

 private:
  void fixed(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  std::vector<std::uint8_t>& out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
  bool ok() const noexcept { return ok_; }
  bool done() const noexcept { return pos_ == in_.size(); }
  std::uint8_t u8() { return static_cast<std::uint8_t>(fixed(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(fixed(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(fixed(4)); }
  std::uint64_t u64() { return fixed(8); }
  std::span<const std::uint8_t> bytes() {
    const std::uint32_t n = u32();
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    auto s = in_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  std::string str() {
    auto b = bytes();
    return std::string(b.begin(), b.end());
  }

 private:
  std::uint64_t fixed(int n) {
    if (!ok_ || in_.size() - pos_ < static_cast<std::size_t>(n)) {
      ok_ = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= std::uint64_t{in_[pos_ + static_cast<std::size_t>(i)]} << (8 * i);
    pos_ += static_cast<std::size_t>(n);
    return v;
  }
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

std::uint32_t read_u32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

// A restored message's bytes, which the MessageWrite views point into.
struct OwnedMessage {
  std::string topic;
  std::vector<std::uint8_t> payload;
};

bool decode_op(Reader& r, Op& op) {
  const auto kind = static_cast<Kind>(r.u8());
  switch (kind) {
    case Kind::put_message: {
      auto owned = std::make_shared<OwnedMessage>();
      PutMessageOp pm;
      pm.m.id = r.u64();
      owned->topic = r.str();
      auto payload = r.bytes();
      owned->payload.assign(payload.begin(), payload.end());
      pm.m.qos = r.u8();
      pm.m.retain = r.u8() != 0;
      pm.m.expiry_unix_ms = static_cast<std::int64_t>(r.u64());
      pm.m.properties = r.str();
      pm.m.topic = owned->topic;
      pm.m.payload = owned->payload;
      pm.bytes = owned->topic.size() + owned->payload.size() + pm.m.properties.size();
      pm.m.keep_alive = std::move(owned);
      op.v = std::move(pm);
      return r.ok();
    }
    case Kind::put_entry: {
      PutEntryOp p;
      p.e.queue = r.str();
      p.e.seq = r.u64();
      p.e.message_id = r.u64();
      p.e.qos = r.u8();
      p.e.retain = r.u8() != 0;
      p.e.state = static_cast<EntryState>(r.u8());
      p.e.packet_id = r.u16();
      const std::uint32_t n = r.u32();
      for (std::uint32_t i = 0; i < n && r.ok(); ++i) p.e.subscription_ids.push_back(r.u32());
      op.v = std::move(p);
      return r.ok();
    }
    case Kind::update_entry: {
      UpdateEntryOp u;
      u.queue = r.str();
      u.seq = r.u64();
      u.state = static_cast<EntryState>(r.u8());
      u.packet_id = r.u16();
      op.v = std::move(u);
      return r.ok();
    }
    case Kind::delete_entry: {
      DeleteEntryOp d;
      d.queue = r.str();
      d.seq = r.u64();
      op.v = std::move(d);
      return r.ok();
    }
    case Kind::put_qos2:
    case Kind::delete_qos2: {
      std::string client = r.str();
      const std::uint16_t id = r.u16();
      if (kind == Kind::put_qos2) {
        op.v = PutQos2Op{std::move(client), id};
      } else {
        op.v = DeleteQos2Op{std::move(client), id};
      }
      return r.ok();
    }
  }
  return false;
}

}  // namespace

bool loggable(const Op& op) noexcept {
  return std::holds_alternative<PutMessageOp>(op.v) || std::holds_alternative<PutEntryOp>(op.v) ||
         std::holds_alternative<UpdateEntryOp>(op.v) || std::holds_alternative<DeleteEntryOp>(op.v) ||
         std::holds_alternative<PutQos2Op>(op.v) || std::holds_alternative<DeleteQos2Op>(op.v) ||
         std::holds_alternative<BarrierOp>(op.v);
}

void encode_log_record(std::vector<std::uint8_t>& out, std::uint64_t seq, std::span<const Op> ops) {
  const std::size_t start = out.size();
  out.resize(start + kRecordHeader);
  Writer w(out);
  w.u64(seq);
  const std::size_t count_at = out.size();
  w.u32(0);
  std::uint32_t count = 0;
  for (const Op& op : ops) {
    if (!op.live) continue;
    const bool written = std::visit(
        Overloaded{
            [&](const PutMessageOp& p) {
              w.u8(static_cast<std::uint8_t>(Kind::put_message));
              w.u64(p.m.id);
              w.str(p.m.topic);
              w.bytes(p.m.payload.data(), p.m.payload.size());
              w.u8(p.m.qos);
              w.u8(p.m.retain ? 1 : 0);
              w.u64(static_cast<std::uint64_t>(p.m.expiry_unix_ms));
              w.str(p.m.properties);
              return true;
            },
            [&](const PutEntryOp& p) {
              w.u8(static_cast<std::uint8_t>(Kind::put_entry));
              w.str(p.e.queue);
              w.u64(p.e.seq);
              w.u64(p.e.message_id);
              w.u8(p.e.qos);
              w.u8(p.e.retain ? 1 : 0);
              w.u8(static_cast<std::uint8_t>(p.e.state));
              w.u16(p.e.packet_id);
              w.u32(static_cast<std::uint32_t>(p.e.subscription_ids.size()));
              for (std::uint32_t id : p.e.subscription_ids) w.u32(id);
              return true;
            },
            [&](const UpdateEntryOp& u) {
              w.u8(static_cast<std::uint8_t>(Kind::update_entry));
              w.str(u.queue);
              w.u64(u.seq);
              w.u8(static_cast<std::uint8_t>(u.state));
              w.u16(u.packet_id);
              return true;
            },
            [&](const DeleteEntryOp& d) {
              w.u8(static_cast<std::uint8_t>(Kind::delete_entry));
              w.str(d.queue);
              w.u64(d.seq);
              return true;
            },
            [&](const PutQos2Op& q) {
              w.u8(static_cast<std::uint8_t>(Kind::put_qos2));
              w.str(q.client_id);
              w.u16(q.packet_id);
              return true;
            },
            [&](const DeleteQos2Op& q) {
              w.u8(static_cast<std::uint8_t>(Kind::delete_qos2));
              w.str(q.client_id);
              w.u16(q.packet_id);
              return true;
            },
            [](const auto&) { return false; },  // barriers; loggable() keeps the rest out
        },
        op.v);
    if (written) ++count;
  }
  for (int i = 0; i < 4; ++i) out[count_at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(count >> (8 * i));
  const std::size_t body = out.size() - start - kRecordHeader;
  const std::uint32_t crc = crc32(std::span<const std::uint8_t>(out).subspan(start + kRecordHeader));
  for (int i = 0; i < 4; ++i) {
    out[start + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(body >> (8 * i));
    out[start + 4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(crc >> (8 * i));
  }
}

namespace {

// Sequence numbers of one log are below this: a year of appends at a million a second
// is under 2^45. Anything above is not a record.
constexpr std::uint64_t kMaxSeq = std::uint64_t{1} << 48;

// Parses the record at `pos`: its size on success, 0 when it is not a whole valid record
// with a sequence number above `after`. The length and the sequence number are looked at
// before the checksum, so that a scan over arbitrary bytes rarely sums anything.
std::size_t parse_record(std::span<const std::uint8_t> bytes, std::size_t pos, LogRecord& rec, bool& checksum_ok,
                         std::uint64_t after) {
  checksum_ok = false;
  const std::size_t left = bytes.size() - pos;
  if (left < kRecordHeader) return 0;
  const std::uint32_t length = read_u32(&bytes[pos]);
  if (length > kMaxBody || length < 12 || left - kRecordHeader < length) return 0;
  auto body = bytes.subspan(pos + kRecordHeader, length);
  const std::uint64_t seq = std::uint64_t{read_u32(&body[0])} | std::uint64_t{read_u32(&body[4])} << 32;
  if (seq <= after || seq >= kMaxSeq) return 0;
  if (crc32(body) != read_u32(&bytes[pos + 4])) return 0;
  checksum_ok = true;
  Reader r(body);
  rec.seq = r.u64();
  const std::uint32_t count = r.u32();
  rec.ops.clear();
  for (std::uint32_t i = 0; i < count && r.ok(); ++i) {
    Op op;
    if (!decode_op(r, op)) return 0;
    rec.ops.push_back(std::move(op));
  }
  if (!r.ok() || rec.ops.size() != count || !r.done()) return 0;
  return kRecordHeader + length;
}

}  // namespace

LogContents decode_log(std::span<const std::uint8_t> bytes) {
  LogContents c;
  c.file_bytes = bytes.size();
  std::size_t pos = 0;
  std::uint64_t last_seq = 0;
  while (pos < bytes.size()) {
    LogRecord rec;
    bool checksum_ok = false;
    const std::size_t n = parse_record(bytes, pos, rec, checksum_ok, last_seq);
    if (n > 0) {
      last_seq = rec.seq;
      c.records.push_back(std::move(rec));
      pos += n;
      c.valid_bytes = pos;
      continue;
    }
    // Not a record. The end of what was written (an end marker; a write cut short, or
    // after a power cut whatever the file held there before: older records, which have
    // lower sequence numbers) unless a later record follows it: then a record the broker
    // acknowledged comes after one it cannot read, which is damage.
    for (std::size_t at = pos + 1; at + kRecordHeader < bytes.size(); ++at) {
      LogRecord later;
      bool ok = false;
      if (parse_record(bytes, at, later, ok, last_seq) > 0) {
        c.damage = fmt::format("record {} at byte {} {}, and a later record follows it at byte {}",
                               c.records.size() + 1, pos,
                               checksum_ok ? "passes its checksum but does not decode"
                                           : "cannot be read (its length, sequence number or checksum is wrong)",
                               at);
        return c;
      }
    }
    const bool marker = bytes.size() - pos >= kRecordHeader &&
                        std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(pos),
                                    bytes.begin() + static_cast<std::ptrdiff_t>(pos + kRecordHeader),
                                    [](std::uint8_t b) { return b == 0; });
    c.torn = !marker;
    break;
  }
  return c;
}

LogContents read_log_file(const std::string& path, bool& exists) {
  std::ifstream in(path, std::ios::binary);
  exists = static_cast<bool>(in);
  if (!exists) return {};
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw StoreError("store log " + path + " cannot be read");
  return decode_log(bytes);
}

std::size_t records_above(const LogContents& c, std::uint64_t mark, std::size_t& operations) {
  std::size_t records = 0;
  operations = 0;
  for (const auto& rec : c.records) {
    if (rec.seq <= mark) continue;
    ++records;
    operations += rec.ops.size();
  }
  return records;
}

OpLog::OpLog(const std::string& db_path, const std::string& path, sqlite3_vfs* vfs) : path_(path) {
  vfs_ = vfs != nullptr ? vfs : sqlite3_vfs_find(nullptr);
  if (vfs_ == nullptr) throw StoreError("store log " + path_ + ": no SQLite VFS");
  // The VFS takes names as SQLite builds them (a database name with its journal's and
  // log's beside it), so the log goes in as the "journal" of the database.
  filename_ = const_cast<char*>(sqlite3_create_filename(db_path.c_str(), path_.c_str(), "", 0, nullptr));
  if (filename_ == nullptr) throw StoreError("store log " + path_ + ": out of memory");
  file_mem_ = std::make_unique<std::uint8_t[]>(static_cast<std::size_t>(vfs_->szOsFile));
  std::memset(file_mem_.get(), 0, static_cast<std::size_t>(vfs_->szOsFile));
  auto* f = reinterpret_cast<sqlite3_file*>(file_mem_.get());
  int out_flags = 0;
  const int rc = vfs_->xOpen(vfs_, sqlite3_filename_journal(filename_), f,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MAIN_JOURNAL, &out_flags);
  if (rc != SQLITE_OK) {
    if (f->pMethods != nullptr) f->pMethods->xClose(f);
    sqlite3_free_filename(filename_);
    filename_ = nullptr;
    throw StoreError(fmt::format("store log {} cannot be opened: {}", path_, sqlite3_errstr(rc)));
  }
  file_ = f;
  sqlite3_int64 size = 0;
  if (file_->pMethods->xFileSize(file_, &size) == SQLITE_OK && size > 0) end_ = size_ = static_cast<std::uint64_t>(size);
}

OpLog::~OpLog() {
  if (file_ != nullptr && file_->pMethods != nullptr) file_->pMethods->xClose(file_);
  if (filename_ != nullptr) sqlite3_free_filename(filename_);
}

LogContents OpLog::read() {
  sqlite3_int64 size = 0;
  if (const int rc = file_->pMethods->xFileSize(file_, &size); rc != SQLITE_OK) {
    throw StoreError(fmt::format("store log {} cannot be read: {}", path_, sqlite3_errstr(rc)));
  }
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  for (std::size_t at = 0; at < bytes.size(); at += kPiece) {
    const std::size_t n = std::min(kPiece, bytes.size() - at);
    const int rc = file_->pMethods->xRead(file_, bytes.data() + at, static_cast<int>(n), static_cast<sqlite3_int64>(at));
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) {
      throw StoreError(fmt::format("store log {} cannot be read: {}", path_, sqlite3_errstr(rc)));
    }
  }
  return decode_log(bytes);
}

int OpLog::write_at(std::uint64_t offset) {
  for (std::size_t at = 0; at < buf_.size(); at += kPiece) {
    const std::size_t n = std::min(kPiece, buf_.size() - at);
    const int rc = file_->pMethods->xWrite(file_, buf_.data() + at, static_cast<int>(n),
                                           static_cast<sqlite3_int64>(offset + at));
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

int OpLog::append(std::uint64_t seq, std::span<const Op> ops) {
  buf_.clear();
  encode_log_record(buf_, seq, ops);
  const std::size_t record = buf_.size();
  // The end marker, for a file rewritten in place: older records follow it.
  if (synced_) buf_.resize(record + kRecordHeader, 0);
  int rc = write_at(end_);
  if (rc == SQLITE_OK && synced_) rc = file_->pMethods->xSync(file_, SQLITE_SYNC_NORMAL);
  if (rc != SQLITE_OK) {
    // Nothing of a failed record stays behind for a later one to follow.
    file_->pMethods->xTruncate(file_, static_cast<sqlite3_int64>(end_));
    return rc;
  }
  end_ += record;
  size_ += record;
  return SQLITE_OK;
}

int OpLog::clear(std::uint64_t applied) {
  if (size_ == 0) return SQLITE_OK;
  if (!synced_) {
    const int rc = file_->pMethods->xTruncate(file_, 0);
    if (rc == SQLITE_OK) end_ = size_ = 0;
    return rc;
  }
  // The floor record and the end marker at the start. Not synced: until the next append
  // syncs them, the file's older contents are there, and every record in it is at or
  // below `applied`, the database's mark.
  buf_.clear();
  if (applied > 0) encode_log_record(buf_, applied, {});
  const std::size_t floor = buf_.size();
  buf_.resize(floor + kRecordHeader, 0);
  const int rc = write_at(0);
  if (rc == SQLITE_OK) {
    end_ = floor;
    size_ = 0;
  }
  return rc;
}

}  // namespace outpost::store::detail
