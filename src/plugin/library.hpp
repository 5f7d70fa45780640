// Library: one plugin's shared object, opened with dlopen, its three entry points found
// and its ABI version checked. Errors are std::runtime_error naming the file and why.
//
// Threading: main thread, at start-up.
#pragma once

#include <outpost/plugin.h>

#include <string>
#include <vector>

namespace outpost::plugin {

struct Library {
  std::string path;
  void* handle = nullptr;
  std::uint32_t abi_version = 0;
  outpost_result (*init)(const outpost_api*, const outpost_plugin_config*, void**) = nullptr;
  void (*cleanup)(void*) = nullptr;

  // Opens `path` and checks it. Throws std::runtime_error.
  static Library open(const std::string& path);
};

// Where a library named in the configuration is: a name with a '/' is a path; a bare name
// is <dir>/<name>.so in the first of `dirs` that has it. Throws, listing where it looked.
std::string resolve_library(const std::string& library, const std::vector<std::string>& dirs);

// The directories bare names are looked up in: `plugin_dir` when configured; otherwise the
// build tree's (<the binary's directory>/../plugins) and the installed package's.
std::vector<std::string> plugin_dirs(const std::string& plugin_dir);

}  // namespace outpost::plugin
