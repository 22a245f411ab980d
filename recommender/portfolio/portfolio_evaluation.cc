#include "recommender/portfolio/portfolio_evaluation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "stats/offline_metrics.h"

namespace abrec {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void Say(const Progress& progress, const std::string& line) {
  if (progress) progress(line);
}

// Mean and (sample) standard deviation.
std::pair<double, double> MeanSd(const std::vector<double>& v) {
  if (v.empty()) return {0, 0};
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double ss = 0;
  for (const double x : v) ss += (x - mean) * (x - mean);
  return {mean, v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0};
}

// A ranking without probabilities.
ScorerOutput ScoresOnly(std::vector<double> scores) {
  ScorerOutput out;
  out.score = std::move(scores);
  return out;
}

}  // namespace

CustomerSplit SplitCustomers(std::size_t n, double test_share, std::uint64_t seed) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  const auto n_test =
      static_cast<std::size_t>(std::clamp(test_share, 0.0, 1.0) * static_cast<double>(n));
  CustomerSplit s;
  s.test.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_test));
  s.train.assign(order.begin() + static_cast<std::ptrdiff_t>(n_test), order.end());
  std::sort(s.test.begin(), s.test.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}

std::vector<HiddenCase> HideOne(const Portfolio& portfolio, std::span<const std::size_t> customers,
                                std::uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x41dde);
  std::vector<HiddenCase> cases;
  for (const std::size_t c : customers) {
    std::vector<std::size_t> held;
    const auto& holds = portfolio.customers[c].holds;
    for (std::size_t p = 0; p < holds.size(); ++p) {
      if (holds[p]) held.push_back(p);
    }
    if (held.empty()) continue;
    std::uniform_int_distribution<std::size_t> pick(0, held.size() - 1);
    cases.push_back({c, held[pick(rng)]});
  }
  return cases;
}

std::vector<std::string> GroupsOf(const PortfolioCustomer& c,
                                  std::span<const std::string> attributes) {
  std::vector<std::string> groups;
  for (const std::string& a : attributes) {
    if (const auto it = c.attributes.find(a); it != c.attributes.end()) {
      groups.push_back(a + "=" + it->second);
    }
  }
  if (c.age) {
    const int band = std::clamp(*c.age / 10, 0, 9) * 10;
    groups.push_back(band == 90 ? "age=90+" : fmt::format("age={}-{}", band, band + 9));
  }
  return groups;
}

Result<std::vector<ScoredCase>> ScoreHiddenCases(const Portfolio& portfolio,
                                                 std::span<const HiddenCase> cases,
                                                 std::span<const std::string> group_attributes,
                                                 const Scorer& scorer) {
  std::vector<ScoredCase> out;
  out.reserve(cases.size());
  for (const HiddenCase& h : cases) {
    PortfolioCustomer input = portfolio.customers[h.customer];
    input.holds[h.hidden] = false;
    auto s = scorer(input);
    if (!s) return std::unexpected(s.error());
    ScoredCase& scored = out.emplace_back();
    scored.groups = GroupsOf(input, group_attributes);
    const bool probabilities = !s->raw.empty() && !s->probability.empty();
    for (std::size_t p = 0; p < input.holds.size(); ++p) {
      if (input.holds[p]) continue;
      CandidateScore c;
      c.product = p;
      c.score = s->score[p];
      if (probabilities) {
        c.raw = s->raw[p];
        c.probability = s->probability[p];
      }
      c.relevant = p == h.hidden;
      scored.candidates.push_back(c);
    }
  }
  return out;
}

Scorer ModelScorer(PortfolioModel& model) {
  return [&model](const PortfolioCustomer& input) -> Result<ScorerOutput> {
    auto s = model.Score(input);
    if (!s) return std::unexpected(s.error());
    return ScorerOutput{s->probability, s->raw, s->probability};
  };
}

