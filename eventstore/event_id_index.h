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
// per slot, in 64 tables chosen by the key's top bits, each grown by doubling past 70% load:
// a growth copies 1/64 of the entries, so no transaction waits for the whole index to be
// copied (at 10 M events that copy would move 256 MiB). Not thread-safe: the store's writer
// thread owns it.
#pragma once

#include <array>
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
    const std::uint64_t mixed = Mix(key);
    const Table& t = tables_[TableOf(mixed)];
    if (t.slots.empty()) return false;
    for (std::size_t i = mixed & t.mask;; i = (i + 1) & t.mask) {
      const Slot& s = t.slots[i];
      if (s.seq == kEmpty) return false;
      if (s.key == key && visit(s.seq)) return true;
    }
  }

  std::size_t size() const;
  // Bytes held by the tables (for /metrics and the memory figures in bench/README.md).
  std::size_t MemoryBytes() const;

 private:
  struct Slot {
    std::uint64_t key = 0;
    std::int64_t seq = kEmpty;
  };
  struct Table {
    std::vector<Slot> slots;
    std::size_t mask = 0;
    std::size_t size = 0;
  };
  static constexpr std::int64_t kEmpty = -1;  // sequence numbers start at 1
  static constexpr int kTableBits = 6;        // 64 tables

  // FNV's low bits are weak for similar ids ("e1-2-3", "e1-2-4"): the 64-bit finalizer of
  // MurmurHash3 (fmix64) spreads every input bit; its top bits choose the table, its low
  // bits the home slot.
  static std::uint64_t Mix(std::uint64_t key) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ull;
    key ^= key >> 33;
    return key;
  }
  static std::size_t TableOf(std::uint64_t mixed) {
    return static_cast<std::size_t>(mixed >> (64 - kTableBits));
  }
  static void Insert(Table& t, std::uint64_t key, std::uint64_t mixed, std::int64_t seq);
  static void Grow(Table& t);

  std::array<Table, std::size_t{1} << kTableBits> tables_;
};

}  // namespace abrec
