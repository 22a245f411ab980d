// Candidate generation: the k products with the largest inner product between a customer's
// embedding and the products' (the factorisation's score). Exact for small catalogs (a
// matrix-vector product over every product); HNSW (hnswlib, inner-product space) past
// `exact_limit` products, where scanning every product per request would cost too much.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace abrec {

struct CandidateIndexOptions {
  // Catalogs up to this many products are searched exactly. Measured (bench/README.md,
  // "HNSW recall"): 21 products take about a microsecond; 10,000 products (16 dimensions)
  // 363 µs p50 for the top 100, against 81 µs for HNSW, whose recall@100 was only 0.48 there
  // (0.63 at ef_search 512, 254 µs). Exact search is affordable at that size and finds what
  // the factorisation ranks first, so HNSW starts past 20,000 products.
  std::size_t exact_limit = 20'000;
  std::size_t hnsw_m = 16;                 // graph degree
  std::size_t hnsw_ef_construction = 200;  // build-time breadth
  std::size_t hnsw_ef_search = 64;         // query-time breadth (recall against speed)
  std::size_t seed = 100;
};

class CandidateIndex {
 public:
  // `embeddings`: one row of `dim` floats per product, row-major; product i is row i.
  CandidateIndex(std::span<const float> embeddings, std::size_t dim,
                 const CandidateIndexOptions& options = {});
  ~CandidateIndex();
  CandidateIndex(CandidateIndex&&) noexcept;
  CandidateIndex& operator=(CandidateIndex&&) noexcept;

  // The up to k products with the largest inner product with `query` (dim floats), best
  // first, as (product, score). Thread-safe for concurrent queries.
  std::vector<std::pair<std::size_t, float>> TopK(std::span<const float> query,
                                                  std::size_t k) const;
  bool approximate() const { return hnsw_ != nullptr; }
  std::size_t size() const { return count_; }

 private:
  struct Hnsw;
  std::vector<float> embeddings_;
  std::size_t dim_ = 0;
  std::size_t count_ = 0;
  std::unique_ptr<Hnsw> hnsw_;
};

}  // namespace abrec
