// Typed reading of a ConfigNode tree against a schema, collecting every problem as a
// Diagnostic that says what is wrong, where, and what is allowed.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/diagnostic.h"
#include "configtree/config_tree.h"

namespace abrec {

// The closest of `candidates` to `word` by edit distance, when close enough to be a typo.
std::optional<std::string_view> SuggestName(std::string_view word,
                                            std::span<const std::string_view> candidates);

// "a, b, c": for messages listing what is allowed.
std::string JoinNames(std::span<const std::string_view> names);

// "prefix.key" (or "key" when prefix is empty).
std::string JoinField(std::string_view prefix, std::string_view key);

// Not thread-safe; one per file being read.
class SchemaReader {
 public:
  explicit SchemaReader(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }
  const Diagnostics& diagnostics() const { return diagnostics_; }
  Diagnostics TakeDiagnostics() { return std::move(diagnostics_); }
  bool ok() const { return diagnostics_.empty(); }

  void Error(const ConfigNode& at, std::string field, std::string message);

  // Requires a map whose keys are all in `allowed`; reports each other key with a
  // suggestion. Returns false (after reporting) when `node` is not a map.
  bool CheckMap(const ConfigNode& node, std::string_view field,
                std::span<const std::string_view> allowed);
  bool CheckMap(const ConfigNode& node, std::string_view field,
                std::initializer_list<std::string_view> allowed) {
    return CheckMap(node, field,
                    std::span<const std::string_view>(allowed.begin(), allowed.size()));
  }

  // Reports "field: required ..." at the map's position.
  void Missing(const ConfigNode& map, std::string_view field, std::string_view what);

  // Each returns std::nullopt after reporting when the node has the wrong type or range.
  std::optional<std::string> String(const ConfigNode& node, std::string_view field,
                                    bool allow_empty = false);
  std::optional<double> Number(const ConfigNode& node, std::string_view field, double min,
                               double max);
  std::optional<std::int64_t> Integer(const ConfigNode& node, std::string_view field,
                                      std::int64_t min, std::int64_t max);
  std::optional<bool> Bool(const ConfigNode& node, std::string_view field);
  // A string that must be one of `allowed`.
  std::optional<std::string> OneOf(const ConfigNode& node, std::string_view field,
                                   std::span<const std::string_view> allowed,
                                   std::string_view what);

 private:
  std::string file_;
  Diagnostics diagnostics_;
};

}  // namespace abrec
