// The batch half of "batch + real time": `abrec precompute` writes each known customer's
// attributes and top candidates, stamped with the model version, to a cache; serving reads
// them for GET /v1/recommend/{user_id}, re-ranks in real time, ignores entries of another
// model version, and computes on the fly when the entry is missing or the cache is down.
// Two stores behind one interface: SQLite (a file of its own, so the event log's writer is
// never involved) and Redis (hiredis), for servers that scale out.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace abrec {

struct CachedCandidates {
  std::string user_id;
  std::string model_version;
  std::string attributes_json;           // the customer's attributes (ProfileToAttributes)
  std::vector<std::string> product_ids;  // best first
};

// The value stored per user (Redis) and its inverse. Decode errors: kInvalidArgument.
std::string EncodeCachedCandidates(const CachedCandidates& entry);
Result<CachedCandidates> DecodeCachedCandidates(std::string_view user_id, std::string_view text);

class CandidateCache {
 public:
  virtual ~CandidateCache() = default;
  // The user's entry, nullopt when there is none. Errors: the cache is down (kUnavailable)
  // or the entry is unreadable; serving treats both as "cache_down".
  // Thread-safe.
  virtual Result<std::optional<CachedCandidates>> Get(std::string_view user_id) = 0;
  // Writes entries (replacing a user's previous one), in batches.
  virtual Result<void> Put(const std::vector<CachedCandidates>& entries) = 0;
  // Erasure: removes the user's entry; returns how many were removed (0 or 1).
  virtual Result<std::int64_t> Erase(std::string_view user_id) = 0;
  virtual std::string_view kind() const = 0;
};

// SQLite: table candidates(user_id PRIMARY KEY, model_version, attributes, products) in
// `path`, WAL mode; `readers` connections for concurrent Gets.
Result<std::unique_ptr<CandidateCache>> OpenSqliteCandidateCache(const std::string& path,
                                                                 int readers = 3);

}  // namespace abrec

namespace abrec {
struct RecommenderConfig;
// The cache recommender.cache names: sqlite (cache_path), redis (redis_address) or none
// (null). Redis need not be up: a cache that cannot be reached answers kUnavailable per
// lookup, and serving computes on the fly.
Result<std::unique_ptr<CandidateCache>> OpenCandidateCache(const RecommenderConfig& config,
                                                           int readers);
}  // namespace abrec
