// The fairness section's counts and tests, private to this module (report_fairness.cc renders
// them; report_sections.h states the section's contract): each arm's users by group at every
// daily look, each product's parity at the last look, and the tests of a variant's gap against
// control's.
//
// The counts are users, from the distinct-user counters the service logs with each served
// list ("users|exposed|ATTRIBUTE|GROUP", "users|shown|ATTRIBUTE|GROUP|PRODUCT";
// eventstore/sqlite/distinct_user_counters.h): a day's rows are the users first counted that day,
// so the sums up to a day are the counts at its close, the report's daily looks.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "eventstore/event_store.h"
#include "experiments/experiment.h"
#include "stats/fairness.h"

namespace abrec::fairness {

// A look's cells need this many users each before the normal approximation is trusted.
inline constexpr std::int64_t kMinGroupUsers = 30;

// One arm's users by group, and by product and group those shown the product, for one
// attribute.
struct AttributeCounts {
  std::map<std::string, std::int64_t> users;
  std::map<std::string, std::map<std::string, std::int64_t>> shown;
};
using ArmCounts = std::map<std::string, AttributeCounts>;  // by attribute

// The arms' counts at each day's close (the looks), oldest first, over the days on which any
// of `buckets` counted users; a bucket quiet on a day carries its counts forward. Groups of
// the experiment's `attributes` only, and not "unknown" (the attribute was missing from the
// request).
struct Looks {
  std::vector<std::string> days;
  std::map<std::string, std::vector<ArmCounts>> arms;  // bucket -> one per day
};
Looks LooksOf(const ExposureCounters& counters, const std::vector<std::string>& buckets,
              const std::vector<std::string>& attributes);

// The counts of `attribute` at the last look of `looks` (none when there is no look).
const AttributeCounts& AtClose(const std::vector<ArmCounts>& looks, const std::string& attribute);

// The per-user parity of each product an arm or control showed, at the last look.
struct ProductParity {
  std::string product;
  stats::ParityResult result{};
  std::map<std::string, double> rates{};
  std::map<std::string, std::int64_t> shown{};
};
ProductParity ParityOf(const AttributeCounts& counts, const std::string& product);

// One comparison of a variant's gap with control's: a product, an ordered pair of groups.
struct GapTest {
  std::string attribute, product, g, h;
  std::vector<stats::PairCounts> looks;
  stats::WiderGapResult result{};
};

// One arm's comparisons with control, corrected: each of the m tests at level / m.
struct ArmTests {
  bool is_control = false;
  std::vector<GapTest> tests{};
  double level = 0;
  double per_test = 0;
};

// The tests of `arm` against control (none for control itself): every (attribute, product,
// ordered pair of groups) with a look of kMinGroupUsers users in each of its four cells, each
// at `level` / their number.
ArmTests TestsOf(const Experiment& e, const std::string& arm, const Looks& looks, double level);

// A pair breaches when the variant's gap between its groups is past the limit and
// significantly wider than control's gap between the same groups.
bool Breached(const GapTest& t, double max_gap, double per_test_level);

// The comparison to show for (attribute, product): the most significant pair past the limit,
// else the most significant pair; nullptr when none was testable.
const GapTest* StrongestOn(const std::vector<GapTest>& tests, const std::string& attribute,
                           const std::string& product, double max_gap);

}  // namespace abrec::fairness
