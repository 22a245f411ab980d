// The idempotency index of the event store, in memory: a hash multimap from a 64-bit hash of
// an event id to the sequence number of the stored event. A hit is only a candidate: the
// caller reads the row by its sequence number and compares the id itself, so a hash
// collision costs a look-up, never a wrong answer.
//
// Why in memory: a B-tree index on random keys (client event ids) makes every insert dirty
// a random leaf page, and at group-commit sizes each event then writes about 4 KiB to the
// WAL (bench/README.md, "Where the time goes"). Here an insert is a probe into a flat table.
//
// Open addressing with linear probing and backward-shift deletion (no tombstones), 16 bytes
// per slot, grown by doubling past 70% load. Not thread-safe: the store's writer thread owns
// it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace abrec {

class EventIdIndex {
 public:
  // The key of an event id (FNV-1a 64 of its bytes).
  static std::uint64_t KeyOf(std::string_view event_id);

  // Adds an entry; the same key may be added with several sequence numbers.
  void Insert(std::uint64_t key, std::int64_t seq);
  // Removes the entry (key, seq) if present; returns whether it was.
  bool Erase(std::uint64_t key, std::int64_t seq);
  // Calls `visit(seq)` for each entry of `key` until it returns true; returns whether one
  // did.
  template <typename Visit>
  bool FindIf(std::uint64_t key, Visit&& visit) const {
    if (slots_.empty()) return false;
    for (std::size_t i = Home(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.seq == kEmpty) return false;
      if (s.key == key && visit(s.seq)) return true;
    }
  }

  std::size_t size() const { return size_; }
  // Bytes held by the table (for /metrics and the memory figures in bench/README.md).
  std::size_t MemoryBytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    std::uint64_t key = 0;
    std::int64_t seq = kEmpty;
  };
  static constexpr std::int64_t kEmpty = -1;  // sequence numbers start at 1

  std::size_t Home(std::uint64_t key) const;
  void Grow();

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace abrec
