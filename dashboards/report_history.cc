// The report's history: the experiment's days replayed through its monitors (Replay), and
// each day's entry of the history section.
#include <optional>
#include <vector>

#include "analysis/phase_periods.h"
#include "dashboards/report_sections.h"
#include "experiments/vocabulary.h"

namespace abrec {

using json = nlohmann::ordered_json;

namespace {

// The primary metric's lift of each treatment and of the whole program against the holdout,
// as the report stood at the close of a day.
// `frozen`: a rollout day, on which the treatments' figures are the A/B test's (no lift of
// theirs is drawn); the program's against the holdout goes on.
json HistoryDay(const DailyTotals& day, const ExperimentMonitor& monitor,
                const ExperimentMonitor& uplift, const Experiment& e, bool frozen) {
  json out{{"day", day.day}};
  json users = json::object();
  for (const auto& [bucket, t] : day.buckets) users[bucket] = static_cast<std::int64_t>(t.users);
  out["users"] = std::move(users);
  json lifts = json::array();
  const auto primary = MetricByName(e.metrics.primary);
  auto add = [&](const TrackedMetric& t) {
    json l{{"arm", t.arm}};
    const EffectLook fixed = t.fixed.relative, running = t.Relative();
    if (fixed.reason != stats::Reason::kOk || !t.relative.HasFigures() || t.relative.Disjoint()) {
      l["reason"] = stats::ReasonName(
          fixed.reason != stats::Reason::kOk
              ? fixed.reason
              : (t.relative.Disjoint() ? stats::Reason::kNonstationary : running.reason));
    } else {
      l["relative"] = fixed.estimate;
      l["ci"] = Pair(fixed.ci);
      l["ci_sequential"] = Pair(running.ci);
      l["p_value_sequential"] = running.p_value;
      l["ci_sequential_look"] = Pair(t.relative.LatestInterval());
    }
    l["baseline"] = t.baseline;
    lifts.push_back(std::move(l));
  };
  if (primary) {
    for (const Variant& v : e.variants) {
      if (v.name == kControlVariant || frozen) continue;
      if (const TrackedMetric* t = monitor.Find(v.name, *primary)) add(*t);
    }
    for (const TrackedMetric& t : uplift.Uplift().at("all")) {
      if (t.metric == *primary) add(t);
    }
  }
  out["metric"] = e.metrics.primary;
  out["lifts"] = std::move(lifts);
  out["decision"] = DecisionCodeName(monitor.decision().code);
  return out;
}

MonitorOptions OptionsOf(const ReportInputs& in, bool track_uplift) {
  return {.srm_threshold = in.srm_threshold,
          .srm_min_users = in.srm_min_users,
          .track_uplift = track_uplift};
}

}  // namespace

Replay::Replay(const ReportInputs& in)
    : monitor(*in.experiment, in.population, OptionsOf(in, false)),
      uplift(*in.experiment, in.population, OptionsOf(in, true)) {
  const Experiment& e = *in.experiment;
  // Premium and revenue capped at each look with the users' amounts as of that day; a day
  // the amount history does not cover is no look for them.
  const double cap_q = e.analysis.premium_cap_quantile;
  std::optional<AmountLooks> amounts;
  if (cap_q > 0 && in.amounts) amounts.emplace(*in.amounts);
  has_amounts = amounts.has_value();
  // One look of the given monitors at `totals` (a day's close, or now when `day` is null).
  auto look = [&](const BucketTotalsMap& totals, const std::string* day,
                  std::initializer_list<ExperimentMonitor*> monitors) {
    const BucketTotalsMap* seen = &totals;
    bool comparable = cap_q == 0;
    BucketTotalsMap capped;
    if (amounts && (!day || amounts->Covers(*day))) {
      capped = totals;
      caps = CapAmounts(capped, day ? amounts->At(*day) : amounts->Now(), cap_q);
      seen = &capped;
      comparable = true;
    }
    for (ExperimentMonitor* m : monitors) m->Look(*seen, comparable);
  };
  // The sequences start again when the phase changes; in rollout (no control any more) the
  // figures stay those of the A/B test's last day.
  std::vector<std::string> days;
  for (const DailyTotals& day : in.history) days.push_back(day.day);
  const auto phases = PhaseOfDays(in.counters, days, e.phase);
  std::optional<Phase> period;
  for (std::size_t d = 0; d < in.history.size(); ++d) {
    const DailyTotals& day = in.history[d];
    if (phases[d] && period && *phases[d] != *period) {
      // Entering rollout keeps the A/B test's figures; the program's uplift starts again.
      if (*phases[d] != Phase::kRollout || e.phase != Phase::kRollout) monitor.Restart();
      uplift.Restart();
    }
    if (phases[d]) period = phases[d];
    const bool frozen = e.phase == Phase::kRollout && phases[d] == Phase::kRollout;
    if (frozen && frozen_since.empty()) frozen_since = day.day;
    if (frozen) {
      look(day.buckets, &day.day, {&uplift});
    } else {
      look(day.buckets, &day.day, {&monitor, &uplift});
    }
    json entry = HistoryDay(day, monitor, uplift, e, frozen);
    if (phases[d]) entry["phase"] = PhaseName(*phases[d]);
    history.push_back(std::move(entry));
  }
  if (!frozen_since.empty()) {
    look(in.totals, nullptr, {&uplift});
  } else {
    look(in.totals, nullptr, {&monitor, &uplift});
  }
}

}  // namespace abrec
