#include "recommender/model/candidate_index.h"

#include <algorithm>

#include <hnswlib/hnswlib.h>

namespace abrec {

struct CandidateIndex::Hnsw {
  Hnsw(std::size_t dim, std::size_t n, const CandidateIndexOptions& o)
      : space(dim), graph(&space, n, o.hnsw_m, o.hnsw_ef_construction, o.seed) {}
  hnswlib::InnerProductSpace space;
  hnswlib::HierarchicalNSW<float> graph;
};

CandidateIndex::CandidateIndex(std::span<const float> embeddings, std::size_t dim,
                               const CandidateIndexOptions& o)
    : embeddings_(embeddings.begin(), embeddings.end()),
      dim_(dim),
      count_(dim == 0 ? 0 : embeddings.size() / dim) {
  if (count_ <= o.exact_limit) return;
  hnsw_ = std::make_unique<Hnsw>(dim_, count_, o);
  for (std::size_t i = 0; i < count_; ++i) hnsw_->graph.addPoint(embeddings_.data() + i * dim_, i);
  hnsw_->graph.setEf(std::max(o.hnsw_ef_search, std::size_t{1}));
}

CandidateIndex::~CandidateIndex() = default;
CandidateIndex::CandidateIndex(CandidateIndex&&) noexcept = default;
CandidateIndex& CandidateIndex::operator=(CandidateIndex&&) noexcept = default;

std::vector<std::pair<std::size_t, float>> CandidateIndex::TopK(std::span<const float> query,
                                                                std::size_t k) const {
  std::vector<std::pair<std::size_t, float>> out;
  if (query.size() != dim_ || count_ == 0 || k == 0) return out;
  k = std::min(k, count_);
  if (!hnsw_) {
    out.reserve(count_);
    for (std::size_t i = 0; i < count_; ++i) {
      const float* e = embeddings_.data() + i * dim_;
      float s = 0;
      for (std::size_t d = 0; d < dim_; ++d) s += e[d] * query[d];
      out.emplace_back(i, s);
    }
    // Best first; ties by product number, so the order is deterministic.
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(k), out.end(),
                      [](const auto& a, const auto& b) {
                        return a.second != b.second ? a.second > b.second : a.first < b.first;
                      });
    out.resize(k);
    return out;
  }
  // hnswlib's inner-product "distance" is 1 − <q, e>; its queue holds the worst on top.
  auto found = hnsw_->graph.searchKnn(query.data(), k);
  out.resize(found.size());
  for (std::size_t i = found.size(); i-- > 0; found.pop()) {
    out[i] = {static_cast<std::size_t>(found.top().second), 1 - found.top().first};
  }
  return out;
}

}  // namespace abrec
