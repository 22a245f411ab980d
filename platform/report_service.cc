#include "platform/report_service.h"

#include <algorithm>

#include "base/clock.h"
#include "base/log.h"
#include "base/thread_priority.h"
#include "dashboards/html.h"
#include "dashboards/report.h"
#include "platform/internal/platform_parts.h"
#include "platform/json_text.h"

namespace abrec {
namespace {

constexpr std::int64_t kDayUs = 86'400'000'000;

Error Stopped() { return Error{ErrorCode::kUnavailable, "the service is stopping", "reports"}; }

}  // namespace

Result<nlohmann::ordered_json> ExperimentReport(const Platform& platform, const Experiment& e) {
  if (!PlatformParts::events(platform)) {
    return std::unexpected(Error{ErrorCode::kUnavailable, "no event store", "storage"});
  }
  return ReportFrom(*PlatformParts::events(platform), e, platform.population().split(),
                    PlatformParts::clock(platform).NowMicros());
}

ReportService::ReportService(const Platform& platform, Options options)
    : platform_(platform), options_(options) {
  const int n = std::max(1, options_.workers);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ReportService::~ReportService() { Stop(); }

void ReportService::Stop() {
  std::lock_guard stopping(stop_mu_);
  std::deque<Job> dropped;
  {
    std::lock_guard lock(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
    dropped.swap(jobs_);
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  // The queued jobs never ran: answer their waiters.
  std::vector<ReportDone> reports;
  std::vector<SnapshotDone> snapshots;
  std::shared_ptr<const ReportSnapshot> latest;
  {
    std::lock_guard lock(mu_);
    for (auto& [_, r] : running_) {
      for (ReportDone& d : r.waiters) reports.push_back(std::move(d));
    }
    running_.clear();
    snapshots.swap(snapshot_waiters_);
    refreshing_ = false;
    latest = latest_;
  }
  for (ReportDone& d : reports) d(std::unexpected(Stopped()));
  for (Job& j : dropped) {
    if (j.cancel) j.cancel();
  }
  if (!latest) {
    auto s = std::make_shared<ReportSnapshot>();
    s->error = Stopped();
    latest = std::move(s);
  }
  for (SnapshotDone& d : snapshots) d(latest);
}

std::uint64_t ReportService::Commits() const {
  return PlatformParts::events(platform_) ? PlatformParts::events(platform_)->stats().commits : 0;
}

ReportService::Key ReportService::KeyOf(std::shared_ptr<const LoadedExperiment> e) const {
  // The commit count is read before the report: a commit during the computation makes the
  // next request compute again rather than reuse a report that may lack it.
  return Key{std::move(e), Commits(), PlatformParts::clock(platform_).NowMicros() / kDayUs};
}

std::shared_ptr<const RenderedReport> ReportService::Lookup(const Key& key) {
  const auto it = cache_.find(key.experiment->def.key);
  if (it == cache_.end() || !(it->second.key == key)) return nullptr;
  ++counts_.cache_hits;
  return it->second.report;
}

Result<std::shared_ptr<const RenderedReport>> ReportService::Compute(const Key& key) {
  {
    std::lock_guard lock(mu_);
    if (auto hit = Lookup(key)) return hit;
  }
  auto report = ExperimentReport(platform_, key.experiment->def);
  std::shared_ptr<const RenderedReport> rendered;
  if (report) {
    auto r = std::make_shared<RenderedReport>();
    r->json_text = DumpJson(*report);
    r->html = RenderReportHtml(*report);
    r->json = std::move(*report);
    rendered = std::move(r);
  }
  std::lock_guard lock(mu_);
  ++counts_.computed;
  if (!rendered) return std::unexpected(report.error());
  cache_[key.experiment->def.key] = Cached{key, rendered};
  return rendered;
}

void ReportService::Report(std::shared_ptr<const LoadedExperiment> e, ReportDone done) {
  const Key key = KeyOf(std::move(e));
  const std::string name = key.experiment->def.key;
  std::shared_ptr<const RenderedReport> hit;
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && (hit = Lookup(key)) == nullptr) {
      const auto it = running_.find(name);
      if (it != running_.end() && it->second.key == key) {
        it->second.waiters.push_back(std::move(done));
      } else if (it == running_.end()) {
        running_.emplace(name, InFlight{key, {}}).first->second.waiters.push_back(std::move(done));
        jobs_.push_back(Job{[this, key] {
                              auto report = Compute(key);
                              std::vector<ReportDone> waiters;
                              {
                                std::lock_guard done_lock(mu_);
                                const auto r = running_.find(key.experiment->def.key);
                                if (r != running_.end()) {
                                  waiters.swap(r->second.waiters);
                                  running_.erase(r);
                                }
                              }
                              for (ReportDone& d : waiters) d(report);
                            },
                            nullptr});
      } else {
        // An older computation of this experiment is in flight: this request gets one of
        // its own rather than a report that may lack the latest commits.
        auto shared = std::make_shared<ReportDone>(std::move(done));
        jobs_.push_back(Job{[this, key, shared] { (*shared)(Compute(key)); },
                            [shared] { (*shared)(std::unexpected(Stopped())); }});
      }
      cv_.notify_one();
      return;
    }
  }
  if (hit) return done(std::move(hit));
  done(std::unexpected(Stopped()));
}

void ReportService::WorkerLoop() {
  SetThisThreadNice(options_.nice);
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job.run();
  }
}

std::shared_ptr<const ReportSnapshot> ReportService::BuildSnapshot() {
  auto s = std::make_shared<ReportSnapshot>();
  // Hold the registry snapshot: a concurrent reload must not free it mid-loop.
  const auto experiments = platform_.experiments();
  s->generation = experiments->generation;
  s->commits = Commits();
  s->computed_us = PlatformParts::clock(platform_).NowMicros();
  for (const auto& e : experiments->experiments) {
    auto report = Compute(KeyOf(e));
    if (!report) {
      s->reports.clear();
      s->alerts.clear();
      s->error = report.error();
      break;
    }
    if (e->def.phase != Phase::kStopped) {
      for (Alert& a : AlertsOf((*report)->json)) s->alerts.push_back(std::move(a));
    }
    s->reports.push_back(std::move(*report));
  }
  if (!s->error) {
    std::vector<const nlohmann::ordered_json*> jsons;
    for (const auto& r : s->reports) jsons.push_back(&r->json);
    s->index_html = RenderIndexHtml(jsons);
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const Alert& a : s->alerts) list.push_back(AlertJson(a));
    s->alerts_json_text =
        DumpJson({{"generated_at", FormatRfc3339(s->computed_us)}, {"alerts", std::move(list)}});
  }
  std::lock_guard lock(mu_);
  ++counts_.snapshots;
  if (!latest_ || latest_->computed_us <= s->computed_us) latest_ = s;
  // Experiments removed since: their reports would stay cached for good. (One added after
  // this snapshot's registry was read loses its entry too, and is computed again.)
  std::erase_if(cache_, [&experiments](const auto& entry) {
    return std::none_of(experiments->experiments.begin(), experiments->experiments.end(),
                        [&entry](const auto& e) { return e->def.key == entry.first; });
  });
  return s;
}

