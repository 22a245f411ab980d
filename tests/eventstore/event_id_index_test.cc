#include "eventstore/event_id_index.h"

#include <map>
#include <random>
#include <set>
#include <utility>

#include <doctest/doctest.h>

namespace abrec {

namespace {

std::set<std::int64_t> All(const EventIdIndex& index, std::uint64_t key) {
  std::set<std::int64_t> out;
  index.FindIf(key, [&](std::int64_t seq) {
    out.insert(seq);
    return false;
  });
  return out;
}

}  // namespace

TEST_CASE("the event id index agrees with std::multimap under random inserts and erases") {
  // Oracle: a std::multimap. Keys come from a small range so that equal keys (as hash
  // collisions would) and long probe runs are common, and erasure shifts entries back.
  EventIdIndex index;
  std::multimap<std::uint64_t, std::int64_t> oracle;
  std::mt19937_64 rng(20261129);
  std::int64_t next_seq = 1;
  for (int step = 0; step < 200'000; ++step) {
    const std::uint64_t key = rng() % 5'000;
    if (rng() % 3 != 0 || oracle.empty()) {
      index.Insert(key, next_seq);
      oracle.emplace(key, next_seq);
      ++next_seq;
    } else {
      auto it = oracle.lower_bound(key);
      if (it == oracle.end()) it = oracle.begin();
      CHECK(index.Erase(it->first, it->second));
      CHECK_FALSE(index.Erase(it->first, it->second));
      oracle.erase(it);
    }
  }
  REQUIRE(index.size() == oracle.size());
  for (std::uint64_t key = 0; key < 5'000; ++key) {
    std::set<std::int64_t> expected;
    for (auto [a, b] = oracle.equal_range(key); a != b; ++a) expected.insert(a->second);
    CHECK(All(index, key) == expected);
  }
}

TEST_CASE("the event id index finds ids by hash and stops at the first accepted entry") {
  EventIdIndex index;
  CHECK_FALSE(index.FindIf(1, [](std::int64_t) { return true; }));
  const std::uint64_t a = EventIdIndex::KeyOf("e1-2-3");
  const std::uint64_t b = EventIdIndex::KeyOf("e1-2-4");
  CHECK(a != b);
  // FNV-1a 64 of "a", published test vector (draft-eastlake-fnv): 0xaf63dc4c8601ec8c.
  CHECK(EventIdIndex::KeyOf("a") == 0xaf63dc4c8601ec8cull);
  for (std::int64_t seq = 1; seq <= 100'000; ++seq) index.Insert(seq % 2 ? a : b, seq);
  CHECK(index.size() == 100'000);
  int visited = 0;
  CHECK(index.FindIf(a, [&](std::int64_t seq) {
    ++visited;
    return seq == 99'999;
  }));
  CHECK(visited <= 50'000);
  CHECK(index.MemoryBytes() >= 100'000 * 16);
}

}  // namespace abrec
