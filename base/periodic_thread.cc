#include "base/periodic_thread.h"

namespace abrec {

void PeriodicThread::Start(std::chrono::milliseconds interval, std::function<void()> task) {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this, interval, task = std::move(task)] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, interval, [this] { return stop_; })) {
      lock.unlock();
      task();
      lock.lock();
    }
  });
}

void PeriodicThread::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace abrec
