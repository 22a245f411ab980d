#include "experiments/experiment_edit.h"

#include <fmt/format.h>

namespace abrec {
namespace {

// The byte offset of a 1-based line and column (yaml-cpp counts columns in bytes), or npos
// when the text is shorter.
std::size_t OffsetOf(std::string_view text, int line, int column) {
  std::size_t at = 0;
  for (int l = 1; l < line; ++l) {
    at = text.find('\n', at);
    if (at == std::string_view::npos) return at;
    ++at;
  }
  at += static_cast<std::size_t>(column - 1);
  return at <= text.size() ? at : std::string_view::npos;
}

// The length of the scalar token starting at `at`: a quoted string with its quotes, or a
// plain scalar up to a space, comment, comma or closing bracket.
std::size_t TokenLength(std::string_view text, std::size_t at) {
  const char q = text[at];
  if (q == '"' || q == '\'') {
    for (std::size_t i = at + 1; i < text.size(); ++i) {
      if (q == '"' && text[i] == '\\') {
        ++i;
      } else if (text[i] == q) {
        if (q == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
          ++i;  // '' is a quote inside a single-quoted scalar
        } else {
          return i + 1 - at;
        }
      }
    }
    return text.size() - at;
  }
  std::size_t end = at;
  while (end < text.size() &&
         std::string_view(" \t\r\n,}]#").find(text[end]) == std::string_view::npos) {
    ++end;
  }
  return end - at;
}

}  // namespace

ParseResult<std::string> SetTopLevelScalar(std::string_view text, const std::string& file,
                                           std::string_view key, std::string_view value,
                                           const ParseLimits& limits) {
  auto tree = ParseConfigText(text, file, limits);
  if (!tree) return std::unexpected(std::move(tree.error()));
  const ConfigNode& root = *tree;
  auto fail = [&](const ConfigNode& at, std::string message) -> ParseResult<std::string> {
    return std::unexpected(
        Diagnostics{{file, at.line, at.column, std::string(key), std::move(message)}});
  };
  if (!root.IsMap() || root.keys.empty())
    return fail(root, "the document is not a map of settings");
  std::string out(text);
  for (std::size_t i = 0; i < root.keys.size(); ++i) {
    if (root.keys[i].value != key) continue;
    const ConfigNode& v = root.items[i];
    if (!v.IsScalar()) {
      return fail(v, fmt::format("holds {}, not a value; edit the file by hand", v.KindName()));
    }
    const std::size_t at = OffsetOf(text, v.line, v.column);
    if (at == std::string_view::npos || at >= text.size()) {
      return fail(v, "cannot locate the value in the text");
    }
    const std::size_t length = TokenLength(text, at);
    const bool quoted = text[at] == '"' || text[at] == '\'';
    // The token found must be the value the parser read, or the edit would hit elsewhere.
    const std::string_view token = text.substr(at, length);
    if ((quoted ? token.substr(1, token.size() >= 2 ? token.size() - 2 : 0) : token) != v.value) {
      return fail(v, "cannot locate the value in the text; edit the file by hand");
    }
    out.replace(at, length, YamlScalar(value, quoted ? text[at] : '\0'));
    return out;
  }
  const std::size_t root_at = OffsetOf(text, root.line, root.column);
  if (root_at != std::string_view::npos && root_at < text.size() && text[root_at] == '{') {
    out.insert(root_at + 1, fmt::format("\"{}\": {}, ", key, YamlScalar(value, '"')));
    return out;
  }
  if (root.keys.size() < 2) {
    out += fmt::format("{}{}: {}\n", out.empty() || out.back() == '\n' ? "" : "\n", key,
                       YamlScalar(value));
    return out;
  }
  const ConfigNode& next = root.keys[1];
  const std::size_t line_start = OffsetOf(text, next.line, 1);
  if (line_start == std::string_view::npos) return fail(next, "cannot locate the key in the text");
  out.insert(line_start,
             fmt::format("{}{}: {}\n", std::string(static_cast<std::size_t>(next.column - 1), ' '),
                         key, YamlScalar(value)));
  return out;
}

}  // namespace abrec
