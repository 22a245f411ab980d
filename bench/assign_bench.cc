// In-process assignment cost: nanoseconds per user "through all buckets" (population hash
// v2, namespace hash v1, experiment hash v2 and the variant choice), as abrec::Assign does
// it for every request, side by side with two references measured in the same run:
//   - a naive GrowthBook v2 hash written the way the JS and Python SDKs write it
//     (string concatenation seed + id, the inner hash printed with snprintf("%u"), the
//     outer hash over those digits), once and three times per user;
//   - a plain FNV-1a over the bytes of the id: the floor any byte-wise hash pays.
// Each variant runs over the same pre-generated ids (no generation inside the timed loop),
// several times, interleaved so that machine noise falls on all of them alike; the table
// gives the median and the spread. Every result feeds a checksum that is printed, so the
// compiler cannot drop the work.
//
// usage: assign_bench [--ids N] [--reps R]   (defaults: 1000000 ids, 9 repetitions)

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "assignment/assigner.h"
#include "assignment/hash.h"
#include "assignment/population.h"

namespace {

constexpr double kTargetNsPerUser = 150.0;  // DESIGN.md, "Performance targets"

// The experiment of config/experiments/recsys_v2_hybrid.yaml, compiled as the registry does.
const abrec::Population& BenchPopulation() {
  static const abrec::Population pop(abrec::PopulationSplit{});
  return pop;
}
const abrec::AssignmentSpec& BenchSpec() {
  static const abrec::AssignmentSpec spec("recsys_v2_hybrid",
                                          abrec::NamespaceRange{"portal_recs", 0.0, 1.0}, 1.0,
                                          {0.5, 0.5}, abrec::AssignMode::kRandomized);
  return spec;
}

// Folds a hash value in [0, 1) into a checksum.
inline std::uint64_t Fold(std::uint64_t sum, double h) {
  return sum * 1099511628211ull + static_cast<std::uint64_t>(h * 10000.0);
}

// --- the naive reference: GrowthBook's SDK code, transliterated -------------------------

std::uint32_t NaiveFnv1a32(const char* s, std::size_t n) {
  std::uint32_t h = 2166136261u;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(s[i]);
    h *= 16777619u;
  }
  return h;
}

// JS: (hashFnv32a(hashFnv32a(seed + value) + "") % 10000) / 10000
double NaiveHashV2(const std::string& seed, const std::string& id) {
  const std::string s = seed + id;
  char digits[16];
  std::snprintf(digits, sizeof digits, "%u", NaiveFnv1a32(s.data(), s.size()));
  return static_cast<double>(NaiveFnv1a32(digits, std::strlen(digits)) % 10000u) / 10000.0;
}

// --- the variants ----------------------------------------------------------------------

using Ids = std::vector<std::string>;

std::uint64_t RunAssign(const Ids& ids) {
  const auto& pop = BenchPopulation();
  const auto& spec = BenchSpec();
  std::uint64_t sum = 0;
  for (const auto& id : ids) {
    const auto d = abrec::Assign(pop, spec, id);
    if (!d) {
      std::fprintf(stderr, "assign_bench: Assign failed for \"%s\": %s\n", id.c_str(),
                   d.error().message.c_str());
      std::exit(1);
    }
    sum = Fold(sum, d->population_hash) + static_cast<std::uint64_t>(d->variant + 1) +
          static_cast<std::uint64_t>(d->population) + (d->namespace_hash ? 7u : 0u);
  }
  return sum;
}

std::uint64_t RunAbrecHashV2Once(const Ids& ids) {
  std::uint64_t sum = 0;
  for (const auto& id : ids) sum = Fold(sum, abrec::HashV2Unchecked("recsys_v2_hybrid", id));
  return sum;
}

