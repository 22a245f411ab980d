// The product catalog (config/catalog.yaml): what can be recommended, its price, margin,
// category and eligibility rules. Eligibility is a hard filter applied after scoring: a
// model learns correlations, not rules (the seed's "Student Discount to a 50-year-old").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/diagnostic.h"
#include "configtree/config_tree.h"

namespace abrec {

struct Eligibility {
  std::optional<int> min_age;  // inclusive
  std::optional<int> max_age;  // inclusive: "no student discount past 25" is max_age 25
  bool operator==(const Eligibility&) const = default;
};

struct Product {
  std::string id;  // [a-z0-9_], unique
  std::string name;
  std::string category;
  std::int64_t annual_premium_cents = 0;
  double margin = 0;  // share of the premium kept, 0..1
  Eligibility eligibility;
  int line = 0;  // where it is defined, for messages
};

// Whether a customer of `age` may be offered the product. An unknown age passes only
// products without age rules.
bool Eligible(const Product& p, std::optional<int> age);

struct Catalog {
  std::vector<Product> products;  // in file order; their index is the product's number
  // Per product, its category as a small number (categories in order of first appearance).
  std::vector<int> category_codes;
  // Product id -> index, built by Index() (ReadCatalog calls it). Serving looks ids up per
  // request (holdings, cached candidates): a scan would cost O(products) each.
  struct IdHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::size_t, IdHash, std::equal_to<>> ids;

  // Rebuilds `ids` and `category_codes` from `products`.
  void Index();
  // By the index when it is current for `id`, else by a scan (a catalog edited in code).
  std::optional<std::size_t> IndexOf(std::string_view id) const;
};

// Reads a catalog; every problem is reported as FILE:LINE:COL: field: message.
ParseResult<Catalog> ReadCatalog(const ConfigNode& root, const std::string& file);
ParseResult<Catalog> LoadCatalog(const std::string& path);

}  // namespace abrec
