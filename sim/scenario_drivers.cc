// The scenario's two ways to the platform (scenario_driver.h).
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "auth/api_keys.h"
#include "base/clock.h"
#include "base/secure_random.h"
#include "platform/lifecycle.h"
#include "platform/platform.h"
#include "platform/platform_config.h"
#include "platform/report_service.h"
#include "sim/http_client.h"
#include "sim/scenario_driver.h"

namespace abrec::sim {
namespace {

using json = nlohmann::ordered_json;

// Waits for a number of callbacks.
class Pending {
 public:
  void Add() {
    std::lock_guard lock(mu_);
    ++n_;
  }
  void Done() {
    std::lock_guard lock(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

Result<PlatformConfig> ReadConfig(const std::string& path) {
  auto loaded = LoadPlatformConfig(path);
  if (!loaded) {
    return std::unexpected(Error::InvalidArgument(loaded.error().front().ToString(), "config"));
  }
  return std::move(*loaded);
}

class InProcess final : public ScenarioDriver {
 public:
  Result<void> Open(const std::string& workspace, const std::string& config, std::int64_t start,
                    std::uint64_t seed) {
    namespace fs = std::filesystem;
    const fs::path ws = workspace;
    std::error_code ec;
    if (fs::exists(ws / "var" / "abrec.db", ec)) {
      return std::unexpected(Error::InvalidArgument(
          fmt::format("{} holds a scenario's database already: choose a new folder", workspace),
          "dir"));
    }
    fs::create_directories(ws / "experiments", ec);
    fs::create_directories(ws / "var" / "models", ec);
    auto c = ReadConfig(config);
    if (!c) return std::unexpected(c.error());
    c->experiments.dir = (ws / "experiments").string();
    c->experiments.reload_interval_ms = 0;
    c->experiments.audit_log = (ws / "var" / "audit.log").string();
    c->experiments.accepted_dir = (ws / "var" / "accepted").string();
    c->storage.path = (ws / "var" / "abrec.db").string();
    c->storage.synchronous = "OFF";  // a simulation: speed over durability
    c->storage.retention_days = 0;
    c->admin.token_file = (ws / "var" / "admin.token").string();
    c->recommender.model_dir = (ws / "var" / "models").string();
    c->recommender.cache = "none";
    c->recommender.poll_interval_ms = 0;
    // Simulated time: the latency fallbacks would make the lists depend on the machine.
    c->recommender.latency_budget_ms = 600'000;
    c->recommender.p99_fallback_ms = 600'000;
    clock_.Set(start);
    auto platform = Platform::Open(std::move(*c), clock_, {.random_seed = seed});
    if (!platform) return std::unexpected(platform.error());
    platform_ = std::move(*platform);
    return {};
  }

  const Catalog& catalog() const override { return *platform_->catalog(); }
  std::string model_dir() const override { return platform_->config().recommender.model_dir; }
  std::string database() const override { return platform_->config().storage.path; }
  Result<void> ReloadModels() override {
    auto reloaded = platform_->ReloadModels("scenario");
    if (!reloaded) return std::unexpected(reloaded.error());
    for (const auto& r : *reloaded) {
      if (r.status == "failed") {
        return std::unexpected(Error{ErrorCode::kIo, r.name + ": " + r.error, "model"});
      }
    }
    return {};
  }

  Result<std::string> PutExperiment(const std::string& key, const std::string& text) override {
    auto r = abrec::PutExperiment(*platform_, key, text, {.actor = "scenario", .reason = ""});
    if (!r) return std::unexpected(r.error().error);
    return std::string(PhaseName(r->experiment->def.phase));
  }

  Result<std::string> ChangePhase(const std::string& key, const std::string& to,
                                  const std::string& reason) override {
    const auto phase = ParsePhase(to);
    if (!phase) return std::unexpected(Error::InvalidArgument("unknown phase " + to, "to"));
    auto r =
        abrec::ChangePhase(*platform_, key, *phase, "", {.actor = "scenario", .reason = reason});
    return r ? std::string() : r.error().error.message;
  }

  Result<std::vector<std::optional<ServedVisit>>> Serve(const std::vector<Visit>& visits) override {
    std::vector<std::optional<ServedVisit>> out(visits.size());
    Pending pending;
    std::mutex mu;
    for (std::size_t i = 0; i < visits.size(); ++i) {
      clock_.Set(visits[i].at_us);
      RecommendRequest req;
      req.user_id = visits[i].user_id;
      req.customer = visits[i].customer;
      req.k = visits[i].k;
      pending.Add();
      auto queued = platform_->RecommendAndLog(std::move(req), [&, i](Result<RecommendOutcome> r) {
        if (r && r->logged && r->assignment) {
          ServedVisit v{r->request_id, r->assignment->experiment->def.key, r->bucket, {}};
          for (const RecommendedItem& it : r->served.list.items) v.products.push_back(it.product);
          std::lock_guard lock(mu);
          out[i] = std::move(v);
        }
        pending.Done();
      });
      if (!queued) {
        pending.Done();
        pending.Wait();
        return std::unexpected(queued.error());
      }
    }
    pending.Wait();
    return out;
  }

  Result<void> Submit(std::vector<Event> events) override {
    constexpr std::size_t kBatch = 10'000;
    Pending pending;
    Result<void> status;
    std::mutex mu;
    for (std::size_t start = 0; start < events.size(); start += kBatch) {
      std::vector<Event> batch(
          events.begin() + static_cast<std::ptrdiff_t>(start),
          events.begin() + static_cast<std::ptrdiff_t>(std::min(events.size(), start + kBatch)));
      pending.Add();
      auto queued =
          platform_->LogEvents(std::move(batch), [&](Result<std::vector<EventOutcome>> r) {
            if (!r) {
              std::lock_guard lock(mu);
              status = std::unexpected(r.error());
            }
            pending.Done();
          });
      if (!queued) {
        pending.Done();
        pending.Wait();
        return queued;
      }
    }
    pending.Wait();
    return status;
  }

  Result<json> Report(const std::string& key) override {
    const auto e = platform_->experiments()->Find(key);
    if (!e) return std::unexpected(Error::NotFound("no experiment " + key, "experiment"));
    return ExperimentReport(*platform_, e->def);
  }

  void SetTime(std::int64_t micros) override { clock_.Set(micros); }
  std::int64_t Now() const override { return clock_.NowMicros(); }
  void Close() override { platform_->Stop(); }

 private:
  ManualClock clock_;
  std::unique_ptr<Platform> platform_;
};

class OverHttp final : public ScenarioDriver {
 public:
  Result<void> Open(const std::string& url, const std::string& config) {
    auto c = ReadConfig(config);
    if (!c) return std::unexpected(c.error());
    config_ = std::move(*c);
    auto catalog = LoadCatalog(config_.recommender.catalog);
    if (!catalog) {
      return std::unexpected(
          Error::InvalidArgument(catalog.error().front().ToString(), "recommender.catalog"));
    }
    catalog_ = std::move(*catalog);
    std::ifstream token(config_.admin.token_file);
    std::getline(token, token_);
    if (token_.empty()) {
      return std::unexpected(
          Error{ErrorCode::kFailedPrecondition,
                fmt::format("no admin token in {} (admin.token_file)", config_.admin.token_file),
                "admin.token_file"});
    }
    auto client = HttpClient::Open(url);
    if (!client) return std::unexpected(client.error());
    client_ = std::move(*client);
    return MakeKey();
  }

  ~OverHttp() override { RevokeKey(); }

  const Catalog& catalog() const override { return catalog_; }
  std::string model_dir() const override { return config_.recommender.model_dir; }
  std::string database() const override { return config_.storage.path; }

  Result<void> ReloadModels() override {
    auto r = Call("POST", "/v1/models/reload", "", "", true);
    return r ? Result<void>{} : std::unexpected(r.error());
  }

  Result<std::string> PutExperiment(const std::string& key, const std::string& text) override {
    auto r = Call("PUT", "/v1/experiments/" + key, text, "application/yaml", true);
    if (!r) return std::unexpected(r.error());
    return (*r)["experiment"]["phase"].get<std::string>();
  }

  Result<std::string> ChangePhase(const std::string& key, const std::string& to,
                                  const std::string& reason) override {
    auto answer = client_->Request("POST", "/v1/experiments/" + key + "/phase",
                                   json{{"phase", to}, {"reason", reason}}.dump(),
                                   "application/json", Admin());
    if (!answer) return std::unexpected(answer.error());
    if (answer->status == 200) return std::string();
    const auto doc = json::parse(answer->body, nullptr, false);
    if (answer->status == 409 || answer->status == 422) {
      return doc.is_object() ? doc["error"]["message"].get<std::string>() : answer->body;
    }
    return std::unexpected(Failure("POST phase", *answer));
  }

  Result<std::vector<std::optional<ServedVisit>>> Serve(const std::vector<Visit>& visits) override {
    std::vector<std::optional<ServedVisit>> out;
    out.reserve(visits.size());
    for (const Visit& v : visits) {
      json body{{"user_id", v.user_id},
                {"attributes", ProfileToAttributes(v.customer, catalog_)},
                {"k", v.k}};
      auto r = Call("POST", "/v1/recommend", body.dump(), "application/json", false);
      if (!r) return std::unexpected(r.error());
      if (!r->value("logged", false) || !(*r)["experiment"].is_string()) {
        out.emplace_back();
        continue;
      }
      ServedVisit s{(*r)["request_id"], (*r)["experiment"], (*r)["bucket"], {}};
      for (const auto& item : (*r)["items"]) {
        if (auto p = catalog_.IndexOf(item["product_id"].get<std::string>()))
          s.products.push_back(*p);
      }
      out.push_back(std::move(s));
    }
    return out;
  }

  Result<void> Submit(std::vector<Event> events) override {
    constexpr std::size_t kBatch = 5'000;
    for (std::size_t start = 0; start < events.size(); start += kBatch) {
      json list = json::array();
      for (std::size_t i = start; i < std::min(events.size(), start + kBatch); ++i) {
        const Event& e = events[i];
        json j{{"event_id", e.event_id},
               {"type", EventTypeName(e.type)},
               {"user_id", e.user_id},
               {"request_id", e.request_id},
               {"product_id", e.product_id}};
        if (e.position) j["position"] = *e.position;
        if (e.type == EventType::kBind) j["premium"] = static_cast<double>(e.premium_cents) / 100;
        list.push_back(std::move(j));
      }
      auto r = Call("POST", "/v1/events", json{{"events", std::move(list)}}.dump(),
                    "application/json", false);
      if (!r) return std::unexpected(r.error());
      if (!(*r)["rejected"].empty()) {
        return std::unexpected(Error{ErrorCode::kInternal,
                                     "the service rejected events: " + (*r)["rejected"].dump(),
                                     "events"});
      }
    }
    return {};
  }

  Result<json> Report(const std::string& key) override {
    return Call("GET", "/v1/experiments/" + key + "/report", "", "", false);
  }

  void SetTime(std::int64_t) override {}
  std::int64_t Now() const override { return SystemClock::Instance().NowMicros(); }
  void Close() override { RevokeKey(); }

 private:
  std::vector<std::pair<std::string, std::string>> Admin() const {
    return {{"Authorization", "Bearer " + token_}};
  }
  std::vector<std::pair<std::string, std::string>> Client() const {
    return {{"Authorization", "Bearer " + key_}};
  }

  // The serving and reading calls need a key of those scopes: one is made for the run in
  // the service's auth.keys_file (the driver runs beside the service, as its operator) and
  // revoked at the end. The service sees a new key within a second: wait for it.
  Result<void> MakeKey() {
    auto made = CreateApiKey(config_.auth.keys_file, "scenario-" + SecureRandomHex(4),
                             ScopeSet(Scope::kServe) |= Scope::kRead, SystemClock::Instance());
    if (!made) return std::unexpected(made.error());
    key_ = made->key;
    key_name_ = made->record.name;
    for (int i = 0; i < 100; ++i) {
      auto answer = client_->Request("GET", "/v1/experiments", "", "", Client());
      if (answer && answer->status == 200) return {};
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return std::unexpected(
        Error{ErrorCode::kUnavailable,
              fmt::format("the service did not accept the key made in {}", config_.auth.keys_file),
              "auth.keys_file"});
  }

  void RevokeKey() {
    if (key_name_.empty()) return;
    (void)RevokeApiKey(config_.auth.keys_file, key_name_, SystemClock::Instance());
    key_name_.clear();
  }

  static Error Failure(std::string_view what, const HttpAnswer& a) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("{} answered {}: {}", what, a.status, a.body.substr(0, 500)), "url"};
  }

  // A request whose answer must be 2xx JSON.
  Result<json> Call(std::string_view method, const std::string& target, const std::string& body,
                    std::string_view type, bool admin) {
    auto answer = client_->Request(method, target, body, type, admin ? Admin() : Client());
    if (!answer) return std::unexpected(answer.error());
    if (answer->status < 200 || answer->status >= 300) {
      return std::unexpected(Failure(fmt::format("{} {}", method, target), *answer));
    }
    auto doc = json::parse(answer->body, nullptr, false);
    if (doc.is_discarded()) return std::unexpected(Failure("not JSON", *answer));
    return doc;
  }

  PlatformConfig config_;
  Catalog catalog_;
  std::string token_;
  std::string key_;       // serve and read, for this run
  std::string key_name_;  // empty once revoked
  std::unique_ptr<HttpClient> client_;
};

}  // namespace

Result<std::unique_ptr<ScenarioDriver>> OpenInProcess(const std::string& workspace,
                                                      const std::string& config,
                                                      std::int64_t start_us, std::uint64_t seed) {
  auto d = std::make_unique<InProcess>();
  if (auto ok = d->Open(workspace, config, start_us, seed); !ok) return std::unexpected(ok.error());
  return std::unique_ptr<ScenarioDriver>(std::move(d));
}

Result<std::unique_ptr<ScenarioDriver>> OpenHttp(const std::string& url,
                                                 const std::string& config) {
  auto d = std::make_unique<OverHttp>();
  if (auto ok = d->Open(url, config); !ok) return std::unexpected(ok.error());
  return std::unique_ptr<ScenarioDriver>(std::move(d));
}

}  // namespace abrec::sim
