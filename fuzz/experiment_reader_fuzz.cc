// Fuzzes what `abrec validate` does with one file, from memory: ParseConfigText (YAML, or
// JSON read as YAML 1.2), then ReadPlatformConfig when the tree looks like a platform config
// and ReadExperiment otherwise (both the YAML schema and the seed document's JSON form).
// Every failure must carry at least one diagnostic.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "configtree/config_tree.h"
#include "experiments/experiment_reader.h"
#include "platform/platform_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace abrec;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string file = "fuzz.yaml";
  auto tree = ParseConfigText(text, file, ParseLimits{});
  if (!tree) {
    if (tree.error().empty()) std::abort();
    return 0;
  }
  if (LooksLikePlatformConfig(*tree)) {
    auto config = ReadPlatformConfig(*tree, file);
    if (!config && config.error().empty()) std::abort();
    return 0;
  }
  auto experiment = ReadExperiment(*tree, file);
  if (!experiment && experiment.error().empty()) std::abort();
  return 0;
}
