// Feeds arbitrary bytes to the DMN loader and evaluates every decision of
// whatever loads against a fixed set of inputs: nothing may crash, hang, leak
// or trip a sanitizer, and a document that does not load must say why.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/json.hpp>

#include "dmn/evaluate.h"
#include "dmn/model.h"

namespace {

const boost::json::object& inputs() {
  static const boost::json::object vars = boost::json::parse(R"({
    "Age": 17, "age": 70, "level": "一级", "category": "肢体", "income": 1234.5,
    "lowIncome": true, "Applicant": {"level": "二级", "region": "220102"},
    "items": [1, 2, 3], "date": "2026-02-13", "nothing": null
  })").as_object();
  return vars;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  banshi::dmn::LoadOptions options;
  options.limits.max_bytes = 1u << 20;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  banshi::dmn::LoadResult result = banshi::dmn::load_dmn(bytes, options);
  if (!result.definitions) {
    if (result.diagnostics.empty()) __builtin_trap();
    return 0;
  }
  if (!result.ok()) return 0;
  banshi::expr::JsonVariables vars(inputs());
  for (const auto& decision : result.definitions->decisions) {
    (void)banshi::dmn::evaluate(*result.definitions, decision.id, vars);
  }
  return 0;
}
