// `abrec simulate aa` and `abrec simulate power`: the decision path's error rates and power
// (sim/decision_study.h), as text or JSON.
#pragma once

#include "cli/args.h"

namespace abrec {

// The options both studies take, for the help text and the argument parser.
inline constexpr const char* kDecisionStudyOptions[] = {
    "variants",   "looks",         "users-per-look", "metric",          "effect",
    "runs",       "simulations",   "base-rate",      "click-rate",      "premium-sigma",
    "analysis",   "planned-users", "guardrail",      "non-inferiority", "cap",
    "covariates", "experiment",    "threads",        "alpha",           "tuning-n",
    "seed",       "lifts",       "size-for-mde"};

int SimulateAa(const Args& args, bool json);
int SimulatePower(const Args& args, bool json);

}  // namespace abrec
