// The service's Prometheus metrics: requests and latency per route, assignments per
// experiment and bucket. Counters are atomics: recording is lock-free on the hot path
// (a shared lock only to find an assignment counter; an exclusive one the first time a
// bucket is seen).
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace abrec {

class ServerMetrics {
 public:
  // Latency histogram bounds in seconds (Prometheus `le` labels).
  static constexpr std::array<double, 14> kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

  explicit ServerMetrics(std::vector<std::string> routes);

  // route: an index into the routes given at construction.
  void ObserveRequest(std::size_t route, int status, double seconds);
  void CountAssignment(std::string_view experiment, std::string_view bucket);
  // Counts a connection-level event ("timeout", "rejected_connection", ...).
  void CountConnectionEvent(std::string_view event);
  // Events of POST /v1/events (and exposures logged by /v1/assign) by outcome: accepted,
  // duplicate, rejected (validation or conflict), unavailable (queue full, storage error).
  void CountEvents(std::string_view outcome, std::uint64_t n);

  // The Prometheus text exposition format (version 0.0.4).
  std::string Render() const;

 private:
  static constexpr std::array<int, 16> kStatuses = {200, 202, 204, 400, 401, 403, 404, 405,
                                                    408, 409, 413, 415, 422, 431, 500, 503};
  struct RouteStats {
    std::array<std::atomic<std::uint64_t>, kStatuses.size() + 1> by_status{};  // last: other
    std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> latency{};     // last: +Inf
    std::atomic<std::uint64_t> latency_sum_ns{0};
  };
  struct Labels {
    std::string a, b;
  };
  struct LabelsView {
    std::string_view a, b;
  };
  // Ordered by (a, b); transparent, so a lookup by string views allocates nothing.
  struct LabelsLess {
    using is_transparent = void;
    template <typename X, typename Y>
    bool operator()(const X& x, const Y& y) const {
      const std::string_view xa = x.a, ya = y.a;
      return xa != ya ? xa < ya : std::string_view(x.b) < std::string_view(y.b);
    }
  };

  std::vector<std::string> routes_;
  std::unique_ptr<RouteStats[]> stats_;
  mutable std::shared_mutex mu_;
  std::map<Labels, std::unique_ptr<std::atomic<std::uint64_t>>, LabelsLess> assignments_;
  std::map<Labels, std::unique_ptr<std::atomic<std::uint64_t>>, LabelsLess> connection_events_;
  std::map<Labels, std::unique_ptr<std::atomic<std::uint64_t>>, LabelsLess> events_;
};

}  // namespace abrec
