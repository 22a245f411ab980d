#include "eventstore/event_id_index.h"

#include <utility>

namespace abrec {

std::uint64_t EventIdIndex::KeyOf(std::string_view event_id) {
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a 64 offset basis
  for (const char c : event_id) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;  // FNV-1a 64 prime
  }
  return h;
}

void EventIdIndex::Insert(std::uint64_t key, std::int64_t seq) {
  const std::uint64_t mixed = Mix(key);
  Insert(tables_[TableOf(mixed)], key, mixed, seq);
}

void EventIdIndex::Insert(Table& t, std::uint64_t key, std::uint64_t mixed, std::int64_t seq) {
  if (t.slots.empty() || (t.size + 1) * 10 > t.slots.size() * 7) Grow(t);
  std::size_t i = mixed & t.mask;
  while (t.slots[i].seq != kEmpty) i = (i + 1) & t.mask;
  t.slots[i] = Slot{key, seq};
  ++t.size;
}

bool EventIdIndex::Erase(std::uint64_t key, std::int64_t seq) {
  const std::uint64_t mixed = Mix(key);
  Table& t = tables_[TableOf(mixed)];
  if (t.slots.empty()) return false;
  std::size_t i = mixed & t.mask;
  for (;; i = (i + 1) & t.mask) {
    if (t.slots[i].seq == kEmpty) return false;
    if (t.slots[i].key == key && t.slots[i].seq == seq) break;
  }
  // Backward-shift deletion: move later entries of the probe run into the hole when their
  // home slot does not lie cyclically in (hole, j].
  std::size_t hole = i;
  for (std::size_t j = (i + 1) & t.mask; t.slots[j].seq != kEmpty; j = (j + 1) & t.mask) {
    const std::size_t home = Mix(t.slots[j].key) & t.mask;
    const bool home_in_between =
        hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!home_in_between) {
      t.slots[hole] = t.slots[j];
      hole = j;
    }
  }
  t.slots[hole] = Slot{};
  --t.size;
  return true;
}

void EventIdIndex::Grow(Table& t) {
  const std::size_t capacity = t.slots.empty() ? 256 : t.slots.size() * 2;
  std::vector<Slot> old = std::exchange(t.slots, std::vector<Slot>(capacity));
  t.mask = t.slots.size() - 1;
  t.size = 0;
  for (const Slot& s : old) {
    if (s.seq != kEmpty) Insert(t, s.key, Mix(s.key), s.seq);
  }
}

std::size_t EventIdIndex::size() const {
  std::size_t n = 0;
  for (const Table& t : tables_) n += t.size;
  return n;
}

std::size_t EventIdIndex::MemoryBytes() const {
  std::size_t n = 0;
  for (const Table& t : tables_) n += t.slots.capacity() * sizeof(Slot);
  return n;
}

}  // namespace abrec
