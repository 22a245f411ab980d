// abrec precompute [--config FILE] [--model NAME] [--customers N] [--seed S] [--top N]
// The batch half of serving: every known customer's attributes and top candidates from the
// live model, stamped with its version, written to the configured cache (SQLite or Redis).
#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "platform/platform_config.h"
#include "recommender/serving/candidate_cache.h"
#include "recommender/serving/model_registry.h"
#include "recommender/data/synthetic_world.h"
#include "cli/args.h"
#include "cli/command_config.h"
#include "cli/commands.h"

namespace abrec {
namespace {

constexpr const char* kHelp =
    R"(usage: abrec precompute [--config FILE] [--model NAME] [--customers N] [--seed S]
                        [--top N]

Writes each customer's attributes and top N candidates (default 50) from the live version of
model NAME (default recommender.default_model) to the candidate cache (recommender.cache:
sqlite at recommender.cache_path, or redis at recommender.redis_address). The customers are
the synthetic portfolio's (N customers, default 20000, seed S: the same world `abrec train
--format synthetic` draws), with ids cust-000000, cust-000001, ... The service then answers
GET /v1/recommend/{user_id} for them, re-ranking the cached candidates in real time and
ignoring entries of another model version.
)";

}  // namespace

int PrecomputeCommand(const CommandArgs& argv) {
  auto args =
      ParseCommandArgs("precompute", argv, {"config", "model", "customers", "seed", "top"}, kHelp);
  if (!args) return args.error();
  if (!args->positionals.empty()) {
    fmt::print(stderr, "abrec precompute: no positional arguments\n{}", kHelp);
    return 2;
  }
  WorldOptions world_options;
  std::size_t top = 50;
  try {
    world_options.customers = static_cast<int>(
        NumberOption(*args, "customers", 1, 10'000'000).value_or(world_options.customers));
    world_options.seed = static_cast<std::uint64_t>(
        NumberOption(*args, "seed", 0, 9e15).value_or(static_cast<double>(world_options.seed)));
    top = static_cast<std::size_t>(NumberOption(*args, "top", 1, 10'000).value_or(50));
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "abrec precompute: {}\n", e.what());
    return 2;
  }
  auto config = CommandConfig(*args);
  if (!config) return config.error();
  const auto& rc = config->recommender;
  const std::string name = args->Get("model").value_or(rc.default_model);
  auto catalog = LoadCatalog(rc.catalog);
  if (!catalog) {
    for (const auto& d : catalog.error()) fmt::print(stderr, "{}\n", d.ToString());
    return 1;
  }
  ModelRegistry registry(rc.model_dir, *catalog, {.scorer_copies = 1});
  for (const auto& r : registry.Reload()) {
    if (r.status == "failed")
      fmt::print(stderr, "abrec precompute: {} {}: {}\n", r.name, r.version, r.error);
  }
  const auto model = registry.Get(name);
  if (!model) {
    fmt::print(stderr, "abrec precompute: no loadable model \"{}\" in {}\n", name, rc.model_dir);
    return 1;
  }
  auto cache = OpenCandidateCache(rc, 1);
  if (!cache) {
    fmt::print(stderr, "abrec precompute: {}: {}\n", cache.error().field, cache.error().message);
    return 1;
  }
  if (!*cache) {
    fmt::print(stderr, "abrec precompute: recommender.cache is none: nothing to write to\n");
    return 1;
  }
  const auto started = std::chrono::steady_clock::now();
  auto world = SyntheticWorld::Generate(*catalog, world_options);
  if (!world) {
    fmt::print(stderr, "abrec precompute: {}\n", world.error().message);
    return 1;
  }
  std::vector<CachedCandidates> batch;
  std::size_t written = 0;
  const auto& customers = world->customers();
  auto flush = [&]() -> bool {
    if (auto ok = (*cache)->Put(batch); !ok) {
      fmt::print(stderr, "abrec precompute: writing to the {} cache: {}\n", (*cache)->kind(),
                 ok.error().message);
      return false;
    }
    written += batch.size();
    batch.clear();
    fmt::print(stderr, "\r{} of {} customers", written, customers.size());
    return true;
  };
  for (const Customer& c : customers) {
    const CustomerProfile p = ProfileOf(c);
    CachedCandidates entry{c.id, model->version(), ProfileToAttributes(p, *catalog).dump(), {}};
    for (const auto& [product, score] : model->Candidates(p, top)) {
      entry.product_ids.push_back(catalog->products[product].id);
    }
    batch.push_back(std::move(entry));
    if (batch.size() == 5'000 && !flush()) return 1;
  }
  if (!batch.empty() && !flush()) return 1;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print(stderr, "\n");
  fmt::print(
      "precomputed {} customers × {} candidates from {} version {} into the {} cache "
      "in {:.1f} s\n",
      written, std::min(top, catalog->products.size()), name, model->version(), (*cache)->kind(),
      seconds);
  return 0;
}

}  // namespace abrec
