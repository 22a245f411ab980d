// The recommender's speed and memory in-process (issue 5), each path beside a reference in
// the same run (over 400 lines on purpose: one file keeps each path and its reference in
// step, measured by the same timer in the same process):
//   21 products   training time (20,000 customers), then per-request latency (p50, p99,
//                 mean) of the pipeline with candidates generated and with cached candidates,
//                 its parts (Candidates, Score), the legacy rules, and the reference of
//                 scoring every product (no candidate generation);
//   10,000        a synthetic catalog (the 21 shipped products plus variants `<id>_vNNNN` of
//   products      them), a model trained on it, and the same latencies with the HNSW index
//                 (forced; the default is exact up to 20,000 products) and with exact search,
//                 HNSW's recall@k against exact, and what the GET path does before the pipeline
//                 (Catalog::IndexOf of each cached id, ProfileFromAttributes);
//   1,000,000     training time on a synthetic portfolio of a million customers.
// After each stage: the process's peak resident memory (getrusage ru_maxrss, lifetime) and
// the stage's own peak (/proc/self/status VmHWM, reset through /proc/self/clear_refs before
// the stage), and the resident memory a loaded model adds.
//
// usage: recommend_bench [--requests N] [--skip-21] [--skip-10k] [--skip-1m]
//                        [--customers-10k N] [--mf-epochs-10k E] [--customers-1m N]
//                        [--brute-requests N] [--dir DIR]
// Run by `make bench` (bench/run-all.sh), never by CTest.
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "recommender/data/catalog.h"
#include "recommender/model/customer_profile.h"
#include "recommender/model/model.h"
#include "recommender/model/policies.h"
#include "recommender/model/reranker.h"
#include "recommender/data/synthetic_world.h"
#include "recommender/training/trainer.h"

namespace {

namespace fs = std::filesystem;
using namespace abrec;
using Clock = std::chrono::steady_clock;

constexpr int kListSize = 5;  // the k of GET /v1/recommend's default request

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// --- memory ------------------------------------------------------------------------------

long StatusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + key.size());
  }
  return -1;
}

// User + system CPU seconds of the whole process (every thread: XGBoost trains on all cores).
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

long MaxRssKb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// Resets VmHWM to the current VmRSS (Linux ≥ 4.0), so the next stage's peak is its own.
bool ResetPeak() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

std::string Mib(long kb) { return fmt::format("{:.1f} MiB", static_cast<double>(kb) / 1024); }

void PrintMemory(const std::string& stage) {
  fmt::print("memory after {}: VmRSS {}, stage peak VmHWM {}, process peak ru_maxrss {}\n", stage,
             Mib(StatusKb("VmRSS")), Mib(StatusKb("VmHWM")), Mib(MaxRssKb()));
  std::fflush(stdout);
}

// --- latency -----------------------------------------------------------------------------

struct Variant {
  Variant(std::string n, std::function<std::size_t(std::size_t)> r, std::size_t count = 0)
      : name(std::move(n)), run(std::move(r)), requests(count) {}
  std::string name;
  std::function<std::size_t(std::size_t)> run;  // request i -> a value kept in the checksum
  std::size_t requests = 0;                     // 0: all
  std::vector<double> ns;
};

ModelLoadOptions OneScorer() {
  ModelLoadOptions o;  // one booster pair: the benchmark scores on one thread
  o.scorer_copies = 1;
  return o;
}

std::size_t checksum = 0;

// Runs every variant over requests 0..n-1, in `rounds` interleaved slices so that a burst of
// load from the machine's other processes falls on all variants alike, after a warm-up of
// min(n, 200) requests each.
void Measure(std::vector<Variant>& variants, std::size_t n, int rounds) {
  for (Variant& v : variants) {
    const std::size_t count = v.requests ? std::min(v.requests, n) : n;
    for (std::size_t i = 0; i < std::min<std::size_t>(count, 200); ++i) checksum += v.run(i);
    v.ns.clear();
    v.ns.reserve(count);
  }
  for (int r = 0; r < rounds; ++r) {
    for (Variant& v : variants) {
      const std::size_t count = v.requests ? std::min(v.requests, n) : n;
      const std::size_t lo = count * static_cast<std::size_t>(r) / static_cast<std::size_t>(rounds);
      const std::size_t hi =
          count * static_cast<std::size_t>(r + 1) / static_cast<std::size_t>(rounds);
      for (std::size_t i = lo; i < hi; ++i) {
        const auto t0 = Clock::now();
        checksum += v.run(i);
        v.ns.push_back(static_cast<double>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()));
      }
    }
  }
}