Result<ZimnatReport> RunZimnatProtocol(const Portfolio& portfolio, const ZimnatOptions& o,
                                       const Progress& progress) {
  Portfolio sample;
  const Portfolio* data = &portfolio;
  if (o.max_customers > 0 && o.max_customers < portfolio.customers.size()) {
    const auto pick = SplitCustomers(
        portfolio.customers.size(),
        static_cast<double>(o.max_customers) / static_cast<double>(portfolio.customers.size()),
        o.seed ^ 0x5a3b1e);
    sample.products = portfolio.products;
    for (const std::size_t c : pick.test) sample.customers.push_back(portfolio.customers[c]);
    data = &sample;
  }
  const CustomerSplit split = SplitCustomers(data->customers.size(), o.test_share, o.seed);
  const auto cases = HideOne(*data, split.test, o.seed);
  ZimnatReport report;
  report.train_customers = static_cast<long>(split.train.size());
  report.test_cases = static_cast<long>(cases.size());
  Say(progress, fmt::format("Zimnat protocol: {} customers, {} for training, {} test cases "
                            "(seed {})",
                            data->customers.size(), split.train.size(), cases.size(), o.seed));

  auto add_row = [&](const std::string& name, const Scorer& scorer,
                     double seconds) -> Result<std::vector<ScoredCase>> {
    auto scored = ScoreHiddenCases(*data, cases, o.group_attributes, scorer);
    if (!scored) return scored;
    report.rows.push_back({name, ComputeHideOneMetrics(*scored), seconds});
    const HideOneMetrics& m = report.rows.back().metrics;
    Say(progress, fmt::format("  {:<24} hit@1 {:.4f}  hit@3 {:.4f}  NDCG@5 {:.4f}", name, m.hit1,
                              m.hit3, m.ndcg5));
    return scored;
  };

  const HoldingCounts counts(*data, split.train);
  const auto popularity = PopularityScores(counts);
  auto ok = add_row(
      "popularity",
      [&](const PortfolioCustomer&) -> Result<ScorerOutput> { return ScoresOnly(popularity); }, 0);
  if (!ok) return std::unexpected(ok.error());
  ok = add_row(
      "co-occurrence",
      [&](const PortfolioCustomer& c) -> Result<ScorerOutput> {
        return ScoresOnly(CooccurrenceScores(counts, c.holds));
      },
      0);
  if (!ok) return std::unexpected(ok.error());

  auto start = std::chrono::steady_clock::now();
  PortfolioModelOptions no_mf = o.model;
  no_mf.mf_features = false;
  auto plain = PortfolioModel::Train(*data, split.train, no_mf, progress);
  if (!plain) return std::unexpected(plain.error());
  const double plain_seconds = SecondsSince(start);
  start = std::chrono::steady_clock::now();
  auto full = PortfolioModel::Train(*data, split.train, o.model, progress);
  if (!full) return std::unexpected(full.error());
  const double full_seconds = SecondsSince(start);

  ok = add_row(
      "MF alone",
      [&](const PortfolioCustomer& c) -> Result<ScorerOutput> {
        return ScoresOnly(full->MfScores(c));
      },
      full_seconds);
  if (!ok) return std::unexpected(ok.error());
  ok = add_row("XGBoost without MF", ModelScorer(*plain), plain_seconds);
  if (!ok) return std::unexpected(ok.error());
  ok = add_row("full model", ModelScorer(*full), full_seconds);
  if (!ok) return std::unexpected(ok.error());
  report.full = ComputeHoldoutEvaluation(*ok);
  return report;
}

double TopShareOfPositives(std::span<const double> scores, std::span<const int> labels,
                           double share) {
  const std::size_t n = std::min(scores.size(), labels.size());
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  const auto top = static_cast<std::size_t>(std::lround(share * static_cast<double>(n)));
  double found = 0, positives = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double positive = labels[order[i]] != 0 ? 1 : 0;
    positives += positive;
    if (i < top) found += positive;
  }
  return positives > 0 ? found / positives : 0;
}

