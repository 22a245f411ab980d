#include "recommender/serving/candidate_cache.h"

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/borrow_pool.h"
#include "recommender/serving/recommender_config.h"
#include "sqlitedb/sqlite_db.h"
#include "recommender/serving/redis_candidate_cache.h"

namespace abrec {

std::string EncodeCachedCandidates(const CachedCandidates& e) {
  return nlohmann::json{{"model_version", e.model_version},
                        {"attributes", nlohmann::json::parse(e.attributes_json, nullptr, false)},
                        {"candidates", e.product_ids}}
      .dump();
}

Result<CachedCandidates> DecodeCachedCandidates(std::string_view user_id, std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  auto bad = [&user_id](std::string_view what) {
    return std::unexpected(Error::InvalidArgument(
        fmt::format("the cached entry of {} is malformed: {}", user_id, what), "cache"));
  };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  CachedCandidates e;
  e.user_id = std::string(user_id);
  const auto v = j.find("model_version");
  const auto a = j.find("attributes");
  const auto c = j.find("candidates");
  if (v == j.end() || !v->is_string()) return bad("model_version");
  if (a == j.end() || !a->is_object()) return bad("attributes");
  if (c == j.end() || !c->is_array()) return bad("candidates");
  e.model_version = v->get<std::string>();
  e.attributes_json = a->dump();
  for (const auto& id : *c) {
    if (!id.is_string()) return bad("candidates");
    e.product_ids.push_back(id.get<std::string>());
  }
  return e;
}

namespace {

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
  return out;
}

std::vector<std::string> SplitIds(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

class SqliteCandidateCache final : public CandidateCache {
 public:
  struct Reader {
    std::unique_ptr<SqliteDb> db;
    SqliteStatement get;
  };

  static Result<std::unique_ptr<CandidateCache>> Open(const std::string& path, int readers) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    auto writer = SqliteDb::Open(path);
    if (!writer) return std::unexpected(writer.error());
    for (const char* sql :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=2000",
          "CREATE TABLE IF NOT EXISTS candidates (user_id TEXT PRIMARY KEY, model_version TEXT "
          "NOT NULL, attributes TEXT NOT NULL, products TEXT NOT NULL) WITHOUT ROWID"}) {
      if (auto ok = (*writer)->Exec(sql); !ok) return std::unexpected(ok.error());
    }
    std::unique_ptr<SqliteCandidateCache> cache(new SqliteCandidateCache);
    cache->writer_ = std::move(*writer);
    for (int i = 0; i < std::max(1, readers); ++i) {
      auto db = SqliteDb::Open(path, /*read_only=*/true);
      if (!db) return std::unexpected(db.error());
      if (auto ok = (*db)->Exec("PRAGMA busy_timeout=2000"); !ok)
        return std::unexpected(ok.error());
      auto get = (*db)->Prepare(
          "SELECT model_version, attributes, products FROM candidates WHERE user_id = ?1");
      if (!get) return std::unexpected(get.error());
      auto r = std::make_unique<Reader>();
      r->db = std::move(*db);
      r->get = std::move(*get);
      cache->readers_.Add(std::move(r));
    }
    return std::unique_ptr<CandidateCache>(std::move(cache));
  }

  Result<std::optional<CachedCandidates>> Get(std::string_view user_id) override {
    auto r = readers_.Borrow();
    r->get.Bind(1, user_id);
    auto row = r->get.Step();
    if (!row) {
      r->get.Reset();
      return std::unexpected(Error{ErrorCode::kUnavailable, row.error().message, "cache"});
    }
    if (!*row) {
      r->get.Reset();
      return std::optional<CachedCandidates>();
    }
    CachedCandidates e{std::string(user_id), r->get.Text(0), r->get.Text(1),
                       SplitIds(r->get.Text(2))};
    r->get.Reset();
    return std::optional<CachedCandidates>(std::move(e));
  }

  Result<void> Put(const std::vector<CachedCandidates>& entries) override {
    std::lock_guard lock(writer_mu_);
    if (auto ok = writer_->Exec("BEGIN IMMEDIATE"); !ok) return ok;
    auto put = writer_->Prepare(
        "INSERT OR REPLACE INTO candidates (user_id, model_version, attributes, products) "
        "VALUES (?1, ?2, ?3, ?4)");
    if (!put) {
      (void)writer_->Exec("ROLLBACK");
      return std::unexpected(put.error());
    }
    for (const CachedCandidates& e : entries) {
      put->Bind(1, e.user_id).Bind(2, e.model_version).Bind(3, e.attributes_json);
      put->Bind(4, JoinIds(e.product_ids));
      if (auto ok = put->Run(); !ok) {
        (void)writer_->Exec("ROLLBACK");
        return ok;
      }
    }
    return writer_->Exec("COMMIT");
  }

  Result<std::int64_t> Erase(std::string_view user_id) override {
    std::lock_guard lock(writer_mu_);
    auto del = writer_->Prepare("DELETE FROM candidates WHERE user_id = ?1");
    if (!del) return std::unexpected(del.error());
    del->Bind(1, user_id);
    if (auto ok = del->Run(); !ok) return std::unexpected(ok.error());
    return writer_->Changes();
  }

  std::string_view kind() const override { return "sqlite"; }

 private:
  std::mutex writer_mu_;
  std::unique_ptr<SqliteDb> writer_;
  BorrowPool<Reader> readers_;
};

}  // namespace

Result<std::unique_ptr<CandidateCache>> OpenSqliteCandidateCache(const std::string& path,
                                                                 int readers) {
  return SqliteCandidateCache::Open(path, readers);
}

}  // namespace abrec

namespace abrec {

Result<std::unique_ptr<CandidateCache>> OpenCandidateCache(const RecommenderConfig& config,
                                                           int readers) {
  if (config.cache == "sqlite") return OpenSqliteCandidateCache(config.cache_path, readers);
  if (config.cache == "redis") {
    // HOST:PORT, checked when the configuration was loaded.
    const auto colon = config.redis_address.rfind(':');
    RedisCacheOptions options;
    options.host = config.redis_address.substr(0, colon);
    options.port =
        colon == std::string::npos ? 0 : std::atoi(config.redis_address.c_str() + colon + 1);
    options.timeout = std::chrono::milliseconds(config.redis_timeout_ms);
    options.readers = readers;
    return OpenRedisCandidateCache(options);
  }
  return std::unique_ptr<CandidateCache>();
}

}  // namespace abrec
