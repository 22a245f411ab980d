#include "eventstore/sqlite/distinct_user_counters.h"

#include <algorithm>
#include <cassert>
#include <map>
#include <optional>

#include <fmt/format.h>

namespace abrec {
namespace {

// Unsigned LEB128 (the DWARF and protobuf varint): 7 bits a byte, low first, high bit set
// on every byte but the last.
void PutVarint(std::string& out, std::uint32_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// nullopt when the bytes end inside a varint or it has more than 32 bits.
std::optional<std::uint32_t> GetVarint(std::string_view in, std::size_t& at) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 35 && at < in.size(); shift += 7) {
    const auto byte = static_cast<std::uint8_t>(in[at++]);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      if (v > UINT32_MAX) return std::nullopt;
      return static_cast<std::uint32_t>(v);
    }
  }
  return std::nullopt;
}

}  // namespace

Result<DistinctUserCounters> DistinctUserCounters::Open(SqliteDb& db) {
  DistinctUserCounters c(db);
  struct {
    SqliteStatement* stmt;
    const char* sql;
  } all[] = {
      {&c.insert_name_, "INSERT INTO counter_names (id, name) VALUES (?1, ?2)"},
      {&c.insert_row_,
       "INSERT INTO user_counted (experiment, bucket, user_id, counted) VALUES (?1, ?2, ?3, ?4)"},
      {&c.delete_row_, "DELETE FROM user_counted WHERE id = ?1"},
  };
  for (auto& [stmt, sql] : all) {
    auto s = db.Prepare(sql);
    if (!s) return std::unexpected(s.error());
    *stmt = std::move(*s);
  }
  if (auto ok = c.Load(); !ok) return std::unexpected(ok.error());
  return c;
}

Result<void> DistinctUserCounters::Load() {
  auto names = db_->Prepare("SELECT id, name FROM counter_names ORDER BY id");
  if (!names) return std::unexpected(names.error());
  names_.assign(1, "");  // ids start at 1
  std::optional<Error> bad;
  auto ok = ForEachRow(*names, [&](const SqliteStatement& r) {
    const std::int64_t id = r.Int(0);
    if (id < 1 || id > INT32_MAX) {
      if (!bad) bad = Error{ErrorCode::kInternal, fmt::format("counter_names has id {}", id), ""};
      return;
    }
    const auto i = static_cast<std::uint32_t>(id);
    names_.resize(std::max<std::size_t>(names_.size(), i + 1));
    names_[i] = r.Text(1);
    name_ids_[names_[i]] = i;
  });
  if (!ok) return ok;
  if (bad) return std::unexpected(*bad);
  auto rows =
      db_->Prepare("SELECT id, experiment, bucket, user_id, counted FROM user_counted ORDER BY id");
  if (!rows) return std::unexpected(rows.error());
  ok = ForEachRow(*rows, [&](const SqliteStatement& r) {
    if (bad) return;
    const std::string bytes = r.Blob(4);
    std::vector<Entry> entries;
    for (std::size_t at = 0; at < bytes.size();) {
      const auto name = GetVarint(bytes, at);
      const auto day = name ? GetVarint(bytes, at) : std::nullopt;
      if (!day || *name >= names_.size() || names_[*name].empty()) {
        bad = Error{ErrorCode::kInternal,
                    fmt::format("user_counted row {} is malformed or names a counter that "
                                "counter_names lacks: restore the database from a backup",
                                r.Int(0)),
                    ""};
        return;
      }
      entries.push_back({*name, static_cast<std::int32_t>(*day)});
    }
    UserSets& u = users_[r.Text(3)];
    u.rows.push_back(r.Int(0));
    const std::uint32_t scope = ScopeOf(r.Text(1), r.Text(2));
    auto set = std::find_if(u.sets.begin(), u.sets.end(),
                            [scope](const Set& x) { return x.scope == scope; });
    if (set == u.sets.end()) set = u.sets.insert(set, Set{scope});
    for (const Entry& e : entries) Insert(*set, e);
  });
  if (!ok) return ok;
  if (bad) return std::unexpected(*bad);
  return {};
}

std::uint32_t DistinctUserCounters::ScopeOf(const std::string& experiment,
                                            const std::string& bucket) {
  // An exposure's counters share one scope, and so do most consecutive exposures.
  if (!scopes_.empty()) {
    const auto& [e, b] = scopes_[last_scope_];
    if (e == experiment && b == bucket) return last_scope_;
  }
  auto [it, inserted] =
      scope_ids_.try_emplace({experiment, bucket}, static_cast<std::uint32_t>(scopes_.size()));
  if (inserted) scopes_.emplace_back(experiment, bucket);
  last_scope_ = it->second;
  return it->second;
}

const DistinctUserCounters::Entry* DistinctUserCounters::Find(const Set& set, std::uint32_t name) {
  const auto at = std::lower_bound(set.entries.begin(), set.entries.end(), name,
                                   [](const Entry& a, std::uint32_t n) { return a.name < n; });
  return at != set.entries.end() && at->name == name ? &*at : nullptr;
}

void DistinctUserCounters::Insert(Set& set, Entry entry) {
  const auto at = std::lower_bound(set.entries.begin(), set.entries.end(), entry.name,
                                   [](const Entry& a, std::uint32_t n) { return a.name < n; });
  if (at != set.entries.end() && at->name == entry.name) return;
  set.entries.insert(at, entry);
}