// The three hashes of Assign through abrec's own functions, without the UTF-8 check and the
// bucket logic: what Assign costs beyond its hashing.
std::uint64_t RunAbrecHashesThree(const Ids& ids) {
  const auto& pop = BenchPopulation();
  const auto& spec = BenchSpec();
  std::uint64_t sum = 0;
  for (const auto& id : ids) {
    sum = Fold(sum, abrec::HashV2Unchecked(pop.seed(), id));
    sum = Fold(sum, abrec::HashV1Unchecked(spec.namespace_seed(), id));
    sum = Fold(sum, abrec::HashV2Unchecked(spec.seed(), id));
  }
  return sum;
}

std::uint64_t RunNaiveOnce(const Ids& ids) {
  const std::string seed = "recsys_v2_hybrid";
  std::uint64_t sum = 0;
  for (const auto& id : ids) sum = Fold(sum, NaiveHashV2(seed, id));
  return sum;
}

std::uint64_t RunNaiveThree(const Ids& ids) {
  // The three seeds abrec::Assign hashes with, each through the naive v2 hash.
  const std::string population = BenchPopulation().seed();
  const std::string ns = BenchSpec().namespace_seed();
  const std::string experiment = BenchSpec().seed();
  std::uint64_t sum = 0;
  for (const auto& id : ids) {
    sum = Fold(sum, NaiveHashV2(population, id));
    sum = Fold(sum, NaiveHashV2(ns, id));
    sum = Fold(sum, NaiveHashV2(experiment, id));
  }
  return sum;
}

std::uint64_t RunFnvFloor(const Ids& ids) {
  std::uint64_t sum = 0;
  for (const auto& id : ids) sum = sum * 31u + NaiveFnv1a32(id.data(), id.size());
  return sum;
}

struct Variant {
  const char* name;
  std::uint64_t (*run)(const Ids&);
};

constexpr Variant kVariants[] = {
    {"abrec::Assign, all buckets (pop v2 + ns v1 + exp v2)", RunAssign},
    {"abrec hash functions only (HashV2 + HashV1 + HashV2)", RunAbrecHashesThree},
    {"abrec::HashV2Unchecked x1", RunAbrecHashV2Once},
    {"naive GrowthBook v2 (concat + snprintf) x1", RunNaiveOnce},
    {"naive GrowthBook v2 (concat + snprintf) x3", RunNaiveThree},
    {"FNV-1a over the id bytes x1 (floor)", RunFnvFloor},
};
constexpr std::size_t kNumVariants = sizeof kVariants / sizeof kVariants[0];

// --- ids ---------------------------------------------------------------------------------

// "user-1234567": a prefix and a random decimal number, 10 to 12 bytes (in the small-string
// buffer, so the vector is contiguous).
Ids ShortIds(std::size_t n, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::uint32_t> number(10000, 9999999);
  Ids ids;
  ids.reserve(n);
  for (std::size_t i = 0; i < n; ++i) ids.push_back("user-" + std::to_string(number(rng)));
  return ids;
}

// "0f8fad5b-d9cb-469f-a165-70867728950e": 36 bytes, version-4 UUID layout (heap-allocated
// strings, as real ids of that length are).
Ids UuidIds(std::size_t n, std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  Ids ids;
  ids.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t hi = rng();
    std::uint64_t lo = rng();
    std::string s(36, '-');
    std::size_t pos = 0;
    for (std::size_t k = 0; k < 32; ++k) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
      std::uint64_t& word = k < 16 ? hi : lo;
      s[pos++] = kHex[word & 0xF];
      word >>= 4;
    }
    s[14] = '4';                                                // version 4
    s[19] = kHex[8 + (static_cast<unsigned char>(s[19]) % 4)];  // variant 10xx
    ids.push_back(std::move(s));
  }
  return ids;
}

