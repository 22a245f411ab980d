#include "recommender/data/synthetic_world.h"

#include <algorithm>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/recommender/shipped_catalog.h"

namespace abrec {
namespace {}  // namespace

TEST_CASE("the synthetic world is a function of its seed") {
  WorldOptions o;
  o.customers = 2'000;
  auto a = SyntheticWorld::Generate(ShippedCatalog(), o);
  auto b = SyntheticWorld::Generate(ShippedCatalog(), o);
  o.seed += 1;
  auto c = SyntheticWorld::Generate(ShippedCatalog(), o);
  REQUIRE((a && b && c));
  bool same = true, differs = false;
  for (std::size_t u = 0; u < 2'000; ++u) {
    same = same && a->customers()[u].holds == b->customers()[u].holds &&
           a->ClickProbability(u, 3) == b->ClickProbability(u, 3);
    differs = differs || a->customers()[u].age != c->customers()[u].age;
  }
  CHECK(same);
  CHECK(differs);
}

TEST_CASE("a customer of a 2,100-product catalog holds about as many products as of 21") {
  const Catalog large = EnlargedShippedCatalog(100);
  WorldOptions o;
  o.customers = 2'000;
  auto w = SyntheticWorld::Generate(large, o);
  REQUIRE(w.has_value());
  double held = 0;
  for (const Customer& c : w->customers())
    held += static_cast<double>(std::count(c.holds.begin(), c.holds.end(), true));
  const double per_customer = held / o.customers;
  MESSAGE("products held per customer of 2,100 products: ", per_customer);
  CHECK(per_customer > 1.0);
  CHECK(per_customer < 4.0);
}

TEST_CASE("holdings and purchases respect eligibility; clickbait attracts clicks, not binds") {
  WorldOptions o;
  o.customers = 20'000;
  auto w = SyntheticWorld::Generate(ShippedCatalog(), o);
  REQUIRE(w.has_value());
  const Catalog& cat = w->catalog();
  const std::size_t n = cat.products.size();
  double held = 0;
  std::vector<double> clicks(n), binds(n);
  int students = 0;
  for (std::size_t u = 0; u < w->customers().size(); ++u) {
    const Customer& c = w->customers()[u];
    students += c.occupation == "student" ? 1 : 0;
    for (std::size_t p = 0; p < n; ++p) {
      held += c.holds[p] ? 1 : 0;
      if (!Eligible(cat.products[p], c.age)) {
        CHECK_FALSE(c.holds[p]);
        CHECK(w->BindProbability(u, p) == 0);
      }
      clicks[p] += w->ClickProbability(u, p);
      binds[p] += w->ClickProbability(u, p) * w->BindProbability(u, p);
    }
  }
  const double per_customer = held / static_cast<double>(w->customers().size());
  MESSAGE("products held per customer: ", per_customer, "; students: ", students);
  CHECK(per_customer > 1.0);
  CHECK(per_customer < 4.0);
  CHECK(students > 500);
  // Clickbait: each clickbait product is clicked more often than the median product, and
  // binds after a click far less often than any other product.
  double min_other_bind_per_click = 1, max_bait_bind_per_click = 0, min_bait_clicks = 1e9;
  std::vector<double> other_clicks;
  for (std::size_t p = 0; p < n; ++p) {
    const double per_click = binds[p] / clicks[p];
    if (w->IsClickbait(p)) {
      max_bait_bind_per_click = std::max(max_bait_bind_per_click, per_click);
      min_bait_clicks = std::min(min_bait_clicks, clicks[p]);
    } else {
      min_other_bind_per_click = std::min(min_other_bind_per_click, per_click);
      other_clicks.push_back(clicks[p]);
    }
  }
  std::sort(other_clicks.begin(), other_clicks.end());
  CHECK(min_bait_clicks > other_clicks[other_clicks.size() / 2]);
  CHECK(max_bait_bind_per_click < min_other_bind_per_click / 3);
  WorldOptions bad = o;
  bad.clickbait = {"no_such_product"};
  CHECK_FALSE(SyntheticWorld::Generate(ShippedCatalog(), bad).has_value());
}

}  // namespace abrec
