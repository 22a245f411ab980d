#include "eventstore/sqlite/sqlite_row_codec.h"

#include <ctime>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace abrec {
namespace {

constexpr std::int64_t kDayUs = 86'400'000'000;

// The columns EventFromRow reads, in its order.
constexpr std::string_view kEventColumns =
    "seq, event_id, type, user_id, ts_us, request_id, product_id, position, premium_cents, "
    "experiment, bucket, variant, counterfactual_variant, policy, model_version, items, features, "
    "source";

Event EventFromRow(const SqliteStatement& row) {
  Event e;
  e.event_id = row.Text(1);
  e.type = static_cast<EventType>(row.Int(2));
  e.user_id = row.Text(3);
  e.ts_us = row.Int(4);
  e.request_id = row.Text(5);
  e.product_id = row.Text(6);
  if (!row.IsNull(7)) e.position = static_cast<int>(row.Int(7));
  e.premium_cents = row.Int(8);
  e.experiment = row.Text(9);
  e.bucket = row.Text(10);
  e.variant = row.Text(11);
  e.counterfactual_variant = row.Text(12);
  e.policy = row.Text(13);
  e.model_version = row.Text(14);
  const std::string items = row.Text(15);
  if (!items.empty()) {
    const auto j = nlohmann::json::parse(items, nullptr, /*allow_exceptions=*/false);
    for (const auto& it : j.is_array() ? j : nlohmann::json::array()) {
      ExposedItem item{it.value("product_id", ""), it.value("position", 0),
                       it.value("propensity", 1.0)};
      if (const auto l = it.find("in_lists"); l != it.end() && l->is_array()) {
        for (const auto& name : *l) {
          if (name.is_string()) item.in_lists.push_back(name.get<std::string>());
        }
      }
      e.items.push_back(std::move(item));
    }
  }
  e.features_json = row.Text(16);
  if (!row.IsNull(17)) e.source = row.Text(17);
  return e;
}

}  // namespace

std::int32_t DayNumber(std::int64_t micros) {
  return static_cast<std::int32_t>(micros >= 0 ? micros / kDayUs : (micros + 1) / kDayUs - 1);
}

std::string DayName(std::int32_t day) {
  const auto t = static_cast<std::time_t>(static_cast<std::int64_t>(day) * 86'400);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

std::string ItemsJson(const std::vector<ExposedItem>& items) {
  if (items.empty()) return "[]";  // assignments log exposures without items
  nlohmann::json out = nlohmann::json::array();
  for (const auto& item : items) {
    nlohmann::json j{{"product_id", item.product_id},
                     {"position", item.position},
                     {"propensity", item.propensity}};
    if (!item.in_lists.empty()) j["in_lists"] = item.in_lists;
    out.push_back(std::move(j));
  }
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::vector<Event>> ReadEventsOfRequest(SqliteDb& db, const std::string& request_id) {
  auto stmt = db.Prepare(
      fmt::format("SELECT {} FROM events WHERE request_id = ?1 AND request_id <> '' ORDER BY seq",
                  kEventColumns));
  if (!stmt) return std::unexpected(stmt.error());
  stmt->Bind(1, request_id);
  std::vector<Event> out;
  auto ok = ForEachRow(*stmt, [&](const SqliteStatement& r) { out.push_back(EventFromRow(r)); });
  if (!ok) return std::unexpected(ok.error());
  return out;
}

std::string BucketSumColumns() {
  std::string out;
  for (const auto name : BucketTotals::FieldNames()) {
    out += (out.empty() ? "" : ", ") + std::string(name);
  }
  return out;
}

std::string SumPlaceholders(int first) {
  std::string out;
  for (std::size_t i = 0; i < BucketTotals::kFieldCount; ++i) {
    out += fmt::format("{}?{}", out.empty() ? "" : ", ", first + static_cast<int>(i));
  }
  return out;
}

Result<void> RunWithSums(SqliteStatement& stmt, int first, const BucketTotals& totals) {
  for (const Int128* f : totals.Fields()) stmt.BindInt128(first++, *f);
  return stmt.Run();
}

void ReadBucketSums(const SqliteStatement& row, int first, BucketTotals& totals) {
  for (Int128* f : totals.Fields()) *f = row.Int128At(first++);
}

}  // namespace abrec
