#include "auth/passwd_tool.hpp"

#include "auth/password_file.hpp"

#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::auth {
namespace {

constexpr std::size_t kMaxPasswordBytes = 65535;
constexpr std::string_view kBlanks = " \t\r\n\v\f";

void usage(std::ostream& out) {
  out << "outpost passwd manages password files in mosquitto's format (for outpost and mosquitto).\n"
         "\n"
         "Usage: outpost passwd [-H sha512 | -H sha512-pbkdf2] [-I ITERATIONS] [-c | -D] FILE USER\n"
         "       outpost passwd [-H sha512 | -H sha512-pbkdf2] [-I ITERATIONS] [-c] -b FILE USER PASSWORD\n"
         "       outpost passwd -U FILE\n"
         " -b : batch mode: the password is the last argument (it shows in ps and in shell history).\n"
         " -c : create FILE holding only USER; an existing FILE is overwritten.\n"
         " -D : delete USER from FILE.\n"
         " -H : the hash: sha512-pbkdf2 (the default, recommended) or sha512 (as mosquitto 1.6 and\n"
         "      earlier wrote it).\n"
         " -I : PBKDF2 iterations for sha512-pbkdf2 (default 101, at most 1000000).\n"
         " -U : hash the passwords of a plain-text file of user:password lines, in place.\n"
         "Without -b the password is asked for twice, without echo on a terminal.\n";
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(kBlanks);
  return s.substr(first, last - first + 1);
}

// Echo off on the terminal while a password is typed. A signal meanwhile must not leave the
// user's shell without echo, so SIGINT/SIGTERM restore the terminal before they take effect;
// that handler can only reach the saved state through a static.
struct termios g_saved_terminal;

extern "C" void restore_terminal_and_die(int sig) {
  ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_terminal);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

class EchoOff {
 public:
  EchoOff() {
    if (::tcgetattr(STDIN_FILENO, &g_saved_terminal) != 0) return;
    active_ = true;
    old_int_ = std::signal(SIGINT, restore_terminal_and_die);
    old_term_ = std::signal(SIGTERM, restore_terminal_and_die);
    struct termios quiet = g_saved_terminal;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  ~EchoOff() {
    if (!active_) return;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_terminal);
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  bool active_ = false;
  void (*old_int_)(int) = SIG_DFL;
  void (*old_term_)(int) = SIG_DFL;
};

// One prompt and one line; false on end of input or an empty line. The typed newline is not
// echoed, so one is written after the answer.
bool ask(const char* prompt, std::istream& in, std::ostream& out, std::string& answer) {
  out << prompt << std::flush;
  std::optional<EchoOff> quiet;
  if (&in == &std::cin && ::isatty(STDIN_FILENO)) quiet.emplace();
  const bool got = static_cast<bool>(std::getline(in, answer));
  quiet.reset();
  out << '\n' << std::flush;
  if (got && !answer.empty() && answer.back() == '\r') answer.pop_back();
  return got && !answer.empty();
}

// 0 with `password` set, or the exit code.
int read_password(std::istream& in, std::ostream& out, std::ostream& err, std::string& password) {
  std::string again;
  if (!ask("Password: ", in, out, password) || !ask("Reenter password: ", in, out, again)) {
    err << "Error: Empty password.\n";
    return 1;
  }
  if (password != again) {
    err << "Error: Passwords do not match.\n";
    return 2;
  }
  if (password.size() > kMaxPasswordBytes) {
    err << "Error: Password must be less than 65536 characters long.\n";
    return 1;
  }
  return 0;
}

struct Hashing {
  bool sha512 = false;
  int iterations = kDefaultIterations;

