// Opening an event store, and what the command line and training do with a store they do not
// run: a read-only view of its aggregates, an online backup, and the lists /v1/recommend
// served. The backend is chosen here (SQLite at EventStoreOptions::path today), so no other
// module names it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "base/clock.h"
#include "base/error.h"
#include "eventstore/event_store.h"

namespace abrec {

// Opens (creating and migrating) the store and starts its writer. `clock` must outlive it.
// Errors: kIo (cannot open), kFailedPrecondition (a newer schema).
Result<std::unique_ptr<EventStore>> OpenEventStore(EventStoreOptions options, const Clock& clock);

// A read-only view of the aggregates of the store at `path` while a service may be writing
// it: each call reads what is committed then. One connection: not thread-safe. Errors: kIo,
// kFailedPrecondition when its schema is not this build's (an older one: open it once with
// `abrec serve`, which migrates it).
Result<std::unique_ptr<AggregateSource>> OpenAggregateReader(const std::string& path);

// An online copy of the store at `path` (a service may be writing it) into `target`, a new
// file, checked for integrity after the copy. Errors: kIo (also when the copy fails its
// integrity check).
Result<void> BackupStore(const std::string& path, const std::string& target);

// A list /v1/recommend served and logged (an exposure with its request_id, features and
// items), with the products of the list that a click or a bind naming the request named.
struct LoggedList {
  std::string request_id, user_id;
  std::string features_json;  // the exposure's features, as logged
  std::string items_json;     // its items: [{"product_id", "propensity", ...}, ...]
  std::set<std::string> clicked, bound;  // product ids
};

// Every served list of the store at `path` that has items and features, in the order they
// were stored. Errors: kNotFound (no store at path), kIo.
Result<void> ForEachLoggedList(const std::string& path,
                               const std::function<void(const LoggedList&)>& visit);

}  // namespace abrec
