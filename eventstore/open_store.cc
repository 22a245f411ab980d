#include "eventstore/open_store.h"

#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "eventstore/sqlite/sqlite_aggregate_reader.h"
#include "eventstore/sqlite/sqlite_event_store.h"
#include "eventstore/sqlite/sqlite_schema.h"
#include "sqlitedb/sqlite_db.h"

namespace abrec {

Result<std::unique_ptr<EventStore>> OpenEventStore(EventStoreOptions options, const Clock& clock) {
  auto store = SqliteEventStore::Open(std::move(options), clock);
  if (!store) return std::unexpected(store.error());
  return std::unique_ptr<EventStore>(std::move(*store));
}

Result<std::unique_ptr<AggregateSource>> OpenAggregateReader(const std::string& path) {
  auto db = SqliteDb::Open(path, /*read_only=*/true);
  if (!db) return std::unexpected(db.error());
  if (auto current = RequireCurrentSchema(**db, path); !current) {
    return std::unexpected(current.error());
  }
  return std::make_unique<SqliteAggregateSource>(std::move(*db));
}

Result<void> BackupStore(const std::string& path, const std::string& target) {
  auto db = SqliteDb::Open(path, /*read_only=*/true);
  if (!db) return std::unexpected(db.error());
  if (auto ok = (*db)->BackupTo(target); !ok) return std::unexpected(ok.error());
  auto copy = SqliteDb::Open(target, /*read_only=*/true);
  auto check = copy ? (*copy)->Prepare("PRAGMA integrity_check") : std::unexpected(copy.error());
  if (!check || !check->Step().value_or(false) || check->Text(0) != "ok") {
    return std::unexpected(Error{ErrorCode::kIo,
                                 fmt::format("the copy at {} failed its integrity check", target),
                                 "path"});
  }
  return {};
}

Result<void> ForEachLoggedList(const std::string& path,
                               const std::function<void(const LoggedList&)>& visit) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return std::unexpected(Error::NotFound(fmt::format("no database at {}", path), "path"));
  }
  auto db = SqliteDb::Open(path, /*read_only=*/true);
  if (!db) return std::unexpected(db.error());
  // request -> (clicked, bound) products.
  std::map<std::string, std::pair<std::set<std::string>, std::set<std::string>>> outcomes;
  auto out = (*db)->Prepare(
      "SELECT request_id, product_id, type FROM events WHERE type IN (1, 2) AND request_id <> ''");
  if (!out) return std::unexpected(out.error());
  auto ok = ForEachRow(*out, [&](const SqliteStatement& r) {
    auto& [clicked, bound] = outcomes[r.Text(0)];
    (r.Int(2) == 1 ? clicked : bound).insert(r.Text(1));
  });
  if (!ok) return std::unexpected(ok.error());
  auto exposures = (*db)->Prepare(
      "SELECT request_id, user_id, items, features FROM events WHERE type = 0 AND "
      "request_id <> '' AND n_items > 0 AND features <> '' ORDER BY seq");
  if (!exposures) return std::unexpected(exposures.error());
  LoggedList list;
  return ForEachRow(*exposures, [&](const SqliteStatement& r) {
    list.request_id = r.Text(0);
    list.user_id = r.Text(1);
    list.items_json = r.Text(2);
    list.features_json = r.Text(3);
    const auto it = outcomes.find(list.request_id);
    list.clicked = it == outcomes.end() ? std::set<std::string>{} : it->second.first;
    list.bound = it == outcomes.end() ? std::set<std::string>{} : it->second.second;
    visit(list);
  });
}

}  // namespace abrec