// The naive reference must compute the numbers abrec computes, or the comparison is moot.
bool CrossCheck(const Ids& ids) {
  const std::size_t n = std::min<std::size_t>(ids.size(), 10000);
  const std::string seeds[] = {BenchPopulation().seed(), BenchSpec().seed()};
  for (std::size_t i = 0; i < n; ++i) {
    for (const auto& seed : seeds) {
      if (NaiveHashV2(seed, ids[i]) != abrec::HashV2Unchecked(seed, ids[i])) {
        std::fprintf(stderr, "assign_bench: naive and abrec v2 hashes differ for \"%s\"\n",
                     ids[i].c_str());
        return false;
      }
    }
  }
  return true;
}

// --- harness -----------------------------------------------------------------------------

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2.0;
}

std::uint64_t g_checksum = 0;  // printed at the end: the results are observable

// Returns the median ns/user of abrec::Assign for this id set.
double RunSet(const char* label, const Ids& ids, int reps) {
  std::vector<std::vector<double>> ns(kNumVariants);
  std::uint64_t checksum = 0;
  for (int rep = -1; rep < reps; ++rep) {  // rep -1: warm-up, not recorded
    for (std::size_t v = 0; v < kNumVariants; ++v) {
      const auto t0 = std::chrono::steady_clock::now();
      const std::uint64_t sum = kVariants[v].run(ids);
      const auto t1 = std::chrono::steady_clock::now();
      checksum += sum + v;
      const double elapsed = static_cast<double>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
      if (rep >= 0) ns[v].push_back(elapsed / static_cast<double>(ids.size()));
    }
  }
  g_checksum ^= checksum;

  std::printf("\nids: %s, e.g. \"%s\" (%zu bytes)\n", label, ids.front().c_str(),
              ids.front().size());
  std::printf("  %-54s %9s %9s %9s\n", "variant", "median", "min", "max");
  for (std::size_t v = 0; v < kNumVariants; ++v) {
    const auto [lo, hi] = std::minmax_element(ns[v].begin(), ns[v].end());
    std::printf("  %-54s %9.1f %9.1f %9.1f\n", kVariants[v].name, Median(ns[v]), *lo, *hi);
  }
  return Median(ns[0]);
}

int ParsePositive(const char* flag, const char* value) {
  char* end = nullptr;
  const long v = value ? std::strtol(value, &end, 10) : 0;
  if (!value || *end != '\0' || v <= 0 || v > 100000000) {
    std::fprintf(stderr, "assign_bench: %s needs a positive integer\n", flag);
    std::exit(2);
  }
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 1000000;
  int reps = 9;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--ids") {
      n = static_cast<std::size_t>(ParsePositive("--ids", value));
      ++i;
    } else if (arg == "--reps") {
      reps = ParsePositive("--reps", value);
      ++i;
    } else {
      std::fprintf(stderr, "usage: assign_bench [--ids N] [--reps R]\n");
      return 2;
    }
  }

  std::mt19937_64 rng(20240601);  // fixed: every run measures the same ids
  const Ids short_ids = ShortIds(n, rng);
  const Ids uuid_ids = UuidIds(n, rng);
  if (!CrossCheck(short_ids) || !CrossCheck(uuid_ids)) return 1;

  std::printf("assign_bench: %zu ids per set, %d repetitions after one warm-up; ns per user\n", n,
              reps);
  const double short_ns = RunSet("user-NNNNNNN", short_ids, reps);
  const double uuid_ns = RunSet("UUID", uuid_ids, reps);

  std::printf("\ntarget: abrec::Assign <= %.0f ns per user, all buckets\n", kTargetNsPerUser);
  std::printf("  user-NNNNNNN ids: %.1f ns  %s\n", short_ns,
              short_ns <= kTargetNsPerUser ? "met" : "MISSED");
  std::printf("  UUID ids:         %.1f ns  %s\n", uuid_ns,
              uuid_ns <= kTargetNsPerUser ? "met" : "MISSED");
  std::printf("(checksum %016llx)\n", static_cast<unsigned long long>(g_checksum));
  return 0;
}
