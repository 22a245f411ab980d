// In-process ingest through the event store, without HTTP: how many events per second the
// SQLite store (one writer thread, group commit, in-memory indexes and aggregates) takes,
// and how much CPU its writer thread spends per event. Three workloads, each on a fresh
// database, side by side in one run:
//   - assign: one exposure per Submit, each of a new user, with C (default 64) submissions
//     outstanding: what `GET /v1/assign` with logging asks of the store;
//   - recommend: what `/v1/recommend` logs per list: a returning customer's exposure of 3
//     products with its latency and 12 distinct-user counters, one in twenty for the off-policy
//     log, and the clicks and binds naming it (priced with margins), C outstanding;
//   - events: Submits of B (default 1,000) events in bench/events.lua's mix (85% clicks, 10%
//     binds, 5% exposures with three items) over a pool of 10,000 users, 8 outstanding.
// The writer's CPU comes from /proc/self/task/*/stat (the thread named abrec-writer).
//
// usage: store_bench [--dir DIR] [--seconds S] [--synchronous FULL|NORMAL|OFF] [--batch B]
//                    [--outstanding C] [--workload assign|recommend|events|all]
//                    [--customers N]  (recommend: the customers drawn from, default 50,000;
//                                      fewer return more often)
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/clock.h"
#include "eventstore/sqlite/sqlite_event_store.h"

namespace {

using abrec::Event;
using abrec::EventType;

// CPU seconds used so far by this process's thread named `name`.
double ThreadCpuSeconds(const std::string& name) {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string c;
    std::getline(comm, c);
    if (c != name) continue;
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // Fields after the ")" of the command name: state is field 3; utime 14, stime 15.
    std::size_t at = line.rfind(')') + 2;
    for (int field = 3; field < 14; ++field) at = line.find(' ', at) + 1;
    const double utime = std::strtod(line.c_str() + at, nullptr);
    at = line.find(' ', at) + 1;
    const double stime = std::strtod(line.c_str() + at, nullptr);
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return 0;
}

// This process's resident memory (VmRSS), in MiB.
double RssMegabytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024;
  }
  return 0;
}

struct Totals {
  std::int64_t events = 0;
  double seconds = 0;
  double writer_cpu = 0;
};

// Submits batches from `make` with `outstanding` in flight until `seconds` have passed.
template <typename Make>
Totals Run(const std::string& path, const std::string& synchronous, double seconds, int outstanding,
           Make make, std::map<std::string, double, std::less<>> margins = {}) {
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  abrec::EventStoreOptions options;
  options.path = path;
  options.synchronous = synchronous;
  options.product_margins = std::move(margins);
  auto store = abrec::SqliteEventStore::Open(options, abrec::SystemClock::Instance());
  if (!store) {
    std::fprintf(stderr, "store_bench: %s\n", store.error().message.c_str());
    std::exit(1);
  }
  std::mutex mu;
  std::condition_variable cv;
  int inflight = 0;
  std::int64_t committed = 0;
  bool failed = false;
  const double cpu_before = ThreadCpuSeconds("abrec-writer");
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::uint64_t n = 0;
  while (elapsed() < seconds) {
    std::vector<Event> batch = make(n++);
    const auto size = static_cast<std::int64_t>(batch.size());
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return inflight < outstanding; });
      ++inflight;
    }
    auto ok = (*store)->Submit(std::move(batch), [&, size](auto r) {
      std::lock_guard lock(mu);
      --inflight;
      if (r) {
        committed += size;
      } else {
        failed = true;
      }
      cv.notify_all();
    });
    if (!ok) {
      std::lock_guard lock(mu);
      --inflight;
    }
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return inflight == 0; });
  }
  Totals t{committed, elapsed(), ThreadCpuSeconds("abrec-writer") - cpu_before};
  if (failed) {
    std::fprintf(stderr, "store_bench: a transaction failed\n");
    std::exit(1);
  }
  return t;
}

void Print(const char* name, const Totals& t) {
  std::printf("%-44s %12.0f %14.2f %10.0f%%\n", name, static_cast<double>(t.events) / t.seconds,
              1e6 * t.writer_cpu / static_cast<double>(t.events), 100 * t.writer_cpu / t.seconds);
  std::fflush(stdout);
}

