// What a statistical comparison returns. "Not enough data" and "no variance" are results with
// a reason, not errors: the report shows the reason where the numbers would be.
#pragma once

#include <string_view>

namespace abrec::stats {

enum class Reason {
  kOk,
  kTooFewUnits,   // an arm has fewer users than the test needs (2 per arm; more for SRM)
  kZeroVariance,  // every user has the same value: no standard error to speak of
  kZeroBaseline,  // the control mean is 0: a relative lift is undefined
  kInvalidInput,  // parameters outside the test's domain (e.g. a propensity of 0)
  kNonstationary,  // a confidence sequence's intervals at different looks do not overlap
};

std::string_view ReasonName(Reason r);

struct Interval {
  double low = 0;
  double high = 0;
};

// An estimated difference with its standard error and two-sided interval.
struct Effect {
  double estimate = 0;
  double se = 0;
  Interval ci;
};

// Treatment against control on one metric, fixed horizon.
struct Comparison {
  Reason reason = Reason::kOk;
  double control_mean = 0;
  double treatment_mean = 0;
  Effect absolute;  // treatment − control
  Effect relative;  // (treatment − control) / control, delta method
  Reason relative_reason = Reason::kOk;
  double statistic = 0;  // z or Welch's t
  double df = 0;         // Welch-Satterthwaite degrees of freedom; 0 for a z test
  double p_value = 1;    // two-sided
};

}  // namespace abrec::stats
