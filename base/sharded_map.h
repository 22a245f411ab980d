// A hash map from std::string keys, split into shards so that growing it never rehashes
// every entry at once.
//
// Why: std::unordered_map rehashes all its nodes when its load passes 1, in one call. For
// the event store's per-user state that call sits on the commit path: at 200,000 users a
// rehash of the two per-user maps held one 16-event transaction for 80-120 ms (measured,
// bench/README.md "The logged-assign stall"), and the pause grows linearly with the users.
// Here each shard (chosen by the top bits of the key's hash) rehashes alone, so the longest
// pause is that of 1/kShards of the entries; the shards reach their thresholds at different
// times, so one transaction rarely meets more than one.
//
// The interface is the part of std::unordered_map the store uses: find, operator[],
// try_emplace, contains, erase, size and iteration (in no particular order). Iterators and
// references stay valid as std::unordered_map's do (a rehash keeps nodes in place). Not
// thread-safe.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <functional>
#include <iterator>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace abrec {

template <typename Value, std::size_t kShards = 256>
class ShardedMap {
  static_assert(kShards > 0 && (kShards & (kShards - 1)) == 0, "kShards: a power of two");
  using Shard = std::unordered_map<std::string, Value>;
  using Shards = std::array<Shard, kShards>;

  template <bool kConst>
  class Iterator {
    using ShardsRef = std::conditional_t<kConst, const Shards, Shards>;
    using Inner = std::conditional_t<kConst, typename Shard::const_iterator,
                                     typename Shard::iterator>;

   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = typename Shard::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = std::conditional_t<kConst, const value_type&, value_type&>;
    using pointer = std::conditional_t<kConst, const value_type*, value_type*>;

    Iterator() = default;
    // A const iterator from a mutable one.
    template <bool kOther, typename = std::enable_if_t<kConst && !kOther>>
    Iterator(const Iterator<kOther>& o) : shards_(o.shards_), shard_(o.shard_), it_(o.it_) {}

    reference operator*() const { return *it_; }
    pointer operator->() const { return &*it_; }
    Iterator& operator++() {
      ++it_;
      SkipEmpty();
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) {
      return a.shard_ == b.shard_ && (a.shard_ == kShards || a.it_ == b.it_);
    }

   private:
    friend class ShardedMap;
    template <bool>
    friend class Iterator;
    Iterator(ShardsRef* shards, std::size_t shard, Inner it)
        : shards_(shards), shard_(shard), it_(it) {}
    // Moves past the ends of shards to the next entry, or to end().
    void SkipEmpty() {
      while (shard_ < kShards && it_ == (*shards_)[shard_].end()) {
        if (++shard_ < kShards) it_ = (*shards_)[shard_].begin();
      }
    }

    ShardsRef* shards_ = nullptr;
    std::size_t shard_ = kShards;  // kShards: end()
    Inner it_{};
  };

 public:
  using key_type = std::string;
  using mapped_type = Value;
  using value_type = typename Shard::value_type;
  using iterator = Iterator<false>;
  using const_iterator = Iterator<true>;

  iterator begin() { return First<iterator>(shards_); }
  iterator end() { return iterator(&shards_, kShards, {}); }
  const_iterator begin() const { return First<const_iterator>(shards_); }
  const_iterator end() const { return const_iterator(&shards_, kShards, {}); }

  iterator find(const std::string& key) {
    const std::size_t s = ShardOf(key);
    auto it = shards_[s].find(key);
    return it == shards_[s].end() ? end() : iterator(&shards_, s, it);
  }
  const_iterator find(const std::string& key) const {
    const std::size_t s = ShardOf(key);
    auto it = shards_[s].find(key);
    return it == shards_[s].end() ? end() : const_iterator(&shards_, s, it);
  }
  bool contains(const std::string& key) const { return shards_[ShardOf(key)].contains(key); }

  Value& operator[](const std::string& key) { return shards_[ShardOf(key)][key]; }
  Value& operator[](std::string&& key) {
    Shard& shard = shards_[ShardOf(key)];
    return shard[std::move(key)];
  }
  template <typename... Args>
  std::pair<iterator, bool> try_emplace(const std::string& key, Args&&... args) {
    const std::size_t s = ShardOf(key);
    auto [it, inserted] = shards_[s].try_emplace(key, std::forward<Args>(args)...);
    return {iterator(&shards_, s, it), inserted};
  }

  std::size_t erase(const std::string& key) { return shards_[ShardOf(key)].erase(key); }
  // Erases the entry `it` points at; other iterators stay valid.
  void erase(iterator it) { shards_[it.shard_].erase(it.it_); }

  // Sums the shards' sizes: kShards additions.
  std::size_t size() const {
    std::size_t n = 0;
    for (const Shard& s : shards_) n += s.size();
    return n;
  }
  bool empty() const { return size() == 0; }

 private:
  // The top bits of the hash: the shards' own tables index by the hash modulo a prime, so
  // the shard choice and the position inside a shard stay independent.
  static std::size_t ShardOf(const std::string& key) {
    constexpr int kBits = std::countr_zero(kShards);
    if constexpr (kBits == 0) {
      return 0;
    } else {
      return std::hash<std::string>{}(key) >> (sizeof(std::size_t) * 8 - kBits);
    }
  }
  template <typename It, typename S>
  static It First(S& shards) {
    It it(&shards, 0, shards[0].begin());
    it.SkipEmpty();
    return it;
  }

  Shards shards_;
};

}  // namespace abrec
