#include "server/event_reader.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/fingerprint.h"
#include "eventstore/counter_keys.h"

namespace abrec {
namespace {

constexpr std::size_t kMaxIdBytes = 128;
constexpr std::size_t kMaxItems = 100;

class Reader {
 public:
  Reader(const nlohmann::json& j, std::size_t index)
      : j_(j), prefix_(fmt::format("events[{}]", index)) {}

  std::string Field(std::string_view name) const { return fmt::format("{}.{}", prefix_, name); }

  Error Invalid(std::string_view name, std::string message) const {
    return Error::InvalidArgument(std::move(message), Field(name));
  }

  // A string field of 1..max bytes; absent is std::nullopt (or an error when required).
  Result<std::optional<std::string>> String(std::string_view name, bool required,
                                            std::size_t max = kMaxIdBytes) const {
    const auto it = j_.find(name);
    if (it == j_.end() || it->is_null()) {
      if (required) return std::unexpected(Invalid(name, fmt::format("{} is required", name)));
      return std::optional<std::string>();
    }
    if (!it->is_string())
      return std::unexpected(Invalid(name, fmt::format("{} must be a string", name)));
    const auto& s = it->get_ref<const std::string&>();
    if (s.empty() || s.size() > max) {
      return std::unexpected(Invalid(name, fmt::format("{} must be 1 to {} bytes", name, max)));
    }
    return std::optional<std::string>(s);
  }

