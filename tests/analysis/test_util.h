// What the analysis tests share.
#pragma once

#include <string>

#include "analysis/decision.h"

namespace abrec::testing {

// Whether one of the decision's reasons says `text`.
inline bool Mentions(const Decision& d, const std::string& text) {
  for (const auto& r : d.reasons) {
    if (r.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace abrec::testing
