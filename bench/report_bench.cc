// The analyst's report from the aggregates of a large experiment (DESIGN.md target: ≤ 100 ms
// for 10 M events). The events go through the real SQLite event store, with the writer's
// clock moved a day at a time, so that the database holds what 10 M events over D days leave:
// per-user totals, bucket totals and their daily snapshots, the latency histograms and the
// exposure counters (products shown, fairness groups). Then, on a read-only connection as
// `abrec report` uses, each run reads the aggregates and builds the report; p50 and p99 of
// the whole and of its two parts. The reference in the same run: the same report over the
// first day's aggregates only (one day of history). Then, apart from the report (which does
// not read it yet), the read of the per-user amount history that winsorising premium and
// revenue needs (AggregateSource::Amounts), p50 and p99.
//
// Traffic: users drawn uniformly from U; each visit is an exposure of 5 of the 21 shipped
// product ids (the same for every group; the mix shifts every 30 days), with its latency and
// fairness counters for sex and age band (distinct users, as /v1/recommend logs them),
// followed by a
// click with probability 0.15 and a bind with probability 0.03 (premium 100..1,000). Buckets
// by user: 1/20 holdout, 1/20 exploration, then control and treatment.
//
// usage: report_bench [--events N] [--days D] [--users U] [--runs R] [--dir DIR]
//                     [--treatment-lift L]   (the treatment's bind probability × (1 + L);
//                                            --dir keeps the database, e.g. for a demo)
//                     [--reuse]              (with --dir: time the reads on the database an
//                                            earlier run with the same --days left there)
// Run by `make bench` (bench/run-all.sh), never by CTest.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "dashboards/report.h"
#include "eventstore/sqlite/sqlite_aggregate_reader.h"
#include "eventstore/sqlite/sqlite_event_store.h"

