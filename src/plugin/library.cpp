#include "plugin/library.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <filesystem>
#include <stdexcept>

namespace outpost::plugin {

Library Library::open(const std::string& path) {
  Library lib;
  lib.path = path;
  // RTLD_LOCAL: two plugins may define the same symbols; RTLD_NOW: a missing symbol is an
  // error now, not a crash later.
  lib.handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib.handle == nullptr) {
    const char* why = ::dlerror();
    throw std::runtime_error(fmt::format("cannot load {}: {}", path, why ? why : "unknown error"));
  }
  auto symbol = [&](const char* name) {
    void* s = ::dlsym(lib.handle, name);
    if (s == nullptr) {
      throw std::runtime_error(fmt::format("{} is not an Outpost plugin: it does not export {}()", path, name));
    }
    return s;
  };
  auto version = reinterpret_cast<std::uint32_t (*)()>(symbol("outpost_plugin_version"));
  lib.init = reinterpret_cast<decltype(lib.init)>(symbol("outpost_plugin_init"));
  lib.cleanup = reinterpret_cast<decltype(lib.cleanup)>(symbol("outpost_plugin_cleanup"));
  lib.abi_version = version();
  if ((lib.abi_version >> 16) != OUTPOST_PLUGIN_ABI_MAJOR) {
    throw std::runtime_error(fmt::format("{} was built for plugin interface {}.{}; this broker speaks {}.{}", path,
                                         lib.abi_version >> 16, lib.abi_version & 0xffff, OUTPOST_PLUGIN_ABI_MAJOR,
                                         OUTPOST_PLUGIN_ABI_MINOR));
  }
  return lib;
}

std::string resolve_library(const std::string& library, const std::vector<std::string>& dirs) {
  if (library.find('/') != std::string::npos) {
    if (!std::filesystem::exists(library)) throw std::runtime_error(fmt::format("{}: no such file", library));
    return library;
  }
  std::string file = library;
  if (!file.ends_with(".so")) file += ".so";
  for (const auto& dir : dirs) {
    const auto candidate = std::filesystem::path(dir) / file;
    std::error_code ec;
    if (std::filesystem::exists(candidate, ec)) return candidate.string();
  }
  throw std::runtime_error(fmt::format("plugin '{}' not found (looked for {} in {})", library, file,
                                       dirs.empty() ? std::string("no directory") : fmt::format("{}", fmt::join(dirs, ", "))));
}

std::vector<std::string> plugin_dirs(const std::string& plugin_dir) {
  if (!plugin_dir.empty()) return {plugin_dir};
  std::vector<std::string> out;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) out.push_back((exe.parent_path().parent_path() / "plugins").lexically_normal().string());
  out.emplace_back(OUTPOST_PLUGIN_INSTALL_DIR);
  return out;
}

}  // namespace outpost::plugin
