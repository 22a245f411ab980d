// The event store's schema, as an ordered list of migrations: migration i brings the
// database from PRAGMA user_version i to i + 1. Never edit a released migration; add one.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace abrec {

std::span<const std::string_view> SqliteMigrations();

// "users, exposures, ...": the 26 sum columns of bucket_totals and bucket_daily, in
// BucketTotals::Fields() order.
std::string BucketSumColumns();

}  // namespace abrec
