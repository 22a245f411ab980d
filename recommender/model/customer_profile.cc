#include "recommender/model/customer_profile.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "recommender/data/synthetic_world.h"

namespace abrec {
namespace {

Error BadAttribute(const std::string& name, std::string message) {
  return Error::InvalidArgument(std::move(message), "attributes." + name);
}

template <std::size_t N>
Result<int> VocabularyAttribute(const nlohmann::json& v, const std::string& name,
                                const std::array<std::string_view, N>& names) {
  if (!v.is_string()) return std::unexpected(BadAttribute(name, name + " must be a string"));
  const int code = VocabularyCode(v.get_ref<const std::string&>(), names);
  if (code < 0) {
    std::string known;
    for (const auto n : names) known += (known.empty() ? "" : ", ") + std::string(n);
    return std::unexpected(BadAttribute(
        name, fmt::format("unknown {} \"{}\"; known: {}", name, v.get<std::string>(), known)));
  }
  return code;
}

}  // namespace

std::string CustomerProfile::AgeBand() const {
  if (!age) return "unknown";
  if (*age < 18) return "under_18";
  if (*age < 25) return "18-24";
  if (*age >= 65) return "65+";
  const int lo = 25 + (*age - 25) / 10 * 10;  // 25-34, 35-44, 45-54, 55-64
  return fmt::format("{}-{}", lo, lo + 9);
}

std::string GroupOf(const CustomerProfile& c, const std::string& attribute) {
  if (attribute == "sex") return c.sex == '?' ? "unknown" : std::string(1, c.sex);
  if (attribute == "age_band") return c.AgeBand();
  if (attribute == "region") {
    return c.region < 0 ? "unknown" : std::string(kRegions[static_cast<std::size_t>(c.region)]);
  }
  if (attribute == "occupation") {
    return c.occupation < 0 ? "unknown"
                            : std::string(kOccupations[static_cast<std::size_t>(c.occupation)]);
  }
  return "unknown";
}

Result<CustomerProfile> ProfileFromAttributes(const nlohmann::json& attributes,
                                              const Catalog& catalog, int current_year) {
  CustomerProfile p;
  p.holds.assign(catalog.products.size(), false);
  if (attributes.is_null()) return p;
  if (!attributes.is_object()) {
    return std::unexpected(Error::InvalidArgument("attributes must be an object", "attributes"));
  }
  for (const auto& [name, v] : attributes.items()) {
    if (name == "age" || name == "birth_year") {
      if (!v.is_number_integer()) {
        return std::unexpected(BadAttribute(name, name + " must be an integer"));
      }
      const auto x = v.get<std::int64_t>();
      const bool age = name == "age";
      const std::int64_t lo = age ? 0 : current_year - 120, hi = age ? 120 : current_year;
      if (x < lo || x > hi) {
        return std::unexpected(
            BadAttribute(name, fmt::format("{} {} is outside [{}, {}]", name, x, lo, hi)));
      }
      if (p.age && attributes.contains("age") && attributes.contains("birth_year")) {
        return std::unexpected(BadAttribute(name, "give age or birth_year, not both"));
      }
      p.age = static_cast<int>(age ? x : current_year - x);
    } else if (name == "sex") {
      const std::string s = v.is_string() ? v.get<std::string>() : "";
      if (s == "F" || s == "female") {
        p.sex = 'F';
      } else if (s == "M" || s == "male") {
        p.sex = 'M';
      } else {
        return std::unexpected(
            BadAttribute(name, "sex must be \"F\", \"M\", \"female\" or \"male\""));
      }
    } else if (name == "region") {
      auto code = VocabularyAttribute(v, name, kRegions);
      if (!code) return std::unexpected(code.error());
      p.region = *code;
    } else if (name == "occupation") {
      auto code = VocabularyAttribute(v, name, kOccupations);
      if (!code) return std::unexpected(code.error());
      p.occupation = *code;
    } else if (name == "holdings") {
      if (!v.is_array() || v.size() > catalog.products.size()) {
        return std::unexpected(
            BadAttribute(name, fmt::format("holdings must be a list of at most {} product ids",
                                           catalog.products.size())));
      }
      for (const auto& id : v) {
        const auto index =
            id.is_string() ? catalog.IndexOf(id.get_ref<const std::string&>()) : std::nullopt;
        if (!index) {
          return std::unexpected(BadAttribute(
              name, fmt::format("holdings: {} is not a product of the catalog", id.dump())));
        }
        p.holds[*index] = true;
      }
    } else {
      return std::unexpected(BadAttribute(
          name, fmt::format("unknown attribute \"{}\"; known: {}", name, kProfileAttributes)));
    }
  }
  return p;
}

nlohmann::json ProfileToAttributes(const CustomerProfile& p, const Catalog& catalog) {
  nlohmann::json a = nlohmann::json::object();
  if (p.age) a["age"] = *p.age;
  if (p.sex != '?') a["sex"] = std::string(1, p.sex);
  if (p.region >= 0) a["region"] = kRegions[static_cast<std::size_t>(p.region)];
  if (p.occupation >= 0) a["occupation"] = kOccupations[static_cast<std::size_t>(p.occupation)];
  nlohmann::json held = nlohmann::json::array();
  for (std::size_t i = 0; i < p.holds.size() && i < catalog.products.size(); ++i) {
    if (p.holds[i]) held.push_back(catalog.products[i].id);
  }
  a["holdings"] = std::move(held);
  return a;
}

CustomerProfile ProfileOf(const Customer& c) {
  return {c.age, c.sex, VocabularyCode(c.occupation, kOccupations),
          VocabularyCode(c.region, kRegions), c.holds};
}

std::vector<std::uint32_t> MfCustomerFeatures(const CustomerView& c) {
  std::vector<std::uint32_t> f;
  if (c.sex == 'F' || c.sex == 'M') f.push_back(kMfSexFeature + (c.sex == 'F' ? 0u : 1u));
  if (c.age) {
    f.push_back(kMfAgeFeature + static_cast<std::uint32_t>(std::clamp(*c.age / 10, 0, 9)));
  }
  if (c.occupation >= 0)
    f.push_back(kMfOccupationFeature + static_cast<std::uint32_t>(c.occupation));
  if (c.region >= 0) f.push_back(kMfRegionFeature + static_cast<std::uint32_t>(c.region));
  if (c.holds) {
    for (std::size_t p = 0; p < c.holds->size(); ++p) {
      if ((*c.holds)[p]) f.push_back(kMfHoldsFeature + static_cast<std::uint32_t>(p));
    }
  }
  return f;
}

}  // namespace abrec
