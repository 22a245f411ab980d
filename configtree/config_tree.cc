// The only file that calls yaml-cpp: its exceptions are caught here and become diagnostics.
#include "configtree/config_tree.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include <fmt/format.h>
#include <yaml-cpp/emitter.h>
#include <yaml-cpp/emittermanip.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include "base/utf8.h"

namespace abrec {

const ConfigNode* ConfigNode::Find(std::string_view key) const {
  if (kind != Kind::kMap) return nullptr;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].value == key) return &items[i];
  }
  return nullptr;
}

std::string_view ConfigNode::KindName() const {
  switch (kind) {
    case Kind::kNull: return "null";
    case Kind::kScalar: return quoted ? "a string" : "a scalar";
    case Kind::kSequence: return "a list";
    case Kind::kMap: return "a map";
  }
  return "null";
}

namespace {

// Thrown inside the event handler to stop the parse; caught in ParseConfigText.
struct Refusal {
  int line;
  int column;
  std::string message;
  std::string field;  // filled in by ParseConfigText from the builder's position
};

class TreeBuilder final : public YAML::EventHandler {
 public:
  explicit TreeBuilder(int max_depth) : max_depth_(max_depth) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents_++ > 0) Refuse(mark, "only one document per file is allowed");
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    CheckAnchor(mark, anchor);
    Add(Node(ConfigNode::Kind::kNull, mark));
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    Refuse(mark, "YAML aliases (*name) are not allowed; write the value out");
  }
  void OnAnchor(const YAML::Mark& mark, const std::string&) override {
    Refuse(mark, "YAML anchors (&name) are not allowed; write the value out");
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    CheckAnchor(mark, anchor);
    CheckTag(mark, tag);
    if (const auto bad = FindInvalidUtf8(value)) {
      Refuse(mark,
             fmt::format("not valid UTF-8 (at byte {} of the value); files must be UTF-8", *bad));
    }
    ConfigNode n = Node(ConfigNode::Kind::kScalar, mark);
    n.quoted = tag == "!";
    if (!n.quoted && (value == "~" || value == "null" || value == "Null" || value == "NULL")) {
      n.kind = ConfigNode::Kind::kNull;
    } else {
      n.value = value;
    }
    Add(std::move(n));
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(ConfigNode::Kind::kSequence, mark, tag, anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(ConfigNode::Kind::kMap, mark, tag, anchor);
  }
  void OnMapEnd() override { Close(); }

  bool has_root() const { return has_root_; }

  // The dotted path of the node being read ("metrics.guardrails[1]"), for messages.
  std::string CurrentPath() const {
    std::string path;
    for (const Frame& f : stack_) {
      if (f.node.IsSequence()) {
        path += fmt::format("[{}]", f.node.items.size());
      } else if (!f.expect_key && !f.node.keys.empty()) {
        path += (path.empty() ? "" : ".") + f.node.keys.back().value;
      }
    }
    return path;
  }
  ConfigNode TakeRoot() { return std::move(root_); }

 private:
  struct Frame {
    ConfigNode node;
    bool expect_key = true;  // maps alternate key, value
    std::unordered_set<std::string> seen_keys;
  };

  static ConfigNode Node(ConfigNode::Kind kind, const YAML::Mark& mark) {
    ConfigNode n;
    n.kind = kind;
    n.line = mark.line + 1;
    n.column = mark.column + 1;
    return n;
  }

  [[noreturn]] static void Refuse(const YAML::Mark& mark, std::string message) {
    throw Refusal{mark.line + 1, mark.column + 1, std::move(message), {}};
  }
  static void CheckAnchor(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) {
      Refuse(mark, "YAML anchors (&name) are not allowed; write the value out");
    }
  }
  static void CheckTag(const YAML::Mark& mark, const std::string& tag) {
    if (!tag.empty() && tag != "?" && tag != "!") {
      Refuse(mark, fmt::format("YAML tags ({}) are not allowed", tag));
    }
  }

  void Open(ConfigNode::Kind kind, const YAML::Mark& mark, const std::string& tag,
            YAML::anchor_t anchor) {
    CheckAnchor(mark, anchor);
    CheckTag(mark, tag);
    if (static_cast<int>(stack_.size()) >= max_depth_) {
      // The field is the setting whose value nests too deep, without the list indexes.
      std::string field = CurrentPath();
      field.resize(std::min(field.size(), field.find('[')));
      throw Refusal{mark.line + 1, mark.column + 1,
                    fmt::format("nesting deeper than {} levels is not allowed", max_depth_), field};
    }
    if (!stack_.empty() && stack_.back().node.IsMap() && stack_.back().expect_key) {
      Refuse(mark, "map keys must be plain strings, not lists or maps");
    }
    stack_.push_back(Frame{Node(kind, mark), true, {}});
  }

  void Close() {
    ConfigNode done = std::move(stack_.back().node);
    stack_.pop_back();
    Add(std::move(done));
  }

  void Add(ConfigNode n) {
    if (stack_.empty()) {
      root_ = std::move(n);
      has_root_ = true;
      return;
    }
    Frame& top = stack_.back();
    if (top.node.IsSequence()) {
      top.node.items.push_back(std::move(n));
      return;
    }
    if (top.expect_key) {
      if (!n.IsScalar()) {
        throw Refusal{n.line, n.column, "map keys must be plain strings", {}};
      }
      if (!top.seen_keys.insert(n.value).second) {
        const std::string parent = CurrentPath();
        throw Refusal{n.line, n.column, fmt::format("duplicate key \"{}\"", n.value),
                      parent.empty() ? n.value : parent + "." + n.value};
      }
      top.node.keys.push_back(std::move(n));
    } else {
      top.node.items.push_back(std::move(n));
    }
    top.expect_key = !top.expect_key;
  }

  int max_depth_;
  int documents_ = 0;
  std::vector<Frame> stack_;
  ConfigNode root_;
  bool has_root_ = false;
};