std::shared_ptr<const ReportSnapshot> ReportService::Refresh() { return BuildSnapshot(); }

bool ReportService::Fresh(const ReportSnapshot& s) const {
  if (s.error) return false;
  if (s.commits == Commits() && s.generation == platform_.experiments()->generation) return true;
  return PlatformParts::clock(platform_).NowMicros() - s.computed_us < options_.max_age_ms * 1000;
}

void ReportService::Current(SnapshotDone done) {
  std::shared_ptr<const ReportSnapshot> ready;
  {
    std::lock_guard lock(mu_);
    if (latest_ && (stopping_ || Fresh(*latest_))) {
      ready = latest_;
    } else if (!stopping_) {
      snapshot_waiters_.push_back(std::move(done));
      if (refreshing_) return;
      refreshing_ = true;
      jobs_.push_back(Job{[this] {
                            auto s = BuildSnapshot();
                            std::vector<SnapshotDone> waiters;
                            {
                              std::lock_guard done_lock(mu_);
                              waiters.swap(snapshot_waiters_);
                              refreshing_ = false;
                            }
                            for (SnapshotDone& d : waiters) d(s);
                          },
                          nullptr});
      cv_.notify_one();
      return;
    }
  }
  if (!ready) {
    auto s = std::make_shared<ReportSnapshot>();
    s->error = Stopped();
    ready = std::move(s);
  }
  done(std::move(ready));
}

ReportService::Counts ReportService::counts() const {
  std::lock_guard lock(mu_);
  Counts c = counts_;
  c.cached = cache_.size();
  return c;
}

double ReportService::SnapshotAgeSeconds() const {
  std::lock_guard lock(mu_);
  if (!latest_) return -1;
  return static_cast<double>(PlatformParts::clock(platform_).NowMicros() - latest_->computed_us) /
         1e6;
}

std::vector<Alert> AlertLog::Check(const Platform& platform) {
  ReportService* reports = PlatformParts::reports(platform);
  if (!reports) return {};
  const auto snapshot = reports->Refresh();
  if (snapshot->error) {
    LogWarning("alerts: cannot compute them: {}", snapshot->error->message);
    return {};
  }
  const std::vector<Alert>& alerts = snapshot->alerts;
  std::lock_guard lock(mu_);
  for (const Alert& a : alerts) {
    if (std::find(active_.begin(), active_.end(), a) == active_.end()) {
      LogWarning("alert {} ({}) in {}: {}", a.kind, a.severity, a.experiment, a.message);
    }
  }
  for (const Alert& a : active_) {
    if (std::find(alerts.begin(), alerts.end(), a) == alerts.end()) {
      LogInfo("alert cleared: {} in {}: {}", a.kind, a.experiment, a.message);
    }
  }
  active_ = alerts;
  return alerts;
}

}  // namespace abrec
