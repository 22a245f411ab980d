// A thread that runs a task every `interval` until stopped: the file watchers of the
// experiment and model registries. Stop() wakes it at once (no wait for the interval) and
// joins; the destructor stops it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace abrec {

class PeriodicThread {
 public:
  PeriodicThread() = default;
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;
  ~PeriodicThread() { Stop(); }

  // Starts the thread unless it runs already; `task` runs after each interval.
  void Start(std::chrono::milliseconds interval, std::function<void()> task);
  void Stop();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace abrec