Result<CoilReport> RunCoilProtocol(const Portfolio& portfolio, const CoilOptions& o,
                                   const Progress& progress) {
  const auto target_it = std::find(portfolio.products.begin(), portfolio.products.end(), o.target);
  if (target_it == portfolio.products.end() || o.folds < 2 || o.repeats < 1) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("CoIL protocol: no product {} in the portfolio, or fewer than 2 folds",
                    o.target),
        "data"));
  }
  const auto target = static_cast<std::size_t>(target_it - portfolio.products.begin());
  std::vector<std::size_t> owners, others;
  for (std::size_t c = 0; c < portfolio.customers.size(); ++c) {
    (portfolio.customers[c].holds[target] ? owners : others).push_back(c);
  }
  Say(progress,
      fmt::format("CoIL protocol: {} customers, {} own {}; {} × {}-fold stratified "
                  "cross-validation (seed {})",
                  portfolio.customers.size(), owners.size(), o.target, o.repeats, o.folds, o.seed));
  CoilReport report;
  std::vector<double> model_shares, logistic_shares, pooled_model, pooled_logistic;
  std::vector<int> pooled_labels;
  for (int r = 0; r < o.repeats; ++r) {
    // Stratified: each class shuffled and dealt round-robin to the folds.
    std::mt19937_64 rng(o.seed + static_cast<std::uint64_t>(r));
    std::vector<int> fold_of(portfolio.customers.size());
    for (auto* group : {&owners, &others}) {
      std::vector<std::size_t> shuffled = *group;
      std::shuffle(shuffled.begin(), shuffled.end(), rng);
      for (std::size_t i = 0; i < shuffled.size(); ++i) {
        fold_of[shuffled[i]] = static_cast<int>(i % static_cast<std::size_t>(o.folds));
      }
    }
    for (int f = 0; f < o.folds; ++f) {
      std::vector<std::size_t> train, test;
      for (std::size_t c = 0; c < fold_of.size(); ++c)
        (fold_of[c] == f ? test : train).push_back(c);
      PortfolioModelOptions mo = o.model;
      mo.seed = o.model.seed + static_cast<std::uint64_t>(r * o.folds + f);
      auto model = PortfolioModel::Train(portfolio, train, mo);
      if (!model) return std::unexpected(model.error());
      auto logistic = LogisticBaseline::Fit(portfolio, train, target, o.logistic);
      if (!logistic) return std::unexpected(logistic.error());
      std::vector<double> model_scores, logistic_scores;
      std::vector<int> labels;
      for (const std::size_t c : test) {
        PortfolioCustomer input = portfolio.customers[c];
        labels.push_back(input.holds[target] ? 1 : 0);
        input.holds[target] = false;
        auto s = model->Score(input);
        if (!s) return std::unexpected(s.error());
        model_scores.push_back(s->probability[target]);
        logistic_scores.push_back(logistic->Score(input));
      }
      CoilFold fold{r,
                    f,
                    static_cast<long>(test.size()),
                    std::count(labels.begin(), labels.end(), 1),
                    TopShareOfPositives(model_scores, labels, o.top_share),
                    TopShareOfPositives(logistic_scores, labels, o.top_share)};
      report.folds.push_back(fold);
      model_shares.push_back(fold.model_share);
      logistic_shares.push_back(fold.logistic_share);
      pooled_model.insert(pooled_model.end(), model_scores.begin(), model_scores.end());
      pooled_logistic.insert(pooled_logistic.end(), logistic_scores.begin(), logistic_scores.end());
      pooled_labels.insert(pooled_labels.end(), labels.begin(), labels.end());
      Say(progress, fmt::format("  repeat {} fold {}: {} customers, {} owners; top {:.0f}%: "
                                "model {:.3f}, logistic {:.3f}",
                                r + 1, f + 1, fold.customers, fold.owners, 100 * o.top_share,
                                fold.model_share, fold.logistic_share));
    }
  }
  std::tie(report.model_mean, report.model_sd) = MeanSd(model_shares);
  std::tie(report.logistic_mean, report.logistic_sd) = MeanSd(logistic_shares);
  // AUC pooled over folds mixes folds' score scales: a summary, not the protocol's measure.
  report.model_auc = stats::Auc(pooled_model, pooled_labels).auc;
  report.logistic_auc = stats::Auc(pooled_logistic, pooled_labels).auc;
  return report;
}

}  // namespace abrec