  std::string line(std::string_view user, std::string_view password) const {
    std::string out(user);
    out += ':';
    out += sha512 ? hash_password_sha512(password) : hash_password(password, iterations);
    out += '\n';
    return out;
  }
};

// The lines of a file without their '\n' (a '\r' before it stays, so a kept line is kept
// byte for byte); a last line without '\n' is a line too.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = text.find('\n', pos);
    if (end == std::string_view::npos) {
      lines.push_back(text.substr(pos));
      break;
    }
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return lines;
}

// A user line split at its first ':' and trimmed; std::nullopt for a line to keep as it is
// (blank or a comment: mosquitto reads past both, so they may stay).
struct UserLine {
  std::string_view user;
  std::string_view rest;
};
enum class LineKind { keep, user, corrupt };
LineKind classify(std::string_view line, UserLine& parsed) {
  if (trim(line).empty() || line.front() == '#') return LineKind::keep;
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return LineKind::corrupt;
  parsed.user = trim(line.substr(0, colon));
  parsed.rest = trim(line.substr(colon + 1));
  return parsed.user.empty() || parsed.rest.empty() ? LineKind::corrupt : LineKind::user;
}

// FILE as mosquitto_passwd resolves it: through symbolic links when it exists, so the
// replacement lands where the link points.
std::optional<std::string> resolve(const std::string& path, std::ostream& err) {
  if (char* real = ::realpath(path.c_str(), nullptr)) {
    std::string out(real);
    std::free(real);
    return out;
  }
  if (errno == ENOENT) return path;
  err << "Error reading password file: " << std::strerror(errno) << "\n";
  return std::nullopt;
}

// Written whole to a temporary file beside `path`, then renamed over it: a reader (a broker
// reloading) sees the old file or the new one, never half of one. A new file is 0600; an
// existing one keeps its mode and, when we may, its owner and group.
bool write_atomically(const std::string& path, std::string_view content, std::ostream& err) {
  struct stat existing {};
  const bool exists = ::stat(path.c_str(), &existing) == 0;
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string temp = dir + "/." + base + ".XXXXXX";
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) {
    err << "Error: Unable to open file " << path << " for writing. " << std::strerror(errno) << ".\n";
    return false;
  }
  const auto fail = [&](const char* what) {
    const int saved = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    err << "Error: " << what << " " << path << ": " << std::strerror(saved) << ".\n";
    return false;
  };
  if (::fchmod(fd, exists ? (existing.st_mode & 07777) : 0600) != 0) return fail("Unable to set the mode of");
  if (exists && ::fchown(fd, existing.st_uid, existing.st_gid) != 0) {
    // Not root: the file becomes ours, as any file we write.
  }
  std::size_t done = 0;
  while (done < content.size()) {
    const auto n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("Unable to write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("Unable to write");
  if (::close(fd) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    err << "Error: Unable to write " << path << ": " << std::strerror(saved) << ".\n";
    return false;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    err << "Error: Unable to replace " << path << ": " << std::strerror(saved) << ".\n";
    return false;
  }
  return true;
}

std::optional<std::string> read_whole(const std::string& path, std::ostream& err) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    err << "Error: Unable to open password file " << path << ". " << std::strerror(errno) << ".\n";
    return std::nullopt;
  }
  std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (file.bad()) {
    err << "Error: Unable to read password file " << path << ".\n";
    return std::nullopt;
  }
  return text;
}

enum class Mode { update, create, remove, convert };

// The new content of the file, or the exit code (the file is then left alone).
struct Edit {
  std::string content;
  int code = 0;
};

Edit edit(std::string_view text, Mode mode, std::string_view user, std::string_view password, const Hashing& hashing,
          std::ostream& err) {
  Edit result;
  bool found = false;
  std::size_t line_no = 0;
  for (const auto line : split_lines(text)) {
    ++line_no;
    UserLine parsed;
    const auto kind = classify(line, parsed);
    if (kind == LineKind::corrupt) {
      err << "Error: Corrupt password file at line " << line_no << " (no user:password); nothing was changed.\n";
      result.code = 1;
      return result;
    }
    if (kind == LineKind::user && mode == Mode::convert && !is_password_hash(parsed.rest)) {
      result.content += hashing.line(parsed.user, parsed.rest);
      continue;
    }
    if (kind == LineKind::user && mode != Mode::convert && parsed.user == user) {
      // Every line of the user, as mosquitto_passwd does when a user is listed twice.
      found = true;
      if (mode == Mode::update) result.content += hashing.line(user, password);
      continue;
    }
    result.content.append(line);
    result.content += '\n';
  }
  if (mode == Mode::remove && !found) {
    err << "Warning: User " << user << " not found in password file.\n";
    result.code = 1;
    return result;
  }
  if (mode == Mode::update && !found) result.content += hashing.line(user, password);
  return result;
}

