#include "recommender/data/catalog.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <doctest/doctest.h>

namespace abrec {
namespace {

ParseResult<Catalog> Read(const std::string& text) {
  auto tree = ParseConfigText(text, "catalog.yaml", ParseLimits{});
  REQUIRE(tree.has_value());
  return ReadCatalog(*tree, "catalog.yaml");
}

std::string Messages(const Diagnostics& d) {
  std::string out;
  for (const auto& x : d) out += x.ToString() + "\n";
  return out;
}

}  // namespace

TEST_CASE("the shipped catalog reads: 21 products with the seed's eligibility rules") {
  auto c = LoadCatalog(std::string(ABREC_SOURCE_DIR) + "/config/catalog.yaml");
  REQUIRE(c.has_value());
  CHECK(c->products.size() == 21);
  const Product& student = c->products[*c->IndexOf("student_contents")];
  const Product& life = c->products[*c->IndexOf("term_life")];
  // "if age > 25: remove Student Discount"; no life cover under 18.
  CHECK(Eligible(student, 25));
  CHECK_FALSE(Eligible(student, 26));
  CHECK_FALSE(Eligible(student, 50));
  CHECK_FALSE(Eligible(life, 17));
  CHECK(Eligible(life, 18));
  CHECK(life.annual_premium_cents == 42'000);
  CHECK(life.margin == doctest::Approx(0.33));
  const Product& quake = c->products[*c->IndexOf("earthquake")];
  CHECK(Eligible(quake, std::nullopt));  // no age rules: an unknown age passes
  CHECK_FALSE(Eligible(life, std::nullopt));
}

TEST_CASE("a 10,000-product catalog file (1.6 MB, past other configs' 1 MiB) loads") {
  const auto path = std::filesystem::temp_directory_path() /
                    ("abrec-catalog-" + std::to_string(::getpid()) + ".yaml");
  {
    std::ofstream out(path);
    out << "products:\n";
    for (int i = 0; i < 10'000; ++i) {
      out << "  - {id: product_" << i << ", name: Product number " << i
          << " of the large synthetic catalog, category: c" << i % 7
          << ", annual_premium: " << 100 + i % 900
          << ", margin: 0.25, eligibility: {min_age: 18, max_age: 80}}\n";
    }
  }
  CHECK(std::filesystem::file_size(path) > (1u << 20));
  auto c = LoadCatalog(path.string());
  std::filesystem::remove(path);
  REQUIRE_MESSAGE(c.has_value(), Messages(c.error()));
  CHECK(c->products.size() == 10'000);
  CHECK(c->IndexOf("product_9999") == 9'999);
}

TEST_CASE("catalog errors name the file, line, column and field") {
  auto c = Read(
      "products:\n"
      "  - {id: a_b, name: A, category: x, annual_premium: 10, margin: 0.2}\n"
      "  - {id: a_b, name: B, category: x, annual_premium: 10, margin: 1.5}\n"
      "  - {id: Bad-Id, name: C, category: x, annual_premium: 0, margin: 0.1,"
      " eligibility: {min_age: 30, max_age: 20}}\n"
      "  - {name: D, category: x, annual_premium: 10, margin: 0.1, colour: red}\n");
  REQUIRE_FALSE(c.has_value());
  const std::string m = Messages(c.error());
  CHECK(m.find("catalog.yaml:3:10: products[1].id: duplicate product id \"a_b\": already "
               "defined on line 2") != std::string::npos);
  CHECK(m.find("products[1].margin: 1.5 is out of range") != std::string::npos);
  CHECK(m.find("products[2].id: \"Bad-Id\" is not a product id") != std::string::npos);
  CHECK(m.find("products[2].annual_premium") != std::string::npos);
  CHECK(m.find("min_age 30 is above max_age 20") != std::string::npos);
  CHECK(m.find("products[3].id: required") != std::string::npos);
  CHECK(m.find("unknown key \"colour\"") != std::string::npos);
  CHECK_FALSE(Read("products: []\n").has_value());
}

}  // namespace abrec
