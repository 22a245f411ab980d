#include "experiments/event_id_index.h"

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

std::size_t EventIdIndex::Home(std::uint64_t key) const {
  // FNV's low bits are weak for similar ids ("e1-2-3", "e1-2-4"): the 64-bit finalizer of
  // MurmurHash3 (fmix64) spreads every input bit over the slot index.
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdull;
  key ^= key >> 33;
  key *= 0xc4ceb9fe1a85ec53ull;
  key ^= key >> 33;
  return static_cast<std::size_t>(key) & mask_;
}

void EventIdIndex::Insert(std::uint64_t key, std::int64_t seq) {
  if (slots_.empty() || (size_ + 1) * 10 > slots_.size() * 7) Grow();
  std::size_t i = Home(key);
  while (slots_[i].seq != kEmpty) i = (i + 1) & mask_;
  slots_[i] = Slot{key, seq};
  ++size_;
}

bool EventIdIndex::Erase(std::uint64_t key, std::int64_t seq) {
  if (slots_.empty()) return false;
  std::size_t i = Home(key);
  for (;; i = (i + 1) & mask_) {
    if (slots_[i].seq == kEmpty) return false;
    if (slots_[i].key == key && slots_[i].seq == seq) break;
  }
  // Backward-shift deletion: move later entries of the probe run into the hole when their
  // home slot does not lie cyclically in (hole, j].
  std::size_t hole = i;
  for (std::size_t j = (i + 1) & mask_; slots_[j].seq != kEmpty; j = (j + 1) & mask_) {
    const std::size_t home = Home(slots_[j].key);
    const bool home_in_between =
        hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!home_in_between) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{};
  --size_;
  return true;
}

void EventIdIndex::Grow() {
  const std::size_t capacity = slots_.empty() ? 1024 : slots_.size() * 2;
  std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(capacity));
  mask_ = slots_.size() - 1;
  size_ = 0;
  for (const Slot& s : old) {
    if (s.seq != kEmpty) Insert(s.key, s.seq);
  }
}

}  // namespace abrec
