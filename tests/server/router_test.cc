#include "server/router.h"

#include <filesystem>
#include <fstream>
#include <future>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "platform/internal/platform_parts.h"
#include "tests/support/service_fixture.h"

namespace abrec {

namespace {

namespace fs = std::filesystem;

// The in-process service (tests/support/service_fixture.h) with one experiment.
class RouterFixture {
 public:
  RouterFixture() {
    auto f = testing::ServiceFixture::Open(
        {.prefix = "abrec-router",
         .experiment_yaml = R"(experiment: exp
surface: portal_home
phase: ab_test
traffic: {coverage: 1.0, split: {control: 0.5, treatment: 0.5}}
variants:
  control: {policy: legacy_rules}
  treatment: {policy: recommender}
metrics: {primary: bind_rate}
)",
         .configure = [](PlatformConfig& c) { c.limits.max_batch_users = 3; }});
    REQUIRE(f.has_value());
    f_ = std::move(*f);
  }

  HttpResponse Get(const std::string& path, const std::string& query = "") {
    return f_->router().Route(HttpRequest{"GET", path, query, "", "", "", "", ""});
  }
  HttpResponse Route(const std::string& method, const std::string& path) {
    return f_->router().Route(HttpRequest{method, path, "", "", "", "", "", ""});
  }
  HttpResponse Call(const std::string& method, const std::string& path, const std::string& auth) {
    return f_->router().Route(HttpRequest{method, path, "", "", "", auth, "", ""});
  }
  std::string AdminToken() const { return f_->AdminToken(); }
  HttpResponse Post(const std::string& path, const std::string& body) {
    return f_->router().Route(HttpRequest{"POST", path, "", body, "application/json", "", "", ""});
  }
  std::atomic<ServiceState>& state() { return f_->state(); }
  Platform& platform() { return f_->platform(); }
  ServerMetrics& metrics() { return f_->metrics(); }

 private:
  std::unique_ptr<testing::ServiceFixture> f_;
};

nlohmann::json Json(const HttpResponse& r) { return nlohmann::json::parse(r.body); }

void CheckError(const HttpResponse& r, int status, const std::string& field) {
  CHECK(r.status == status);
  const auto j = Json(r);
  REQUIRE(j.contains("error"));
  CHECK(j["error"]["field"] == field);
  CHECK(j["error"]["message"].get<std::string>().size() > 0);
  CHECK(j["error"].contains("code"));
}

}  // namespace

TEST_CASE("GET /v1/assign answers with DESIGN.md's wire format") {
  RouterFixture f;
  const auto r = f.Get("/v1/assign", "user_id=user-1&experiment=exp&log=false");
  REQUIRE(r.status == 200);
  const auto j = Json(r);
  for (const char* k : {"user_id", "experiment", "phase", "bucket", "variant", "policy", "hashes",
                        "hash_version"}) {
    CHECK(j.contains(k));
  }
  CHECK(j["hash_version"] == 2);
  CHECK(j["user_id"] == "user-1");
  CHECK(j["phase"] == "ab_test");
  CHECK(j["hashes"]["namespace"].is_null());
  // Cross-check with `abrec hash --seed exp user-1` and `--seed abrec:population user-1`,
  // both computed by the GrowthBook algorithm: 0.3004 and 0.6887.
  CHECK(j["hashes"]["experiment"].get<double>() == doctest::Approx(0.3004));
  CHECK(j["hashes"]["population"].get<double>() == doctest::Approx(0.6887));
  CHECK(j["bucket"] == "control");  // 0.3004 < 0.5
  CHECK(j["variant"] == "control");
  CHECK(j["policy"] == "legacy_rules");
}

TEST_CASE("assignment errors each have their status and field") {
  RouterFixture f;
  CheckError(f.Get("/v1/assign", "experiment=exp"), 400, "user_id");
  CheckError(f.Get("/v1/assign", "user_id=u"), 400, "experiment");
  CheckError(f.Get("/v1/assign", "user_id=u&experiment=nope"), 404, "experiment");
  CheckError(f.Get("/v1/assign", "user_id=%FF&experiment=exp"), 400, "user_id");
  CheckError(f.Get("/v1/assign", "user_id=%F&experiment=exp"), 400, "user_id");
  CheckError(f.Get("/v1/assign", "user_id=u&experiment=exp&log=maybe"), 400, "log");
  CheckError(f.Get("/v1/assign", "user_id=" + std::string(300, 'x') + "&experiment=exp"), 400,
             "user_id");
  CheckError(f.Post("/v1/assign", R"({"experiment": "exp", "user_ids": ["a", 7]})"), 400,
             "user_ids[1]");
  CheckError(f.Post("/v1/assign", R"({"experiment": "exp", "user_ids": ["a","b","c","d"]})"), 413,
             "user_ids");
  CheckError(f.Post("/v1/assign", R"({"experiment": "exp", "user_ids": [], "extra": 1})"), 400,
             "extra");
  CheckError(f.Post("/v1/assign", R"({"user_ids": []})"), 400, "experiment");
  CheckError(f.Post("/v1/assign", "{"), 400, "body");
}

