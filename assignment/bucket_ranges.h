// Bucket ranges, variation choice and namespaces with GrowthBook's semantics
// (getBucketRanges, chooseVariation, inNamespace of its SDKs).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace abrec {

// A half-open interval [start, end) of the hash space [0, 1).
struct BucketRange {
  double start = 0;
  double end = 0;
};

// One range per variation, laid out in order. Variation i's range starts at the sum of the
// weights before it, and covers coverage * w_i of it, so range starts never move when the
// coverage ramps. As GrowthBook: coverage is clamped to [0, 1]; weights of the wrong count,
// or summing outside [0.99, 1.01], are replaced by equal weights.
std::vector<BucketRange> GetBucketRanges(int num_variations, double coverage,
                                         std::span<const double> weights = {});

// The index of the range containing n, or -1 when none does.
int ChooseVariation(double n, std::span<const BucketRange> ranges);

// A namespace: users whose hash_v1("__" + name, id) lies in [start, end) are in it.
struct NamespaceRange {
  std::string name;
  double start = 0;
  double end = 1;
};

// The namespace hash of a user id (valid UTF-8), and whether it lies in the range.
double NamespaceHash(std::string_view user_id, std::string_view namespace_name);
bool InNamespace(std::string_view user_id, const NamespaceRange& ns);

}  // namespace abrec