namespace {

namespace fs = std::filesystem;
using namespace abrec;
using Steady = std::chrono::steady_clock;

constexpr std::int64_t kDayUs = 86'400'000'000;
constexpr const char* kProducts[] = {
    "auto_third_party", "auto_comprehensive", "auto_bundle",      "roadside",
    "home_building",    "home_contents",      "student_contents", "earthquake",
    "umbrella",         "term_life",          "whole_life",       "funeral",
    "health_hospital",  "health_dental",      "critical_illness", "income_protection",
    "travel_single",    "travel_annual",      "gadget",           "pet",
    "cyber_identity"};
constexpr const char* kBands[] = {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"};

struct Settings {
  std::int64_t events = 10'000'000;
  int days = 90;
  std::int64_t users = 1'000'000;
  int runs = 30;
  double treatment_lift = 0;  // relative change of the treatment's bind probability
  std::string dir;
  bool reuse = false;
};

Experiment TheExperiment() {
  Experiment e;
  e.key = "recsys_v2_hybrid";
  e.phase = Phase::kAbTest;
  e.variants = {{"control", Policy::kLegacyRules, "", 0.5},
                {"treatment", Policy::kRecommender, "hybrid", 0.5}};
  e.metrics.primary = "bind_rate";
  e.metrics.secondary = {"click_rate", "premium_per_user"};
  Guardrail latency;
  latency.metric = "latency_p99_ms";
  latency.max = 200;
  Guardrail binds;
  binds.metric = "bind_rate";
  binds.min_relative_change = -0.02;
  e.metrics.guardrails = {latency, binds};
  e.fairness.attributes = {"sex", "age_band"};
  return e;
}

std::string BucketOf(std::int64_t user) {
  const auto r = user % 20;
  return r == 0 ? "holdout" : r == 1 ? "exploration" : r % 2 == 0 ? "control" : "treatment";
}

void Submit(EventStore& store, std::vector<Event> batch) {
  std::promise<Result<std::vector<EventOutcome>>> done;
  auto f = done.get_future();
  auto ok = store.Submit(std::move(batch), [&done](Result<std::vector<EventOutcome>> r) {
    done.set_value(std::move(r));
  });
  if (!ok) {
    fmt::print(stderr, "report_bench: submit: {}\n", ok.error().message);
    std::exit(1);
  }
  if (auto r = f.get(); !r) {
    fmt::print(stderr, "report_bench: commit: {}\n", r.error().message);
    std::exit(1);
  }
}

// Fills the store; returns the events written.
std::int64_t Fill(EventStore& store, ManualClock& clock, const Settings& s) {
  std::mt19937_64 rng(20261129);
  std::uniform_int_distribution<std::int64_t> user(0, s.users - 1);
  std::uniform_real_distribution<double> unit(0, 1);
  std::lognormal_distribution<double> latency(std::log(2'000.0), 0.6);
  std::int64_t written = 0, next_id = 0;
  const std::int64_t per_day = s.events / s.days;
  const auto start = Steady::now();
  for (int day = 0; day < s.days; ++day) {
    std::vector<Event> batch;
    std::int64_t today = 0;
    while (today < per_day) {
      const std::int64_t u = user(rng);
      const std::string uid = fmt::format("u{}", u);
      Event x;
      x.event_id = fmt::format("e{}", next_id++);
      x.type = EventType::kExposure;
      x.user_id = uid;
      x.ts_us = clock.NowMicros();
      x.experiment = "recsys_v2_hybrid";
      x.bucket = BucketOf(u);
      const std::string x_bucket = x.bucket;
      x.latency_us = static_cast<std::int64_t>(latency(rng));
      // Independent of the bucket (u mod 20) and of each other.
      const std::string sex = (u / 20) % 2 ? "F" : "M";
      const std::string band = kBands[(u / 40) % 6];
      x.counters = {"users|exposed|sex|" + sex, "users|exposed|age_band|" + band};
      if (x.bucket != "holdout") {
        for (int k = 0; k < 5; ++k) {
          const char* p = kProducts[(u / 240 + k * 4 + day / 30) % 21];
          x.items.push_back({p, k + 1, 1.0});
          x.counters.push_back(fmt::format("users|shown|sex|{}|{}", sex, p));
          x.counters.push_back(fmt::format("users|shown|age_band|{}|{}", band, p));
        }
      }
      x.payload_hash = x.event_id;
      batch.push_back(std::move(x));
      ++today;
      auto outcome = [&](EventType type, std::int64_t premium_cents) {
        Event o;
        o.event_id = fmt::format("e{}", next_id++);
        o.type = type;
        o.user_id = uid;
        o.ts_us = clock.NowMicros();
        o.premium_cents = premium_cents;
        o.payload_hash = o.event_id;
        batch.push_back(std::move(o));
        ++today;
      };
      if (unit(rng) < 0.15) outcome(EventType::kClick, 0);
      const double p_bind = x_bucket == "treatment" ? 0.03 * (1 + s.treatment_lift) : 0.03;
      if (unit(rng) < p_bind) {
        outcome(EventType::kBind, 10'000 + static_cast<std::int64_t>(unit(rng) * 90'000));
      }
      if (batch.size() >= 10'000) {
        written += static_cast<std::int64_t>(batch.size());
        Submit(store, std::move(batch));
        batch.clear();
      }
    }
    if (!batch.empty()) {
      written += static_cast<std::int64_t>(batch.size());
      Submit(store, std::move(batch));
    }
    clock.Advance(kDayUs);
    if ((day + 1) % 10 == 0) {
      const double sec = std::chrono::duration<double>(Steady::now() - start).count();
      fmt::print(stderr, "  day {} of {}: {} events, {:.0f} events/s\n", day + 1, s.days, written,
                 static_cast<double>(written) / sec);
    }
  }
  return written;
}

struct Timing {
  std::vector<double> read_ms, build_ms, total_ms;
  std::size_t bytes = 0;
  std::string decision, reasons;
};

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

// A read-only connection, as `abrec report` opens; exits when it cannot.
std::unique_ptr<SqliteDb> OpenReadOnly(const std::string& path) {
  auto db = SqliteDb::Open(path, /*read_only=*/true);
  if (!db) {
    fmt::print(stderr, "report_bench: {}\n", db.error().message);
    std::exit(1);
  }
  return std::move(*db);
}

// Reads the aggregates (all days, or the first day only) and builds the report, `runs` times.
Timing Measure(const std::string& path, const Experiment& e, int runs, bool first_day_only,
               std::int64_t now_us) {
  Timing t;
  const auto db = OpenReadOnly(path);
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Steady::now();
    auto history = ReadDailyTotals(*db, e.key);
    auto latency = ReadLatency(*db, e.key, LatencySince(now_us));
    auto counters = ReadExposureCounters(*db, e.key);
    BucketTotalsMap totals;
    if (!history || !latency || !counters || history->empty()) {
      fmt::print(stderr, "report_bench: could not read the aggregates\n");
      std::exit(1);
    }
    if (first_day_only) {
      history->resize(1);
      totals = history->front().buckets;
      for (auto& [bucket, days] : *counters) {
        while (days.size() > 1) days.erase(std::prev(days.end()));
      }
    } else {
      auto now = ReadBucketTotals(*db, e.key);
      if (!now) std::exit(1);
      totals = std::move(*now);
    }
    const auto t1 = Steady::now();
    const auto report = BuildReport({.experiment = &e,
                                     .totals = std::move(totals),
                                     .history = std::move(*history),
                                     .latency = std::move(*latency),
                                     .latency_since = LatencySince(now_us),
                                     .counters = std::move(*counters),
                                     .now_us = now_us});
    const std::string json = report.dump();
    const auto t2 = Steady::now();
    t.read_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    t.build_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    t.total_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
    t.bytes = json.size();
    t.decision = report["decision"]["code"].get<std::string>();
    t.reasons = report["decision"]["reasons"].dump();
  }
  return t;
}

struct AmountTiming {
  std::vector<double> ms;
  std::size_t users = 0, steps = 0;
};

// Reads the experiment's amount history `runs` times on a read-only connection.
AmountTiming MeasureAmounts(const std::string& path, const std::string& experiment, int runs) {
  AmountTiming t;
  const auto db = OpenReadOnly(path);
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Steady::now();
    const auto history = ReadAmountHistory(*db, experiment);
    const auto t1 = Steady::now();
    if (!history) {
      fmt::print(stderr, "report_bench: could not read the amount history: {}\n",
                 history.error().message);
      std::exit(1);
    }
    t.ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    t.users = history->users.size();
    t.steps = 0;
    for (const UserAmounts& u : history->users) t.steps += u.steps.size();
  }
  return t;
}

void Print(const std::string& name, const Timing& t) {
  fmt::print("| {} | {:.1f} / {:.1f} | {:.1f} / {:.1f} | {:.1f} / {:.1f} | {} | {} |\n", name,
             Quantile(t.read_ms, 0.5), Quantile(t.read_ms, 0.99), Quantile(t.build_ms, 0.5),
             Quantile(t.build_ms, 0.99), Quantile(t.total_ms, 0.5), Quantile(t.total_ms, 0.99),
             t.bytes, t.decision);
}

std::int64_t Number(const char* flag, const char* v) {
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0' || x <= 0) {
    fmt::print(stderr, "report_bench: {} needs a positive integer, got \"{}\"\n", flag, v);
    std::exit(2);
  }
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--reuse") {
      s.reuse = true;
      continue;
    }
    if (i + 1 >= argc) {
      fmt::print(stderr,
                 "usage: report_bench [--events N] [--days D] [--users U] [--runs R] "
                 "[--dir DIR] [--treatment-lift L] [--reuse]\n");
      return 2;
    }
    const char* v = argv[++i];
    if (a == "--events")
      s.events = Number("--events", v);
    else if (a == "--days")
      s.days = static_cast<int>(Number("--days", v));
    else if (a == "--users")
      s.users = Number("--users", v);
    else if (a == "--runs")
      s.runs = static_cast<int>(Number("--runs", v));
    else if (a == "--dir")
      s.dir = v;
    else if (a == "--treatment-lift")
      s.treatment_lift = std::strtod(v, nullptr);
    else {
      fmt::print(stderr, "report_bench: unknown option {}\n", a);
      return 2;
    }
  }
  const fs::path dir = s.dir.empty()
                           ? fs::temp_directory_path() / fmt::format("report-bench-{}", getpid())
                           : fs::path(s.dir);
  fs::create_directories(dir);
  const std::string path = (dir / "abrec.db").string();
  if (s.reuse && (s.dir.empty() || !fs::exists(path))) {
    fmt::print(stderr, "report_bench: --reuse needs --dir with the database of an earlier run\n");
    return 2;
  }
  if (!s.reuse) fs::remove(path);
  const std::int64_t start_us = 1'795'910'400'000'000 - s.days * kDayUs;  // ends 2026-11-29
  ManualClock clock(start_us + 3'600'000'000);
  std::int64_t written = 0;
  const auto t0 = Steady::now();
  if (s.reuse) {
    clock.Advance(s.days * kDayUs);  // where the fill left it
  } else {
    auto store = SqliteEventStore::Open({.path = path, .synchronous = "NORMAL"}, clock);
    if (!store) {
      fmt::print(stderr, "report_bench: {}\n", store.error().message);
      return 1;
    }
    fmt::print(stderr, "report_bench: writing {} events over {} days into {}\n", s.events, s.days,
               path);
    written = Fill(**store, clock, s);
  }
  const double fill_s = std::chrono::duration<double>(Steady::now() - t0).count();
  const Experiment e = TheExperiment();
  const std::int64_t now_us = clock.NowMicros() - kDayUs;  // the last day written
  const Timing all = Measure(path, e, s.runs, false, now_us);
  const Timing first = Measure(path, e, s.runs, true, now_us);
  const AmountTiming amounts = MeasureAmounts(path, e.key, s.runs);
  if (s.reuse) {
    fmt::print("report_bench: the database of an earlier run ({} days); {:.0f} MiB\n", s.days,
               static_cast<double>(fs::file_size(path)) / (1 << 20));
  } else {
    fmt::print(
        "report_bench: {} events ({} users, {} days) written through the store in {:.0f} s; "
        "database {:.0f} MiB\n",
        written, s.users, s.days, fill_s, static_cast<double>(fs::file_size(path)) / (1 << 20));
  }
  fmt::print("{} runs each, ms (p50 / p99):\n", s.runs);
  fmt::print("| report | read aggregates | build + JSON | total | JSON bytes | decision |\n");
  fmt::print("|---|---|---|---|---|---|\n");
  Print(fmt::format("all {} days (target ≤ 100 ms)", s.days), all);
  Print("reference: the first day only", first);
  fmt::print("decision's reasons (all days): {}\n", all.reasons);
  fmt::print(
      "amount history (Amounts, for winsorising): {} users with an amount, {} steps; read in "
      "{:.1f} / {:.1f} ms (p50 / p99)\n",
      amounts.users, amounts.steps, Quantile(amounts.ms, 0.5), Quantile(amounts.ms, 0.99));
  if (s.dir.empty()) fs::remove_all(dir);
  return 0;
}
