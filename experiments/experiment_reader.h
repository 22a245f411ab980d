// Reads an experiment definition from a positioned tree: the YAML schema of DESIGN.md, or
// the seed document's JSON form (detected by its `experiment_name` key). Validates every
// field and reports all problems at once.
#pragma once

#include <string>
#include <string_view>

#include "base/diagnostic.h"
#include "configtree/config_tree.h"
#include "experiments/experiment.h"

namespace abrec {

// Checks that hold within one file. Cross-file checks (duplicate keys, namespace overlap,
// known surfaces) are the registry's (experiment_set.h).
ParseResult<Experiment> ReadExperiment(const ConfigNode& root, const std::string& file);

// Whether `key` is a valid experiment key: 1 to 64 letters, digits, '_', '-' or '.',
// starting with a letter or digit (so never a path: no '/', never "." or "..").
bool IsExperimentKey(std::string_view key);
// Says what IsExperimentKey requires, for error messages.
inline constexpr std::string_view kExperimentKeyRule =
    "1 to 64 letters, digits, '_', '-' or '.', starting with a letter or digit";

// Parses and reads one file.
ParseResult<Experiment> LoadExperimentFile(const std::string& path, const ParseLimits& limits);

}  // namespace abrec