double Quantile(std::vector<double> x, double q) {
  if (x.empty()) return std::nan("");
  const auto i = static_cast<std::size_t>(q * static_cast<double>(x.size() - 1));
  std::nth_element(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(i), x.end());
  return x[i];
}

void PrintTable(const std::string& title, const std::vector<Variant>& variants) {
  fmt::print("\n{} (load average {})\n", title, [] {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
  }());
  fmt::print("| path | requests | p50 µs | p99 µs | mean µs |\n|---|---|---|---|---|\n");
  for (const Variant& v : variants) {
    const double mean = v.ns.empty() ? std::nan("")
                                     : std::accumulate(v.ns.begin(), v.ns.end(), 0.0) /
                                           static_cast<double>(v.ns.size());
    fmt::print("| {} | {} | {:.1f} | {:.1f} | {:.1f} |\n", v.name, v.ns.size(),
               Quantile(v.ns, 0.5) / 1e3, Quantile(v.ns, 0.99) / 1e3, mean / 1e3);
  }
  std::fflush(stdout);
}

// --- data --------------------------------------------------------------------------------

// The synthetic world's customers as serving knows them (what `abrec precompute` stores).
std::vector<CustomerProfile> Profiles(const SyntheticWorld& world) {
  std::vector<CustomerProfile> out;
  for (const Customer& c : world.customers()) {
    CustomerProfile p;
    p.age = c.age;
    p.sex = c.sex;
    p.region = VocabularyCode(c.region, kRegions);
    p.occupation = VocabularyCode(c.occupation, kOccupations);
    p.holds = c.holds;
    out.push_back(std::move(p));
  }
  return out;
}

// The shipped products, then variants `<id>_vNNNN` of them in turn, each with its original's
// category, margin and eligibility and a premium within ±20% of the original's.
Catalog Enlarge(const Catalog& shipped, std::size_t total, std::uint64_t seed) {
  Catalog c = shipped;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  const std::size_t n = shipped.products.size();
  for (std::size_t j = n; j < total; ++j) {
    const std::size_t base = j % n;
    Product p = shipped.products[base];
    p.id = fmt::format("{}_v{:04}", p.id, j - n + 1);
    p.name = fmt::format("{} (variant {})", p.name, j - n + 1);
    p.annual_premium_cents = static_cast<std::int64_t>(
        std::llround(static_cast<double>(p.annual_premium_cents) * jitter(rng)));
    p.line = 0;
    c.products.push_back(std::move(p));
  }
  c.Index();  // the id index and category codes, as ReadCatalog builds them
  return c;
}

struct Trained {
  std::string dir;
  double seconds = 0;
};

std::optional<Trained> Train(const Catalog& catalog, const TrainOptions& o, const fs::path& dir,
                             const std::string& label) {
  ResetPeak();
  const auto t0 = Clock::now();
  const double cpu0 = CpuSeconds();
  auto report = TrainSynthetic(catalog, o, dir.string(), [&label](const std::string& line) {
    fmt::print(stderr, "  [{}] {}\n", label, line);
  });
  if (!report) {
    fmt::print(stderr, "recommend_bench: training {}: {}: {}\n", label, report.error().field,
               report.error().message);
    return std::nullopt;
  }
  const double s = Seconds(t0), cpu = CpuSeconds() - cpu0;
  fmt::print(
      "training {}: {:.1f} s wall, {:.1f} s CPU (TrainSynthetic's own figure, before writing and "
      "ranking evaluation: {:.1f} s); {} customers ({} train, {} held out), {} products, MF {} "
      "epochs; "
      "click AUC {:.3f}, bind AUC {:.3f}\n",
      label, s, cpu, report->seconds, o.customers, report->train_customers, report->test_customers,
      catalog.products.size(), o.mf.epochs, report->click_auc, report->bind_auc);
  PrintMemory("training " + label);
  return Trained{dir.string(), s};
}

