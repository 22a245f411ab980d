#include "eventstore/counter_keys.h"

#include <charconv>

#include <fmt/format.h>

namespace abrec::counter_keys {
namespace {

constexpr std::string_view kProduct = "product|", kPhase = "phase|", kShadowLists = "shadow|lists",
                           kShadowProduct = "shadow|product|",
                           kShadowViolation = "shadow|violation|",
                           kShadowLatencyBin = "shadow|latency_bin|",
                           kShadowFallback = "shadow|fallback", kExposed = "users|exposed|",
                           kShown = "users|shown|";

std::optional<std::string_view> After(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix)) return std::nullopt;
  return name.substr(prefix.size());
}

}  // namespace

std::string Product(std::string_view id) { return fmt::format("{}{}", kProduct, id); }
std::string Phase(std::string_view phase) { return fmt::format("{}{}", kPhase, phase); }
std::string Source(std::string_view source) { return fmt::format("{}{}", kSourcePrefix, source); }
std::string ShadowLists() { return std::string(kShadowLists); }
std::string ShadowProduct(std::string_view id) { return fmt::format("{}{}", kShadowProduct, id); }
std::string ShadowViolation(std::string_view id, std::string_view rule) {
  return fmt::format("{}{}|{}", kShadowViolation, id, rule);
}
std::string ShadowLatencyBin(int bin) { return fmt::format("{}{}", kShadowLatencyBin, bin); }
std::string ShadowFallback() { return std::string(kShadowFallback); }
std::string FairnessExposed(std::string_view attribute, std::string_view group) {
  return fmt::format("{}{}|{}", kExposed, attribute, group);
}
std::string FairnessShown(std::string_view attribute, std::string_view group,
                          std::string_view id) {
  return fmt::format("{}{}|{}|{}", kShown, attribute, group, id);
}

std::optional<std::string_view> ProductOf(std::string_view name) { return After(name, kProduct); }
std::optional<std::string_view> PhaseOf(std::string_view name) { return After(name, kPhase); }
std::optional<std::string_view> SourceOf(std::string_view name) {
  return After(name, kSourcePrefix);
}
std::optional<std::string_view> ShadowProductOf(std::string_view name) {
  return After(name, kShadowProduct);
}

std::optional<ShadowViolationKey> ShadowViolationOf(std::string_view name) {
  const auto rest = After(name, kShadowViolation);
  if (!rest) return std::nullopt;
  const auto bar = rest->find('|');
  if (bar == std::string_view::npos) return ShadowViolationKey{*rest, {}};
  return ShadowViolationKey{rest->substr(0, bar), rest->substr(bar + 1)};
}

std::optional<int> ShadowLatencyBinOf(std::string_view name) {
  const auto rest = After(name, kShadowLatencyBin);
  if (!rest) return std::nullopt;
  int bin = 0;
  const auto [end, ec] = std::from_chars(rest->data(), rest->data() + rest->size(), bin);
  if (ec != std::errc() || end != rest->data() + rest->size()) return std::nullopt;
  return bin;
}

bool IsShadowLists(std::string_view name) { return name == kShadowLists; }
bool IsShadowFallback(std::string_view name) { return name == kShadowFallback; }

std::optional<FairnessKey> FairnessOf(std::string_view name) {
  FairnessKey key;
  auto rest = After(name, kExposed);
  if (!rest) {
    rest = After(name, kShown);
    if (!rest) return std::nullopt;
    key.shown = true;
  }
  const auto bar = rest->find('|');
  if (bar == std::string_view::npos) return std::nullopt;
  key.attribute = rest->substr(0, bar);
  key.group = rest->substr(bar + 1);
  if (key.shown) {
    const auto last = key.group.rfind('|');
    if (last == std::string_view::npos) return std::nullopt;
    key.product = key.group.substr(last + 1);
    key.group = key.group.substr(0, last);
  }
  return key;
}

bool IsLegacyFairness(std::string_view name) {
  return name.starts_with("exposed|") || name.starts_with("shown|");
}
bool IsPerUser(std::string_view name) { return name.starts_with(kUserPrefix); }

}  // namespace abrec::counter_keys
