#include "recommender/portfolio/csv_portfolio.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "recommender/portfolio/portfolio_formats.h"

namespace abrec {
namespace {

namespace fs = std::filesystem;

// A file in the temporary folder, removed at scope exit.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& text, const std::string& name = "portfolio.csv")
      : path((fs::temp_directory_path() / fmt::format("abrec-{}-{}", ::getpid(), name)).string()) {
    std::ofstream(path, std::ios::binary) << text;
  }
  ~TempFile() { fs::remove(path); }
};

const std::string kHeader = std::string(kCsvPortfolioHeader) + "\n";

std::string ErrorOf(const std::string& text, const CsvImportOptions& o = {}) {
  TempFile f(text, "bad.csv");
  auto p = ImportCsvPortfolio(f.path, o);
  REQUIRE_FALSE(p.has_value());
  CHECK(p.error().code == ErrorCode::kInvalidArgument);
  // Without the temporary path: "LINE:COL: field: message".
  return p.error().message.substr(f.path.size() + 1);
}

}  // namespace

TEST_CASE("the CSV portfolio format reads customers, attributes and holdings") {
  TempFile f(kHeader +
             "c-1,34,F,harare,teacher,motor;funeral\r\n"
             "c-2,,M,bulawayo,,\n"
             "\n"
             "c-3,61,,,retired,life\n");
  auto p = ImportCsvPortfolio(f.path);
  REQUIRE(p.has_value());
  CHECK(p->products == std::vector<std::string>{"funeral", "life", "motor"});  // sorted
  REQUIRE(p->customers.size() == 3);
  CHECK(p->customers[0].id == "c-1");
  CHECK(p->customers[0].age == 34);
  CHECK(p->customers[0].attributes.at("sex") == "F");
  CHECK(p->customers[0].attributes.at("occupation") == "teacher");
  CHECK(p->customers[0].holds == std::vector<bool>{true, false, true});
  CHECK_FALSE(p->customers[1].age.has_value());
  CHECK_FALSE(p->customers[1].attributes.contains("occupation"));
  CHECK(p->customers[1].holds == std::vector<bool>{false, false, false});
  CHECK(p->customers[2].holds == std::vector<bool>{false, true, false});

  // With the model's products: its order, and ids outside it refused.
  auto scored =
      ImportCsvPortfolio(f.path, {.limits = {}, .products = {"motor", "life", "funeral", "home"}});
  REQUIRE(scored.has_value());
  CHECK(scored->customers[0].holds == std::vector<bool>{true, false, true, false});
  CHECK(ErrorOf(kHeader + "c-1,30,F,,,motor;boat\n", {.limits = {}, .products = {"motor"}}) ==
        "2:18: holdings: product \"boat\" is not one of the model's 1 products");
  // ImportForScoring takes the same path.
  auto aligned = ImportForScoring(PortfolioFormat::kCsv, f.path, {"life", "motor", "funeral"});
  REQUIRE(aligned.has_value());
  CHECK(aligned->customers[2].holds == std::vector<bool>{true, false, false});
}

TEST_CASE("bad CSV portfolios are refused with FILE:LINE:COL") {
  CHECK(ErrorOf("") == "1:1: header: the file is empty");
  CHECK(ErrorOf("customer_id,age,sex,area,occupation,holdings\n") ==
        "1:21: header: expected \"region\" (column 4 of the header \"" +
            std::string(kCsvPortfolioHeader) + "\")");
  CHECK(ErrorOf(kHeader) == "2:1: row: no customers after the header");
  CHECK(ErrorOf(kHeader + "c-1,30,F,r,o\n") == "2:13: row: 5 fields, the header has 6");
  CHECK(ErrorOf(kHeader + "c-1,30,F,r,o,a,b\n") == "2:16: row: 7 fields, the header has 6");
  CHECK(ErrorOf(kHeader + "c 1,30,F,r,o,a\n") ==
        "2:1: customer_id: expected 1 to 64 characters of A-Z a-z 0-9 _ . : -");
  CHECK(ErrorOf(kHeader + "c-1,3O,F,r,o,a\n") ==
        "2:5: age: expected empty or a whole number 0 to 120, got \"3O\"");
  CHECK(ErrorOf(kHeader + "c-1,130,F,r,o,a\n").starts_with("2:5: age:"));
  CHECK(ErrorOf(kHeader + "c-1,30,F,r,o,a\nc-1,31,M,r,o,b\n") ==
        "3:1: customer_id: customer \"c-1\" already appears on line 2");
  CHECK(ErrorOf(kHeader + "c-1,30,F,r,o,motor;;home\n") ==
        "2:20: holdings: expected a product id (1 to 64 characters of A-Z a-z 0-9 _ . -), got "
        "\"\"");
  CHECK(ErrorOf(kHeader + "c-1,30,F,r,o,motor;motor\n") ==
        "2:20: holdings: product \"motor\" listed twice");
  CHECK(ErrorOf(kHeader + "c-1,30,\"F\",r,o,a\n") ==
        "2:8: row: quoted fields are not supported (no field may hold , or \")");
  CHECK(ErrorOf(kHeader + "c-1,30,F,r,o,\n") ==
        "2:1: holdings: no customer holds any product: nothing to learn from");
  CHECK(ErrorOf(kHeader + "c-1,30,F,r," + std::string(65, 'x') + ",a\n") ==
        "2:12: occupation: longer than 64 characters");
  // The limits.
  CsvImportOptions small;
  small.limits.max_line = 20;
  CHECK(ErrorOf(kHeader + "c-1,30,F,r,o,a\n", small) ==
        "1:1: line: 46 characters, over the 20 limit");
  small.limits = {.max_bytes = 10, .max_line = 1 << 16};
  CHECK(ErrorOf(kHeader + "c-1,30,F,r,o,a\n", small).find("over the 10-byte limit") !=
        std::string::npos);
  // A missing file is an I/O error.
  CHECK(ImportCsvPortfolio("/nonexistent/portfolio.csv").error().code == ErrorCode::kIo);
}

}  // namespace abrec
