// Opening SqliteStore: the data directory, the exclusive lock, and every way a database
// file can be unusable — each must be a StoreError that names the file, never an empty
// start.
#include "store/sqlite_store.hpp"

#include "store_test_util.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>

namespace outpost::store::test {
namespace {

// Creates a store holding `count` messages with an entry each, and closes it.
void fill(const TempDir& dir, std::uint64_t count) {
  SqliteStore s(options(dir));
  Recorder r;
  s.restore(r);
  for (std::uint64_t id = 1; id <= count; ++id) {
    s.put_message(message(id, "t/" + std::to_string(id), std::string(200, 'x')));
    s.put_entry(entry("q", id, id));
  }
}

// The StoreError message from opening and restoring `dir`, or "" when that worked.
std::string open_error(const SqliteStore::Options& o) {
  try {
    SqliteStore s(o);
    Recorder r;
    s.restore(r);
    return "";
  } catch (const StoreError& e) {
    return e.what();
  }
}

void sql(const std::string& path, const char* statements) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, statements, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST(SqliteStoreOpen, CreatesTheDataDirectory) {
  TempDir dir;
  auto o = options(dir);
  o.dir = dir.path() + "/a/b/data";
  SqliteStore s(o);
  struct stat st {};
  ASSERT_EQ(::stat(o.dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  EXPECT_TRUE(std::filesystem::exists(o.dir + "/outpost.db"));
}

TEST(SqliteStoreOpen, GarbageFileIsNotADatabase) {
  TempDir dir;
  std::filesystem::create_directories(dir.data());
  {
    std::ofstream f(dir.db(), std::ios::binary);
    std::mt19937 rng(7);
    for (int i = 0; i < 8192; ++i) f.put(static_cast<char>(rng()));
  }
  const auto err = open_error(options(dir));
  EXPECT_NE(err.find(dir.db()), std::string::npos) << err;
  EXPECT_NE(err.find("not an SQLite database"), std::string::npos) << err;
  EXPECT_EQ(std::filesystem::file_size(dir.db()), 8192u);  // left as it was
}

TEST(SqliteStoreOpen, TruncatedFileIsDamaged) {
  TempDir dir;
  fill(dir, 300);
  const auto size = std::filesystem::file_size(dir.db());
  std::filesystem::resize_file(dir.db(), size / 2);
  const auto err = open_error(options(dir));
  EXPECT_NE(err.find(dir.db()), std::string::npos) << err;
  EXPECT_NE(err.find("damaged"), std::string::npos) << err;
}

TEST(SqliteStoreOpen, EmptiedFileIsRefused) {
  TempDir dir;
  fill(dir, 3);
  std::filesystem::resize_file(dir.db(), 0);
  const auto err = open_error(options(dir));
  EXPECT_NE(err.find(dir.db()), std::string::npos) << err;
  EXPECT_NE(err.find("empty (0 bytes)"), std::string::npos) << err;
}

TEST(SqliteStoreOpen, CorruptedPageIsDamaged) {
  TempDir dir;
  fill(dir, 300);
  {
    // Overwrite most of the third page (a b-tree page of the messages) with noise.
    const auto page = page_size_of(dir.db());
    std::fstream f(dir.db(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(2 * page + 8));
    std::mt19937 rng(11);
    for (std::uint64_t i = 0; i + 8 < page; ++i) f.put(static_cast<char>(rng()));
  }
  const auto err = open_error(options(dir));
  EXPECT_NE(err.find(dir.db()), std::string::npos) << err;
  EXPECT_NE(err.find("damaged"), std::string::npos) << err;
}

TEST(SqliteStoreOpen, NewerSchemaVersionIsRefused) {
  TempDir dir;
  fill(dir, 1);
  sql(dir.db(), "PRAGMA user_version=99");
  const auto err = open_error(options(dir));
  EXPECT_NE(err.find(dir.db()), std::string::npos) << err;
  EXPECT_NE(err.find("schema version 99"), std::string::npos) << err;
  EXPECT_NE(err.find("newer"), std::string::npos) << err;
}

TEST(SqliteStoreOpen, AnotherProgramsDatabaseIsRefused) {
  TempDir dir;
  std::filesystem::create_directories(dir.data());
  sql(dir.db(), "CREATE TABLE things(x); INSERT INTO things VALUES(1)");
  const auto err = open_error(options(dir));
  EXPECT_NE(err.find("not an Outpost store"), std::string::npos) << err;
}

TEST(SqliteStoreOpen, SecondOpenOfTheSameDirectoryFails) {
  TempDir dir;
  SqliteStore first(options(dir));
  const auto err = open_error(options(dir));
  EXPECT_NE(err.find(dir.db()), std::string::npos) << err;
  EXPECT_NE(err.find("locked by another process"), std::string::npos) << err;

  // Also while the first one is busy writing, and it keeps working meanwhile.
  Recorder r;
  first.restore(r);
  first.put_message(message(1, "t", "x"));
  first.put_entry(entry("q", 1, 1));
  flush(first);
  EXPECT_NE(open_error(options(dir)), "");
  first.close();
  EXPECT_EQ(open_error(options(dir)), "");  // free again once closed
}

TEST(SqliteStoreOpen, SecondProcessOnTheSameDirectoryFails) {
  TempDir dir;
  int ready[2], quit[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(quit), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The first broker: opens the store, says so, and holds it until told to stop.
    SqliteStore s(options(dir));
    char c = 'r';
    if (::write(ready[1], &c, 1) != 1) ::_exit(1);
    if (::read(quit[0], &c, 1) != 1) ::_exit(1);
    s.close();
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  const auto err = open_error(options(dir));
  EXPECT_NE(err.find("locked by another process"), std::string::npos) << err;
  ASSERT_EQ(::write(quit[1], &c, 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(open_error(options(dir)), "");
  for (int fd : {ready[0], ready[1], quit[0], quit[1]}) ::close(fd);
}

TEST(SqliteStoreOpen, UnusableDirectoriesAreRefused) {
  TempDir dir;
  const std::string file = dir.path() + "/plain-file";
  std::ofstream(file) << "x";
  auto o = options(dir);

  o.dir = file;  // a file where the directory should be
  EXPECT_NE(open_error(o).find("is not a directory"), std::string::npos) << open_error(o);
  o.dir = file + "/data";  // below a file
  EXPECT_NE(open_error(o).find("data directory"), std::string::npos) << open_error(o);
  o.dir = "/proc/outpost-store-test";  // where nobody may create anything
  EXPECT_NE(open_error(o).find("cannot create data directory"), std::string::npos) << open_error(o);

}

// Makes a directory unwritable: chmod for a user; root ignores modes, so then the
// immutable attribute (which binds root too) where the filesystem has it.
class ReadOnlyDir {
 public:
  explicit ReadOnlyDir(const std::string& path) : path_(path) {
    std::filesystem::create_directories(path_);
    ::chmod(path_.c_str(), 0500);
    if (::access(path_.c_str(), W_OK) != 0) return;
    const int fd = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY);
    int flags = 0;
    if (fd >= 0 && ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
      flags |= FS_IMMUTABLE_FL;
      immutable_ = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
    }
    if (fd >= 0) ::close(fd);
  }
  ~ReadOnlyDir() {
    if (immutable_) {
      const int fd = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY);
      int flags = 0;
      if (fd >= 0 && ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
        flags &= ~FS_IMMUTABLE_FL;
        ::ioctl(fd, FS_IOC_SETFLAGS, &flags);
      }
      if (fd >= 0) ::close(fd);
    }
    ::chmod(path_.c_str(), 0700);
  }
  ReadOnlyDir(const ReadOnlyDir&) = delete;
  ReadOnlyDir& operator=(const ReadOnlyDir&) = delete;
  bool read_only() const { return ::access(path_.c_str(), W_OK) != 0; }

 private:
  std::string path_;
  bool immutable_ = false;
};

TEST(SqliteStoreOpen, ReadOnlyDirectoryIsRefused) {
  TempDir dir;
  fill(dir, 1);  // an existing store, then its directory turns read-only
  ReadOnlyDir ro(dir.data());
  if (!ro.read_only()) GTEST_SKIP() << "cannot make a directory read-only here";
  const auto err = open_error(options(dir));
  EXPECT_NE(err.find("not writable"), std::string::npos) << err;
  EXPECT_NE(err.find(dir.data()), std::string::npos) << err;
}

TEST(SqliteStoreOpen, DatabasePathThatIsADirectoryIsRefused) {
  TempDir dir;
  std::filesystem::create_directories(dir.db());
  EXPECT_NE(open_error(options(dir)).find("not a regular file"), std::string::npos);
}

TEST(SqliteStoreOpen, ReopenWithoutQuickCheck) {
  TempDir dir;
  fill(dir, 10);
  auto o = options(dir);
  o.quick_check = false;
  SqliteStore s(o);
  Recorder r;
  s.restore(r);
  EXPECT_EQ(r.entries.size(), 10u);
}

}  // namespace
}  // namespace outpost::store::test
