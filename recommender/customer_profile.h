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
#include "recommender/catalog.h"
#include "recommender/features.h"

namespace abrec {

struct CustomerProfile {
  std::optional<int> age;
  char sex = '?';             // 'F', 'M' or unknown
  int occupation = -1;        // index in kOccupations, or -1
  int region = -1;            // index in kRegions, or -1
  std::vector<bool> holds{};  // per catalog product (empty: nothing known)

  CustomerView View() const { return {age, sex, occupation, region, &holds}; }
  // "18-24", "25-34", ... "65+", or "unknown": the age groups of fairness reports.
  std::string AgeBand() const;
};

// The group of a customer for a protected attribute: sex ("F", "M"), age_band ("35-44"),
// region, occupation; "unknown" when the customer's value, or the attribute, is not known.
// The groups of the gate, the fairness report and the offline evaluation by group.
std::string GroupOf(const CustomerProfile& customer, const std::string& attribute);

struct Customer;  // recommender/synthetic_world.h
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

// The factorisation's customer features, numbered arithmetically: sex (2), age band (10),
// occupation (4), region (6), then one per product held. Unknown attributes have no feature.
inline constexpr std::uint32_t kMfSexFeature = 0, kMfAgeFeature = 2, kMfOccupationFeature = 12,
                               kMfRegionFeature = 16, kMfHoldsFeature = 22;
std::vector<std::uint32_t> MfCustomerFeatures(const CustomerView& customer);

}  // namespace abrec
