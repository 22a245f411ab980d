#include "base/atomic_file.h"

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

}  // namespace
}  // namespace abrec
