#include "log.hpp"

#include <spdlog/details/file_helper.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
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

void setup(std::string_view level, const std::string& file) {
  spdlog::level::level_enum lvl{};
  if (!parse_level(level, lvl)) throw std::runtime_error("unknown log level '" + std::string(level) + "'");
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<ReopenableFileSink> file_sink;
  std::unique_ptr<spdlog::formatter> formatter;
  if (file.empty()) {
    logger = std::make_shared<spdlog::logger>("outpost", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    if (stderr_is_journal()) {
      // The journal keeps its own time stamp.
      auto f = std::make_unique<spdlog::pattern_formatter>();
      f->add_flag<SyslogPriorityFlag>('*').set_pattern("%*%l %v");
      formatter = std::move(f);
    }
  } else {
    file_sink = std::make_shared<ReopenableFileSink>(file);
    logger = std::make_shared<spdlog::logger>("outpost", file_sink);
  }
  if (formatter) {
    logger->set_formatter(std::move(formatter));
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  }
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  g_file_sink = std::move(file_sink);
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
