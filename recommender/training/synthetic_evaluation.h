// The offline evaluation of a served model on the synthetic world, where the truth is
// known: for each evaluation customer, the products they could be shown (eligible, not
// held) ranked by the model's expected binds per impression, P(click)·P(bind | click),
// against the world's own best product (the one with the highest true probability).
// hit@1, hit@3 and NDCG@5 overall and by group (sex, age band), beside the legacy rules'
// segment popularity and the truth's own ranking (hit@1 = 1 by construction).
#pragma once

#include <span>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "recommender/model/model.h"
#include "recommender/data/synthetic_world.h"

namespace abrec {

// {"customers", "model": {"hit_at_1", "hit_at_3", "ndcg_at_5"}, "popularity": {...},
//  "by_group": {"sex": {"F": {...model...}, ...}, "age_band": {...}}}
Result<nlohmann::ordered_json> EvaluateRankingOnWorld(const RecommenderModel& model,
                                                      const SyntheticWorld& world,
                                                      std::span<const std::size_t> customers);

}  // namespace abrec
