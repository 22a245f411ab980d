// A small portfolio with known structure for the portfolio tests: six products whose
// holdings depend on each other (home and health follow motor), on age (life), sex (travel)
// and region (funeral), so that co-occurrence and the model have something to find.
#pragma once

#include <random>
#include <string>

#include <fmt/format.h>

#include "recommender/portfolio/portfolio.h"

namespace abrec {

inline Portfolio SyntheticPortfolio(std::size_t customers, std::uint64_t seed) {
  Portfolio p;
  p.products = {"motor", "home", "life", "travel", "funeral", "health"};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  std::uniform_int_distribution<int> age(20, 69), region(0, 2);
  for (std::size_t i = 0; i < customers; ++i) {
    PortfolioCustomer c;
    c.id = fmt::format("c{:05}", i);
    c.age = age(rng);
    const bool female = unit(rng) < 0.5;
    const int r = region(rng);
    c.attributes = {{"sex", female ? "F" : "M"}, {"region", fmt::format("r{}", r)}};
    const bool motor = unit(rng) < 0.6;
    const bool home = unit(rng) < (motor ? 0.7 : 0.15);
    c.holds = {motor,
               home,
               unit(rng) < (*c.age > 45 ? 0.6 : 0.1),
               unit(rng) < (female ? 0.5 : 0.1),
               unit(rng) < (r == 1 ? 0.6 : 0.05),
               unit(rng) < (home ? 0.6 : 0.1)};
    p.customers.push_back(std::move(c));
  }
  return p;
}

}  // namespace abrec
