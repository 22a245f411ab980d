#include "server/http/body_budget.h"

#include <utility>

namespace abrec {

BodyBudget::Share::Share(Share&& other) noexcept
    : budget_(std::exchange(other.budget_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

BodyBudget::Share& BodyBudget::Share::operator=(Share&& other) noexcept {
  if (this != &other) {
    Release();
    budget_ = std::exchange(other.budget_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

bool BodyBudget::Share::Grow(std::uint64_t bytes) {
  if (budget_ == nullptr) return false;
  auto& used = budget_->used_;
  std::size_t now = used.load(std::memory_order_relaxed);
  do {
    if (bytes > budget_->capacity_ - now) return false;  // now <= capacity: no overflow
  } while (!used.compare_exchange_weak(now, now + static_cast<std::size_t>(bytes),
                                       std::memory_order_relaxed));
  bytes_ += static_cast<std::size_t>(bytes);
  return true;
}

void BodyBudget::Share::Release() {
  if (budget_ != nullptr && bytes_ > 0) {
    budget_->used_.fetch_sub(bytes_, std::memory_order_relaxed);
    bytes_ = 0;
  }
}

}  // namespace abrec
