#include "stats/srm_sequential.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include <doctest/doctest.h>

#include "stats/sequential.h"
#include "stats/srm.h"
#include "tests/stats/reference_values.h"

namespace abrec::stats {
namespace {

// Users arriving in batches of `per_look`, split over `shares` (a multinomial draw, as
// successive binomials); bucket `lossy` loses `loss` of its users, as a logging bug would.
// `visit(counts)` gets the running counts after each batch; it returns true to stop the run.
template <std::size_t K, typename Visit>
void Monitor(std::mt19937_64& rng, const std::array<double, K>& shares, std::int64_t per_look,
             int looks, std::size_t lossy, double loss, Visit&& visit) {
  std::array<std::int64_t, K> counts{};
  for (int look = 0; look < looks; ++look) {
    std::int64_t left = per_look;
    double share_left = 1;
    for (std::size_t b = 0; b < K; ++b) {
      std::int64_t n = left;
      if (b + 1 < K) {
        n = std::binomial_distribution<std::int64_t>(left,
                                                     std::min(1.0, shares[b] / share_left))(rng);
      }
      left -= n;
      share_left -= shares[b];
      if (b == lossy && loss > 0) n -= std::binomial_distribution<std::int64_t>(n, loss)(rng);
      counts[b] += n;
    }
    if (visit(std::span<const std::int64_t>(counts))) return;
  }
}

constexpr std::array<double, 4> kBuckets{0.05, 0.05, 0.45, 0.45};  // holdout, exploration, arms

}  // namespace

TEST_CASE("the Bayes factor equals scipy's beta-binomial chain and an integral over the prior") {
  // tests/stats/reference.py: the Dirichlet-multinomial factorised into scipy's beta-binomials
  // (up to 100 million users), and for two buckets the mixture integrated numerically
  // (scipy.integrate.quad).
  for (const auto& c : Reference()["srm_sequential"]["chain"]) {
    CAPTURE(c.dump());
    const auto counts = c["counts"].get<std::vector<std::int64_t>>();
    const auto weights = c["weights"].get<std::vector<double>>();
    const SequentialSrmResult r = SequentialSampleRatioTest(
        counts, weights, {.concentration = c["concentration"].get<double>()});
    REQUIRE(r.reason == Reason::kOk);
    const double expected = c["log_bf"].get<double>();
    CHECK(std::fabs(r.log_bayes_factor - expected) <= 1e-6 + 1e-10 * std::fabs(expected));
    CHECK(r.p_value == doctest::Approx(std::min(1.0, std::exp(-expected))).epsilon(2e-6));
  }
  for (const auto& c : Reference()["srm_sequential"]["quadrature"]) {
    CAPTURE(c.dump());
    const auto counts = c["counts"].get<std::vector<std::int64_t>>();
    const auto weights = c["weights"].get<std::vector<double>>();
    const SequentialSrmResult r = SequentialSampleRatioTest(
        counts, weights, {.concentration = c["concentration"].get<double>()});
    CHECK(std::exp(r.log_bayes_factor) ==
          doctest::Approx(c["bayes_factor"].get<double>()).epsilon(1e-8));
  }
}

TEST_CASE("the Bayes factor and p-values equal ssrm's published test values") {
  // Transcribed from github.com/optimizely/ssrm, ssrm_test/test_ssrm_test.py (Apache License
  // 2.0, copyright 2020 Optimizely Inc.), test_sequential_posteriors: null [0.4, 0.4, 0.2],
  // prior Dirichlet(1, 1, 1); each row is ssrm's log marginal likelihood under the mixture
  // (M1) and under the null (M0) after a look, whose difference is ln BF at that look's
  // running counts.
  const std::vector<double> theta0{0.4, 0.4, 0.2};
  const std::vector<double> ones{1, 1, 1};
  struct Look {
    std::vector<std::int64_t> counts;  // running counts
    double m1, m0;
  };
  const std::vector<Look> unit_level{{{1, 0, 0}, -1.0986122886681096, -0.916290731874155},
                                     {{1, 1, 0}, -2.4849066497880004, -1.83258146374831},
                                     {{2, 1, 0}, -3.401197381662155, -2.748872195622465},
                                     {{2, 2, 0}, -4.499809670330265, -3.66516292749662},
                                     {{2, 2, 1}, -6.4457198193855785, -5.27460083993072}};
  const std::vector<Look> daily{{{20, 17, 9}, -7.028201432058012, -4.0776406466061985},
                                {{38, 38, 17}, -11.947847738358888, -8.265946861099877},
                                {{42, 44, 21}, -15.471401950257842, -11.610743519545139},
                                {{60, 63, 32}, -19.96484521090386, -15.781031228536165}};
  for (const auto* looks : {&unit_level, &daily}) {
    for (const Look& l : *looks) {
      CAPTURE(l.counts[0]);
      CAPTURE(l.counts[1]);
      CHECK(DirichletMultinomialLogBayesFactor(l.counts, theta0, ones) ==
            doctest::Approx(l.m1 - l.m0).epsilon(1e-10));
    }
  }

  // test_regression: null [0.1, 0.5, 0.4], ssrm's default prior (concentration 10,000 around
  // the null), ten users drawn by scipy.stats.multinomial.rvs(1, [0.1, 0.49, 0.41], size=10)
  // after numpy.random.seed(0) (the draws below); ssrm publishes the last Bayes factor and
  // the last sequential p-value, the running minimum of 1/BF.
  const std::vector<double> null_shares{0.1, 0.5, 0.4};
  const std::array<std::size_t, 10> bucket_of_user{2, 2, 2, 2, 0, 2, 2, 0, 1, 2};
  std::vector<std::int64_t> counts(3, 0);
  RunningMinimumP p;
  SequentialSrmResult last;
  for (const std::size_t b : bucket_of_user) {
    ++counts[b];
    last = SequentialSampleRatioTest(counts, null_shares);
    p.Update(last.p_value);
  }
  CHECK(std::exp(last.log_bayes_factor) == doctest::Approx(1.0017496120131435).epsilon(1e-9));
  CHECK(p.value() == doctest::Approx(0.9980534145723241).epsilon(1e-9));
}

TEST_CASE("one user cannot move the Bayes factor; no users leave it at 1") {
  // The mixture's predictive probability of a first user in bucket i is αᵢ/Σα = θ₀ᵢ, the
  // null's own: BF = 1 exactly.
  const SequentialSrmResult one =
      SequentialSampleRatioTest(std::vector<std::int64_t>{0, 0, 1, 0}, kBuckets);
  CHECK(std::fabs(one.log_bayes_factor) < 1e-9);
  const SequentialSrmResult none =
      SequentialSampleRatioTest(std::vector<std::int64_t>{0, 0, 0, 0}, kBuckets);
  CHECK(none.reason == Reason::kOk);
  CHECK(none.log_bayes_factor == 0);
  CHECK(none.p_value == 1);
  CHECK_FALSE(none.mismatch);
}

TEST_CASE(
    "users in a bucket that should get none are a mismatch at once; an empty one is "
    "left out") {
  // Pearson's χ² does the same: tests/stats/srm_test.cc.
  const std::vector<double> weights{0.5, 0.5, 0.0};
  const SequentialSrmResult leak =
      SequentialSampleRatioTest(std::vector<std::int64_t>{5000, 5000, 1}, weights);
  CHECK(leak.reason == Reason::kOk);
  CHECK(leak.mismatch);
  CHECK(leak.p_value == 0);
  CHECK(leak.unexpected_bucket == std::optional<std::size_t>{2});
  const SequentialSrmResult early = SequentialSampleRatioTest(std::vector<std::int64_t>{3, 1, 0},
                                                              std::vector<double>{0.5, 0.0, 0.5});
  CHECK(early.mismatch);
  CHECK(early.unexpected_bucket == std::optional<std::size_t>{1});

  const SequentialSrmResult empty =
      SequentialSampleRatioTest(std::vector<std::int64_t>{5100, 4900, 0}, weights);
  REQUIRE(empty.reason == Reason::kOk);
  CHECK_FALSE(empty.unexpected_bucket);
  CHECK(empty.log_bayes_factor == SequentialSampleRatioTest(std::vector<std::int64_t>{5100, 4900},
                                                            std::vector<double>{0.5, 0.5})
                                      .log_bayes_factor);
}

TEST_CASE("inputs outside the test's domain are a reason, not a number") {
  // The buckets' checks are SrmBuckets' (tests/stats/srm_test.cc); here, that they apply.
  const std::vector<std::int64_t> counts{10, 12};
  CHECK(SequentialSampleRatioTest(counts, std::vector<double>{1.0}).reason ==
        Reason::kInvalidInput);
  CHECK(SequentialSampleRatioTest(counts, std::vector<double>{0.5, NAN}).reason ==
        Reason::kInvalidInput);
  CHECK(SequentialSampleRatioTest(counts, std::vector<double>{0.5, 0.5}, {.concentration = 0})
            .reason == Reason::kInvalidInput);
}

TEST_CASE(
    "monitored continuously under H0, the sequential test keeps false alarms under the "
    "threshold; χ² peeked at the same looks does not") {
  // Ground truth: the promised 5/5/45/45 split. A look every 100 users up to 200,000 (2,000
  // looks), 1,000 runs. Ville's inequality bounds the chance that 1/BF ever falls below the
  // threshold by the threshold itself, at any number of looks; it is nearly tight for a
  // martingale watched this often (about 0.04 here), so the bound allows Monte-Carlo error:
  // 3 binomial standard deviations.
  constexpr double kThreshold = 0.05;
  constexpr int kRuns = 1'000;
  const double slack = 3 * std::sqrt(kThreshold * (1 - kThreshold) / kRuns);
  std::mt19937_64 rng(20261130);
  int sequential = 0, peeking = 0;
  for (int run = 0; run < kRuns; ++run) {
    bool seq_alarm = false, chi_alarm = false;
    Monitor(rng, kBuckets, 100, 2'000, 0, 0.0, [&](std::span<const std::int64_t> counts) {
      if (!seq_alarm) {
        seq_alarm = SequentialSampleRatioTest(counts, kBuckets, {.threshold = kThreshold}).mismatch;
      }
      if (!chi_alarm) chi_alarm = SampleRatioTest(counts, kBuckets, kThreshold, 0).mismatch;
      return seq_alarm && chi_alarm;
    });
    sequential += seq_alarm ? 1 : 0;
    peeking += chi_alarm ? 1 : 0;
  }
  const double seq_rate = sequential / double{kRuns}, peek_rate = peeking / double{kRuns};
  MESSAGE("H0, 2,000 looks: runs ever below ", kThreshold, ": sequential ", seq_rate,
          ", Pearson's χ² peeked ", peek_rate);
  CHECK(seq_rate <= kThreshold + slack);
  CHECK(peek_rate > 5 * kThreshold);
}

