// Helpers for tests of the event store: a temporary database folder, and a synchronous
// Submit.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "experiments/event_store.h"

namespace abrec {

namespace fs = std::filesystem;

struct TempDb {
  TempDb() {
    dir = fs::temp_directory_path() / fmt::format("abrec-store-{}-{}", ::getpid(), counter++);
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDb() { fs::remove_all(dir); }
  std::string Path(const std::string& name = "events.db") const { return (dir / name).string(); }
  static inline int counter = 0;
  fs::path dir;
};

inline Result<std::vector<EventOutcome>> SubmitSync(EventStore& store, std::vector<Event> events) {
  std::promise<Result<std::vector<EventOutcome>>> p;
  auto f = p.get_future();
  auto ok = store.Submit(std::move(events),
                         [&p](Result<std::vector<EventOutcome>> r) { p.set_value(std::move(r)); });
  if (!ok) return std::unexpected(ok.error());
  return f.get();
}

}  // namespace abrec
