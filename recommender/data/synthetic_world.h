// A synthetic insurance portfolio drawn from a known, seeded ground-truth model of clicks and
// purchases: the default data of `make run`, and the world the simulator's customers live
// in. Because the truth is known, a recommender trained on it can be scored against the
// best possible ranking, and an experiment's measured lift against the real one.
//
// The model, per customer u and product p: an affinity
//   a(u, p) = b_p + age(u, p) + occupation(u, p) + z_u · w_p
// with a per-product base rate b_p, an age profile per product (life cover peaks in middle
// age, the student discount is for students), occupation effects, and latent tastes z_u,
// w_p ~ N(0, 0.6²) in 4 dimensions. Then
//   P(click | shown) = σ(a + c_p),   P(bind | clicked) = σ(a + d_p)   (0 when ineligible),
//   holds p before the experiment with probability σ(a + h)            (eligible only).
// "Clickbait" products have a high click offset c_p and a very low bind offset d_p: they
// attract clicks but rarely sell, the trap a click-optimised model falls into.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "recommender/data/catalog.h"

namespace abrec {

// The synthetic world's vocabularies: every customer's region and occupation is one of these.
inline constexpr std::array<std::string_view, 6> kRegions = {"north", "south",   "east",
                                                             "west",  "central", "coast"};
inline constexpr std::array<std::string_view, 4> kOccupations = {"student", "employed",
                                                                 "self_employed", "retired"};

// The position of `value` in a vocabulary, or -1.
template <std::size_t N>
int VocabularyCode(std::string_view value, const std::array<std::string_view, N>& names) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == value) return static_cast<int>(i);
  }
  return -1;
}

struct Customer {
  std::string id;
  int age = 0;
  char sex = 'F';          // 'F' or 'M'
  std::string region;      // one of six
  std::string occupation;  // student, employed, self_employed, retired
  // Per product of the catalog: drawn from the affinities, P(hold) = σ(affinity − 1.4), about
  // 3 of the 21 shipped products. Past 21 products the probability is scaled by 21 / n, so
  // a customer of a large catalog holds about as many products as one of the shipped
  // catalog (the unscaled rate gave ~1,400 holdings each at 10,000 products).
  std::vector<bool> holds;
};

struct WorldOptions {
  int customers = 20'000;
  std::uint64_t seed = 20261129;
  // Products that attract clicks but rarely sell (must be in the catalog).
  std::vector<std::string> clickbait{"gadget", "cyber_identity", "travel_single"};
};

class SyntheticWorld {
 public:
  // Errors: a clickbait id not in the catalog (kInvalidArgument, field "clickbait").
  static Result<SyntheticWorld> Generate(Catalog catalog, const WorldOptions& options);

  const Catalog& catalog() const { return catalog_; }
  const std::vector<Customer>& customers() const { return customers_; }

  double Affinity(std::size_t customer, std::size_t product) const;
  double ClickProbability(std::size_t customer, std::size_t product) const;
  // Given a click; 0 when the customer is not eligible for the product.
  double BindProbability(std::size_t customer, std::size_t product) const;
  bool IsClickbait(std::size_t product) const { return clickbait_[product]; }

 private:
  Catalog catalog_;
  std::vector<Customer> customers_;
  std::vector<std::array<double, 4>> taste_;    // z_u
  std::vector<std::array<double, 4>> profile_;  // w_p
  std::vector<double> base_, click_offset_, bind_offset_;
  std::vector<bool> clickbait_;
};

}  // namespace abrec
