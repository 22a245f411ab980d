#include "configtree/schema_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "base/utf8.h"

namespace abrec {
namespace {

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Quote(std::string_view s) {
  constexpr std::size_t kMax = 60;
  if (s.size() > kMax) return fmt::format("\"{}...\"", s.substr(0, kMax));
  return fmt::format("\"{}\"", s);
}

}  // namespace

std::optional<std::string_view> SuggestName(std::string_view word,
                                            std::span<const std::string_view> candidates) {
  const std::string w = Lower(word);
  std::optional<std::string_view> best;
  std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const std::string_view c : candidates) {
    const std::string lc = Lower(c);
    // A prefix of at least four characters is a likely abbreviation ("legacy" for
    // "legacy_rules").
    if (w.size() >= 4 && lc.starts_with(w)) return c;
    const std::size_t d = EditDistance(w, lc);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::string JoinNames(std::span<const std::string_view> names) {
  std::string out;
  for (const auto n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string JoinField(std::string_view prefix, std::string_view key) {
  if (prefix.empty()) return std::string(key);
  return fmt::format("{}.{}", prefix, key);
}

void SchemaReader::Error(const ConfigNode& at, std::string field, std::string message) {
  diagnostics_.push_back(
      Diagnostic{file_, at.line, at.column, std::move(field), std::move(message)});
}

bool SchemaReader::CheckMap(const ConfigNode& node, std::string_view field,
                            std::span<const std::string_view> allowed) {
  if (!node.IsMap()) {
    Error(node, std::string(field),
          fmt::format("expected a map with keys {}, got {}", JoinNames(allowed), node.KindName()));
    return false;
  }
  for (const ConfigNode& key : node.keys) {
    if (std::find(allowed.begin(), allowed.end(), key.value) != allowed.end()) continue;
    std::string msg =
        fmt::format("unknown key {}; allowed: {}", Quote(key.value), JoinNames(allowed));
    if (const auto s = SuggestName(key.value, allowed))
      msg += fmt::format(" (did you mean \"{}\"?)", *s);
    Error(key, JoinField(field, key.value), std::move(msg));
  }
  return true;
}

void SchemaReader::Missing(const ConfigNode& map, std::string_view field, std::string_view what) {
  Error(map, std::string(field), fmt::format("required: {}", what));
}

std::optional<std::string> SchemaReader::String(const ConfigNode& node, std::string_view field,
                                                bool allow_empty) {
  if (!node.IsScalar()) {
    Error(node, std::string(field), fmt::format("expected a string, got {}", node.KindName()));
    return std::nullopt;
  }
  if (!allow_empty && node.value.empty()) {
    Error(node, std::string(field), "must not be empty");
    return std::nullopt;
  }
  if (const auto bad = FindInvalidUtf8(node.value)) {
    // Escapes such as "\udc00" can decode to bytes that are not UTF-8.
    Error(node, std::string(field),
          fmt::format("is not valid UTF-8 (at byte {} of the value)", *bad));
    return std::nullopt;
  }
  return node.value;
}

std::optional<double> SchemaReader::Number(const ConfigNode& node, std::string_view field,
                                           double min, double max) {
  const std::string range = fmt::format("a number from {} to {}", min, max);
  if (!node.IsScalar() || node.quoted) {
    Error(node, std::string(field),
          fmt::format("expected {}, got {}{}", range, node.KindName(),
                      node.quoted ? " " + Quote(node.value) : ""));
    return std::nullopt;
  }
  double v = 0;
  const char* b = node.value.data();
  const char* e = b + node.value.size();
  if (b != e && *b == '+') ++b;
  const auto res = std::from_chars(b, e, v);
  if (res.ec != std::errc() || res.ptr != e || !std::isfinite(v)) {
    Error(node, std::string(field), fmt::format("expected {}, got {}", range, Quote(node.value)));
    return std::nullopt;
  }
  if (v < min || v > max) {
    Error(node, std::string(field),
          fmt::format("{} is out of range; expected {}", node.value, range));
    return std::nullopt;
  }
  return v;
}

std::optional<std::int64_t> SchemaReader::Integer(const ConfigNode& node, std::string_view field,
                                                  std::int64_t min, std::int64_t max) {
  const std::string range = fmt::format("a whole number from {} to {}", min, max);
  if (!node.IsScalar() || node.quoted) {
    Error(node, std::string(field), fmt::format("expected {}, got {}", range, node.KindName()));
    return std::nullopt;
  }
  std::int64_t v = 0;
  const char* b = node.value.data();
  const char* e = b + node.value.size();
  const auto res = std::from_chars(b, e, v);
  if (res.ec != std::errc() || res.ptr != e) {
    Error(node, std::string(field), fmt::format("expected {}, got {}", range, Quote(node.value)));
    return std::nullopt;
  }
  if (v < min || v > max) {
    Error(node, std::string(field), fmt::format("{} is out of range; expected {}", v, range));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> SchemaReader::Bool(const ConfigNode& node, std::string_view field) {
  if (node.IsScalar() && !node.quoted) {
    if (node.value == "true" || node.value == "True" || node.value == "TRUE") return true;
    if (node.value == "false" || node.value == "False" || node.value == "FALSE") return false;
  }
  Error(node, std::string(field),
        fmt::format("expected true or false, got {}",
                    node.IsScalar() ? Quote(node.value) : std::string(node.KindName())));
  return std::nullopt;
}

std::optional<std::string> SchemaReader::OneOf(const ConfigNode& node, std::string_view field,
                                               std::span<const std::string_view> allowed,
                                               std::string_view what) {
  auto s = String(node, field);
  if (!s) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), *s) != allowed.end()) return s;
  std::string msg =
      fmt::format("{} is not a known {}; allowed: {}", Quote(*s), what, JoinNames(allowed));
  if (const auto sug = SuggestName(*s, allowed))
    msg += fmt::format(" (did you mean \"{}\"?)", *sug);
  Error(node, std::string(field), std::move(msg));
  return std::nullopt;
}

}  // namespace abrec