// Reopens the database of a workload: the time to rebuild the writer's in-memory indexes
// and the resident memory the open adds.
// In a child process, so that memory freed by the workload does not hide the growth (the
// workload's threads have all ended, so forking is safe).
void Reopen(const std::string& path) {
  const pid_t child = fork();
  if (child != 0) {
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "store_bench: reopen failed\n");
      std::exit(1);
    }
    return;
  }
  const double rss_before = RssMegabytes();
  const auto started = std::chrono::steady_clock::now();
  abrec::EventStoreOptions options;
  options.path = path;
  auto store = abrec::SqliteEventStore::Open(options, abrec::SystemClock::Instance());
  if (!store) {
    std::fprintf(stderr, "store_bench: reopen: %s\n", store.error().message.c_str());
    std::exit(1);
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  const auto stats = (*store)->stats();
  const double rss = RssMegabytes() - rss_before;
  std::printf(
      "  reopened: %zu events of %zu users indexed in %.0f ms; resident memory +%.1f MB "
      "(id index %.1f MB)\n",
      stats.events, stats.users, ms, rss, static_cast<double>(stats.index_bytes) / 1048576);
  std::fflush(stdout);
  store->reset();
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp", synchronous = "FULL", workload = "all";  // "both": "all"
  double seconds = 5;
  int batch = 1000, outstanding = 64;
  std::uint64_t customers = 50'000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--dir" && v) {
      dir = v, ++i;
    } else if (a == "--seconds" && v) {
      seconds = std::atof(v), ++i;
    } else if (a == "--synchronous" && v) {
      synchronous = v, ++i;
    } else if (a == "--batch" && v) {
      batch = std::atoi(v), ++i;
    } else if (a == "--outstanding" && v) {
      outstanding = std::atoi(v), ++i;
    } else if (a == "--workload" && v) {
      workload = v, ++i;
    } else if (a == "--customers" && v && std::atoll(v) > 0) {
      customers = static_cast<std::uint64_t>(std::atoll(v)), ++i;
    } else {
      std::fprintf(stderr,
                   "usage: store_bench [--dir DIR] [--seconds S] [--synchronous FULL|NORMAL|OFF] "
                   "[--batch B] [--outstanding C] [--workload assign|recommend|events|all] "
                   "[--customers N]\n");
      return 2;
    }
  }
  const std::string path = fmt::format("{}/store_bench.{}.db", dir, getpid());
  std::printf("SQLite event store, synchronous=%s, %.0f s per workload, database in %s\n",
              synchronous.c_str(), seconds, dir.c_str());
  std::printf("%-44s %12s %14s %11s\n", "workload", "events/s", "writer us/evt", "writer CPU");

  std::mt19937_64 rng(20261129);
  auto now = [] { return abrec::SystemClock::Instance().NowMicros(); };
  auto exposure = [&](std::string id, std::string user, int items) {
    Event e;
    e.event_id = std::move(id);
    e.type = EventType::kExposure;
    e.user_id = std::move(user);
    e.ts_us = now();
    e.request_id = fmt::format("{:016x}{:016x}", e.ts_us, rng());
    e.experiment = "recsys_v2_hybrid";
    const char* buckets[] = {"control", "treatment", "holdout", "exploration"};
    e.bucket = buckets[rng() % 4];
    e.policy = "legacy_rules";
    for (int i = 0; i < items; ++i) {
      e.items.push_back({fmt::format("product-{:02}", rng() % 21 + 1), i + 1, 1.0 / 3});
    }
    e.payload_hash = fmt::format("{:016x}", rng());
    return e;
  };
  if (workload == "both" || workload == "all" || workload == "assign") {
    const Totals assign = Run(path, synchronous, seconds, outstanding, [&](std::uint64_t n) {
      return std::vector<Event>{exposure(fmt::format("x{}", n), fmt::format("user-{}", n), 0)};
    });
    Print(fmt::format("assign: 1 exposure, new user, {} outstanding", outstanding).c_str(), assign);
    Reopen(path);
  }
  if (workload == "both" || workload == "all" || workload == "recommend") {
    // What /v1/recommend logs (platform/platform_recommend.cc): a returning customer's exposure
    // of 3 products with its latency and 12 distinct-user counters (fairness:
    // users|exposed|ATTR|GROUP and users|shown|ATTR|GROUP|PRODUCT for sex, age band and region,
    // each counted once per customer), one in twenty from the
    // exploration bucket with the variants' lists beside it (the off-policy log); then the
    // clicks (10%) and binds (2%) naming the request, priced with the catalog's margins.
    // Against `assign` above (the same one exposure per submit, none of it), the cost of what
    // a served list carries.
    std::map<std::string, double, std::less<>> margins;
    for (int p = 1; p <= 21; ++p) margins[fmt::format("product-{:02}", p)] = 0.05 * (p % 8 + 1);
    const Totals recommend = Run(
        path, synchronous, seconds, outstanding,
        [&](std::uint64_t n) {
          const std::string user = fmt::format("customer-{}", rng() % customers);
          Event e = exposure(fmt::format("r{}", n), user, 3);
          e.latency_us = static_cast<std::int64_t>(rng() % 4'000 + 300);
          const char* groups[][2] = {{"sex", "F"}, {"age_band", "25-34"}, {"region", "north"}};
          for (const auto& [attribute, group] : groups) {
            e.counters.push_back(fmt::format("users|exposed|{}|{}", attribute, group));
            for (const auto& item : e.items) {
              e.counters.push_back(
                  fmt::format("users|shown|{}|{}|{}", attribute, group, item.product_id));
            }
          }
          if (rng() % 20 == 0) {
            e.bucket = "exploration";
            // As served: each variant's list of 3, all explorable, with the reward model's
            // predictions summed over it and for each shown product.
            for (const char* variant : {"control", "treatment"}) {
              e.ope_targets.push_back(
                  {variant, 3, 3,
                   abrec::RewardPrediction{.clicks = 0.3, .binds = 0.02, .premium = 9}});
            }
            for (auto& item : e.items) {
              if (rng() % 3 == 0) item.in_lists = {"treatment"};
              item.predicted = abrec::RewardPrediction{.clicks = 0.1, .binds = 0.007, .premium = 3};
            }
          }
          std::vector<Event> out{e};
          const auto r = rng() % 100;
          if (r < 10) {
            Event c;
            c.event_id = e.event_id + "-c";
            c.type = EventType::kClick;
            c.user_id = user;
            c.ts_us = e.ts_us;
            c.request_id = e.request_id;
            c.product_id = e.items[0].product_id;
            c.payload_hash = c.event_id;
            out.push_back(c);
            if (r < 2) {
              c.event_id = e.event_id + "-b";
              c.type = EventType::kBind;
              c.premium_cents = static_cast<std::int64_t>(rng() % 250'000);
              c.payload_hash = c.event_id;
              out.push_back(std::move(c));
            }
          }
          return out;
        },
        std::move(margins));
    Print(fmt::format("recommend: exposure + counters, {} outstanding", outstanding).c_str(),
          recommend);
    Reopen(path);
  }
  if (workload == "both" || workload == "all" || workload == "events") {
    const Totals events = Run(path, synchronous, seconds, 8, [&](std::uint64_t n) {
      std::vector<Event> out;
      out.reserve(static_cast<std::size_t>(batch));
      for (int i = 0; i < batch; ++i) {
        const std::string id = fmt::format("e{}-{}", n, i);
        const std::string user = fmt::format("member-{:05}", rng() % 10'000);
        const auto r = rng() % 100;
        if (r < 5) {
          out.push_back(exposure(id, user, 3));
          continue;
        }
        Event e;
        e.event_id = id;
        e.type = r < 15 ? EventType::kBind : EventType::kClick;
        e.user_id = user;
        e.ts_us = now();
        e.request_id = fmt::format("{:016x}{:016x}", e.ts_us, rng());  // abrec's shape
        e.product_id = fmt::format("product-{:02}", rng() % 21 + 1);
        e.position = static_cast<int>(rng() % 10 + 1);
        if (e.type == EventType::kBind)
          e.premium_cents = static_cast<std::int64_t>(rng() % 250'000);
        e.payload_hash = fmt::format("{:016x}", rng());
        out.push_back(std::move(e));
      }
      return out;
    });
    Print(fmt::format("events: batches of {}, 8 outstanding", batch).c_str(), events);
    Reopen(path);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  return 0;
}