TEST_CASE("POST /v1/assign answers in order, the same as GET") {
  RouterFixture f;
  const auto r =
      f.Post("/v1/assign", R"({"experiment": "exp", "user_ids": ["a", "b", "c"], "log": false})");
  REQUIRE(r.status == 200);
  const auto results = Json(r)["results"];
  REQUIRE(results.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string id(1, static_cast<char>('a' + i));
    auto single = Json(f.Get("/v1/assign", "user_id=" + id + "&experiment=exp&log=false"));
    auto batch = results[i];
    CHECK(batch["request_id"] != single["request_id"]);  // a new request id per assignment
    batch.erase("request_id");
    single.erase("request_id");
    CHECK(batch == single);
  }
}

TEST_CASE("assignments log exposures unless log=false, and events are validated one by one") {
  RouterFixture f;
  const auto logged = Json(f.Get("/v1/assign", "user_id=user-1&experiment=exp"));
  CHECK(logged["logged"] == true);
  const auto quiet = Json(f.Get("/v1/assign", "user_id=user-2&experiment=exp&log=false"));
  CHECK(quiet["logged"] == false);
  auto totals = PlatformParts::events(f.platform())->Totals("exp");
  REQUIRE(totals.has_value());
  CHECK(totals->at("control").users == 1);  // user-1 (hash 0.3004), not user-2

  const auto r = f.Post("/v1/events", R"({"events": [
      {"event_id": "e1", "type": "click", "user_id": "user-1", "product_id": "p1", "position": 2},
      {"event_id": "e2", "type": "bind", "user_id": "user-1", "premium": 1234.56},
      {"event_id": "e3", "type": "bind", "user_id": "user-1", "premium": "12"},
      {"event_id": "e4", "type": "purchase", "user_id": "user-1"},
      {"event_id": "e5", "type": "click", "user_id": "user-1", "timestamp": "1999-01-01T00:00:00Z"},
      {"event_id": "e1", "type": "click", "user_id": "user-1"},
      {"event_id": "e6", "type": "exposure", "user_id": "user-1", "experiment": "exp", "bucket": "treatment"}]})");
  REQUIRE(r.status == 202);
  const auto body = Json(r);
  CHECK(body["accepted"] == 2);
  CHECK(body["duplicates"] == 0);
  REQUIRE(body["rejected"].size() == 5);
  CHECK(body["rejected"][0]["error"]["field"] == "events[2].premium");
  CHECK(body["rejected"][1]["error"]["field"] == "events[3].type");
  CHECK(body["rejected"][2]["error"]["field"] == "events[4].timestamp");
  CHECK(body["rejected"][3]["error"]["code"] == "duplicate_in_batch");
  CHECK(body["rejected"][4]["error"]["field"] == "events[6].bucket");
  totals = PlatformParts::events(f.platform())->Totals("exp");
  CHECK(totals->at("control").clicks == 1);
  CHECK(totals->at("control").binds == 1);
  CHECK(totals->at("control").premium_cents == 123456);
  CHECK(totals->at("control").premium_cents_sq == 123456LL * 123456LL);
  const std::string metrics = f.Get("/metrics").body;
  CHECK(metrics.find("abrec_events_total{outcome=\"accepted\"} 2\n") != std::string::npos);
  CHECK(metrics.find("abrec_events_total{outcome=\"rejected\"} 5\n") != std::string::npos);
  CHECK(metrics.find("abrec_event_queue_depth 0\n") != std::string::npos);
  // user-1's exposure and the two accepted events; one user.
  CHECK(metrics.find("abrec_event_store_events 3\n") != std::string::npos);
  CHECK(metrics.find("abrec_event_store_users 1\n") != std::string::npos);
  CHECK(metrics.find("abrec_event_id_index_bytes ") != std::string::npos);
}

TEST_CASE("the in-process API assigns and logs, answering after the commit") {
  RouterFixture f;
  std::promise<Result<std::pair<AssignOutcome, std::string>>> answer;
  REQUIRE(f.platform()
              .AssignAndLog("user-1", "exp", [&](auto r) { answer.set_value(std::move(r)); })
              .has_value());
  const auto r = answer.get_future().get();
  REQUIRE(r.has_value());
  CHECK(r->first.bucket == "control");
  CHECK(r->second.size() == 32);
  // Committed before the answer: visible to readers at once.
  CHECK(PlatformParts::events(f.platform())->Totals("exp")->at("control").users == 1);
  std::promise<Result<std::vector<Event>>> audit;
  REQUIRE(f.platform()
              .EventsOfRequest(r->second, [&](auto events) { audit.set_value(std::move(events)); })
              .has_value());
  CHECK(audit.get_future().get()->size() == 1);
  CHECK_FALSE(f.platform().AssignAndLog("user-1", "nope", [](auto) {}).has_value());
}