std::shared_ptr<const RecommenderModel> LoadModel(const std::string& dir, const Catalog& catalog,
                                                  const ModelLoadOptions& o,
                                                  const std::string& label) {
  malloc_trim(0);  // return what earlier stages freed, so the difference is the model's
  const long before = StatusKb("VmRSS");
  const auto t0 = Clock::now();
  auto model = RecommenderModel::Load(dir, catalog, o);
  const double load_s = Seconds(t0);
  malloc_trim(0);  // and what loading parsed and dropped (the JSON texts)
  if (!model) {
    fmt::print(stderr, "recommend_bench: loading {}: {}\n", label, model.error().message);
    return nullptr;
  }
  fmt::print("loaded {}: {:.2f} s, resident memory +{} (VmRSS before {}, after {}); index: {}\n",
             label, load_s, Mib(StatusKb("VmRSS") - before), Mib(before), Mib(StatusKb("VmRSS")),
             (*model)->approximate_search() ? "HNSW" : "exact");
  std::fflush(stdout);
  return *model;
}

std::vector<std::size_t> Ids(const std::vector<std::pair<std::size_t, float>>& found) {
  std::vector<std::size_t> out;
  for (const auto& [p, s] : found) out.push_back(p);
  return out;
}

std::size_t ListSum(const Result<PolicyList>& list) {
  if (!list) return 1'000'000;
  std::size_t s = list->items.size();
  for (const auto& it : list->items) s += it.product;
  return s;
}

// --- stages ------------------------------------------------------------------------------

struct Settings {
  std::size_t requests = 20'000;
  std::size_t brute_requests = 300;  // scoring every product at 10,000 products is slow
  // The synthetic world gives ~3 holdings per customer at any catalog size; training's cost
  // at 10,000 products is the held-out ranking evaluation, which scores every product.
  int customers_10k = 2'000;
  int mf_epochs_10k = 30;
  int customers_1m = 1'000'000;
  bool skip_21 = false, skip_10k = false, skip_1m = false;
};

