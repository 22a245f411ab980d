// One budget for the bytes of request bodies in flight across all connections, so that many
// connections announcing large bodies cannot together exhaust memory (each body alone is
// already bounded by limits.max_body_bytes).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace abrec {

class BodyBudget {
 public:
  // The part of the budget one request holds; given back when released or destroyed (RAII).
  // Used by one connection at a time (on its strand); movable, not copyable.
  class Share {
   public:
    Share() = default;
    Share(Share&& other) noexcept;
    Share& operator=(Share&& other) noexcept;
    Share(const Share&) = delete;
    Share& operator=(const Share&) = delete;
    ~Share() { Release(); }

    // Takes `bytes` more if the budget has room for them; otherwise takes nothing and
    // returns false.
    [[nodiscard]] bool Grow(std::uint64_t bytes);
    // Gives everything held back.
    void Release();
    std::size_t bytes() const { return bytes_; }

   private:
    friend class BodyBudget;
    explicit Share(BodyBudget* budget) : budget_(budget) {}
    BodyBudget* budget_ = nullptr;
    std::size_t bytes_ = 0;
  };

  explicit BodyBudget(std::size_t capacity) : capacity_(capacity) {}
  BodyBudget(const BodyBudget&) = delete;
  BodyBudget& operator=(const BodyBudget&) = delete;

  // An empty share of this budget, which must outlive it. Thread-safe.
  Share Open() { return Share(this); }
  std::size_t capacity() const { return capacity_; }
  std::size_t in_use() const { return used_.load(std::memory_order_relaxed); }

 private:
  const std::size_t capacity_;
  std::atomic<std::size_t> used_{0};
};

}  // namespace abrec