TEST_CASE("covariates are validated one by one and land in the CUPED sums") {
  RouterFixture f;
  REQUIRE(Json(f.Get("/v1/assign", "user_id=user-1&experiment=exp"))["logged"] == true);
  const auto r = f.Post("/v1/covariates", R"({"covariates": [
      {"user_id": "user-1", "premium_before": 250.5, "products_held": 3},
      {"user_id": "user-2", "premium_before": -1, "products_held": 1},
      {"user_id": "user-3", "premium_before": 10, "products_held": 2.5},
      {"user_id": "user-4", "premium_before": 10, "products_held": 2, "age": 40}]})");
  REQUIRE(r.status == 202);
  const auto body = Json(r);
  CHECK(body["accepted"] == 1);
  REQUIRE(body["rejected"].size() == 3);
  CHECK(body["rejected"][0]["error"]["field"] == "covariates[1].premium_before");
  CHECK(body["rejected"][1]["error"]["field"] == "covariates[2].products_held");
  CHECK(body["rejected"][2]["error"]["field"] == "covariates[3].age");
  const auto t = PlatformParts::events(f.platform())->Totals("exp")->at("control");
  CHECK(t.covariate_users == 1);
  CHECK(t.x == 25050);
  CHECK(t.x_sq == 25050LL * 25050LL);
  CHECK(t.z == 3);
  CheckError(f.Post("/v1/covariates", R"({"rows": []})"), 400, "covariates");
}

TEST_CASE("admin endpoints: 401 without the token or with a wrong one, audit and erasure") {
  RouterFixture f;
  const auto assigned = Json(f.Get("/v1/assign", "user_id=user-1&experiment=exp"));
  const std::string rid = assigned["request_id"];
  CheckError(f.Get("/v1/audit/" + rid), 401, "authorization");
  CheckError(f.Call("GET", "/v1/audit/" + rid, "Bearer wrong-token"), 401, "authorization");
  const auto audit = f.Call("GET", "/v1/audit/" + rid, "Bearer " + f.AdminToken());
  REQUIRE(audit.status == 200);
  const auto trail = Json(audit);
  REQUIRE(trail["events"].size() == 1);
  CHECK(trail["events"][0]["bucket"] == "control");
  CHECK(trail["events"][0]["user_id"] == "user-1");
  CheckError(f.Call("GET", "/v1/audit/unknown", "Bearer " + f.AdminToken()), 404, "request_id");

  CheckError(f.Call("DELETE", "/v1/users/user-1", ""), 401, "authorization");
  const auto erased = f.Call("DELETE", "/v1/users/user-1", "Bearer " + f.AdminToken());
  REQUIRE(erased.status == 200);
  CHECK(Json(erased)["events_removed"] == 1);
  CHECK(PlatformParts::events(f.platform())->Totals("exp")->at("control").users == 0);
  CheckError(f.Call("GET", "/v1/audit/" + rid, "Bearer " + f.AdminToken()), 404, "request_id");
}

TEST_CASE("experiments, health, readiness, metrics and unknown routes") {
  RouterFixture f;
  const auto list = Json(f.Get("/v1/experiments"));
  REQUIRE(list["experiments"].size() == 1);
  CHECK(list["experiments"][0]["key"] == "exp");
  const auto one = Json(f.Get("/v1/experiments/exp"));
  CHECK(one["variants"][0]["name"] == "control");
  CHECK(one["traffic"]["split"]["treatment"] == 0.5);
  CheckError(f.Get("/v1/experiments/none"), 404, "experiment");
  CHECK(f.Get("/healthz").status == 200);
  CHECK(Json(f.Get("/readyz"))["status"] == "ready");
  f.state() = ServiceState::kStopping;
  CHECK(f.Get("/readyz").status == 503);
  CheckError(f.Get("/nope"), 404, "path");
  const auto del = f.Route("DELETE", "/v1/assign");
  CHECK(del.status == 405);
  REQUIRE(del.headers.size() == 1);
  CHECK(del.headers[0].second == "GET, POST");
  const std::string metrics = f.Get("/metrics").body;
  CAPTURE(metrics);
  CHECK(metrics.find("abrec_http_requests_total{route=\"/v1/experiments/{key}\",code=\"404\"} 1") !=
        std::string::npos);
}

}  // namespace abrec
