// The catalog shipped in config/catalog.yaml, for the recommender's tests.
#pragma once

#include <string>

#include <doctest/doctest.h>

#include "recommender/catalog.h"

namespace abrec {

inline Catalog ShippedCatalog() {
  auto c = LoadCatalog(std::string(ABREC_SOURCE_DIR) + "/config/catalog.yaml");
  REQUIRE(c.has_value());
  return *c;
}

}  // namespace abrec
