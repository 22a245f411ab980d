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
  // Catalogs up to this many products are searched exactly. 21 products take well under a
  // microsecond; at 10,000 products an exact scan takes tens of microseconds per request.
  std::size_t exact_limit = 2'000;
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
