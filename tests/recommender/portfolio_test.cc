#include "recommender/portfolio/portfolio.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include <doctest/doctest.h>
#include <fmt/format.h>

namespace abrec {
namespace {

namespace fs = std::filesystem;

struct TempFile {
  explicit TempFile(const std::string& text) {
    path = (fs::temp_directory_path() / fmt::format("abrec-portfolio-{}-{}", ::getpid(), n++))
               .string();
    std::ofstream(path) << text;
  }
  ~TempFile() { fs::remove(path); }
  std::string path;
  static inline int n = 0;
};

constexpr const char* kHeader =
    "ID,join_date,sex,marital_status,birth_year,branch_code,occupation_code,"
    "occupation_category_code,P5DA,RIBP,K6QO\n";

}  // namespace

TEST_CASE("the Zimnat format: attributes, age at joining, holdings") {
  TempFile f(std::string(kHeader) +
             "SYN0001,1/8/2019,F,M,1983,BR01,OC01,OCAT1,0,1,1\r\n"
             "SYN0002,1/8/2017,M,M,1986,BR02,OC02,OCAT2,1,0,1\r\n");
  auto p = ImportZimnat(f.path);
  REQUIRE(p.has_value());
  CHECK(p->products == std::vector<std::string>{"P5DA", "RIBP", "K6QO"});
  REQUIRE(p->customers.size() == 2);
  CHECK(p->customers[0].id == "SYN0001");
  CHECK(p->customers[0].age == 36);
  CHECK(p->customers[0].attributes.at("sex") == "F");
  CHECK(p->customers[1].holds == std::vector<bool>{true, false, true});
}

TEST_CASE("Zimnat errors give file, line, column and the column's name") {
  TempFile bad_year(std::string(kHeader) + "X,1/8/2019,F,M,19x3,9F9T,31JW,90QI,0,1,1\n");
  auto e = ImportZimnat(bad_year.path);
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().message == bad_year.path + ":2:16: birth_year: expected a year, got \"19x3\"");
  TempFile bad_flag(std::string(kHeader) + "X,1/8/2019,F,M,1983,9F9T,31JW,90QI,0,2,1\n");
  CHECK(ImportZimnat(bad_flag.path).error().message.find(":2:38: RIBP: expected 0 or 1") !=
        std::string::npos);
  TempFile no_id(std::string(kHeader) + ",1/8/2017,M,M,1986,BR02,OC02,OCAT2,1,0,1\n");
  CHECK(ImportZimnat(no_id.path).error().message ==
        no_id.path + ":2:1: ID: the customer id is empty");
  TempFile short_row(std::string(kHeader) + "X,1/8/2019,F\n");
  CHECK(ImportZimnat(short_row.path).error().message.find("3 fields, the header has 11") !=
        std::string::npos);
  TempFile wrong_header("id,when\n");
  CHECK(ImportZimnat(wrong_header.path).error().message.find("expected column 1 to be \"ID\"") !=
        std::string::npos);
  CHECK(ImportZimnat("/no/such/file.csv").error().code == ErrorCode::kIo);
  TempFile big{std::string(kHeader)};
  CHECK(ImportZimnat(big.path, {.max_bytes = 10}).error().message.find("over the 10-byte limit") !=
        std::string::npos);
}

TEST_CASE("the CoIL format: 43 attributes, 21 policy counts and caravan as holdings") {
  std::string row;
  for (int i = 1; i <= 86; ++i) {
    // Attributes 1..43 = i % 10; contribution levels 44..64 = 5; counts: AWAPART (65) = 2,
    // the others 0; CARAVAN = 1.
    const int v = i <= 43 ? i % 10 : i <= 64 ? 5 : i == 65 ? 2 : i == 86 ? 1 : 0;
    row += (i > 1 ? "\t" : "") + std::to_string(v);
  }
  TempFile f(row + "\r\n" + row + "\r\n");
  auto p = ImportCoil(f.path, true);
  REQUIRE(p.has_value());
  CHECK(p->products.size() == 22);
  CHECK(p->products.front() == "AWAPART");
  CHECK(p->products.back() == "CARAVAN");
  REQUIRE(p->customers.size() == 2);
  CHECK(p->customers[0].attributes.size() == 43);
  CHECK(p->customers[0].attributes.at("MOSTYPE") == "1");
  CHECK(p->customers[0].holds.front());
  CHECK(p->customers[0].holds.back());
  CHECK_FALSE(p->customers[0].holds[1]);
  // The evaluation file has 85 columns: 86 is an error there.
  CHECK(ImportCoil(f.path, false).error().message.find("86 tab-separated fields") !=
        std::string::npos);
}

}  // namespace abrec
