// The names of the exposure counters (Event::counters, ExposureCounters), built and read here
// only. A name is fields joined by '|'; those under "users|" count each user once per bucket
// and day (distinct users), the others every exposure.
//   product|ID                            an item shown (the store adds one per item)
//   phase|PHASE                           the experiment's phase at the exposure
//   shadow|lists                          a list the assigned variant computed in shadow
//   shadow|product|ID                     an item of that list
//   shadow|violation|ID|RULE              an item that breaks an eligibility rule of the gate
//   shadow|latency_bin|B                  the time the shadow list took, binned
//   shadow|fallback                       the shadow pipeline fell back to the rules
//   users|source|SOURCE                   who logged the exposure (server, client)
//   users|exposed|ATTRIBUTE|GROUP         the user's fairness group
//   users|shown|ATTRIBUTE|GROUP|PRODUCT   a product shown to the group (a GROUP may hold '|':
//                                         the attribute is the first field, the product the last)
// Before schema v11 the fairness counters had no "users|" prefix and counted exposures.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace abrec::counter_keys {

inline constexpr std::string_view kUserPrefix = "users|";
inline constexpr std::string_view kSourcePrefix = "users|source|";

std::string Product(std::string_view product_id);
std::string Phase(std::string_view phase);
std::string Source(std::string_view source);
std::string ShadowLists();
std::string ShadowProduct(std::string_view product_id);
std::string ShadowViolation(std::string_view product_id, std::string_view rule);
std::string ShadowLatencyBin(int bin);
std::string ShadowFallback();
std::string FairnessExposed(std::string_view attribute, std::string_view group);
std::string FairnessShown(std::string_view attribute, std::string_view group,
                          std::string_view product_id);

// The fields of a name of that kind, or nullopt for a name of another kind. Views into `name`.
std::optional<std::string_view> ProductOf(std::string_view name);
std::optional<std::string_view> PhaseOf(std::string_view name);
std::optional<std::string_view> SourceOf(std::string_view name);
std::optional<std::string_view> ShadowProductOf(std::string_view name);
struct ShadowViolationKey {
  std::string_view product, rule;
};
std::optional<ShadowViolationKey> ShadowViolationOf(std::string_view name);
std::optional<int> ShadowLatencyBinOf(std::string_view name);
bool IsShadowLists(std::string_view name);
bool IsShadowFallback(std::string_view name);
struct FairnessKey {
  bool shown = false;  // users|shown (else users|exposed)
  std::string_view attribute, group, product;  // product: users|shown only
};
std::optional<FairnessKey> FairnessOf(std::string_view name);
// The fairness counters of an abrec before schema v11 (exposures, not users).
bool IsLegacyFairness(std::string_view name);
bool IsPerUser(std::string_view name);

}  // namespace abrec::counter_keys
