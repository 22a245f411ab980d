#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include <fmt/format.h>

#include "base/clock.h"

namespace abrec {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarning: return "WARN";
    case LogLevel::kError: return "ERROR";
  }
  return "INFO";
}

// Control characters (CR, LF, ESC, the other C0 codes, DEL) are written escaped (\n, \r,
// \t, \xNN): a value from a request logged in a message (a phase change's reason, an id)
// must not forge a line or drive the terminal of whoever reads the log. Done here, once for
// every message, rather than at each call that formats an argument.
std::string EscapeControlCharacters(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7F) {
      out += ch;  // bytes of UTF-8 sequences (>= 0x80) included
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level = level; }

void LogLine(LogLevel level, std::string_view message) {
  if (level < g_level.load(std::memory_order_relaxed)) return;
  std::string line = fmt::format("{} {} {}\n", FormatRfc3339(SystemClock::Instance().NowMicros()),
                                 LevelName(level), EscapeControlCharacters(message));
  // One write per line so concurrent lines never interleave.
  std::size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace abrec
