#include "log.hpp"

#include <spdlog/details/file_helper.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>

namespace outpost::log {

namespace {
bool parse_level(std::string_view name, spdlog::level::level_enum& out) {
  static constexpr std::string_view names[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  for (int i = 0; i < 7; ++i) {
    if (name == names[i]) {
      out = static_cast<spdlog::level::level_enum>(i);
      return true;
    }
  }
  return false;
}

// A file sink that can be reopened by name while other threads log (logrotate).
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(const std::string& file) { file_.open(file, false); }

  // Returns what went wrong, "" when the file is open again. A file that cannot be opened
  // again (removed directory, permissions) sends the lines to standard error meanwhile.
  std::string reopen() {
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      file_.reopen(false);
      open_ = true;
      return {};
    } catch (const std::exception& e) {
      open_ = false;
      return e.what();
    }
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    if (open_) {
      file_.write(formatted);
    } else {
      std::fwrite(formatted.data(), 1, formatted.size(), stderr);
    }
  }
  void flush_() override {
    if (open_) file_.flush();
  }

 private:
  spdlog::details::file_helper file_;
  bool open_ = true;
};

// "%^": the sd-daemon(3) priority prefix of the line's level, read by journald.
class SyslogPriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr const char* prefixes[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
    const auto level = static_cast<std::size_t>(msg.level);
    const char* p = prefixes[level < 7 ? level : 6];
    dest.append(p, p + std::strlen(p));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<SyslogPriorityFlag>(); }
};

// Appends `text` JSON-escaped to `out` (std::string or spdlog's memory buffer).
template <class Out>
void append_json_escaped(Out& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  auto put = [&out](std::string_view piece) { out.append(piece.data(), piece.data() + piece.size()); };
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t plain = 0;  // start of the run copied as it is
  std::size_t i = 0;
  auto flush = [&](std::size_t end) {
    if (end > plain) put(text.substr(plain, end - plain));
  };
  while (i < n) {
    const unsigned char c = p[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      // A well-formed UTF-8 sequence (RFC 3629: no overlong forms, no surrogates) is kept.
      std::size_t len = 0;
      unsigned char lo = 0x80, hi = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) len = 2;
      else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
      } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
      }
      bool ok = len != 0 && i + len <= n;
      for (std::size_t k = 1; ok && k < len; ++k) {
        const unsigned char b = p[i + k];
        ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
      }
      if (ok) {
        i += len;
        continue;
      }
      flush(i);
      put("\\ufffd");
      plain = ++i;
      continue;
    }
    flush(i);
    switch (c) {
      case '"': put("\\\""); break;
      case '\\': put("\\\\"); break;
      case '\n': put("\\n"); break;
      case '\r': put("\\r"); break;
      case '\t': put("\\t"); break;
      case '\b': put("\\b"); break;
      case '\f': put("\\f"); break;
      default: {
        const char u[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
        put(std::string_view(u, sizeof u));
      }
    }
    plain = ++i;
  }
  flush(n);
}

// "%j": the message as the inside of a JSON string.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    append_json_escaped(dest, std::string_view(msg.payload.data(), msg.payload.size()));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

// JOURNAL_STREAM names the device and inode of the journal's stream (systemd.exec(5)): it
// is the journal only while standard error is still that stream.
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  struct stat st {};
  if (fstat(2, &st) != 0) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == ino;
}

std::shared_ptr<ReopenableFileSink> g_file_sink;  // the file of the default logger, if any
}  // namespace

std::unique_ptr<spdlog::formatter> make_formatter(Format format, bool journal) {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<SyslogPriorityFlag>('*');
  f->add_flag<JsonMessageFlag>('j');
  // ISO 8601 with the local offset (%z: +00:00); the journal keeps its own time stamp.
  const std::string time = "%Y-%m-%dT%H:%M:%S.%e%z";
  if (format == Format::json) {
    f->set_pattern(std::string(journal ? "%*" : "") + "{\"time\":\"" + time +
                   "\",\"level\":\"%l\",\"thread\":%t,\"message\":\"%j\"}");
  } else {
    f->set_pattern(journal ? std::string("%*%l %v") : time + " %l %v");
  }
  return f;
}

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  append_json_escaped(out, text);
  return out;
}

std::string check_file(const std::string& file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path path(file);
  const auto st = fs::status(path, ec);
  if (fs::exists(st)) {
    if (fs::is_directory(st)) return "it is a directory";
    if (::access(file.c_str(), W_OK) != 0) return std::strerror(errno);
    return {};
  }
  // Missing directories are created (as spdlog does) under the nearest one that exists.
  fs::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  auto dst = fs::status(dir, ec);
  while (!fs::exists(dst)) {
    fs::path parent = dir.parent_path();
    if (parent.empty()) parent = ".";
    if (parent == dir) break;
    dir = std::move(parent);
    dst = fs::status(dir, ec);
  }
  if (!fs::exists(dst)) return fmt::format("no directory {} to create it in", dir.string());
  if (!fs::is_directory(dst)) return fmt::format("{} is not a directory", dir.string());
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return fmt::format("cannot create it in {}: {}", dir.string(), std::strerror(errno));
  }
  return {};
}

void setup(std::string_view level, const std::string& file, Format format) {
  spdlog::level::level_enum lvl{};
  if (!parse_level(level, lvl)) throw std::runtime_error("unknown log level '" + std::string(level) + "'");
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<ReopenableFileSink> file_sink;
  bool journal = false;
  if (file.empty()) {
    logger = std::make_shared<spdlog::logger>("outpost", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    journal = stderr_is_journal();
  } else {
    if (auto problem = check_file(file); !problem.empty()) {
      throw std::runtime_error(fmt::format("cannot open the log file {}: {}", file, problem));
    }
    file_sink = std::make_shared<ReopenableFileSink>(file);
    logger = std::make_shared<spdlog::logger>("outpost", file_sink);
  }
  logger->set_formatter(make_formatter(format, journal));
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  g_file_sink = std::move(file_sink);
}

std::string readable_bytes(std::uint64_t bytes) {
  static constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  int unit = 0;
  std::uint64_t scale = 1024;
  while (unit < 5 && bytes / scale >= 1024) {
    scale *= 1024;
    ++unit;
  }
  if (bytes % scale == 0) return fmt::format("{} {}", bytes / scale, units[unit]);
  // One decimal, rounded; 1023.96 KiB reads as 1024.0 KiB rather than jumping units.
  if (bytes > UINT64_MAX / 10) {
    return fmt::format("{:.1f} {}", static_cast<double>(bytes) / static_cast<double>(scale), units[unit]);
  }
  const std::uint64_t tenths = (bytes * 10 + scale / 2) / scale;
  return fmt::format("{}.{} {}", tenths / 10, tenths % 10, units[unit]);
}

void reopen() {
  if (!g_file_sink) return;
  if (auto problem = g_file_sink->reopen(); !problem.empty()) {
    spdlog::error("SIGHUP: log file not reopened ({}); logging to standard error", problem);
  }
}

bool set_level(std::string_view level) {
  spdlog::level::level_enum lvl{};
  if (!parse_level(level, lvl)) return false;
  spdlog::set_level(lvl);
  return true;
}

bool valid_level(std::string_view level) {
  spdlog::level::level_enum lvl{};
  return parse_level(level, lvl);
}

}  // namespace outpost::log