int Stage21(const Catalog& catalog, const RankingRules& rules, const Settings& s,
            const fs::path& dir) {
  fmt::print("\n== 21 products (config/catalog.yaml)\n");
  std::fflush(stdout);
  TrainOptions o;
  o.customers = 20'000;
  const auto trained = Train(catalog, o, dir / "model21", "21 products, 20,000 customers");
  if (!trained) return 1;
  const auto model = LoadModel(trained->dir, catalog, OneScorer(), "the 21-product model");
  if (!model) return 1;
  auto world =
      SyntheticWorld::Generate(catalog, {.customers = static_cast<int>(s.requests), .seed = 4242});
  if (!world) return 1;
  const auto customers = Profiles(*world);
  std::vector<std::vector<std::size_t>> cached;
  for (const auto& c : customers) cached.push_back(Ids(model->Candidates(c, 50)));
  std::vector<std::size_t> all(catalog.products.size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  const auto* segments = &model->segment_popularity();
  std::vector<Variant> v = {
      {"PipelineList, candidates generated (top 100)",
       [&](std::size_t i) {
         return ListSum(PipelineList(*model, customers[i], kListSize, rules, {}, 100));
       }},
      {"PipelineList, cached candidates (top 50, as precomputed)",
       [&](std::size_t i) {
         return ListSum(PipelineList(*model, customers[i], kListSize, rules, cached[i]));
       }},
      {"part: Candidates alone (top 100, exact)",
       [&](std::size_t i) { return model->Candidates(customers[i], 100).size(); }},
      {"part: Score alone (the cached candidates)",
       [&](std::size_t i) {
         auto r = model->Score(customers[i], cached[i]);
         return r ? r->size() : 0;
       }},
      {"reference: LegacyRulesList (control arm)",
       [&](std::size_t i) {
         return LegacyRulesList(catalog, segments, customers[i], kListSize, rules).items.size();
       }},
      {"reference: brute force, Score every product + Rerank (no index)",
       [&](std::size_t i) {
         return ListSum(PipelineList(*model, customers[i], kListSize, rules, all));
       }},
  };
  ResetPeak();
  Measure(v, customers.size(), 4);
  PrintTable(fmt::format("in-process latency per request, 21 products, k {}, {} synthetic "
                         "customers (seed 4242; mean holdings {:.1f})",
                         kListSize, customers.size(),
                         std::accumulate(customers.begin(), customers.end(), 0.0,
                                         [](double a, const CustomerProfile& c) {
                                           return a + static_cast<double>(std::count(
                                                          c.holds.begin(), c.holds.end(), true));
                                         }) /
                             static_cast<double>(customers.size())),
             v);
  PrintMemory("the 21-product latencies");
  return 0;
}

// HNSW's recall against exact search at ef_search 64 (the default) and wider, over the
// customers: the share of the exact top k found ("set"), and the share of what HNSW returns
// that scores at least the exact k-th score less 1e-6 ("score"; products tied with the k-th
// count as found, which matters when many products have near-equal embeddings), with the
// median microseconds of one search. Each ef_search builds its own index (one load each).
void PrintRecall(const std::string& dir, const Catalog& catalog, const RecommenderModel& exact,
                 const std::vector<CustomerProfile>& customers) {
  fmt::print(
      "\nHNSW recall against exact search (M 16, ef_construction 200), {} customers:\n"
      "| ef_search | k | set recall@k | score recall@k | search p50 µs |\n|---|---|---|---|---|\n",
      customers.size());
  std::vector<double> exact_us;
  for (const std::size_t ef :
       {std::size_t{64}, std::size_t{128}, std::size_t{256}, std::size_t{512}}) {
    ModelLoadOptions o = OneScorer();
    o.index.exact_limit = 0;  // HNSW forced (the default searches 10,000 products exactly)
    o.index.hnsw_ef_search = ef;
    const auto hnsw = LoadModel(dir, catalog, o, fmt::format("the model with ef_search {}", ef));
    if (!hnsw) return;
    for (const std::size_t k : {std::size_t{10}, std::size_t{50}, std::size_t{100}}) {
      double set_hits = 0, score_hits = 0;
      std::vector<double> us;
      for (const auto& c : customers) {
        const auto start = Clock::now();
        const auto a = hnsw->Candidates(c, k);
        us.push_back(Seconds(start) * 1e6);
        const auto b = exact.Candidates(c, k);
        auto truth = Ids(b);
        std::sort(truth.begin(), truth.end());
        const float kth = b.empty() ? 0 : b.back().second;
        for (const auto& [p, score] : a) {
          set_hits += std::binary_search(truth.begin(), truth.end(), p) ? 1 : 0;
          score_hits += score >= kth - 1e-6f ? 1 : 0;
        }
      }
      std::nth_element(us.begin(), us.begin() + static_cast<std::ptrdiff_t>(us.size() / 2),
                       us.end());
      const double n = static_cast<double>(k * customers.size());
      fmt::print("| {} | {} | {:.4f} | {:.4f} | {:.0f} |\n", ef, k, set_hits / n, score_hits / n,
                 us[us.size() / 2]);
    }
  }
  std::vector<double> us;
  for (const auto& c : customers) {
    const auto start = Clock::now();
    const auto b = exact.Candidates(c, 100);
    const double elapsed = Seconds(start) * 1e6;
    if (!b.empty()) us.push_back(elapsed);
  }
  std::nth_element(us.begin(), us.begin() + static_cast<std::ptrdiff_t>(us.size() / 2), us.end());
  fmt::print("| exact (reference) | 100 | 1 | 1 | {:.0f} |\n", us[us.size() / 2]);
  std::fflush(stdout);
}

int Stage10k(const Catalog& shipped, const RankingRules& rules, const Settings& s,
             const fs::path& dir) {
  constexpr std::size_t kProducts = 10'000;
  fmt::print("\n== {} products (the 21 shipped, plus variants <id>_vNNNN)\n", kProducts);
  std::fflush(stdout);
  const Catalog catalog = Enlarge(shipped, kProducts, 10'000);
  TrainOptions o;
  o.customers = s.customers_10k;
  o.mf.epochs = s.mf_epochs_10k;
  const auto trained = Train(catalog, o, dir / "model10k",
                             fmt::format("10,000 products, {} customers", o.customers));
  if (!trained) return 1;
  ModelLoadOptions hnsw_options = OneScorer();
  hnsw_options.index.exact_limit = 0;
  const auto hnsw = LoadModel(trained->dir, catalog, hnsw_options,
                              "the model with HNSW forced (M 16, ef_search 64)");
  ModelLoadOptions exact_options = OneScorer();
  exact_options.index.exact_limit = std::numeric_limits<std::size_t>::max();
  const auto exact =
      LoadModel(trained->dir, catalog, exact_options, "the model with exact search forced");
  if (!hnsw || !exact) return 1;
  const std::size_t n = std::min<std::size_t>(s.requests, 5'000);
  auto world = SyntheticWorld::Generate(catalog, {.customers = static_cast<int>(n), .seed = 4242});
  if (!world) return 1;
  const auto customers = Profiles(*world);
  double holdings = 0;
  for (const auto& c : customers)
    holdings += static_cast<double>(std::count(c.holds.begin(), c.holds.end(), true));
  holdings /= static_cast<double>(customers.size());

  PrintRecall(trained->dir, catalog, *exact, customers);

  std::vector<std::vector<std::size_t>> cached;
  std::vector<std::vector<std::string>> cached_ids;
  std::vector<std::string> attributes;
  for (const auto& c : customers) {
    cached.push_back(Ids(exact->Candidates(c, 50)));  // as precompute, with default options
    std::vector<std::string> ids;
    for (const std::size_t p : cached.back()) ids.push_back(catalog.products[p].id);
    cached_ids.push_back(std::move(ids));
    attributes.push_back(ProfileToAttributes(c, catalog).dump());
  }
  // The synthetic world gives each customer ~14% of the catalog (σ(a − 1.4) per eligible
  // product, whatever its size): ~1,400 holdings at 10,000 products. The same customers with
  // only their holdings among the 21 shipped products show the cost at realistic holdings.
  std::vector<CustomerProfile> few = customers;
  std::vector<std::string> few_attributes;
  for (auto& c : few) {
    std::fill(c.holds.begin() + static_cast<std::ptrdiff_t>(shipped.products.size()), c.holds.end(),
              false);
    few_attributes.push_back(ProfileToAttributes(c, catalog).dump());
  }
  std::vector<std::size_t> all(catalog.products.size());
  std::iota(all.begin(), all.end(), std::size_t{0});
  const auto* segments = &hnsw->segment_popularity();
  std::vector<Variant> v = {
      {"PipelineList, candidates generated (top 100), HNSW",
       [&](std::size_t i) {
         return ListSum(PipelineList(*hnsw, customers[i], kListSize, rules, {}, 100));
       }},
      {"PipelineList, candidates generated (top 100), exact",
       [&](std::size_t i) {
         return ListSum(PipelineList(*exact, customers[i], kListSize, rules, {}, 100));
       }},
      {"PipelineList, cached candidates (top 50)",
       [&](std::size_t i) {
         return ListSum(PipelineList(*hnsw, customers[i], kListSize, rules, cached[i]));
       }},
      {"part: Candidates alone (top 100), HNSW",
       [&](std::size_t i) { return hnsw->Candidates(customers[i], 100).size(); }},
      {"part: Candidates alone (top 100), exact",
       [&](std::size_t i) { return exact->Candidates(customers[i], 100).size(); }},
      {"part: Score alone (the 50 cached candidates)",
       [&](std::size_t i) {
         auto r = hnsw->Score(customers[i], cached[i]);
         return r ? r->size() : 0;
       }},
      {"GET path before the pipeline: Catalog::IndexOf of the 50 cached ids",
       [&](std::size_t i) {
         std::size_t sum = 0;
         for (const auto& id : cached_ids[i]) sum += catalog.IndexOf(id).value_or(0);
         return sum;
       }},
      {"GET path before the pipeline: ProfileFromAttributes of the cached entry",
       [&](std::size_t i) {
         auto p = ProfileFromAttributes(nlohmann::json::parse(attributes[i]), catalog, 2026);
         return p ? p->holds.size() : 0;
       }},
      {"few holdings: PipelineList, cached candidates (top 50)",
       [&](std::size_t i) {
         return ListSum(PipelineList(*hnsw, few[i], kListSize, rules, cached[i]));
       }},
      {"few holdings: part: Score alone (the 50 cached candidates)",
       [&](std::size_t i) {
         auto r = hnsw->Score(few[i], cached[i]);
         return r ? r->size() : 0;
       }},
      {"few holdings: ProfileFromAttributes of the cached entry",
       [&](std::size_t i) {
         auto p = ProfileFromAttributes(nlohmann::json::parse(few_attributes[i]), catalog, 2026);
         return p ? p->holds.size() : 0;
       }},
      {"reference: LegacyRulesList (control arm)",
       [&](std::size_t i) {
         return LegacyRulesList(catalog, segments, customers[i], kListSize, rules).items.size();
       }},
      {"reference: brute force, Score every product + Rerank (no index)",
       [&](std::size_t i) {
         return ListSum(PipelineList(*hnsw, customers[i], kListSize, rules, all));
       },
       s.brute_requests},
  };
  ResetPeak();
  Measure(v, customers.size(), 4);
  PrintTable(fmt::format("in-process latency per request, {} products, k {}, {} synthetic "
                         "customers (seed 4242; mean holdings {:.1f}; few holdings: only those "
                         "among the 21 shipped products)",
                         kProducts, kListSize, customers.size(), holdings),
             v);
  PrintMemory("the 10,000-product latencies");
  return 0;
}

int Stage1m(const Catalog& catalog, const Settings& s, const fs::path& dir) {
  fmt::print("\n== training on {} customers, 21 products\n", s.customers_1m);
  std::fflush(stdout);
  TrainOptions o;
  o.customers = s.customers_1m;
  return Train(catalog, o, dir / "model1m", fmt::format("21 products, {} customers", o.customers))
             ? 0
             : 1;
}

std::size_t ParseCount(std::string_view flag, const char* value) {
  char* end = nullptr;
  const long long v = value ? std::strtoll(value, &end, 10) : 0;
  if (!value || *end != '\0' || v < 1) {
    fmt::print(stderr, "recommend_bench: {} needs a positive integer\n", flag);
    std::exit(2);
  }
  return static_cast<std::size_t>(v);
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  fs::path dir;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--skip-21") {
      s.skip_21 = true;
    } else if (arg == "--skip-10k") {
      s.skip_10k = true;
    } else if (arg == "--skip-1m") {
      s.skip_1m = true;
    } else if (arg == "--requests") {
      s.requests = ParseCount(arg, value), ++i;
    } else if (arg == "--brute-requests") {
      s.brute_requests = ParseCount(arg, value), ++i;
    } else if (arg == "--customers-10k") {
      s.customers_10k = static_cast<int>(ParseCount(arg, value)), ++i;
    } else if (arg == "--mf-epochs-10k") {
      s.mf_epochs_10k = static_cast<int>(ParseCount(arg, value)), ++i;
    } else if (arg == "--customers-1m") {
      s.customers_1m = static_cast<int>(ParseCount(arg, value)), ++i;
    } else if (arg == "--dir" && value) {
      dir = value, ++i;
    } else {
      fmt::print(stderr,
                 "usage: recommend_bench [--requests N] [--skip-21] [--skip-10k] [--skip-1m]\n"
                 "                       [--customers-10k N] [--mf-epochs-10k E] "
                 "[--customers-1m N]\n"
                 "                       [--brute-requests N] [--dir DIR]\n");
      return 2;
    }
  }
  const bool own_dir = dir.empty();
  if (own_dir) {
    std::string pattern = (fs::temp_directory_path() / "recommend-bench.XXXXXX").string();
    if (!mkdtemp(pattern.data())) {
      fmt::print(stderr, "recommend_bench: cannot create a temporary directory\n");
      return 1;
    }
    dir = pattern;
  }
  const fs::path source = ABREC_SOURCE_DIR;
  auto catalog = LoadCatalog((source / "config/catalog.yaml").string());
  auto rules = LoadRankingRules((source / "config/ranking.yaml").string());
  if (!catalog || !rules) {
    fmt::print(stderr, "recommend_bench: cannot read config/catalog.yaml or config/ranking.yaml\n");
    return 1;
  }
  fmt::print(
      "recommend_bench: {} cores, load average at start {}; models in {}\n",
      sysconf(_SC_NPROCESSORS_ONLN),
      [] {
        std::ifstream in("/proc/loadavg");
        std::string a, b, c;
        in >> a >> b >> c;
        return a + " " + b + " " + c;
      }(),
      dir.string());
  fmt::print(
      "peak-memory reset through /proc/self/clear_refs: {}\n",
      ResetPeak() ? "available (VmHWM is per stage)" : "unavailable (VmHWM is the process's)");
  PrintMemory("start");
  int status = 0;
  if (!s.skip_21) status |= Stage21(*catalog, *rules, s, dir);
  if (!s.skip_10k) status |= Stage10k(*catalog, *rules, s, dir);
  if (!s.skip_1m) status |= Stage1m(*catalog, s, dir);
  fmt::print("\nchecksum {}\n", checksum);
  if (own_dir) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return status;
}
