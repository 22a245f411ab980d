// The report's exposure_sources section: users per bucket among the exposures abrec logged
// itself and among those clients posted (Event::source), each with its own sample ratio test.
//
// The counts are the distinct-user counters "users|source|S" (distinct_user_counters.h): a
// day's row holds the users first counted that day, so a bucket's rows summed up to a day are
// its users by that day's close, and each day is one look of the anytime-valid test (Lindon
// and Malek 2022, as the report's srm section), whose running minimum p-value is safe to read
// at any time. A client cannot post a user into a bucket other than the hash's (the exposure
// is rejected), but it can choose which users to post: posting only control-hashing users
// skews the split. Only the server-logged test is trusted to act on (alerts.h, auto_stop).
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "dashboards/report_sections.h"
#include "analysis/metric_analysis.h"
#include "eventstore/counter_keys.h"
#include "stats/result.h"

namespace abrec {
namespace {

using json = nlohmann::ordered_json;

struct SourceLooks {
  BucketTotalsMap now;  // users per bucket at the last look
  BucketSrm srm;        // the last look's test
  double running_p = 1;
  bool tested = false;  // some look had enough users for the sequential test
};

SourceLooks LookAt(const ReportInputs& in, const std::string& name,
                   const std::vector<std::string>& days) {
  SourceLooks out;
  for (const std::string& day : days) {
    for (const auto& [bucket, by_day] : in.counters) {
      const auto d = by_day.find(day);
      if (d == by_day.end()) continue;
      const auto n = d->second.find(name);
      if (n != d->second.end()) out.now[bucket].users += n->second;
    }
    out.srm = SampleRatioOfBuckets(out.now, in.population, *in.experiment, in.srm_threshold,
                                   in.srm_min_users);
    if (out.srm.sequential.reason == stats::Reason::kOk) {
      out.tested = true;
      out.running_p = std::min(out.running_p, out.srm.sequential.p_value);
    }
  }
  if (days.empty()) {
    out.srm = SampleRatioOfBuckets(out.now, in.population, *in.experiment, in.srm_threshold,
                                   in.srm_min_users);
  }
  return out;
}

json SourceJson(const ReportInputs& in, const SourceLooks& s) {
  json buckets = json::object();
  std::int64_t users = 0;
  for (std::size_t i = 0; i < s.srm.buckets.size(); ++i) {
    buckets[s.srm.buckets[i]] = {{"users", s.srm.users[i]}};
    users += s.srm.users[i];
  }
  const bool mismatch = s.tested && s.running_p < in.srm_threshold;
  json srm{{"p_value", s.tested ? json(s.running_p) : json(nullptr)},
           {"threshold", in.srm_threshold},
           {"ok", !mismatch}};
  if (mismatch && s.srm.sequential.unexpected_bucket) {
    srm["unexpected_bucket"] = s.srm.buckets[*s.srm.sequential.unexpected_bucket];
  }
  if (!s.tested) srm["reason"] = "too few users for the sample ratio test";
  return {{"users", users}, {"buckets", std::move(buckets)}, {"srm", std::move(srm)}};
}

}  // namespace

json ExposureSourcesSection(const ReportInputs& in) {
  const std::string server = counter_keys::Source(kSourceServer);
  const std::string client = counter_keys::Source(kSourceClient);
  std::set<std::string> days;
  for (const auto& [bucket, by_day] : in.counters) {
    for (const auto& [day, names] : by_day) {
      if (names.contains(server) || names.contains(client)) days.insert(day);
    }
  }
  if (days.empty()) {
    return {{"reason",
             "no exposure with a recorded source: logged before abrec recorded who "
             "logged each exposure"}};
  }
  const std::vector<std::string> looks(days.begin(), days.end());
  const SourceLooks by_server = LookAt(in, server, looks);
  const SourceLooks by_client = LookAt(in, client, looks);
  json out{{"since", looks.front()},
           {"server", SourceJson(in, by_server)},
           {"client", SourceJson(in, by_client)}};
  json warnings = json::array();
  if (out["client"]["srm"]["ok"] == false) {
    warnings.push_back(fmt::format(
        "the exposures posted by clients (POST /v1/events) disagree with the hash's split "
        "(anytime-valid p = {:.3g} < {}): the users posted are not a random sample of the "
        "buckets; only the exposures abrec logged itself are tested for auto_stop",
        by_client.running_p, in.srm_threshold));
  }
  out["warnings"] = std::move(warnings);
  return out;
}

}  // namespace abrec
