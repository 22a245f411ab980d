// The real off-policy check on the Open Bandit Dataset (st-tech/zr-obp, Apache-2.0), read
// from ../shared/data/open_bandit (never copied into the project). Skipped when the folder
// is absent.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "stats/off_policy.h"

namespace abrec::stats {
namespace {

namespace fs = std::filesystem;

struct Round {
  std::pair<int, int> item_position;
  int click = 0;
  double propensity = 0;
};

// Columns: index, timestamp, item_id, position, click, propensity_score, features...
std::vector<Round> ReadLog(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  std::vector<Round> out;
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string f[6];
    for (auto& x : f) std::getline(fields, x, ',');
    out.push_back({{std::stoi(f[2]), std::stoi(f[3])}, std::stoi(f[4]), std::stod(f[5])});
  }
  return out;
}

}  // namespace

TEST_CASE(
    "Open Bandit: the Thompson-sampling policy's observed click rate lies in the SNIPS interval "
    "estimated from the random log") {
  const fs::path dir = fs::path(ABREC_SHARED_DATA_DIR) / "open_bandit";
  if (!fs::exists(dir / "random_men.csv") || !fs::exists(dir / "bts_men.csv")) {
    MESSAGE("skipped: ", dir.string(), " is absent (the real data stays outside the project)");
    return;
  }
  const std::vector<Round> random = ReadLog(dir / "random_men.csv");
  const std::vector<Round> bts = ReadLog(dir / "bts_men.csv");
  REQUIRE(random.size() == 10'000);
  REQUIRE(bts.size() == 10'000);
  // A round is one (impression, position). The target policy's probability of an (item,
  // position) is the mean propensity_score of that pair in the Thompson-sampling log.
  std::map<std::pair<int, int>, std::pair<double, int>> sums;
  double observed = 0;
  for (const Round& r : bts) {
    auto& [sum, count] = sums[r.item_position];
    sum += r.propensity;
    ++count;
    observed += r.click;
  }
  observed /= static_cast<double>(bts.size());
  std::vector<LoggedRound> log;
  for (const Round& r : random) {
    const auto it = sums.find(r.item_position);
    const double target = it == sums.end() ? 0 : it->second.first / it->second.second;
    log.push_back({static_cast<double>(r.click), r.propensity, target, 0, 0});
  }
  // These mean propensities are averages over the contexts in which each pair was shown,
  // which favours the contexts where it was likely: per position they sum to 1.7-2.3, not 1.
  // IPS inherits that scale (it reads about 0.0105); SNIPS divides it out.
  const OpeEstimate snips = SelfNormalized(log);
  const OpeEstimate ips = InversePropensity(log);
  MESSAGE("observed under Thompson sampling: ", observed,
          "; SNIPS from the random log: ", snips.value, " [", snips.ci.low, ", ", snips.ci.high,
          "]; IPS ", ips.value, " [", ips.ci.low, ", ", ips.ci.high, "]; effective sample size ",
          snips.effective_sample_size);
  REQUIRE(snips.reason == Reason::kOk);
  CHECK(snips.ci.low <= observed);
  CHECK(observed <= snips.ci.high);
}

}  // namespace abrec::stats
