#include "stats/result.h"

namespace abrec::stats {

std::string_view ReasonName(Reason r) {
  switch (r) {
    case Reason::kOk: return "ok";
    case Reason::kTooFewUnits: return "too_few_units";
    case Reason::kZeroVariance: return "zero_variance";
    case Reason::kZeroBaseline: return "zero_baseline";
    case Reason::kInvalidInput: return "invalid_input";
    case Reason::kNonstationary: return "nonstationary";
  }
  return "unknown";
}

}  // namespace abrec::stats
