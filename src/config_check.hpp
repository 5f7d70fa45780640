// --check-config beyond the YAML: every file the configuration names is opened and read
// as the broker would at start (TLS certificates, keys, CA and CRL files, password and ACL
// files, the log file) and each plugin library is opened.
//
// Main thread; reads files and opens libraries (dlopen runs their constructors).
#pragma once

#include "settings.hpp"

#include <string>
#include <vector>

namespace outpost {

// One line per problem, each starting with where the configuration names the file:
// "outpost.yaml:7:18: listeners[1].tls.cert_file /etc/outpost/server.pem: cannot read: No
// such file or directory". Empty when every file is usable.
std::vector<std::string> check_named_files(const Settings& settings);

// Each plugin's library found (plugin_dir) and opened with dlopen, its entry points and
// interface version checked; the same kind of lines.
std::vector<std::string> check_plugin_libraries(const Settings& settings);

}  // namespace outpost
