// What happened: exposures (what a user was shown, in which bucket), clicks and binds.
// Plain values; validated before they reach the store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace abrec {

enum class EventType { kExposure = 0, kClick = 1, kBind = 2 };

std::string_view EventTypeName(EventType type);

// A reward model's prediction of what showing products to a customer yields: expected clicks,
// binds and bound premium (currency units). The doubly robust estimate's q̂
// (off_policy_log.h); made when the list is served, before any outcome.
struct RewardPrediction {
  double clicks = 0;
  double binds = 0;
  double premium = 0;
};

// An item shown in an exposure: its product, 1-based position and the probability that the
// policy showed it there (1 for deterministic policies).
struct ExposedItem {
  std::string product_id;
  int position = 0;
  double propensity = 1.0;
  // Exploration exposures served by abrec: the variants whose policy would also have shown
  // this product to this customer (the off-policy estimate's matches; off_policy_log.h).
  std::vector<std::string> in_lists{};
  // Exploration exposures served by abrec: the reward model's prediction for this product
  // (nullopt: no model scored it). Not stored with the event: the off-policy log keeps what
  // it implies, and the audit record (features) the predictions.
  std::optional<RewardPrediction> predicted{};
};

// An exploration list's off-policy target: a variant whose policy's list for this customer
// was computed beside the random one (off_policy_log.h).
struct OpeTarget {
  std::string variant;
  // The products on the variant's list, and how many of them the exploration policy could
  // have shown (a propensity > 0). -1: not known; the list's weight is then not
  // self-normalised (off_policy_log.h).
  int products = -1;
  int in_support = -1;
  // The reward model's predictions summed over the variant's list (nullopt: none).
  std::optional<RewardPrediction> predicted{};
};

// Who logged an exposure (Event::source): abrec itself when it served the assignment or the
// list (GET/POST /v1/assign with logging, /v1/recommend), or a client through POST
// /v1/events. Only server-logged exposures are trusted to act on (auto_stop): anyone who can
// post events can post exposures.
inline constexpr std::string_view kSourceServer = "server";
inline constexpr std::string_view kSourceClient = "client";

struct Event {
  std::string event_id;  // idempotency key, unique across all events
  EventType type = EventType::kClick;
  std::string user_id;
  std::int64_t ts_us = 0;  // microseconds since the Unix epoch, UTC
  std::string request_id;  // the recommendation or assignment it belongs to, if any
  std::string product_id;  // click, bind
  std::optional<int> position;
  std::int64_t premium_cents = 0;  // bind: annual premium, exact integer cents

  // Exposure only.
  std::string experiment;
  std::string bucket;  // "holdout", "exploration" or a variant
  std::string variant;
  std::string counterfactual_variant;
  std::string policy;
  std::string model_version;
  std::vector<ExposedItem> items;
  std::string features_json;  // the feature vector used, as JSON (audit)
  // Served by abrec's /v1/recommend: the time to the list (µs), and whether the rule-based
  // fallback served it. -1 when unknown (exposures posted by clients, /v1/assign).
  std::int64_t latency_us = -1;
  bool fallback = false;
  // Exposure counters the service adds for the report, counted in exposure_counters per
  // (experiment, bucket, UTC day): once per exposure (e.g. "shadow|lists"), or, for a name
  // that starts with counter_keys::kUserPrefix ("users|shown|sex|F|pet", counter_keys.h), once per user: at most once
  // per (experiment, bucket, user), on the day first seen (distinct_user_counters.h). Every
  // exposure's items also count as "product|ID".
  std::vector<std::string> counters;
  // Exposure only: kSourceServer or kSourceClient; empty for exposures stored before sources
  // were recorded.
  std::string source;
  // Exploration exposures served by abrec: the variants whose lists were computed for the
  // off-policy estimate (each gets this list counted, matched or not).
  std::vector<OpeTarget> ope_targets;

  // FNV-1a 64 of the fields the client supplied: a retried event with the same payload is a
  // duplicate, the same id with another payload a conflict.
  std::string payload_hash;
};

// Pre-experiment covariates of a user, for variance reduction (CUPED).
struct Covariates {
  std::string user_id;
  std::int64_t premium_before_cents = 0;
  std::int64_t products_held = 0;
};

// What the store did with one event. kExpired: older than the retention period, so not
// stored (it would be purged at once, and a retry of a purged event would count twice).
enum class EventOutcome { kAccepted, kDuplicate, kConflict, kExpired };

}  // namespace abrec
