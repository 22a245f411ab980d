#include "server/http/metrics.h"

#include <doctest/doctest.h>

namespace abrec {

namespace {
bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}
}  // namespace

TEST_CASE("Prometheus text: request counters, cumulative histograms, assignment counters") {
  ServerMetrics m({"/v1/assign", "/healthz"});
  m.ObserveRequest(0, 200, 0.0002);
  m.ObserveRequest(0, 200, 0.003);
  m.ObserveRequest(0, 400, 2.0);
  m.ObserveRequest(1, 299, 0.00005);
  m.CountAssignment("exp\"1", "treatment");
  m.CountAssignment("exp\"1", "treatment");
  m.CountAssignment("exp\"1", "holdout");
  const std::string t = m.Render();
  CHECK(Has(t, "abrec_http_requests_total{route=\"/v1/assign\",code=\"200\"} 2"));
  CHECK(Has(t, "abrec_http_requests_total{route=\"/v1/assign\",code=\"400\"} 1"));
  CHECK(Has(t, "abrec_http_requests_total{route=\"/healthz\",code=\"other\"} 1"));
  CHECK(Has(t, "abrec_http_request_duration_seconds_bucket{route=\"/v1/assign\",le=\"0.0001\"} 0"));
  CHECK(
      Has(t, "abrec_http_request_duration_seconds_bucket{route=\"/v1/assign\",le=\"0.00025\"} 1"));
  CHECK(Has(t, "abrec_http_request_duration_seconds_bucket{route=\"/v1/assign\",le=\"0.005\"} 2"));
  CHECK(Has(t, "abrec_http_request_duration_seconds_bucket{route=\"/v1/assign\",le=\"2.5\"} 3"));
  CHECK(Has(t, "abrec_http_request_duration_seconds_bucket{route=\"/v1/assign\",le=\"+Inf\"} 3"));
  CHECK(Has(t, "abrec_http_request_duration_seconds_count{route=\"/v1/assign\"} 3"));
  CHECK(Has(t, "abrec_assignments_total{experiment=\"exp\\\"1\",bucket=\"treatment\"} 2"));
  CHECK(Has(t, "abrec_assignments_total{experiment=\"exp\\\"1\",bucket=\"holdout\"} 1"));
  CHECK(Has(t, "# TYPE abrec_http_request_duration_seconds histogram"));
}

}  // namespace abrec
