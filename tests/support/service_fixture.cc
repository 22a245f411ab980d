#include "tests/support/service_fixture.h"

#include <unistd.h>

#include <fstream>

namespace abrec::testing {

namespace fs = std::filesystem;

ServiceFixture::ServiceFixture(fs::path root, std::int64_t now_micros)
    : root_(std::move(root)), clock_(now_micros) {}

ServiceFixture::~ServiceFixture() {
  router_.reset();
  authorizer_.reset();
  platform_.reset();
  std::error_code ec;
  fs::remove_all(root_, ec);
}

Result<std::unique_ptr<ServiceFixture>> ServiceFixture::Open(const ServiceFixtureOptions& o) {
  const fs::path root = fs::temp_directory_path() / (o.prefix + "-" + std::to_string(::getpid()));
  std::unique_ptr<ServiceFixture> f(new ServiceFixture(root, o.now_micros));
  std::error_code ec;
  fs::remove_all(root, ec);
  fs::create_directories(root / "experiments", ec);
  if (ec) return std::unexpected(Error{ErrorCode::kIo, root.string() + ": " + ec.message(), "root"});
  std::ofstream(root / "experiments" / "exp.yaml") << o.experiment_yaml;
  PlatformConfig c;
  c.file = (root / "abrec.yaml").string();
  c.surfaces["portal_home"] = {};
  c.experiments.dir = (root / "experiments").string();
  c.experiments.audit_log = (root / "audit.log").string();
  c.experiments.accepted_dir = (root / "accepted").string();
  c.storage.path = (root / "abrec.db").string();
  c.admin.token_file = (root / "admin.token").string();
  c.auth.anonymous_scopes = {"serve", "read"};
  c.recommender.catalog = std::string(ABREC_SOURCE_DIR) + "/config/catalog.yaml";
  c.recommender.ranking = std::string(ABREC_SOURCE_DIR) + "/config/ranking.yaml";
  c.recommender.model_dir = (root / "models").string();
  c.recommender.cache_path = (root / "candidates.db").string();
  if (o.configure) o.configure(c);
  auto platform = Platform::Open(c, f->clock_, {.read_only = false, .random_seed = o.random_seed});
  if (!platform) return std::unexpected(platform.error());
  f->platform_ = std::move(*platform);
  auto token = LoadOrCreateAdminToken(c.admin.token_file);
  if (!token) return std::unexpected(token.error());
  auto authorizer = Authorizer::Make(f->platform_->config().auth, *token, f->keys_, f->sessions_);
  if (!authorizer) return std::unexpected(authorizer.error());
  f->authorizer_.emplace(std::move(*authorizer));
  f->router_ = std::make_unique<Router>(*f->platform_, *f->authorizer_, f->sessions_, false,
                                        f->metrics_, f->state_);
  return f;
}

std::string ServiceFixture::AdminToken() const {
  std::ifstream in(root_ / "admin.token");
  std::string token;
  std::getline(in, token);
  return token;
}

}  // namespace abrec::testing
