// The report's off-policy section (report_sections.h): IPS, SNIPS and DR of each variant's
// policy from the exploration lists' sums (eventstore/sqlite/off_policy_log.h, stats/off_policy.h),
// with standard errors clustered by user. O(1) in the log's size: it reads one row of sums
// per target.
#include <string>

#include "dashboards/report_sections.h"
#include "stats/fixed_horizon.h"
#include "stats/off_policy.h"

namespace abrec {
namespace {

using json = nlohmann::ordered_json;

// What an estimate without numbers lacks, in words.
std::string ReasonText(stats::Reason r) {
  switch (r) {
    case stats::Reason::kInvalidInput: return "the stored sums are not finite numbers";
    case stats::Reason::kTooFewUnits:
      return "fewer than 2 users with exploration lists, or no exploration list showed a "
             "product of this variant's list";
    default: return std::string(stats::ReasonName(r));
  }
}

json EstimateJson(const stats::OpeEstimate& e) {
  json out{{"users", e.clusters}, {"lists", e.units}};
  if (e.reason != stats::Reason::kOk) {
    out["reason"] = ReasonText(e.reason);
    return out;
  }
  out["estimate"] = e.value;
  out["standard_error"] = e.se;
  out["ci"] = {e.ci.low, e.ci.high};
  out["effective_sample_size"] = e.effective_sample_size;
  return out;
}

// One metric per list: IPS as the headline figure (estimate, standard_error, ci, as before),
// beside the arm's own figure, then the three estimators.
json MetricJson(const OffPolicySums& s, std::size_t metric, double alpha, json on_policy) {
  const stats::OpeSums& sums = s.metrics[metric];
  const stats::OpeEstimate ips = stats::InversePropensity(sums, alpha);
  json out = ips.reason == stats::Reason::kOk ? json{{"estimate", ips.value},
                                                     {"standard_error", ips.se},
                                                     {"ci", {ips.ci.low, ips.ci.high}}}
                                              : json{{"estimate", nullptr},
                                                     {"standard_error", nullptr},
                                                     {"ci", nullptr},
                                                     {"reason", ReasonText(ips.reason)}};
  out["on_policy"] = std::move(on_policy);
  out["ips"] = EstimateJson(ips);
  out["snips"] = EstimateJson(stats::SelfNormalized(sums, alpha));
  out["snips"]["weighted_lists"] = s.weighted_lists;
  if (s.modelled_lists == 0) {
    out["dr"] = {{"users", s.users()},
                 {"lists", s.lists()},
                 {"modelled_lists", 0},
                 {"reason",
                  "no exploration list was scored by the reward model (recommender.default_model "
                  "not loaded when it was served, or the list predates schema v10): DR would be "
                  "IPS"}};
  } else {
    out["dr"] = EstimateJson(stats::DoublyRobust(sums, alpha));
    out["dr"]["modelled_lists"] = s.modelled_lists;
  }
  return out;
}

}  // namespace

json OffPolicySection(const ReportInputs& in) {
  const double alpha = in.experiment->analysis.alpha;
  json targets = json::object();
  for (const Variant& v : in.experiment->variants) {
    const auto it = in.off_policy.find(v.name);
    const OffPolicySums none;
    const OffPolicySums& s = it == in.off_policy.end() ? none : it->second;
    if (s.lists() < 2 || s.users() < 2) {
      targets[v.name] = {{"lists", s.lists()},
                         {"users", s.users()},
                         {"reason",
                          "fewer than 2 exploration lists, of 2 users, served by /v1/recommend "
                          "with this variant's list computed beside them"}};
      continue;
    }
    const auto arm = in.totals.find(v.name);
    const double exposures =
        arm == in.totals.end() ? 0.0 : static_cast<double>(arm->second.exposures);
    // The arm's own figure per exposure: clicks, binds, premium (currency units).
    auto on_policy = [&](std::size_t metric) {
      if (arm == in.totals.end() || !(exposures > 0)) return json(nullptr);
      const BucketTotals& t = arm->second;
      const double total = metric == 0   ? static_cast<double>(t.clicks)
                           : metric == 1 ? static_cast<double>(t.binds)
                                         : static_cast<double>(t.premium_cents) / 100;
      return json(total / exposures);
    };
    json target{{"policy", PolicyName(v.policy)},
                {"lists", s.lists()},
                {"users", s.users()},
                {"weighted_lists", s.weighted_lists},
                {"modelled_lists", s.modelled_lists},
                {"unsupported_lists", s.unsupported_lists}};
    for (std::size_t m = 0; m < kOffPolicyMetrics.size(); ++m) {
      target[std::string(kOffPolicyMetrics[m]) + "_per_list"] =
          MetricJson(s, m, alpha, on_policy(m));
    }
    targets[v.name] = std::move(target);
  }
  return {{"method",
           "per exploration list, each click, bind and premium on a product the random list showed "
           "and the variant's list would also have shown counts 1/propensity (item-level inverse "
           "propensity scoring; assumes a product's outcome does not depend on the rest of the "
           "list). estimate, standard_error and ci are IPS, the mean over lists; snips divides by "
           "the mean of the lists' weights (Σ 1/propensity over the matched products over the "
           "number of the variant's products the random policy could show; lists logged without "
           "that number, weighted_lists excepted, count their weight's expectation, 1); dr adds to "
           "each list the reward model's prediction for the variant's whole list and subtracts its "
           "inverse-propensity-weighted prediction for the matched products (Open Bandit Pipeline, "
           "obp/ope/estimators.py). The reward model is the served model's (recommender."
           "default_model) P(click) and P(bind) per impression, and P(bind) × the catalog's annual "
           "premium for premium, scored when each list was served, before any outcome, so DR stays "
           "unbiased however good the model; lists it did not score (modelled_lists excepted) "
           "count with no model part (IPS). Standard errors are clustered by user, the unit of "
           "randomisation, whose lists are correlated (CR1: Cameron and Miller 2015, \"A "
           "practitioner's guide to cluster-robust inference\"; SNIPS linearised); intervals are "
           "normal at the experiment's alpha. unsupported_lists: lists whose variant list had "
           "products the random policy never shows, which only DR's model covers"},
          {"note",
           "on_policy: the same figure measured in the variant's own arm (all its exposures), "
           "for comparison; outcomes count when they name the exploration list's request_id"},
          {"targets", std::move(targets)}};
}

}  // namespace abrec
