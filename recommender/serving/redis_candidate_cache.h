// The Redis store of precomputed candidates (hiredis, synchronous API): one string per user
// under abrec:candidates:{user_id}, holding EncodeCachedCandidates' JSON. Built for the
// request path: a lookup never waits on Redis longer than the timeout, and a Redis that is
// down costs requests nothing but the fallback (see RedisCacheOptions).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"
#include "recommender/serving/candidate_cache.h"

namespace abrec {

struct RedisCacheOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  // Connect and per-command (per socket read/write) timeout of Get and Erase. Small: past
  // it the request is served with candidates computed on the fly.
  std::chrono::milliseconds timeout{5};
  // The per-command timeout of Put, whose pipelined batches are large and written offline
  // (abrec precompute), where waiting is cheaper than failing the batch.
  std::chrono::milliseconds write_timeout{10'000};
  // A connection that failed is reconnected at most this often, and a failed connect marks
  // the whole cache down for as long: a dead Redis costs one connect per interval, not one
  // per request.
  std::chrono::milliseconds reconnect_interval{1'000};
  // Connections for concurrent Get/Erase (one per serving thread, plus one).
  int readers = 3;
};

// The key of a user's entry.
std::string RedisCandidateKey(std::string_view user_id);

// Opens the cache without connecting: connections are made on first use, so a Redis that is
// down at start does not fail the open (lookups then answer kUnavailable until it is up).
// Errors: kInvalidArgument for an empty host or a port outside 1..65535.
//
// The returned cache: Get and Erase are thread-safe; each borrows one of `readers`
// connections and fails with kUnavailable when Redis cannot be reached, times out, or
// answers with an error, and with kInvalidArgument when the stored value is malformed.
// While the cache is marked down, they fail at once without touching the network. Put
// (thread-safe, on a connection of its own) writes the entries in pipelined SETs;
// kUnavailable when Redis fails mid-batch (some entries may then have been written).
Result<std::unique_ptr<CandidateCache>> OpenRedisCandidateCache(const RedisCacheOptions& options);

}  // namespace abrec