 private:
  const nlohmann::json& j_;
  std::string prefix_;
};

std::string_view AllowedKeys(EventType t) {
  switch (t) {
    case EventType::kExposure:
      return "event_id, type, user_id, timestamp, request_id, experiment, bucket, items, "
             "features, model_version";
    case EventType::kClick:
      return "event_id, type, user_id, timestamp, request_id, product_id, position";
    case EventType::kBind:
      return "event_id, type, user_id, timestamp, request_id, product_id, position, premium";
  }
  return "";
}

bool KeyAllowed(EventType t, std::string_view key) {
  static constexpr std::string_view kCommon[] = {"event_id", "type", "user_id", "timestamp",
                                                 "request_id"};
  if (std::find(std::begin(kCommon), std::end(kCommon), key) != std::end(kCommon)) return true;
  switch (t) {
    case EventType::kExposure:
      return key == "experiment" || key == "bucket" || key == "items" || key == "features" ||
             key == "model_version";
    case EventType::kClick: return key == "product_id" || key == "position";
    case EventType::kBind: return key == "product_id" || key == "position" || key == "premium";
  }
  return false;
}

Result<void> ReadExposure(const nlohmann::json& j, const Reader& r, const Platform& platform,
                          Event& e) {
  auto exp = r.String("experiment", true);
  if (!exp) return std::unexpected(exp.error());
  auto outcome = platform.Assign(e.user_id, **exp);
  if (!outcome) {
    Error err = outcome.error();
    err.field = r.Field(err.field == "user_id" ? "user_id" : "experiment");
    return std::unexpected(err);
  }
  if (!Platform::IsExposure(*outcome)) {
    return std::unexpected(
        r.Invalid("experiment",
                  fmt::format("user is not in experiment \"{}\" (bucket {}): no exposure to log",
                              **exp, outcome->bucket)));
  }
  auto bucket = r.String("bucket", false);
  if (!bucket) return std::unexpected(bucket.error());
  if (*bucket && **bucket != outcome->bucket) {
    return std::unexpected(
        r.Invalid("bucket", fmt::format("the user's bucket in \"{}\" is \"{}\", not \"{}\"", **exp,
                                        outcome->bucket, **bucket)));
  }
  const Event assigned = platform.ExposureEvent(e.user_id, *outcome, e.request_id);
  e.experiment = assigned.experiment;
  e.bucket = assigned.bucket;
  e.variant = assigned.variant;
  e.counterfactual_variant = assigned.counterfactual_variant;
  e.policy = assigned.policy;
  // Posted by a client: stored and counted apart from the exposures abrec logged itself
  // (event.h), whatever the client claims.
  e.source = std::string(kSourceClient);
  e.counters.clear();
  for (const std::string& name : assigned.counters) {
    if (!counter_keys::SourceOf(name)) e.counters.push_back(name);
  }
  e.counters.push_back(counter_keys::Source(kSourceClient));
  auto model = r.String("model_version", false);
  if (!model) return std::unexpected(model.error());
  e.model_version = model->value_or("");
  if (const auto f = j.find("features"); f != j.end() && !f->is_null()) {
    if (!f->is_object())
      return std::unexpected(r.Invalid("features", "features must be an object"));
    e.features_json = f->dump();
  }
  if (const auto items = j.find("items"); items != j.end() && !items->is_null()) {
    if (!items->is_array() || items->size() > kMaxItems) {
      return std::unexpected(r.Invalid(
          "items", fmt::format("items must be a list of at most {} {{product_id, position, "
                               "propensity}}",
                               kMaxItems)));
    }
    for (std::size_t i = 0; i < items->size(); ++i) {
      const auto& it = (*items)[i];
      const std::string name = fmt::format("items[{}]", i);
      if (!it.is_object() || !it.contains("product_id") || !it["product_id"].is_string() ||
          !it.contains("position") || !it["position"].is_number_integer() ||
          it["position"].get<std::int64_t>() < 1 || it["position"].get<std::int64_t>() > 1000) {
        return std::unexpected(r.Invalid(
            name,
            "expected {\"product_id\": string, \"position\": 1..1000, \"propensity\": (0, 1]}"));
      }
      double propensity = 1.0;
      if (it.contains("propensity")) {
        const auto& p = it["propensity"];
        if (!p.is_number() || !std::isfinite(p.get<double>()) || p.get<double>() <= 0 ||
            p.get<double>() > 1) {
          return std::unexpected(r.Invalid(name + ".propensity", "propensity must be in (0, 1]"));
        }
        propensity = p.get<double>();
      }
      // Each product shown is counted per day ("product|ID"): an id outside the catalog
      // would be a new row for anyone who can post.
      const auto& product = it["product_id"].get_ref<const std::string&>();
      if (const Catalog* catalog = platform.catalog(); catalog && !catalog->IndexOf(product)) {
        return std::unexpected(r.Invalid(
            name + ".product_id",
            fmt::format("\"{}\" is not a product of the catalog",
                        product.substr(0, std::min<std::size_t>(product.size(), kMaxIdBytes)))));
      }
      e.items.push_back(
          {product, static_cast<int>(it["position"].get<std::int64_t>()), propensity});
    }
  }
  return {};
}

}  // namespace

Result<Event> ReadEvent(const nlohmann::json& j, std::size_t index, const Platform& platform) {
  const Reader r(j, index);
  const auto& cfg = platform.config().events;
  if (!j.is_object()) {
    return std::unexpected(
        Error::InvalidArgument("an event must be a JSON object", fmt::format("events[{}]", index)));
  }
  const std::string canonical = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (canonical.size() > static_cast<std::size_t>(cfg.max_event_bytes)) {
    return std::unexpected(Error{ErrorCode::kResourceExhausted,
                                 fmt::format("the event is {} bytes; at most {} are allowed",
                                             canonical.size(), cfg.max_event_bytes),
                                 fmt::format("events[{}]", index)});
  }
  Event e;
  auto id = r.String("event_id", true);
  if (!id) return std::unexpected(id.error());
  e.event_id = **id;
  auto type = r.String("type", true);
  if (!type) return std::unexpected(type.error());
  if (**type == "exposure") {
    e.type = EventType::kExposure;
  } else if (**type == "click") {
    e.type = EventType::kClick;
  } else if (**type == "bind") {
    e.type = EventType::kBind;
  } else {
    return std::unexpected(r.Invalid(
        "type",
        fmt::format("\"{}\" is not an event type; allowed: exposure, click, bind", **type)));
  }
  for (const auto& [key, _] : j.items()) {
    if (!KeyAllowed(e.type, key)) {
      return std::unexpected(
          r.Invalid(key, fmt::format("unknown field \"{}\" for a {} event; allowed: {}", key,
                                     **type, AllowedKeys(e.type))));
    }
  }
  auto user = r.String("user_id", true, kMaxUserIdBytes);
  if (!user) return std::unexpected(user.error());
  e.user_id = **user;
  auto request = r.String("request_id", false);
  if (!request) return std::unexpected(request.error());
  e.request_id = request->value_or("");

  const std::int64_t now = platform.NowMicros();
  e.ts_us = now;
  if (const auto ts = j.find("timestamp"); ts != j.end() && !ts->is_null()) {
    const auto parsed =
        ts->is_string() ? ParseRfc3339(ts->get_ref<const std::string&>()) : std::nullopt;
    if (!parsed) {
      return std::unexpected(
          r.Invalid("timestamp", "timestamp must be RFC 3339, e.g. \"2026-11-29T01:28:00Z\""));
    }
    if (*parsed < now - std::int64_t{cfg.max_past_s} * 1'000'000 ||
        *parsed > now + std::int64_t{cfg.max_future_s} * 1'000'000) {
      return std::unexpected(r.Invalid(
          "timestamp", fmt::format("timestamp is outside the accepted window: from {} s before "
                                   "now to {} s after",
                                   cfg.max_past_s, cfg.max_future_s)));
    }
    e.ts_us = *parsed;
  }

  if (e.type == EventType::kExposure) {
    if (auto ok = ReadExposure(j, r, platform, e); !ok) return std::unexpected(ok.error());
  } else {
    auto product = r.String("product_id", false);
    if (!product) return std::unexpected(product.error());
    e.product_id = product->value_or("");
    if (const auto pos = j.find("position"); pos != j.end() && !pos->is_null()) {
      if (!pos->is_number_integer() || pos->get<std::int64_t>() < 1 ||
          pos->get<std::int64_t>() > 1000) {
        return std::unexpected(
            r.Invalid("position", "position must be a whole number from 1 to 1000"));
      }
      e.position = static_cast<int>(pos->get<std::int64_t>());
    }
    if (e.type == EventType::kBind) {
      const auto p = j.find("premium");
      if (p == j.end() || !p->is_number()) {
        return std::unexpected(
            r.Invalid("premium", "a bind needs premium: the annual premium in currency units"));
      }
      const double premium = p->get<double>();
      if (!std::isfinite(premium) || premium < 0 || premium > kMaxPremium) {
        return std::unexpected(r.Invalid(
            "premium", fmt::format("premium must be a finite number from 0 to {}", kMaxPremium)));
      }
      e.premium_cents = std::llround(premium * 100.0);
    }
  }
  // What the client sent, canonically (object keys sorted): the same payload retried is a
  // duplicate, another payload under the same id a conflict. A defaulted timestamp is not
  // part of it, so a retry without one is still a duplicate.
  e.payload_hash = Fingerprint(canonical);
  return e;
}

}  // namespace abrec
