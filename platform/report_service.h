// The running service's reports and alerts: each experiment's report from the event store
// (dashboards/report.h), and the alerts of every experiment that is not stopped.
//
// A report reads every aggregate of its experiment, so it is never built on an I/O thread:
// ReportService computes reports on its own worker threads and keeps the latest of each
// experiment, keyed by the store's commit count (EventStore::Stats::commits), the
// experiment's definition and the UTC day, so that a report asked again before anything new
// is committed is not computed again, and requests for a report being computed wait for that
// one computation. The alerts, and the reports of the dashboards' index, are a snapshot of
// every experiment, published by the alert thread (`abrec serve`, every
// experiments.alert_interval_ms) or, when the latest is older than
// experiments.alerts_max_age_ms and does not reflect every commit, computed afresh on a
// worker: /metrics, /v1/alerts and /dashboards/ read it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "dashboards/alerts.h"
#include "platform/platform.h"

namespace abrec {

// kUnavailable without an event store. Computes on the calling thread (tools, simulations).
Result<nlohmann::ordered_json> ExperimentReport(const Platform& platform, const Experiment& e);

// A report as the routes serve it: the JSON and both its renderings, made once on the thread
// that computed the report, so that a request served from the cache only copies bytes (an
// I/O thread never serialises a report).
struct RenderedReport {
  nlohmann::ordered_json json;
  std::string json_text;  // DumpJson(json): the body of GET .../report
  std::string html;       // RenderReportHtml(json): the body of GET /dashboards/{key}
};

// Every experiment's report and the alerts of those not stopped, as of one moment.
struct ReportSnapshot {
  // The reports of every experiment in key order (the dashboards' index); empty when
  // `error` is set.
  std::vector<std::shared_ptr<const RenderedReport>> reports;
  std::vector<Alert> alerts;     // of the experiments not stopped, in key order
  std::optional<Error> error;    // a report could not be computed
  std::uint64_t commits = 0;     // the store's commit count it reflects (at least)
  std::int64_t generation = 0;   // the registry generation it was computed from
  std::int64_t computed_us = 0;  // the platform clock when it was computed
  // Rendered with the snapshot, on the thread that computed it: the body of /dashboards/
  // (RenderIndexHtml) and of /v1/alerts.
  std::string index_html;
  std::string alerts_json_text;
};

// The nice value of the threads that compute reports (the workers and the alert thread).
inline constexpr int kBackgroundNice = 10;

class ReportService {
 public:
  struct Options {
    // Threads computing reports. A report of a large store takes a core for a while: one
    // keeps the other core of the 2-core target for the I/O threads.
    int workers = 1;
    // The latest snapshot is served as it is while younger than this, even if events were
    // committed since; older, a request waits for a new one unless it reflects every commit.
    // The staleness of /metrics, /v1/alerts and /dashboards/ is at most this (plus the time
    // to compute a snapshot).
    std::int64_t max_age_ms = 1000;
    // The workers' nice value (base/thread_priority.h): reports are background work, and a
    // positive value lets the I/O threads run first when both cores are busy. 0 leaves the
    // priority alone.
    int nice = kBackgroundNice;
  };

  // `platform` must outlive the service; its event store must exist until Stop().
  ReportService(const Platform& platform, Options options);
  ~ReportService();
  ReportService(const ReportService&) = delete;
  ReportService& operator=(const ReportService&) = delete;

  using ReportDone = std::function<void(Result<std::shared_ptr<const RenderedReport>>)>;
  // The report of `e`: `done` runs once, at once on the calling thread when the cached
  // report is current, else on a worker thread once computed (shared with every request for
  // the same report meanwhile). After Stop(), done gets kUnavailable. Thread-safe.
  void Report(std::shared_ptr<const LoadedExperiment> e, ReportDone done);

  using SnapshotDone = std::function<void(std::shared_ptr<const ReportSnapshot>)>;
  // The latest snapshot when it is current or younger than max_age_ms (`done` at once, on the
  // calling thread), else a new one computed on a worker (`done` there). After Stop(), the
  // latest one, or one carrying kUnavailable. Thread-safe.
  void Current(SnapshotDone done);

  // Computes a snapshot on the calling thread (through the report cache) and publishes it:
  // the alert thread. Thread-safe.
  std::shared_ptr<const ReportSnapshot> Refresh();

  // Finishes the computations in hand, answers the queued requests with kUnavailable and
  // joins the workers. Idempotent and thread-safe (callers are serialised); the service
  // computes nothing afterwards.
  void Stop();

  // Counts since start (for /metrics): reports computed, reports served from the cache,
  // snapshots computed; and the reports cached now (one per experiment at most: a snapshot
  // drops those of experiments no longer loaded).
  struct Counts {
    std::uint64_t computed = 0;
    std::uint64_t cache_hits = 0;
    std::uint64_t snapshots = 0;
    std::size_t cached = 0;
  };
  Counts counts() const;
  // The age of the latest snapshot in seconds (platform clock); -1 before the first.
  double SnapshotAgeSeconds() const;

 private:
  struct Key {
    std::shared_ptr<const LoadedExperiment> experiment;
    std::uint64_t commits = 0;
    std::int64_t day = 0;
    bool operator==(const Key& o) const {
      return experiment == o.experiment && commits == o.commits && day == o.day;
    }
  };
  struct Cached {
    Key key;
    std::shared_ptr<const RenderedReport> report;
  };
  // A queued computation, and how to answer its requester if the service stops before it
  // runs (null: its waiters are answered from running_ or snapshot_waiters_).
  struct Job {
    std::function<void()> run;
    std::function<void()> cancel;
  };
  struct InFlight {
    Key key;
    std::vector<ReportDone> waiters;
  };

  Key KeyOf(std::shared_ptr<const LoadedExperiment> e) const;
  std::uint64_t Commits() const;
  // The cached report of `key`, or null. Requires mu_.
  std::shared_ptr<const RenderedReport> Lookup(const Key& key);
  // Through the cache, computing (and rendering) on the calling thread on a miss.
  Result<std::shared_ptr<const RenderedReport>> Compute(const Key& key);
  std::shared_ptr<const ReportSnapshot> BuildSnapshot();
  bool Fresh(const ReportSnapshot& s) const;
  void WorkerLoop();

  const Platform& platform_;
  Options options_;
  std::mutex stop_mu_;  // serialises Stop(): two callers never join the same workers
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<Job> jobs_;
  std::vector<std::thread> workers_;
  std::map<std::string, Cached, std::less<>> cache_;      // by experiment key
  std::map<std::string, InFlight, std::less<>> running_;  // by experiment key
  std::shared_ptr<const ReportSnapshot> latest_;
  bool refreshing_ = false;
  std::vector<SnapshotDone> snapshot_waiters_;
  Counts counts_;
};

// Logs each alert when it is first seen (a warning) and when it clears (info). `abrec serve`
// calls Check every experiments.alert_interval_ms, then applies auto_stop to what it
// returns (the alerts now; empty when they cannot be computed). Thread-safe.
class AlertLog {
 public:
  // Refreshes the platform's snapshot (ReportService::Refresh) and logs what changed.
  std::vector<Alert> Check(const Platform& platform);

 private:
  std::mutex mu_;
  std::vector<Alert> active_;
};

}  // namespace abrec
