// The catalog shipped in config/catalog.yaml, and larger ones made of it, for the
// recommender's tests.
#pragma once

#include <string>

#include <doctest/doctest.h>

#include "recommender/data/catalog.h"

namespace abrec {

inline Catalog ShippedCatalog() {
  auto c = LoadCatalog(std::string(ABREC_SOURCE_DIR) + "/config/catalog.yaml");
  REQUIRE(c.has_value());
  return *c;
}

// The shipped catalog `copies` times over: product j past the 21 is a copy of product
// j mod 21 with id "<id>_v<j>" (category, premium, margin and eligibility kept).
inline Catalog EnlargedShippedCatalog(std::size_t copies) {
  Catalog c = ShippedCatalog();
  const std::size_t shipped = c.products.size();
  for (std::size_t j = shipped; j < copies * shipped; ++j) {
    Product p = c.products[j % shipped];
    p.id += "_v" + std::to_string(j);
    c.products.push_back(std::move(p));
  }
  c.Index();
  return c;
}

}  // namespace abrec