Diagnostics One(const std::string& file, int line, int column, std::string message,
                std::string field = {}) {
  return {Diagnostic{file, line, column, std::move(field), std::move(message)}};
}

}  // namespace

ParseResult<ConfigNode> ParseConfigText(std::string_view text, const std::string& file,
                                        const ParseLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return std::unexpected(
        One(file, 1, 1,
            fmt::format("file is {} bytes; the limit is {} bytes", text.size(), limits.max_bytes)));
  }
  if (text.find('\0') != std::string_view::npos) {
    return std::unexpected(One(file, 1, 1, "file contains a NUL byte; expected YAML or JSON text"));
  }
  std::istringstream in{std::string(text)};
  TreeBuilder builder(limits.max_depth);
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const Refusal& r) {
    return std::unexpected(
        One(file, r.line, r.column, r.message, r.field.empty() ? builder.CurrentPath() : r.field));
  } catch (const YAML::Exception& e) {
    // DeepRecursion is a YAML::ParserException: yaml-cpp's own guard (2000 levels).
    return std::unexpected(One(file, e.mark.line + 1, e.mark.column + 1,
                               fmt::format("syntax error: {}", e.msg), builder.CurrentPath()));
  } catch (const std::exception& e) {
    return std::unexpected(One(file, 1, 1, fmt::format("cannot parse: {}", e.what())));
  }
  if (!builder.has_root()) {
    return std::unexpected(One(file, 1, 1, "file is empty; expected a map of settings"));
  }
  return builder.TakeRoot();
}

ParseResult<ConfigNode> ParseConfigFile(const std::string& path, const ParseLimits& limits) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return std::unexpected(One(path, 0, 0, "cannot read file: it does not exist"));
  }
  if (!S_ISREG(st.st_mode)) {
    return std::unexpected(One(path, 0, 0, "not a regular file"));
  }
  if (static_cast<std::size_t>(st.st_size) > limits.max_bytes) {
    return std::unexpected(
        One(path, 1, 1,
            fmt::format("file is {} bytes; the limit is {} bytes", st.st_size, limits.max_bytes)));
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::unexpected(One(path, 0, 0, "cannot open file for reading"));
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return ParseConfigText(text, path, limits);
}

std::string YamlScalar(std::string_view value, char quote) {
  const bool control = std::any_of(value.begin(), value.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
  });
  YAML::Emitter out;
  if (quote == '"' || (quote == '\'' && control)) {
    out << YAML::DoubleQuoted;
  } else if (quote == '\'') {
    out << YAML::SingleQuoted;
  }
  out << std::string(value);
  return out.c_str();
}

}  // namespace abrec