std::optional<int> parse_iterations(std::string_view text) {
  int n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

int run(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err) {
  if (argc <= 1) {
    usage(out);
    return 1;
  }
  bool batch = false;
  bool create = false;
  bool remove = false;
  bool convert = false;
  Hashing hashing;
  int idx = 1;
  for (; idx < argc; ++idx) {
    const std::string_view arg = argv[idx];
    if (arg == "-H") {
      if (idx + 1 == argc) {
        err << "Error: -H argument given but not enough other arguments.\n";
        return 1;
      }
      const std::string_view type = argv[++idx];
      if (type == "sha512") {
        hashing.sha512 = true;
      } else if (type == "sha512-pbkdf2") {
        hashing.sha512 = false;
      } else {
        err << "Error: Unknown hash type '" << type << "'\n";
        return 1;
      }
    } else if (arg == "-I") {
      if (idx + 1 == argc) {
        err << "Error: -I argument given but not enough other arguments.\n";
        return 1;
      }
      const auto n = parse_iterations(argv[++idx]);
      if (!n || *n < 1) {
        err << "Error: Number of iterations must be > 0.\n";
        return 1;
      }
      if (*n > kMaxIterations) {
        err << "Error: Number of iterations must be at most " << kMaxIterations << ".\n";
        return 1;
      }
      hashing.iterations = *n;
    } else if (arg == "-b") {
      batch = true;
    } else if (arg == "-c") {
      create = true;
    } else if (arg == "-D") {
      remove = true;
    } else if (arg == "-U") {
      convert = true;
    } else if (arg.size() > 1 && arg.front() == '-') {
      err << "Error: Unknown option '" << arg << "'.\n";
      usage(out);
      return 1;
    } else {
      break;
    }
  }
  if (create && remove) {
    err << "Error: -c and -D cannot be used together.\n";
    return 1;
  }
  if (create && convert) {
    err << "Error: -c and -U cannot be used together.\n";
    return 1;
  }
  if (remove && convert) {
    err << "Error: -D and -U cannot be used together.\n";
    return 1;
  }
  if (remove && batch) {
    err << "Error: -b and -D cannot be used together.\n";
    return 1;
  }

  const int given = argc - idx;
  const int wanted = convert ? 1 : (batch ? 3 : 2);
  if (given < wanted && (create || remove || convert)) {
    if (convert) {
      err << "Error: -U argument given but password file missing.\n";
    } else if (create) {
      err << (batch ? "Error: -c argument given but password file, username, or password missing.\n"
                    : "Error: -c argument given but password file or username missing.\n");
    } else {
      err << "Error: -D argument given but password file or username missing.\n";
    }
    return 1;
  }
  if (given != wanted) {
    usage(out);
    return 1;
  }
  const std::string file_arg = argv[idx];
  const std::string user = convert ? std::string() : std::string(argv[idx + 1]);
  std::string password = batch && !convert ? std::string(argv[idx + 2]) : std::string();

  if (!convert) {
    if (const auto why = user_name_problem(user)) {
      err << "Error: Invalid user name: " << *why << ".\n";
      return 1;
    }
  }
  if (password.size() > kMaxPasswordBytes) {
    err << "Error: Password must be less than 65536 characters long.\n";
    return 1;
  }
  const auto path = resolve(file_arg, err);
  if (!path) return 1;

  if (create) {
    if (!batch) {
      if (const int rc = read_password(in, out, err, password); rc != 0) return rc;
    }
    return write_atomically(*path, hashing.line(user, password), err) ? 0 : 1;
  }

  const auto text = read_whole(*path, err);
  if (!text) return 1;
  const Mode mode = remove ? Mode::remove : (convert ? Mode::convert : Mode::update);
  if (mode == Mode::update && !batch) {
    if (const int rc = read_password(in, out, err, password); rc != 0) return rc;
  }
  Edit result = edit(*text, mode, user, password, hashing, err);
  if (result.code != 0) return result.code;
  return write_atomically(*path, result.content, err) ? 0 : 1;
}

}  // namespace

int passwd_main(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err) {
  try {
    return run(argc, argv, in, out, err);
  } catch (const std::exception& e) {
    err << "Error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace outpost::auth
