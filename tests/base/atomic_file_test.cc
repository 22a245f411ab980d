#include "base/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <doctest/doctest.h>

namespace abrec {
namespace {

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

TEST_CASE("a file is replaced whole and no temporary file is left behind") {
  const auto dir = std::filesystem::temp_directory_path() / "abrec-atomic-file-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto path = dir / "x.yaml";
  REQUIRE(WriteFileAtomically(path.string(), "first\n"));
  CHECK(Slurp(path) == "first\n");
  const std::string big(1 << 20, 'z');
  REQUIRE(WriteFileAtomically(path.string(), big));
  CHECK(Slurp(path) == big);
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  CHECK(entries == 1);
  // A folder that does not exist: an error naming the path, the old file untouched.
  auto failed = WriteFileAtomically((dir / "missing" / "y.yaml").string(), "x");
  REQUIRE_FALSE(failed);
  CHECK(failed.error().code == ErrorCode::kIo);
  CHECK(failed.error().message.find("missing") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("files get their mode whatever the umask: 0600 for private ones") {
  const auto dir = std::filesystem::temp_directory_path() / "abrec-private-file-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto mode = [](const std::filesystem::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
  };
  const mode_t old = ::umask(0);  // the most permissive umask: modes come from the code
  REQUIRE(WriteFileAtomically((dir / "copy").string(), "x", 0600));
  CHECK(mode(dir / "copy") == 0600u);
  REQUIRE(WriteFileAtomically((dir / "shared.yaml").string(), "x"));
  CHECK(mode(dir / "shared.yaml") == 0644u);
  auto fd = OpenPrivateFile((dir / "log").string(), O_WRONLY | O_APPEND);
  REQUIRE(fd);
  ::close(*fd);
  CHECK(mode(dir / "log") == 0600u);
  ::umask(0277);  // one that would leave the owner unable to write
  fd = OpenPrivateFile((dir / "log2").string(), O_WRONLY | O_APPEND);
  REQUIRE(fd);
  CHECK(::write(*fd, "y", 1) == 1);
  ::close(*fd);
  CHECK(mode(dir / "log2") == 0600u);
  fd = OpenPrivateFile((dir / "log2").string(), O_WRONLY | O_APPEND);  // it exists now
  REQUIRE(fd);
  ::close(*fd);
  ::umask(old);
  auto missing = OpenPrivateFile((dir / "no" / "such").string(), O_WRONLY);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kIo);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace abrec
