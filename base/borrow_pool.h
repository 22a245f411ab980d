// A fixed set of objects that are not thread-safe (XGBoost boosters, SQLite connections,
// Redis connections), each behind its own mutex. Borrow() hands out a free one, or, when all
// are busy, waits for one chosen by the calling thread, so concurrent requests spread over
// the set instead of queueing on one lock.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace abrec {

template <typename T>
class BorrowPool {
 public:
  // A borrowed object: usable while the lease lives.
  class Lease {
   public:
    T& operator*() const { return *object_; }
    T* operator->() const { return object_; }

   private:
    friend class BorrowPool;
    Lease(T* object, std::unique_lock<std::mutex> lock) : object_(object), lock_(std::move(lock)) {}
    T* object_;
    std::unique_lock<std::mutex> lock_;
  };

  void Add(std::unique_ptr<T> object) {
    slots_.push_back(std::make_unique<Slot>());
    slots_.back()->object = std::move(object);
  }
  bool empty() const { return slots_.empty(); }
  std::size_t size() const { return slots_.size(); }
  // Precondition: !empty().
  Lease Borrow() {
    for (const auto& slot : slots_) {
      std::unique_lock<std::mutex> lock(slot->mu, std::try_to_lock);
      if (lock.owns_lock()) return Lease(slot->object.get(), std::move(lock));
    }
    Slot& slot = *slots_[std::hash<std::thread::id>{}(std::this_thread::get_id()) % slots_.size()];
    return Lease(slot.object.get(), std::unique_lock<std::mutex>(slot.mu));
  }

 private:
  struct Slot {
    std::mutex mu;
    std::unique_ptr<T> object;
  };
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace abrec