TEST_CASE(
    "the sequential test finds an arm that loses 1% of its users, at the report's "
    "threshold") {
  // The treatment arm (45%) loses 1% of its users; a look every 10,000 users up to 5 million,
  // 200 runs, threshold 0.001. The loss shifts the treatment's share by 0.0025: Pearson's χ²
  // at 5 million users has non-centrality ≈ 125 (sim::RunSrm's closed form), far above what
  // the Bayes factor's Occam penalty of ≈ (k − 1)/2 · ln(1 + N/c) ≈ 9 needs.
  constexpr int kRuns = 200;
  std::mt19937_64 rng(20261131);
  int detected = 0;
  std::vector<double> detected_at;
  for (int run = 0; run < kRuns; ++run) {
    Monitor(rng, kBuckets, 10'000, 500, 3, 0.01, [&](std::span<const std::int64_t> counts) {
      if (!SequentialSampleRatioTest(counts, kBuckets).mismatch) return false;
      ++detected;
      std::int64_t users = 0;
      for (const std::int64_t c : counts) users += c;
      detected_at.push_back(static_cast<double>(users));
      return true;
    });
  }
  std::sort(detected_at.begin(), detected_at.end());
  const double rate = detected / double{kRuns};
  MESSAGE("1% loss: sequential detection ", rate, ", median at ",
          detected_at.empty() ? 0.0 : detected_at[detected_at.size() / 2], " users");
  CHECK(rate >= 0.95);
}

}  // namespace abrec::stats
