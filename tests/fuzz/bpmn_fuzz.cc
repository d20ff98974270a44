// Feeds arbitrary bytes to the BPMN loader: it must never crash, hang, leak or
// trip a sanitizer, and must report an error rather than accept garbage silently.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/load.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  banshi::model::LoadLimits limits;
  limits.max_bytes = 1u << 20;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  banshi::model::LoadResult result = banshi::model::load_bpmn(bytes, limits);
  // A result with no definitions must explain itself.
  if (!result.definitions && result.diagnostics.empty()) __builtin_trap();
  return 0;
}
