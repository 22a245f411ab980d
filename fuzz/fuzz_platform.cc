#include "fuzz/fuzz_platform.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "base/clock.h"

namespace abrec::fuzz {

namespace {

namespace fs = std::filesystem;

class Fixture {
 public:
  Fixture() {
    root_ = fs::temp_directory_path() / ("abrec-fuzz-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "experiments");
    // The experiment "exp" is the experiment reader's seed, written by make_seeds.py.
    fs::copy_file(fs::path(ABREC_SOURCE_DIR) / "fuzz/corpus/experiment_reader/seed_minimal.yaml",
                  root_ / "experiments" / "exp.yaml");
    PlatformConfig c;
    c.file = (root_ / "abrec.yaml").string();
    c.surfaces["portal_home"] = {};
    c.experiments.dir = (root_ / "experiments").string();
    c.experiments.audit_log = (root_ / "audit.log").string();
    c.experiments.accepted_dir = (root_ / "accepted").string();
    c.storage.path = (root_ / "abrec.db").string();
    // The fuzzer commits many events: durability is not what is tested here.
    c.storage.synchronous = "OFF";
    c.admin.token_file = (root_ / "admin.token").string();
    // Serve and read open, so that inputs reach the handlers; the Authorization header's
    // parsing (Bearer, Basic) is still exercised, and admin routes answer 401.
    c.auth.anonymous_scopes = {"serve", "read"};
    c.limits.max_batch_users = 100;
    c.events.max_events_per_request = 100;
    c.recommender.catalog = std::string(ABREC_SOURCE_DIR) + "/config/catalog.yaml";
    c.recommender.ranking = std::string(ABREC_SOURCE_DIR) + "/config/ranking.yaml";
    c.recommender.model_dir = (root_ / "models").string();
    c.recommender.cache_path = (root_ / "candidates.db").string();
    auto platform = Platform::Open(c, clock_, {.read_only = false, .random_seed = 1});
    if (!platform) {
      std::fprintf(stderr, "fuzz: cannot open the platform: %s\n",
                   platform.error().message.c_str());
      std::abort();
    }
    platform_ = std::move(*platform);
    auto authorizer = [&]() -> Result<Authorizer> {
      auto token = LoadOrCreateAdminToken(c.admin.token_file);
      if (!token) return std::unexpected(token.error());
      return Authorizer::Make(platform_->config().auth, *token, keys_, sessions_);
    }();
    if (!authorizer) {
      std::fprintf(stderr, "fuzz: cannot set up auth: %s\n", authorizer.error().message.c_str());
      std::abort();
    }
    authorizer_.emplace(std::move(*authorizer));
    router_ =
        std::make_unique<Router>(*platform_, *authorizer_, sessions_, false, metrics_, state_);
  }

  ~Fixture() {
    router_.reset();
    platform_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  FuzzPlatform Get() { return {*platform_, *router_}; }

 private:
  fs::path root_;
  ManualClock clock_{kFuzzNowMicros};
  ServerMetrics metrics_{Router::RouteNames()};
  ApiKeys keys_{"", clock_};
  SessionStore sessions_{clock_, 3600, 100};
  std::optional<Authorizer> authorizer_;
  std::atomic<ServiceState> state_{ServiceState::kServing};
  std::unique_ptr<Platform> platform_;
  std::unique_ptr<Router> router_;
};

}  // namespace

FuzzPlatform GetFuzzPlatform() {
  static Fixture fixture;
  return fixture.Get();
}

}  // namespace abrec::fuzz
