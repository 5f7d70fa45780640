#include "log.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

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
}  // namespace

void setup(std::string_view level, const std::string& file) {
  spdlog::level::level_enum lvl{};
  if (!parse_level(level, lvl)) throw std::runtime_error("unknown log level '" + std::string(level) + "'");
  std::shared_ptr<spdlog::logger> logger;
  if (file.empty()) {
    logger = std::make_shared<spdlog::logger>("outpost", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  } else {
    logger = std::make_shared<spdlog::logger>("outpost", std::make_shared<spdlog::sinks::basic_file_sink_mt>(file));
  }
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
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
