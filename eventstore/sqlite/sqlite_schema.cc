// The schema's SQL, one constant a version, in the order the migrations run. Over 400 lines
// as one list on purpose: a migration reads against the ones it builds on.
#include "eventstore/sqlite/sqlite_schema.h"

namespace abrec {
namespace {

// Columns shared by bucket_totals and bucket_daily (see aggregates.h).
#define ABREC_TOTALS_COLUMNS                                                                     \
  "users INTEGER NOT NULL DEFAULT 0, exposures INTEGER NOT NULL DEFAULT 0, "                     \
  "impressions INTEGER NOT NULL DEFAULT 0, impressions_sq INTEGER NOT NULL DEFAULT 0, "          \
  "clicks INTEGER NOT NULL DEFAULT 0, clicks_sq INTEGER NOT NULL DEFAULT 0, "                    \
  "clicks_x_impressions INTEGER NOT NULL DEFAULT 0, clicking_users INTEGER NOT NULL DEFAULT 0, " \
  "binders INTEGER NOT NULL DEFAULT 0, binds INTEGER NOT NULL DEFAULT 0, "                       \
  "binds_sq INTEGER NOT NULL DEFAULT 0, premium_cents INTEGER NOT NULL DEFAULT 0, "              \
  "premium_cents_sq INTEGER NOT NULL DEFAULT 0"

constexpr std::string_view kV1 =
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"
    "  event_id TEXT NOT NULL UNIQUE,"
    "  type INTEGER NOT NULL,"  // 0 exposure, 1 click, 2 bind
    "  user_id TEXT NOT NULL,"
    "  ts_us INTEGER NOT NULL,"
    "  request_id TEXT, product_id TEXT, position INTEGER,"
    "  premium_cents INTEGER NOT NULL DEFAULT 0,"
    "  experiment TEXT, bucket TEXT, variant TEXT, counterfactual_variant TEXT, policy TEXT,"
    "  model_version TEXT, n_items INTEGER NOT NULL DEFAULT 0, items TEXT, features TEXT,"
    "  payload_hash TEXT NOT NULL,"
    "  ingested_us INTEGER NOT NULL);"
    "CREATE INDEX events_by_user ON events(user_id, ts_us);"
    "CREATE TABLE user_totals ("
    "  experiment TEXT NOT NULL, user_id TEXT NOT NULL, bucket TEXT NOT NULL,"
    "  first_ts_us INTEGER NOT NULL, first_seq INTEGER NOT NULL,"
    "  exposures INTEGER NOT NULL, impressions INTEGER NOT NULL, clicks INTEGER NOT NULL,"
    "  binds INTEGER NOT NULL, premium_cents INTEGER NOT NULL,"
    "  PRIMARY KEY (experiment, user_id)) WITHOUT ROWID;"
    "CREATE INDEX user_totals_by_user ON user_totals(user_id);"
    "CREATE TABLE bucket_totals (experiment TEXT NOT NULL, bucket TEXT NOT "
    "NULL, " ABREC_TOTALS_COLUMNS
    ", PRIMARY KEY (experiment, bucket)) WITHOUT ROWID;"
    "CREATE TABLE bucket_daily (experiment TEXT NOT NULL, bucket TEXT NOT NULL, day TEXT NOT "
    "NULL, " ABREC_TOTALS_COLUMNS ", PRIMARY KEY (experiment, bucket, day)) WITHOUT ROWID;";

#undef ABREC_TOTALS_COLUMNS

// Version 2: look-ups by request (the audit endpoint) and by time (retention).
constexpr std::string_view kV2 =
    "CREATE INDEX events_by_request ON events(request_id) WHERE request_id <> '';"
    "CREATE INDEX events_by_time ON events(ts_us);";

// Version 3: pre-experiment covariates per user, and the CUPED sums per bucket.
constexpr std::string_view kV3 =
    "CREATE TABLE user_covariates (user_id TEXT PRIMARY KEY, premium_before_cents INTEGER NOT NULL,"
    "  products_held INTEGER NOT NULL) WITHOUT ROWID;"
    "ALTER TABLE user_totals ADD COLUMN has_covariates INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE user_totals ADD COLUMN premium_before_cents INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE user_totals ADD COLUMN products_held INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_totals ADD COLUMN covariate_users INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_totals ADD COLUMN x INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_totals ADD COLUMN x_sq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_totals ADD COLUMN x_binders INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_totals ADD COLUMN x_binds INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_totals ADD COLUMN x_premium INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_totals ADD COLUMN x_clicks INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_totals ADD COLUMN z INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_totals ADD COLUMN z_sq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_totals ADD COLUMN z_binders INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_totals ADD COLUMN z_binds INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_totals ADD COLUMN z_premium INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_totals ADD COLUMN z_clicks INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_daily ADD COLUMN covariate_users INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_daily ADD COLUMN x INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_daily ADD COLUMN x_sq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_daily ADD COLUMN x_binders INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_daily ADD COLUMN x_binds INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_daily ADD COLUMN x_premium INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_daily ADD COLUMN x_clicks INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_daily ADD COLUMN z INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_daily ADD COLUMN z_sq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_daily ADD COLUMN z_binders INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_daily ADD COLUMN z_binds INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_daily ADD COLUMN z_premium INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE bucket_daily ADD COLUMN z_clicks INTEGER NOT NULL DEFAULT 0;";

// Version 4: user_totals keyed by (user_id, experiment): the writer looks rows up by user
// for every click and bind, and the primary key now serves that without a second index.
constexpr std::string_view kV4 =
    "CREATE TABLE user_totals_v4 ("
    "  experiment TEXT NOT NULL, user_id TEXT NOT NULL, bucket TEXT NOT NULL,"
    "  first_ts_us INTEGER NOT NULL, first_seq INTEGER NOT NULL,"
    "  exposures INTEGER NOT NULL, impressions INTEGER NOT NULL, clicks INTEGER NOT NULL,"
    "  binds INTEGER NOT NULL, premium_cents INTEGER NOT NULL,"
    "  has_covariates INTEGER NOT NULL DEFAULT 0, premium_before_cents INTEGER NOT NULL DEFAULT 0,"
    "  products_held INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (user_id, experiment)) WITHOUT ROWID;"
    "INSERT INTO user_totals_v4 SELECT experiment, user_id, bucket, first_ts_us, first_seq,"
    "  exposures, impressions, clicks, binds, premium_cents, has_covariates,"
    "  premium_before_cents, products_held FROM user_totals;"
    "DROP TABLE user_totals;"
    "ALTER TABLE user_totals_v4 RENAME TO user_totals;";

// Version 5: the write path of bench/README.md's "run E".
// - events: no index with a random key on the hot path. Idempotency by event_id and the
//   look-ups by user are served by the writer's in-memory indexes (event_id_index.h,
//   aggregate_state.h), rebuilt from this table at start; the UNIQUE constraint on event_id
//   goes (a table rebuild), and so does events_by_user. events_by_request stays for the
//   audit: abrec's request ids start with the time, so its entries are appended (a client
//   that sends random request ids pays a random leaf per event).
// - user_totals: a rowid table; the writer keeps each row's rowid in memory, so a new
//   (experiment, user) row is appended instead of landing on a random leaf of a table keyed
//   by user.
// - bucket totals: the 26 sums are 128-bit in memory (aggregates.h). Their columns lose the
//   INTEGER affinity, which would turn a decimal too large for 64 bits into a REAL: a sum
//   is stored as an INTEGER, or as exact decimal TEXT past 2^63.
#define ABREC_SUM_COLUMNS                                                                     \
  "users NOT NULL DEFAULT 0, exposures NOT NULL DEFAULT 0, impressions NOT NULL DEFAULT 0, "  \
  "impressions_sq NOT NULL DEFAULT 0, clicks NOT NULL DEFAULT 0, "                            \
  "clicks_sq NOT NULL DEFAULT 0, clicks_x_impressions NOT NULL DEFAULT 0, "                   \
  "clicking_users NOT NULL DEFAULT 0, binders NOT NULL DEFAULT 0, binds NOT NULL DEFAULT 0, " \
  "binds_sq NOT NULL DEFAULT 0, premium_cents NOT NULL DEFAULT 0, "                           \
  "premium_cents_sq NOT NULL DEFAULT 0, covariate_users NOT NULL DEFAULT 0, "                 \
  "x NOT NULL DEFAULT 0, x_sq NOT NULL DEFAULT 0, x_binders NOT NULL DEFAULT 0, "             \
  "x_binds NOT NULL DEFAULT 0, x_premium NOT NULL DEFAULT 0, x_clicks NOT NULL DEFAULT 0, "   \
  "z NOT NULL DEFAULT 0, z_sq NOT NULL DEFAULT 0, z_binders NOT NULL DEFAULT 0, "             \
  "z_binds NOT NULL DEFAULT 0, z_premium NOT NULL DEFAULT 0, z_clicks NOT NULL DEFAULT 0"
#define ABREC_SUM_NAMES                                                                      \
  "users, exposures, impressions, impressions_sq, clicks, clicks_sq, clicks_x_impressions, " \
  "clicking_users, binders, binds, binds_sq, premium_cents, premium_cents_sq, "              \
  "covariate_users, x, x_sq, x_binders, x_binds, x_premium, x_clicks, z, z_sq, z_binders, "  \
  "z_binds, z_premium, z_clicks"
#define ABREC_EVENT_COLUMNS                                                                \
  "seq, event_id, type, user_id, ts_us, request_id, product_id, position, premium_cents, " \
  "experiment, bucket, variant, counterfactual_variant, policy, model_version, n_items, "  \
  "items, features, payload_hash, ingested_us"

constexpr std::string_view kV5 =
    "CREATE TABLE events_v5 ("
    "  seq INTEGER PRIMARY KEY,"
    "  event_id TEXT NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  user_id TEXT NOT NULL,"
    "  ts_us INTEGER NOT NULL,"
    "  request_id TEXT, product_id TEXT, position INTEGER,"
    "  premium_cents INTEGER NOT NULL DEFAULT 0,"
    "  experiment TEXT, bucket TEXT, variant TEXT, counterfactual_variant TEXT, policy TEXT,"
    "  model_version TEXT, n_items INTEGER NOT NULL DEFAULT 0, items TEXT, features TEXT,"
    "  payload_hash TEXT NOT NULL,"
    "  ingested_us INTEGER NOT NULL);"
    "INSERT INTO events_v5 (" ABREC_EVENT_COLUMNS ") SELECT " ABREC_EVENT_COLUMNS
    " FROM events ORDER BY seq;"
    "DROP TABLE events;"
    "ALTER TABLE events_v5 RENAME TO events;"
    "CREATE INDEX events_by_time ON events(ts_us);"
    "CREATE INDEX events_by_request ON events(request_id) WHERE request_id <> '';"
    "CREATE TABLE user_totals_v5 ("
    "  id INTEGER PRIMARY KEY,"
    "  experiment TEXT NOT NULL, user_id TEXT NOT NULL, bucket TEXT NOT NULL,"
    "  first_ts_us INTEGER NOT NULL, first_seq INTEGER NOT NULL,"
    "  exposures INTEGER NOT NULL, impressions INTEGER NOT NULL, clicks INTEGER NOT NULL,"
    "  binds INTEGER NOT NULL, premium_cents INTEGER NOT NULL,"
    "  has_covariates INTEGER NOT NULL DEFAULT 0, premium_before_cents INTEGER NOT NULL DEFAULT 0,"
    "  products_held INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO user_totals_v5 (experiment, user_id, bucket, first_ts_us, first_seq, exposures,"
    "  impressions, clicks, binds, premium_cents, has_covariates, premium_before_cents,"
    "  products_held) SELECT experiment, user_id, bucket, first_ts_us, first_seq, exposures,"
    "  impressions, clicks, binds, premium_cents, has_covariates, premium_before_cents,"
    "  products_held FROM user_totals ORDER BY first_seq;"
    "DROP TABLE user_totals;"
    "ALTER TABLE user_totals_v5 RENAME TO user_totals;"
    "CREATE TABLE bucket_totals_v5 (experiment TEXT NOT NULL, bucket TEXT NOT "
    "NULL, " ABREC_SUM_COLUMNS
    ", PRIMARY KEY (experiment, bucket)) WITHOUT ROWID;"
    "INSERT INTO bucket_totals_v5 (experiment, bucket, " ABREC_SUM_NAMES
    ") SELECT experiment, "
    "bucket, " ABREC_SUM_NAMES
    " FROM bucket_totals;"
    "DROP TABLE bucket_totals;"
    "ALTER TABLE bucket_totals_v5 RENAME TO bucket_totals;"
    "CREATE TABLE bucket_daily_v5 (experiment TEXT NOT NULL, bucket TEXT NOT NULL, "
    "day TEXT NOT NULL, " ABREC_SUM_COLUMNS
    ", PRIMARY KEY (experiment, bucket, day)) "
    "WITHOUT ROWID;"
    "INSERT INTO bucket_daily_v5 (experiment, bucket, day, " ABREC_SUM_NAMES
    ") SELECT "
    "experiment, bucket, day, " ABREC_SUM_NAMES
    " FROM bucket_daily;"
    "DROP TABLE bucket_daily;"
    "ALTER TABLE bucket_daily_v5 RENAME TO bucket_daily;";

#undef ABREC_SUM_COLUMNS
#undef ABREC_SUM_NAMES
#undef ABREC_EVENT_COLUMNS

// v6: serving latency per (experiment, bucket, UTC day) as a histogram of logarithmic bins
// (latency_histogram.h), with the exposures the fallback served; filled from this version on.
constexpr std::string_view kV6 =
    "CREATE TABLE exposure_latency (experiment TEXT NOT NULL, bucket TEXT NOT NULL, day TEXT "
    "NOT NULL, bin INTEGER NOT NULL, exposures INTEGER NOT NULL, fallbacks INTEGER NOT NULL, "
    "PRIMARY KEY (experiment, bucket, day, bin)) WITHOUT ROWID;";

// v7: named exposure counters per (experiment, bucket, UTC day): the products shown (drift)
// and the exposures and products shown per group of the fairness attributes.
constexpr std::string_view kV7 =
    "CREATE TABLE exposure_counters (experiment TEXT NOT NULL, bucket TEXT NOT NULL, day TEXT "
    "NOT NULL, name TEXT NOT NULL, count INTEGER NOT NULL, "
    "PRIMARY KEY (experiment, bucket, day, name)) WITHOUT ROWID;";

// v8: the off-policy log (off_policy_log.h). Per exploration exposure and target policy
// (a variant of the experiment), the inverse-propensity-weighted clicks, binds and premium
// credited to it so far; per (experiment, target), the lists and the sums and squares of
// those per-list values. Filled from this version on.
constexpr std::string_view kV8 =
    "CREATE TABLE ope_lists (request_id TEXT NOT NULL, target TEXT NOT NULL, experiment TEXT "
    "NOT NULL, user_id TEXT NOT NULL, clicks REAL NOT NULL DEFAULT 0, binds REAL NOT NULL "
    "DEFAULT 0, premium REAL NOT NULL DEFAULT 0, PRIMARY KEY (request_id, target)) WITHOUT ROWID;"
    "CREATE INDEX ope_lists_by_user ON ope_lists(user_id);"
    "CREATE TABLE ope_sums (experiment TEXT NOT NULL, target TEXT NOT NULL, lists INTEGER NOT "
    "NULL DEFAULT 0, clicks REAL NOT NULL DEFAULT 0, clicks_sq REAL NOT NULL DEFAULT 0, binds "
    "REAL NOT NULL DEFAULT 0, binds_sq REAL NOT NULL DEFAULT 0, premium REAL NOT NULL DEFAULT 0, "
    "premium_sq REAL NOT NULL DEFAULT 0, PRIMARY KEY (experiment, target)) WITHOUT ROWID;";

// v9: revenue (DESIGN.md's revenue_per_user). A bind's revenue_cents is its premium × the
// product's catalog margin at ingest, NULL when the catalog does not price the product;
// per user, the revenue and the unpriced binds; per bucket, their sums (aggregates.h).
// Binds stored before this version are priced once, when the writer opens the migrated
// database (sqlite_event_writer_open.cc); the daily snapshots of earlier days keep no revenue.
#define ABREC_REVENUE_SUMS(table)                    \
  "ALTER TABLE " table                               \
  " ADD COLUMN revenue_cents NOT NULL DEFAULT 0;"    \
  "ALTER TABLE " table                               \
  " ADD COLUMN revenue_cents_sq NOT NULL DEFAULT 0;" \
  "ALTER TABLE " table                               \
  " ADD COLUMN x_revenue NOT NULL DEFAULT 0;"        \
  "ALTER TABLE " table                               \
  " ADD COLUMN z_revenue NOT NULL DEFAULT 0;"        \
  "ALTER TABLE " table " ADD COLUMN unpriced_binds NOT NULL DEFAULT 0;"
constexpr std::string_view kV9 =
    "ALTER TABLE events ADD COLUMN revenue_cents INTEGER;"
    "ALTER TABLE user_totals ADD COLUMN revenue_cents INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE user_totals ADD COLUMN unpriced_binds INTEGER NOT NULL DEFAULT "
    "0;" ABREC_REVENUE_SUMS("bucket_totals") ABREC_REVENUE_SUMS("bucket_daily");
#undef ABREC_REVENUE_SUMS

// v10: the off-policy estimators of stats/off_policy.h with standard errors clustered by user
// (off_policy_log.h). Per list: its normalised weight and the reward model's part of the DR
// term per metric, and whether each was logged; per (user, experiment, target) in ope_users
// the totals of its lists; per (experiment, target) the sums over lists and over users that
// the estimators need (stats::OpeSums). Lists logged before this version carry their weight's
// expectation (1) and no model part (DR is IPS on them), and are not counted as weighted or
// modelled; ope_users and ope_sums are rebuilt from ope_lists.
#define ABREC_OPE_LIST_COLUMNS(m) \
  "ALTER TABLE ope_lists ADD COLUMN " m "_model REAL NOT NULL DEFAULT 0;"
#define ABREC_OPE_SUM_COLUMNS(m)                                        \
  m " REAL NOT NULL DEFAULT 0, " m "_dr REAL NOT NULL DEFAULT 0, " m    \
    "_yy REAL NOT NULL DEFAULT 0, " m "_ny REAL NOT NULL DEFAULT 0, " m \
    "_yw REAL NOT NULL DEFAULT 0, " m "_zz REAL NOT NULL DEFAULT 0, " m \
    "_nz REAL NOT NULL DEFAULT 0"
#define ABREC_OPE_SUM_NAMES(m) m ", " m "_dr, " m "_yy, " m "_ny, " m "_yw, " m "_zz, " m "_nz"
#define ABREC_OPE_FROM_LISTS(m) "SUM(" m ") AS " m ", SUM(" m " + " m "_model) AS " m "_dr"
#define ABREC_OPE_FROM_USERS(m)                                                                  \
  "SUM(" m " * " m ") AS " m "_yy, SUM(lists * " m ") AS " m "_ny, SUM(" m " * weight) AS " m    \
  "_yw, SUM((" m " + " m "_model) * (" m " + " m "_model)) AS " m "_zz, SUM(lists * (" m " + " m \
  "_model)) AS " m "_nz"
constexpr std::string_view kV10 =
    "ALTER TABLE ope_lists ADD COLUMN weight REAL NOT NULL DEFAULT 1;" ABREC_OPE_LIST_COLUMNS(
        "clicks") ABREC_OPE_LIST_COLUMNS("binds") ABREC_OPE_LIST_COLUMNS("premium")
    "ALTER TABLE ope_lists ADD COLUMN weighted INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE ope_lists ADD COLUMN modelled INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE ope_lists ADD COLUMN unsupported INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE ope_users (user_id TEXT NOT NULL, experiment TEXT NOT NULL, target TEXT NOT "
    "NULL, lists INTEGER NOT NULL, clicks REAL NOT NULL, binds REAL NOT NULL, premium REAL NOT "
    "NULL, weight REAL NOT NULL, clicks_model REAL NOT NULL, binds_model REAL NOT NULL, "
    "premium_model REAL NOT NULL, PRIMARY KEY (user_id, experiment, target)) WITHOUT ROWID;"
    "INSERT INTO ope_users SELECT user_id, experiment, target, COUNT(*), SUM(clicks), SUM(binds), "
    "SUM(premium), SUM(weight), SUM(clicks_model), SUM(binds_model), SUM(premium_model) FROM "
    "ope_lists GROUP BY user_id, experiment, target;"
    "CREATE TABLE ope_sums_v10 (experiment TEXT NOT NULL, target TEXT NOT NULL, lists INTEGER "
    "NOT NULL DEFAULT 0, users INTEGER NOT NULL DEFAULT 0, weighted_lists INTEGER NOT NULL "
    "DEFAULT 0, modelled_lists INTEGER NOT NULL DEFAULT 0, unsupported_lists INTEGER NOT NULL "
    "DEFAULT 0, weight REAL NOT NULL DEFAULT 0, weight_sq REAL NOT NULL DEFAULT 0, nn REAL NOT "
    "NULL DEFAULT 0, ww REAL NOT NULL DEFAULT 0, " ABREC_OPE_SUM_COLUMNS(
        "clicks") ", " ABREC_OPE_SUM_COLUMNS("binds") ", " ABREC_OPE_SUM_COLUMNS("premium")
    ", PRIMARY KEY (experiment, target)) WITHOUT ROWID;"
    "INSERT INTO ope_sums_v10 (experiment, target, lists, users, weighted_lists, modelled_lists, "
    "unsupported_lists, weight, weight_sq, nn, ww, " ABREC_OPE_SUM_NAMES(
        "clicks") ", " ABREC_OPE_SUM_NAMES("binds") ", " ABREC_OPE_SUM_NAMES("premium")
    ") SELECT experiment, target, lists, users, weighted, modelled, unsupported, weight, "
    "weight_sq, nn, ww, " ABREC_OPE_SUM_NAMES("clicks") ", " ABREC_OPE_SUM_NAMES(
        "binds") ", " ABREC_OPE_SUM_NAMES("premium")
    " FROM (SELECT experiment, target, COUNT(*) AS lists, SUM(weighted) AS weighted, "
    "SUM(modelled) AS modelled, SUM(unsupported) AS unsupported, SUM(weight) AS weight, "
    "SUM(weight * weight) AS weight_sq, " ABREC_OPE_FROM_LISTS("clicks") ", " ABREC_OPE_FROM_LISTS(
        "binds") ", " ABREC_OPE_FROM_LISTS("premium")
    " FROM ope_lists GROUP BY experiment, target) JOIN (SELECT experiment, target, COUNT(*) AS "
    "users, SUM(lists * lists) AS nn, SUM(weight * weight) AS ww, " ABREC_OPE_FROM_USERS(
        "clicks") ", " ABREC_OPE_FROM_USERS("binds") ", " ABREC_OPE_FROM_USERS("premium")
    " FROM ope_users GROUP BY experiment, target) USING (experiment, target);"
    "DROP TABLE ope_sums;"
    "ALTER TABLE ope_sums_v10 RENAME TO ope_sums;";
#undef ABREC_OPE_LIST_COLUMNS
#undef ABREC_OPE_SUM_COLUMNS
#undef ABREC_OPE_SUM_NAMES
#undef ABREC_OPE_FROM_LISTS
#undef ABREC_OPE_FROM_USERS

// v11: distinct-user counters (distinct_user_counters.h). The names of counters that count
// users ("users|…") interned, and per (experiment, bucket, user) the names the user was
// counted for with the UTC day of each, as LEB128 varint pairs (name id, days since
// 1970-01-01), so that an erasure takes exactly the user's counts out of exposure_counters.
// Users are counted from this version on: the per-exposure counters stored before it cannot
// be split into users (the events do not store them), and the report says since when it
// counts users.
constexpr std::string_view kV11 =
    "CREATE TABLE counter_names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE user_counted (id INTEGER PRIMARY KEY, experiment TEXT NOT NULL, bucket TEXT "
    "NOT NULL, user_id TEXT NOT NULL, counted BLOB NOT NULL);";

// v12 (issue 13): two-covariate CUPED and winsorised premium and revenue.
// - bucket_totals and bucket_daily: x_z, x_impressions, z_impressions (aggregates.h).
//   bucket_totals gets their exact sums from user_totals. In bucket_daily, the latest row of
//   each (experiment, bucket) gets the same values (every change to a bucket rewrites its row
//   of that day, so that row holds today's sums); the earlier rows get an approximation: the
//   sums over the users now in the bucket with covariates whose first exposure (first_ts_us)
//   is before that day's end, their impressions counted over their stored exposures with
//   ts_us before the day's end. Approximate in that covariates posted later count from the
//   user's first day, exposures are dated by their timestamp instead of their arrival, users
//   moved by a late exposure count in their current bucket, and exposures purged by
//   retention count nothing.
// - user_amounts: per (experiment, user), the premium and revenue attributed so far, as of
//   the close of each UTC day (writer's clock) on which they, the user's bucket or
//   covariates changed; only users with an amount (binders). Rows are keyed by
//   (experiment, id) with ids the writer assigns in increasing order, so a new step is
//   appended to its experiment's range and a read of one experiment is a range scan; `prev`
//   chains a user's steps, newest to oldest (0 ends the chain), for erasure.
// - amount_history: one row, since_day, the first day whose close the history records
//   completely: '' for a database created with this version, else the day of the upgrade,
//   when every user's totals are recorded as one step of that day (SqliteDatedMigrationSteps).
#define ABREC_V12_SUMS(table)                     \
  "ALTER TABLE " table                            \
  " ADD COLUMN x_z NOT NULL DEFAULT 0;"           \
  "ALTER TABLE " table                            \
  " ADD COLUMN x_impressions NOT NULL DEFAULT 0;" \
  "ALTER TABLE " table " ADD COLUMN z_impressions NOT NULL DEFAULT 0;"
constexpr std::string_view kV12 =
    ABREC_V12_SUMS("bucket_totals") ABREC_V12_SUMS("bucket_daily")
    "UPDATE bucket_totals SET x_z = s.x_z, x_impressions = s.x_i, z_impressions = s.z_i FROM ("
    "  SELECT experiment, bucket, SUM(premium_before_cents * products_held) AS x_z,"
    "    SUM(premium_before_cents * impressions) AS x_i, SUM(products_held * impressions) AS z_i"
    "  FROM user_totals WHERE has_covariates GROUP BY experiment, bucket) AS s "
    "WHERE s.experiment = bucket_totals.experiment AND s.bucket = bucket_totals.bucket;"
    "CREATE TEMP TABLE v12_daily AS "
    "WITH users AS MATERIALIZED ("
    "  SELECT experiment, user_id, bucket, premium_before_cents AS x, products_held AS z,"
    "    first_ts_us FROM user_totals WHERE has_covariates),"
    "contributions AS ("
    "  SELECT experiment, bucket, first_ts_us AS ts, x * z AS x_z, 0 AS x_i, 0 AS z_i FROM users"
    "  UNION ALL"
    "  SELECT u.experiment, u.bucket, e.ts_us, 0, u.x * e.n_items, u.z * e.n_items"
    "  FROM events e CROSS JOIN users u ON u.experiment = e.experiment AND u.user_id = e.user_id"
    "  WHERE e.type = 0) "
    "SELECT experiment, bucket, date(ts / 1000000, 'unixepoch') AS day, SUM(x_z) AS x_z,"
    "  SUM(x_i) AS x_i, SUM(z_i) AS z_i FROM contributions GROUP BY experiment, bucket, day;"
    "UPDATE bucket_daily SET x_z = c.x_z, x_impressions = c.x_i, z_impressions = c.z_i FROM ("
    "  SELECT b.experiment, b.bucket, b.day, SUM(d.x_z) AS x_z, SUM(d.x_i) AS x_i,"
    "    SUM(d.z_i) AS z_i"
    "  FROM bucket_daily b JOIN temp.v12_daily d ON d.experiment = b.experiment"
    "    AND d.bucket = b.bucket AND d.day <= b.day GROUP BY b.experiment, b.bucket, b.day) AS c "
    "WHERE c.experiment = bucket_daily.experiment AND c.bucket = bucket_daily.bucket"
    "  AND c.day = bucket_daily.day;"
    "DROP TABLE temp.v12_daily;"
    "UPDATE bucket_daily SET x_z = t.x_z, x_impressions = t.x_impressions,"
    "  z_impressions = t.z_impressions FROM bucket_totals t "
    "WHERE t.experiment = bucket_daily.experiment AND t.bucket = bucket_daily.bucket"
    "  AND bucket_daily.day = (SELECT MAX(l.day) FROM bucket_daily l"
    "    WHERE l.experiment = t.experiment AND l.bucket = t.bucket);"
    "CREATE TABLE user_amounts (experiment TEXT NOT NULL, id INTEGER NOT NULL,"
    "  user_id TEXT NOT NULL, day TEXT NOT NULL, premium_cents INTEGER NOT NULL,"
    "  revenue_cents INTEGER NOT NULL, bucket TEXT NOT NULL, has_covariates INTEGER NOT NULL,"
    "  premium_before_cents INTEGER NOT NULL, products_held INTEGER NOT NULL,"
    "  prev INTEGER NOT NULL, PRIMARY KEY (experiment, id)) WITHOUT ROWID;"
    "CREATE TABLE amount_history (since_day TEXT NOT NULL);";
#undef ABREC_V12_SUMS

// Completes v12 with the day of the upgrade (?1): every user's premium and revenue so far
// as one step of that day, under the user_totals row's id (unique, and below every id the
// writer assigns later); since_day that day, or '' for a database without users yet.
constexpr std::string_view kV12Dated[] = {
    "INSERT INTO user_amounts (experiment, id, user_id, day, premium_cents, revenue_cents, "
    "bucket, has_covariates, premium_before_cents, products_held, prev) SELECT experiment, id, "
    "user_id, ?1, premium_cents, revenue_cents, bucket, has_covariates, premium_before_cents, "
    "products_held, 0 FROM user_totals WHERE premium_cents <> 0 OR revenue_cents <> 0",
    "INSERT INTO amount_history (since_day) SELECT CASE WHEN EXISTS (SELECT 1 FROM user_totals) "
    "THEN ?1 ELSE '' END"};

// v13 (issue 14): who logged an exposure (Event::source): "server" or "client"; NULL for
// events stored before (their source is not known).
constexpr std::string_view kV13 = "ALTER TABLE events ADD COLUMN source TEXT;";

constexpr std::string_view kMigrations[] = {kV1, kV2, kV3,  kV4,  kV5,  kV6, kV7,
                                            kV8, kV9, kV10, kV11, kV12, kV13};

}  // namespace

std::span<const std::string_view> SqliteMigrations() { return kMigrations; }

std::span<const std::string_view> SqliteDatedMigrationSteps(std::size_t to_version) {
  if (to_version == 12) return kV12Dated;
  return {};
}

}  // namespace abrec
