#include "recommender/model/candidate_index.h"

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

TEST_CASE("catalogs up to 20,000 products are searched exactly, HNSW past that") {
  std::mt19937_64 rng(4);
  CHECK_FALSE(CandidateIndex(Random(rng, 20'000 * 2), 2).approximate());
  CHECK(CandidateIndex(Random(rng, 20'001 * 2), 2).approximate());
}

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

namespace {

// Recall@k of `index` against brute force over `queries` random queries; checks along the
// way that every answer is best first and scored with the exact inner product.
double Recall(const CandidateIndex& index, const std::vector<float>& e, std::size_t dim,
              std::size_t k, int queries, std::mt19937_64& rng) {
  double found = 0;
  for (int q = 0; q < queries; ++q) {
    const auto query = Random(rng, dim);
    const auto exact = BruteForce(e, dim, query, k);
    const std::set<std::size_t> truth(exact.begin(), exact.end());
    const auto top = index.TopK(query, k);
    REQUIRE(top.size() == k);
    for (std::size_t i = 0; i < top.size(); ++i) {
      float s = 0;  // the score is the inner product, not hnswlib's distance 1 − <q, x>
      for (std::size_t d = 0; d < dim; ++d) s += e[top[i].first * dim + d] * query[d];
      CHECK(top[i].second == doctest::Approx(s).epsilon(1e-4));
      if (i > 0) CHECK(top[i - 1].second >= top[i].second);
      found += truth.contains(top[i].first) ? 1 : 0;
    }
  }
  return found / (static_cast<double>(queries) * static_cast<double>(k));
}

}  // namespace

TEST_CASE("HNSW on 10,000 products recalls the true top 10 at least 95% of the time") {
  std::mt19937_64 rng(2);
  const std::size_t dim = 32, n = 10'000;
  const auto e = Random(rng, n * dim);
  const CandidateIndex index(e, dim, {.exact_limit = 2'000});
  REQUIRE(index.approximate());
  const double recall = Recall(index, e, dim, 10, 200, rng);
  MESSAGE("HNSW recall@10 on 10,000 products: ", recall);
  CHECK(recall >= 0.95);
}

// Factorisation embeddings are not all of one length: popular products have long vectors.
// Here lengths vary by a factor of e^±1 (log-normal, σ 0.5), so inner product is far from a
// distance. hnswlib's graph over inner product still finds the top 100 (Morozov and Babenko,
// "Non-metric similarity graphs for maximum inner product search", NeurIPS 2018, found it
// better than reducing the search to Euclidean distance; so did this test, 0.23 against 0.93).
TEST_CASE("HNSW with uneven embedding lengths recalls the top 100, scored exactly") {
  std::mt19937_64 rng(3);
  const std::size_t dim = 24, n = 10'000;
  auto e = Random(rng, n * dim);
  std::lognormal_distribution<float> length(0, 0.5);
  for (std::size_t i = 0; i < n; ++i) {
    const float f = length(rng);
    for (std::size_t d = 0; d < dim; ++d) e[i * dim + d] *= f;
  }
  const CandidateIndex index(e, dim, {.exact_limit = 2'000});
  REQUIRE(index.approximate());
  const double recall = Recall(index, e, dim, 100, 100, rng);
  MESSAGE("recall@100 with uneven lengths: ", recall);
  CHECK(recall >= 0.9);
}

}  // namespace abrec
