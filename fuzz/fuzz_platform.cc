#include "fuzz/fuzz_platform.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/service_fixture.h"

namespace abrec::fuzz {

FuzzPlatform GetFuzzPlatform() {
  static const std::unique_ptr<testing::ServiceFixture> fixture = [] {
    // The experiment "exp" is the experiment reader's seed, written by make_seeds.py.
    std::ifstream in(std::filesystem::path(ABREC_SOURCE_DIR) /
                     "fuzz/corpus/experiment_reader/seed_minimal.yaml");
    std::stringstream yaml;
    yaml << in.rdbuf();
    auto f = testing::ServiceFixture::Open(
        {.prefix = "abrec-fuzz",
         .experiment_yaml = yaml.str(),
         .now_micros = kFuzzNowMicros,
         .random_seed = 1,
         .configure = [](PlatformConfig& c) {
           // The fuzzer commits many events: durability is not what is tested here.
           c.storage.synchronous = "OFF";
           c.limits.max_batch_users = 100;
           c.events.max_events_per_request = 100;
         }});
    if (!f) {
      std::fprintf(stderr, "fuzz: cannot open the platform: %s\n", f.error().message.c_str());
      std::abort();
    }
    return std::move(*f);
  }();
  return {fixture->platform(), fixture->router()};
}

}  // namespace abrec::fuzz
