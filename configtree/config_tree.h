// A positioned tree of a YAML or JSON document (JSON is read as YAML 1.2), the common input
// of every schema in experiments/. Built from yaml-cpp's event stream so that every node
// keeps its line and column, nesting depth is bounded, and anchors, aliases and custom tags
// are refused.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/diagnostic.h"

namespace abrec {

struct ConfigNode {
  enum class Kind { kNull, kScalar, kSequence, kMap };

  Kind kind = Kind::kNull;
  std::string value;    // kScalar: the text as written
  bool quoted = false;  // kScalar: written in quotes (so "0.5" is a string, not a number)
  int line = 1;         // 1-based position of the node's first character
  int column = 1;
  std::vector<ConfigNode> keys;   // kMap: the keys (scalars), in document order
  std::vector<ConfigNode> items;  // kSequence: the items; kMap: the values, parallel to keys

  // The value under `key` in a map, or nullptr (also when this is not a map).
  const ConfigNode* Find(std::string_view key) const;
  bool IsScalar() const { return kind == Kind::kScalar; }
  bool IsMap() const { return kind == Kind::kMap; }
  bool IsSequence() const { return kind == Kind::kSequence; }
  // "a map", "a list", "a string", "null": for messages.
  std::string_view KindName() const;
};

struct ParseLimits {
  // Config files are a few kilobytes; a megabyte leaves room and bounds memory.
  std::size_t max_bytes = 1 << 20;
  // Nesting beyond this is refused; a real experiment file nests four levels.
  int max_depth = 64;
};

// Parses `text` (one YAML or JSON document) read from `file` (used in diagnostics only).
// Fails with a diagnostic naming line and column on syntax errors, size or depth past the
// limits, anchors, aliases, tags, duplicate keys, non-scalar keys and multiple documents.
ParseResult<ConfigNode> ParseConfigText(std::string_view text, const std::string& file,
                                        const ParseLimits& limits);

// `value` as one YAML scalar, written by yaml-cpp's emitter: plain when that reads back as
// the same string, else double-quoted with escapes (so a value holding ": ", "#", a line
// break or a control character stays one scalar). `quote` '"' or '\'' asks for that style
// (for a flow or JSON document, or in place of a quoted token); a value with a control
// character is double-quoted whatever was asked.
std::string YamlScalar(std::string_view value, char quote = 0);

// Reads and parses a file, refusing files over limits.max_bytes before reading them.
ParseResult<ConfigNode> ParseConfigFile(const std::string& path, const ParseLimits& limits);

}  // namespace abrec
