// What serving knows of a customer: the attributes a request carries (or the cache stored),
// validated against the vocabularies of the synthetic world and the catalog, and the views
// the model's two stages take of them (the factorisation's feature ids, the scorer's
// CustomerView). One definition for training and serving, so the ids cannot drift apart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/error.h"
#include "recommender/data/catalog.h"
#include "recommender/model/features.h"

namespace abrec {

// Whether a model reads a customer's sex. Models hide it (kHidden), in training and in
// serving alike: their view says '?', so the factorisation gets no sex feature and the
// scorer's sex_female column is missing. Insurers in the EU may not use sex as a rating
// factor (CJEU C-236/09 Test-Achats, 2011; Directive 2004/113/EC), and the deployment gate
// refuses a model that treats the sexes differently. In the synthetic world sex has no
// effect, so all a model can learn from it is noise, and the top-3 lists amplify that noise
// into gaps the gate refuses (auto_bundle to 58% of men and 48% of women, 20,000 customers).
// kRead: the deliberately biased models that test the gate (TrainOptions::bias_category), and
// models of older versions (trained reading it; RecommenderModel::reads_sex).
enum class SexInput { kHidden, kRead };

struct CustomerProfile {
  std::optional<int> age;
  char sex = '?';             // 'F', 'M' or unknown
  int occupation = -1;        // index in kOccupations, or -1
  int region = -1;            // index in kRegions, or -1
  std::vector<bool> holds{};  // per catalog product (empty: nothing known)

  // The customer as a model sees them: sex '?' unless the model reads it.
  CustomerView View(SexInput input) const {
    return {age, input == SexInput::kRead ? sex : '?', occupation, region, &holds};
  }
  // "18-24", "25-34", ... "65+", or "unknown": the age groups of fairness reports.
  std::string AgeBand() const;
};

// The group of a customer for a protected attribute: sex ("F", "M"), age_band ("35-44"),
// region, occupation; "unknown" when the customer's value, or the attribute, is not known.
// The groups of the gate, the fairness report and the offline evaluation by group.
std::string GroupOf(const CustomerProfile& customer, const std::string& attribute);

struct Customer;  // recommender/data/synthetic_world.h
// A synthetic world's customer as serving sees them.
CustomerProfile ProfileOf(const Customer& customer);

// The attribute names a request may carry, for messages.
inline constexpr const char* kProfileAttributes =
    "age, birth_year, sex, region, occupation, holdings";

// Reads `attributes` (a JSON object: {"age": 0..120 | "birth_year": 1900..this year,
// "sex": "F"|"M"|"female"|"male", "region", "occupation", "holdings": [product ids]}).
// Errors are kInvalidArgument naming the field ("attributes.age"); an unknown attribute is
// an error too (a misspelt "ocupation" silently ignored would change what is shown).
Result<CustomerProfile> ProfileFromAttributes(const nlohmann::json& attributes,
                                              const Catalog& catalog, int current_year);
// The inverse: the attributes that give back `profile` (for the candidate cache).
nlohmann::json ProfileToAttributes(const CustomerProfile& profile, const Catalog& catalog);

// The factorisation's customer features, numbered arithmetically: sex (2; only for a view
// that reads it, SexInput), age band (10), occupation (4), region (6), then one per product
// held. Unknown attributes have no feature. The sex rows keep their numbers, so that the
// factorisations of older versions, which used them, still load.
inline constexpr std::uint32_t kMfSexFeature = 0, kMfAgeFeature = 2, kMfOccupationFeature = 12,
                               kMfRegionFeature = 16, kMfHoldsFeature = 22;
std::vector<std::uint32_t> MfCustomerFeatures(const CustomerView& customer);

}  // namespace abrec
