#include "base/sharded_map.h"

#include <doctest/doctest.h>

#include <map>
#include <random>
#include <string>
#include <unordered_map>

namespace abrec {
namespace {

// The map's whole content, in key order, read through its iterators.
template <typename M>
std::map<std::string, int> Contents(const M& m) {
  std::map<std::string, int> out;
  for (const auto& [k, v] : m) CHECK(out.emplace(k, v).second);  // each key once
  return out;
}

// The oracle: std::unordered_map given the same operations.
TEST_CASE("a sharded map holds what an unordered_map given the same operations holds") {
  ShardedMap<int, 8> m;  // few shards, so that shards are empty, full and shared
  std::unordered_map<std::string, int> oracle;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 20000; ++step) {
    const std::string key = "user-" + std::to_string(rng() % 500);
    switch (rng() % 6) {
      case 0: m[key] += 1; oracle[key] += 1; break;
      case 1: {
        auto [it, inserted] = m.try_emplace(key, step);
        auto [oit, oinserted] = oracle.try_emplace(key, step);
        CHECK(inserted == oinserted);
        CHECK(it->first == key);
        CHECK(it->second == oit->second);
        break;
      }
      case 2: CHECK(m.erase(key) == oracle.erase(key)); break;
      case 3: {
        auto it = m.find(key);
        if (oracle.contains(key)) {
          REQUIRE(it != m.end());
          m.erase(it);
          oracle.erase(key);
        } else {
          CHECK(it == m.end());
        }
        break;
      }
      case 4: CHECK(m.contains(key) == oracle.contains(key)); break;
      default: {
        const auto& cm = m;
        auto it = cm.find(key);
        CHECK((it == cm.end()) == !oracle.contains(key));
        if (it != cm.end()) CHECK(it->second == oracle.at(key));
      }
    }
    if (step % 1000 == 0) {
      CHECK(m.size() == oracle.size());
      CHECK(Contents(m) == std::map<std::string, int>(oracle.begin(), oracle.end()));
    }
  }
  CHECK(m.size() == oracle.size());
  CHECK(m.empty() == oracle.empty());
  CHECK(Contents(m) == std::map<std::string, int>(oracle.begin(), oracle.end()));
}

TEST_CASE("an empty sharded map iterates nothing; one entry is found in any shard") {
  ShardedMap<int> m;
  CHECK(m.begin() == m.end());
  CHECK(m.empty());
  m["only"] = 3;
  int seen = 0;
  for (auto& [k, v] : m) {
    CHECK(k == "only");
    v = 4;
    ++seen;
  }
  CHECK(seen == 1);
  CHECK(m.find("only")->second == 4);
  ShardedMap<int>::const_iterator c = m.find("only");  // mutable to const
  CHECK(c->second == 4);
}

TEST_CASE("keys spread over the shards, so no shard holds most of them") {
  ShardedMap<int, 16> m;
  for (int i = 0; i < 16000; ++i) m["user-" + std::to_string(i)] = i;
  // The shard of a key is the top bits of its hash (4 bits for 16 shards).
  std::map<std::size_t, int> per_hash_top;
  for (const auto& [k, v] : m) ++per_hash_top[std::hash<std::string>{}(k) >> 60];
  CHECK(per_hash_top.size() == 16);
  for (const auto& [shard, n] : per_hash_top) {
    CHECK(n > 700);  // 1000 expected; a binomial sd of about 31
    CHECK(n < 1300);
  }
}

}  // namespace
}  // namespace abrec
