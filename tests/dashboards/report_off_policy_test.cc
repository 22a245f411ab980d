// The report's off-policy section from the store's sums: IPS as the headline figure, the three
// estimators beside it with the users and lists behind them, and reasons instead of numbers.
#include <cmath>

#include <doctest/doctest.h>

#include "dashboards/html.h"
#include "dashboards/report.h"
#include "dashboards/report_sections.h"

namespace abrec {
namespace {

Experiment TwoArms() {
  Experiment e;
  e.variants = {{"control", Policy::kLegacyRules, "", 0.5},
                {"treatment", Policy::kRecommender, "hybrid", 0.5}};
  e.metrics.primary = "bind_rate";
  return e;
}

// `users` users with `lists_each` lists; every list of an even user clicks (y = 2), none of an
// odd one's; v = 1; the model part is 0.1 per list when `modelled`.
OffPolicySums Sums(int users, int lists_each, bool modelled) {
  OffPolicySums s;
  for (int u = 0; u < users; ++u) {
    stats::OpeTerms user;
    for (int l = 0; l < lists_each; ++l) {
      const double y = u % 2 == 0 ? 2 : 0;
      const stats::OpeTerms list{y, 1, y + (modelled ? 0.1 : 0)};
      for (auto& m : s.metrics) m.AddUnit(list);
      user = {user.y + list.y, user.v + list.v, user.z + list.z};
    }
    for (auto& m : s.metrics) m.AddCluster(lists_each, user);
  }
  s.weighted_lists = users * lists_each;
  s.modelled_lists = modelled ? users * lists_each : 0;
  return s;
}

}  // namespace

TEST_CASE("the off-policy section: IPS with its clustered interval, then SNIPS and DR") {
  const Experiment e = TwoArms();
  ReportInputs in{.experiment = &e};
  in.off_policy["control"] = Sums(40, 3, true);
  in.off_policy["treatment"] = Sums(40, 3, false);
  const auto section = OffPolicySection(in);
  const auto& c = section["targets"]["control"];
  CHECK(c["lists"] == 120);
  CHECK(c["users"] == 40);
  const auto& clicks = c["clicks_per_list"];
  const stats::OpeEstimate ips = stats::InversePropensity(in.off_policy["control"].metrics[0]);
  CHECK(clicks["estimate"].get<double>() == doctest::Approx(1));
  CHECK(clicks["standard_error"].get<double>() == doctest::Approx(ips.se));
  CHECK(clicks["ips"]["estimate"] == clicks["estimate"]);
  CHECK(clicks["ips"]["users"] == 40);
  CHECK(clicks["snips"]["estimate"].get<double>() == doctest::Approx(1));
  CHECK(clicks["dr"]["estimate"].get<double>() == doctest::Approx(1.1));
  CHECK(clicks["dr"]["modelled_lists"] == 120);
  CHECK(clicks["dr"]["effective_sample_size"].get<double>() == doctest::Approx(120));
  // A user's lists are alike: the clustered standard error, √(40/39 · Σ_g (Y_g − 3·V)²) / 120
  // with Y_g = 6 or 0 and V = 1, is larger than the iid one, √(s²/120) with s² = 120/119.
  CHECK(clicks["standard_error"].get<double>() ==
        doctest::Approx(std::sqrt(40.0 / 39 * 40 * 9) / 120));
  CHECK(clicks["standard_error"].get<double>() > std::sqrt(120.0 / 119 / 120));
  // Without the reward model's predictions, DR says why instead of repeating IPS.
  const auto& t = section["targets"]["treatment"]["binds_per_list"];
  CHECK(t["dr"].contains("reason"));
  CHECK_FALSE(t["dr"].contains("estimate"));
  CHECK(t["snips"].contains("estimate"));
  CHECK(section["method"].get<std::string>().find("clustered by user") != std::string::npos);
  CHECK(section["method"].get<std::string>().find("recommender.default_model") !=
        std::string::npos);
}

TEST_CASE("the off-policy section has reasons where the sums do not support numbers") {
  const Experiment e = TwoArms();
  ReportInputs in{.experiment = &e};
  in.off_policy["control"] = Sums(1, 5, true);  // one user: no clustered variance
  OffPolicySums unmatched = Sums(10, 2, true);  // no list matched the target's list
  for (auto& m : unmatched.metrics) {
    m = {};
    for (int u = 0; u < 10; ++u) {
      m.AddUnit({0, 0, 0});
      m.AddUnit({0, 0, 0});
      m.AddCluster(2, {0, 0, 0});
    }
  }
  in.off_policy["treatment"] = unmatched;
  const auto section = OffPolicySection(in);
  CHECK(section["targets"]["control"].contains("reason"));
  CHECK(section["targets"]["control"]["users"] == 1);
  const auto& clicks = section["targets"]["treatment"]["clicks_per_list"];
  CHECK(clicks["estimate"].is_null());
  CHECK(clicks.contains("reason"));
  CHECK(clicks["ips"].contains("reason"));
  CHECK(clicks["dr"].contains("reason"));
  // The text and HTML forms render both.
  auto report =
      BuildReport({.experiment = &e, .off_policy = in.off_policy, .now_us = 1'795'910'400'000'000});
  CHECK(RenderReportText(report).find("off-policy") != std::string::npos);
  CHECK(RenderReportHtml(report).find("fewer than 2 exploration lists") != std::string::npos);
  report = BuildReport({.experiment = &e,
                        .off_policy = {{"control", Sums(40, 3, true)}},
                        .now_us = 1'795'910'400'000'000});
  const std::string text = RenderReportText(report);
  CHECK(text.find("120 lists of 40 users") != std::string::npos);
  CHECK(RenderReportHtml(report).find("SNIPS") != std::string::npos);
}

}  // namespace abrec
