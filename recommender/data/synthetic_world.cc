#include "recommender/data/synthetic_world.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

#include <fmt/format.h>

namespace abrec {
namespace {

double Sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// How much a category appeals at an age: a bump centred on `peak` of width `width`.
double AgeEffect(const std::string& category, const std::string& id, int age) {
  auto bump = [age](double peak, double width, double height) {
    const double z = (age - peak) / width;
    return height * std::exp(-z * z / 2);
  };
  if (id == "student_contents") return bump(21, 3, 2.5) - 1;
  if (category == "life") return bump(45, 12, 1.2) - 0.4;
  if (category == "health") return 0.02 * (age - 45);
  if (category == "travel") return bump(40, 15, 0.8) - 0.3;
  if (category == "auto") return bump(40, 18, 0.9) - 0.3;
  if (category == "home") return bump(50, 16, 0.9) - 0.3;
  if (id == "gadget") return bump(28, 10, 1.0) - 0.4;
  return 0;
}

double OccupationEffect(const std::string& occupation, const std::string& category,
                        const std::string& id) {
  if (occupation == "student")
    return id == "student_contents" ? 1.5 : (category == "life" ? -1 : 0);
  if (occupation == "retired") return category == "travel" ? 0.4 : (category == "auto" ? -0.3 : 0);
  if (occupation == "self_employed") return id == "income_protection" ? 0.8 : 0;
  return 0;
}

}  // namespace

Result<SyntheticWorld> SyntheticWorld::Generate(Catalog catalog, const WorldOptions& o) {
  SyntheticWorld w;
  const std::size_t n_products = catalog.products.size();
  w.clickbait_.assign(n_products, false);
  for (const std::string& id : o.clickbait) {
    const auto i = catalog.IndexOf(id);
    if (!i) {
      return std::unexpected(Error::InvalidArgument(
          fmt::format("clickbait product \"{}\" is not in the catalog", id), "clickbait"));
    }
    w.clickbait_[*i] = true;
  }
  w.catalog_ = std::move(catalog);
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<double> latent(0, 0.6), base(-0.8, 0.5);
  for (std::size_t p = 0; p < n_products; ++p) {
    std::array<double, 4> v{};
    for (double& x : v) x = latent(rng);
    w.profile_.push_back(v);
    w.base_.push_back(base(rng));
    w.click_offset_.push_back(w.clickbait_[p] ? 0.3 : -1.8);
    w.bind_offset_.push_back(w.clickbait_[p] ? -4.0 : -0.6);
  }
  std::normal_distribution<double> age(42, 15);
  std::uniform_int_distribution<int> region(0, 5);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int u = 0; u < o.customers; ++u) {
    Customer c;
    c.id = fmt::format("cust-{:06}", u);
    c.age = std::clamp(static_cast<int>(std::lround(age(rng))), 17, 90);
    c.sex = unit(rng) < 0.5 ? 'F' : 'M';
    c.region = kRegions[static_cast<std::size_t>(region(rng))];
    const double r = unit(rng);
    c.occupation = c.age < 25 && r < 0.6   ? kOccupations[0]
                   : c.age > 64 && r < 0.8 ? kOccupations[3]
                   : r < 0.15              ? kOccupations[2]
                                           : kOccupations[1];
    std::array<double, 4> z{};
    for (double& x : z) x = latent(rng);
    w.taste_.push_back(z);
    w.customers_.push_back(std::move(c));
  }
  // Holdings before the experiment: drawn from the same affinities, as many per customer in
  // a large catalog as in the shipped one (see Customer::holds).
  constexpr double kShippedProducts = 21;
  const double scale = std::min(1.0, kShippedProducts / static_cast<double>(n_products));
  for (std::size_t u = 0; u < w.customers_.size(); ++u) {
    Customer& c = w.customers_[u];
    c.holds.assign(n_products, false);
    for (std::size_t p = 0; p < n_products; ++p) {
      if (!Eligible(w.catalog_.products[p], c.age)) continue;
      c.holds[p] = unit(rng) < scale * Sigmoid(w.Affinity(u, p) - 1.4);
    }
  }
  return w;
}

double SyntheticWorld::Affinity(std::size_t customer, std::size_t product) const {
  const Customer& c = customers_[customer];
  const Product& p = catalog_.products[product];
  double dot = 0;
  for (std::size_t k = 0; k < 4; ++k) dot += taste_[customer][k] * profile_[product][k];
  return base_[product] + AgeEffect(p.category, p.id, c.age) +
         OccupationEffect(c.occupation, p.category, p.id) + dot;
}

double SyntheticWorld::ClickProbability(std::size_t customer, std::size_t product) const {
  return Sigmoid(Affinity(customer, product) + click_offset_[product]);
}

double SyntheticWorld::BindProbability(std::size_t customer, std::size_t product) const {
  if (!Eligible(catalog_.products[product], customers_[customer].age)) return 0;
  return Sigmoid(Affinity(customer, product) + bind_offset_[product]);
}

}  // namespace abrec