void DistinctUserCounters::Begin() {
  assert(!in_txn_);
  in_txn_ = true;
  names_at_begin_ = names_.size();
  steps_.clear();
}

void DistinctUserCounters::Commit() {
  in_txn_ = false;
  steps_.clear();
}

void DistinctUserCounters::Rollback() {
  for (auto step = steps_.rbegin(); step != steps_.rend(); ++step) {
    if (step->kind == Step::Kind::kErase) {
      users_[step->user] = std::move(*step->before);
      continue;
    }
    const auto u = users_.find(step->user);
    if (u == users_.end()) continue;
    if (step->kind == Step::Kind::kRow) {
      u->second.rows.pop_back();
    } else {
      auto& sets = u->second.sets;
      const auto set = std::find_if(sets.begin(), sets.end(),
                                    [&](const Set& x) { return x.scope == step->scope; });
      if (set != sets.end()) {
        std::erase_if(set->entries, [&](const Entry& x) { return x.name == step->entry.name; });
        if (set->entries.empty()) sets.erase(set);
      }
    }
    if (u->second.sets.empty() && u->second.rows.empty()) users_.erase(u);
  }
  for (std::size_t id = names_at_begin_; id < names_.size(); ++id) name_ids_.erase(names_[id]);
  names_.resize(names_at_begin_);
  Commit();
}

Result<void> DistinctUserCounters::CountExposure(const Event& e, std::int32_t day,
                                                 std::vector<const std::string*>& first) {
  assert(in_txn_);
  if (std::none_of(e.counters.begin(), e.counters.end(), Distinct)) return {};
  const std::uint32_t scope = ScopeOf(e.experiment, e.bucket);
  auto find_set = [scope](UserSets& u) -> Set* {
    const auto s = std::find_if(u.sets.begin(), u.sets.end(),
                                [scope](const Set& x) { return x.scope == scope; });
    return s == u.sets.end() ? nullptr : &*s;
  };
  // The user is looked up once per exposure; a returning user's exposure rarely counts.
  const auto found = users_.find(e.user_id);
  Set* set = found == users_.end() ? nullptr : find_set(found->second);
  for (const std::string& name : e.counters) {
    if (!Distinct(name)) continue;
    auto id = name_ids_.find(name);
    if (id != name_ids_.end() && set && Find(*set, id->second)) continue;
    if (id == name_ids_.end()) {
      const auto next = static_cast<std::uint32_t>(names_.size());
      if (auto ok = insert_name_.Bind(1, std::int64_t{next}).Bind(2, name).Run(); !ok) return ok;
      names_.push_back(name);
      id = name_ids_.emplace(name, next).first;
    }
    if (!set) {
      UserSets& u = users_[e.user_id];
      set = find_set(u);
      if (!set) set = &u.sets.emplace_back(Set{scope});
    }
    const Entry entry{id->second, day};
    Insert(*set, entry);
    steps_.push_back(Step{Step::Kind::kCount, e.user_id, scope, entry});
    first.push_back(&name);
  }
  return {};
}

Result<std::vector<DistinctUserCounters::Uncount>> DistinctUserCounters::EraseUser(
    const std::string& user) {
  assert(in_txn_);
  const auto u = users_.find(user);
  if (u == users_.end()) return std::vector<Uncount>{};
  std::vector<Uncount> out;
  for (const Set& s : u->second.sets) {
    const auto& [experiment, bucket] = scopes_[s.scope];
    for (const Entry& e : s.entries) out.push_back({experiment, bucket, names_[e.name], e.day});
  }
  for (const std::int64_t row : u->second.rows) {
    if (auto ok = delete_row_.Bind(1, row).Run(); !ok) return std::unexpected(ok.error());
  }
  steps_.push_back(Step{Step::Kind::kErase, user, 0, {}, std::move(u->second)});
  users_.erase(u);
  return out;
}

Result<void> DistinctUserCounters::WriteChanges() {
  // The counts added in this transaction that still stand (an erasure may have taken some
  // back), one row per (user, scope).
  std::map<std::pair<std::string_view, std::uint32_t>, std::vector<Entry>> rows;
  for (const Step& step : steps_) {
    if (step.kind != Step::Kind::kCount) continue;
    const auto u = users_.find(step.user);
    if (u == users_.end()) continue;
    const auto& sets = u->second.sets;
    const auto set =
        std::find_if(sets.begin(), sets.end(), [&](const Set& x) { return x.scope == step.scope; });
    if (set == sets.end() || !Find(*set, step.entry.name)) continue;
    auto& entries = rows[{u->first, step.scope}];
    if (std::none_of(entries.begin(), entries.end(),
                     [&](const Entry& x) { return x.name == step.entry.name; })) {
      entries.push_back(step.entry);
    }
  }
  std::string bytes;
  for (const auto& [key, entries] : rows) {
    const auto& [user, scope] = key;
    bytes.clear();
    for (const Entry& e : entries) {
      PutVarint(bytes, e.name);
      PutVarint(bytes, static_cast<std::uint32_t>(e.day));
    }
    const auto& [experiment, bucket] = scopes_[scope];
    auto ok = insert_row_.BindStatic(1, experiment)
                  .BindStatic(2, bucket)
                  .BindStatic(3, user)
                  .BindBlob(4, bytes)
                  .Run();
    if (!ok) return ok;
    users_.find(std::string(user))->second.rows.push_back(db_->LastInsertRowid());
    steps_.push_back(Step{Step::Kind::kRow, std::string(user)});
  }
  return {};
}

}  // namespace abrec
