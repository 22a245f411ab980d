#include "assignment/bucket_ranges.h"

#include <numeric>

#include "assignment/hash.h"

namespace abrec {

std::vector<BucketRange> GetBucketRanges(int num_variations, double coverage,
                                         std::span<const double> weights) {
  if (num_variations <= 0) return {};
  if (coverage < 0) coverage = 0;
  if (coverage > 1) coverage = 1;
  const auto n = static_cast<std::size_t>(num_variations);
  std::vector<double> w(weights.begin(), weights.end());
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  if (w.size() != n || total < 0.99 || total > 1.01) {
    w.assign(n, 1.0 / num_variations);
  }
  std::vector<BucketRange> ranges;
  ranges.reserve(n);
  double cumulative = 0;
  for (const double wi : w) {
    const double start = cumulative;
    cumulative += wi;
    ranges.push_back({start, start + coverage * wi});
  }
  return ranges;
}

int ChooseVariation(double n, std::span<const BucketRange> ranges) {
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (n >= ranges[i].start && n < ranges[i].end) return static_cast<int>(i);
  }
  return -1;
}

double NamespaceHash(std::string_view user_id, std::string_view namespace_name) {
  // GrowthBook: hash("__" + namespace, userId, 1) = fnv1a32(userId + "__" + namespace).
  std::string seed;
  seed.reserve(2 + namespace_name.size());
  seed.append("__").append(namespace_name);
  return HashV1Unchecked(seed, user_id);
}

bool InNamespace(std::string_view user_id, const NamespaceRange& ns) {
  const double n = NamespaceHash(user_id, ns.name);
  return n >= ns.start && n < ns.end;
}

}  // namespace abrec
