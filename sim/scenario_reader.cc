#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "configtree/schema_reader.h"
#include "sim/scenario.h"

namespace abrec::sim {
namespace {

std::vector<std::string> StringList(SchemaReader& r, const ConfigNode& n,
                                    const std::string& field) {
  std::vector<std::string> out;
  if (n.IsScalar()) {
    if (auto s = r.String(n, field)) out.push_back(*s);
    return out;
  }
  if (!n.IsSequence()) {
    r.Error(n, field, "expected a name or a list of names");
    return out;
  }
  for (std::size_t i = 0; i < n.items.size(); ++i) {
    if (auto s = r.String(n.items[i], fmt::format("{}[{}]", field, i))) out.push_back(*s);
  }
  return out;
}

ScenarioStep ReadStep(SchemaReader& r, const ConfigNode& n, const std::string& field,
                      const std::string& folder, const ParseLimits& limits) {
  ScenarioStep s;
  s.line = n.line;
  if (!n.IsMap() || n.keys.size() != 1) {
    r.Error(n, field, "a step is one of train, experiment, phase, days, check");
    return s;
  }
  const std::string kind = n.keys[0].value;
  const ConfigNode& v = n.items[0];
  const std::string f = field + "." + kind;
  auto text = [&](const char* key, std::string& into, bool required) {
    if (const auto* x = v.Find(key)) {
      if (auto str = r.String(*x, f + "." + key)) into = *str;
    } else if (required) {
      r.Missing(v, f + "." + key, key);
    }
  };
  if (kind == "days") {
    s.kind = ScenarioStep::Kind::kDays;
    s.days = static_cast<int>(r.Integer(v, f, 1, 3650).value_or(1));
  } else if (kind == "train") {
    s.kind = ScenarioStep::Kind::kTrain;
    if (!r.CheckMap(v, f, {"model", "version", "target", "from"})) return s;
    s.model = "hybrid";
    s.target = "balanced";
    text("model", s.model, false);
    text("version", s.version, true);
    text("target", s.target, false);
    if (s.target != "click" && s.target != "bind" && s.target != "balanced") {
      r.Error(v, f + ".target", "expected click, bind or balanced");
    }
    std::string from = "world";
    text("from", from, false);
    if (from != "world" && from != "events") r.Error(v, f + ".from", "expected world or events");
    s.from_events = from == "events";
  } else if (kind == "experiment") {
    s.kind = ScenarioStep::Kind::kExperiment;
    if (!r.CheckMap(v, f, {"file", "text"})) return s;
    std::string file;
    text("file", file, false);
    text("text", s.text, false);
    if (file.empty() == s.text.empty()) r.Error(v, f, "give file or text");
    if (!file.empty()) {
      const auto path = std::filesystem::path(folder) / file;
      std::error_code ec;
      const auto size = std::filesystem::file_size(path, ec);
      std::ifstream in(path, std::ios::binary);
      if (ec || !in || size > limits.max_bytes) {
        r.Error(v, f + ".file",
                fmt::format("cannot read {} (or larger than {} bytes)", path.string(),
                            limits.max_bytes));
      } else {
        s.text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      }
    }
  } else if (kind == "phase") {
    s.kind = ScenarioStep::Kind::kPhase;
    if (!r.CheckMap(v, f, {"experiment", "to", "expect"})) return s;
    text("experiment", s.experiment, true);
    text("to", s.to, true);
    std::string expect = "applied";
    text("expect", expect, false);
    if (expect != "applied" && expect != "refused") {
      r.Error(v, f + ".expect", "expected applied or refused");
    }
    s.expect_refused = expect == "refused";
  } else if (kind == "check") {
    s.kind = ScenarioStep::Kind::kCheck;
    if (!r.CheckMap(v, f, {"experiment", "decision", "covers"})) return s;
    text("experiment", s.experiment, true);
    if (const auto* x = v.Find("decision")) s.decisions = StringList(r, *x, f + ".decision");
    if (const auto* x = v.Find("covers")) s.covers = StringList(r, *x, f + ".covers");
    for (const std::string& m : s.covers) {
      if (m != "bind_rate" && m != "click_rate" && m != "premium_per_user" &&
          m != "revenue_per_user") {
        r.Error(v, f + ".covers",
                fmt::format("\"{}\": the truth is known for bind_rate, click_rate, "
                            "premium_per_user and revenue_per_user",
                            m));
      }
    }
  } else {
    r.Error(n.keys[0], field,
            fmt::format("unknown step \"{}\"; known: train, experiment, phase, days, check", kind));
  }
  return s;
}

}  // namespace

ParseResult<Scenario> LoadScenario(const std::string& path, const ParseLimits& limits) {
  auto tree = ParseConfigFile(path, limits);
  if (!tree) return std::unexpected(std::move(tree.error()));
  SchemaReader r(path);
  Scenario sc;
  sc.file = path;
  const ConfigNode& root = *tree;
  if (!r.CheckMap(root, "",
                  {"scenario", "description", "seed", "customers", "start", "visits_per_day", "k",
                   "steps"})) {
    return std::unexpected(r.TakeDiagnostics());
  }
  if (const auto* v = root.Find("scenario"))
    sc.name = r.String(*v, "scenario").value_or("");
  else
    r.Missing(root, "scenario", "the scenario's name");
  if (const auto* v = root.Find("description"))
    sc.description = r.String(*v, "description").value_or("");
  if (const auto* v = root.Find("seed")) {
    sc.seed = static_cast<std::uint64_t>(r.Integer(*v, "seed", 0, 1LL << 53).value_or(0));
  }
  if (const auto* v = root.Find("customers")) {
    sc.customers = static_cast<int>(r.Integer(*v, "customers", 100, 10'000'000).value_or(0));
  }
  if (const auto* v = root.Find("start")) {
    sc.start = r.String(*v, "start").value_or("");
    if (sc.start.size() != 10 || sc.start[4] != '-' || sc.start[7] != '-') {
      r.Error(*v, "start", "expected a date, YYYY-MM-DD");
    }
  }
  if (const auto* v = root.Find("visits_per_day")) {
    sc.visits_per_day =
        static_cast<int>(r.Integer(*v, "visits_per_day", 1, 10'000'000).value_or(1));
  }
  if (const auto* v = root.Find("k"))
    sc.k = static_cast<int>(r.Integer(*v, "k", 1, 20).value_or(3));
  const std::string folder = std::filesystem::path(path).parent_path().string();
  if (const auto* v = root.Find("steps"); v && v->IsSequence()) {
    for (std::size_t i = 0; i < v->items.size(); ++i) {
      sc.steps.push_back(ReadStep(r, v->items[i], fmt::format("steps[{}]", i), folder, limits));
    }
  } else {
    r.Missing(root, "steps", "the list of steps");
  }
  if (!r.ok()) return std::unexpected(r.TakeDiagnostics());
  return sc;
}

}  // namespace abrec::sim
