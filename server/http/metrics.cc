#include "server/http/metrics.h"

#include <mutex>

#include <fmt/format.h>

namespace abrec {
namespace {

// Prometheus label values escape backslash, double quote and newline.
std::string EscapeLabel(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

ServerMetrics::ServerMetrics(std::vector<std::string> routes)
    : routes_(std::move(routes)), stats_(new RouteStats[routes_.size()]) {}

void ServerMetrics::ObserveRequest(std::size_t route, int status, double seconds) {
  if (route >= routes_.size()) return;
  RouteStats& s = stats_[route];
  std::size_t si = kStatuses.size();
  for (std::size_t i = 0; i < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) si = i;
  }
  s.by_status[si].fetch_add(1, std::memory_order_relaxed);
  std::size_t bi = kBuckets.size();
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      bi = i;
      break;
    }
  }
  s.latency[bi].fetch_add(1, std::memory_order_relaxed);
  s.latency_sum_ns.fetch_add(static_cast<std::uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

void ServerMetrics::CountAssignment(std::string_view experiment, std::string_view bucket) {
  {
    std::shared_lock lock(mu_);
    if (const auto it = assignments_.find(LabelsView{experiment, bucket});
        it != assignments_.end()) {
      it->second->fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  std::unique_lock lock(mu_);
  auto& slot = assignments_[Labels{std::string(experiment), std::string(bucket)}];
  if (!slot) slot = std::make_unique<std::atomic<std::uint64_t>>(0);
  slot->fetch_add(1, std::memory_order_relaxed);
}

void ServerMetrics::CountEvents(std::string_view outcome, std::uint64_t n) {
  if (n == 0) return;
  {
    std::shared_lock lock(mu_);
    if (const auto it = events_.find(LabelsView{outcome, ""}); it != events_.end()) {
      it->second->fetch_add(n, std::memory_order_relaxed);
      return;
    }
  }
  std::unique_lock lock(mu_);
  auto& slot = events_[Labels{std::string(outcome), ""}];
  if (!slot) slot = std::make_unique<std::atomic<std::uint64_t>>(0);
  slot->fetch_add(n, std::memory_order_relaxed);
}

void ServerMetrics::CountConnectionEvent(std::string_view event) {
  std::unique_lock lock(mu_);
  auto& slot = connection_events_[Labels{std::string(event), ""}];
  if (!slot) slot = std::make_unique<std::atomic<std::uint64_t>>(0);
  slot->fetch_add(1, std::memory_order_relaxed);
}

std::string ServerMetrics::Render() const {
  std::string out;
  out += "# HELP abrec_http_requests_total HTTP requests by route and status.\n";
  out += "# TYPE abrec_http_requests_total counter\n";
  for (std::size_t r = 0; r < routes_.size(); ++r) {
    for (std::size_t i = 0; i <= kStatuses.size(); ++i) {
      const auto n = stats_[r].by_status[i].load(std::memory_order_relaxed);
      if (n == 0) continue;
      const std::string code = i < kStatuses.size() ? std::to_string(kStatuses[i]) : "other";
      out += fmt::format("abrec_http_requests_total{{route=\"{}\",code=\"{}\"}} {}\n",
                         EscapeLabel(routes_[r]), code, n);
    }
  }
  out += "# HELP abrec_http_request_duration_seconds Time to compute a response, by route.\n";
  out += "# TYPE abrec_http_request_duration_seconds histogram\n";
  for (std::size_t r = 0; r < routes_.size(); ++r) {
    const RouteStats& s = stats_[r];
    const std::string route = EscapeLabel(routes_[r]);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += s.latency[i].load(std::memory_order_relaxed);
      out +=
          fmt::format("abrec_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                      route, kBuckets[i], cumulative);
    }
    cumulative += s.latency[kBuckets.size()].load(std::memory_order_relaxed);
    out +=
        fmt::format("abrec_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
                    route, cumulative);
    out += fmt::format("abrec_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", route,
                       static_cast<double>(s.latency_sum_ns.load(std::memory_order_relaxed)) / 1e9);
    out += fmt::format("abrec_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", route,
                       cumulative);
  }
  std::shared_lock lock(mu_);
  out += "# HELP abrec_assignments_total Assignments served, by experiment and bucket.\n";
  out += "# TYPE abrec_assignments_total counter\n";
  for (const auto& [labels, n] : assignments_) {
    out += fmt::format("abrec_assignments_total{{experiment=\"{}\",bucket=\"{}\"}} {}\n",
                       EscapeLabel(labels.a), EscapeLabel(labels.b), n->load());
  }
  out += "# HELP abrec_events_total Events received, by outcome.\n";
  out += "# TYPE abrec_events_total counter\n";
  for (const auto& [labels, n] : events_) {
    out +=
        fmt::format("abrec_events_total{{outcome=\"{}\"}} {}\n", EscapeLabel(labels.a), n->load());
  }
  out += "# HELP abrec_http_connection_events_total Connections cut or refused, by reason.\n";
  out += "# TYPE abrec_http_connection_events_total counter\n";
  for (const auto& [labels, n] : connection_events_) {
    out += fmt::format("abrec_http_connection_events_total{{event=\"{}\"}} {}\n",
                       EscapeLabel(labels.a), n->load());
  }
  return out;
}

}  // namespace abrec
