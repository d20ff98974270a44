// Feeds arbitrary text to the scenario-file reader and runner: a malformed
// scenario must become failures with line numbers, never a crash, a hang or
// a sanitizer report.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "scenario/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (64u << 10)) return 0;
  static const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("banshi-fuzz-" + std::to_string(getpid()) + ".scenario");
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  banshi::scenario::Runner runner;
  banshi::scenario::ScenarioResult result = runner.run(file);
  (void)result;
  return 0;
}
