#include "recommender/candidate_index.h"

#include <algorithm>
#include <random>
#include <set>

#include <doctest/doctest.h>

namespace abrec {
namespace {

std::vector<float> Random(std::mt19937_64& rng, std::size_t n) {
  std::normal_distribution<float> g(0, 1);
  std::vector<float> v(n);
  for (float& x : v) x = g(rng);
  return v;
}

// The oracle: every product scored, sorted, best first (ties by product number).
std::vector<std::size_t> BruteForce(const std::vector<float>& e, std::size_t dim,
                                    std::span<const float> q, std::size_t k) {
  std::vector<std::pair<float, std::size_t>> all;
  for (std::size_t i = 0; i < e.size() / dim; ++i) {
    float s = 0;
    for (std::size_t d = 0; d < dim; ++d) s += e[i * dim + d] * q[d];
    all.emplace_back(-s, i);
  }
  std::sort(all.begin(), all.end());
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < k; ++i) out.push_back(all[i].second);
  return out;
}

}  // namespace

TEST_CASE("a small catalog is searched exactly, equal to brute force") {
  std::mt19937_64 rng(1);
  const std::size_t dim = 16, n = 21;
  const auto e = Random(rng, n * dim);
  const CandidateIndex index(e, dim);
  CHECK_FALSE(index.approximate());
  for (int q = 0; q < 100; ++q) {
    const auto query = Random(rng, dim);
    const auto top = index.TopK(query, 5);
    REQUIRE(top.size() == 5);
    std::vector<std::size_t> ids;
    for (const auto& [id, score] : top) ids.push_back(id);
    CHECK(ids == BruteForce(e, dim, query, 5));
  }
  CHECK(index.TopK(Random(rng, dim), 100).size() == n);  // k larger than the catalog
  CHECK(index.TopK(Random(rng, 3), 5).empty());          // wrong dimension
}

TEST_CASE("HNSW on 10,000 products recalls the true top 10 at least 95% of the time") {
  std::mt19937_64 rng(2);
  const std::size_t dim = 32, n = 10'000, k = 10;
  const auto e = Random(rng, n * dim);
  const CandidateIndex index(e, dim);
  REQUIRE(index.approximate());
  double found = 0;
  constexpr int kQueries = 200;
  for (int q = 0; q < kQueries; ++q) {
    const auto query = Random(rng, dim);
    const auto exact = BruteForce(e, dim, query, k);
    const std::set<std::size_t> truth(exact.begin(), exact.end());
    const auto top = index.TopK(query, k);
    REQUIRE(top.size() == k);
    for (std::size_t i = 1; i < top.size(); ++i) CHECK(top[i - 1].second >= top[i].second);
    for (const auto& [id, score] : top) found += truth.contains(id) ? 1 : 0;
  }
  const double recall = found / (kQueries * k);
  MESSAGE("HNSW recall@10 on 10,000 products: ", recall);
  CHECK(recall >= 0.95);
}

}  // namespace abrec
