// libFuzzer target: the document upload's multipart/form-data reader
// (engine/frontdoor/multipart.h). The first line of the input is the
// Content-Type header, the rest the body. Whatever is accepted must hold
// together: every part's bytes lie inside the body and within the limit,
// names are unique and non-empty. Any crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "frontdoor/multipart.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace banshi::frontdoor;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t eol = input.find('\n');
  std::string_view header = input.substr(0, eol);
  std::string_view body = eol == std::string_view::npos ? std::string_view{} : input.substr(eol + 1);
  auto boundary = multipart_boundary(header);
  if (!boundary.ok()) return 0;
  if (boundary->empty() || boundary->size() > 70) std::abort();
  MultipartLimits limits;
  limits.max_part_bytes = 4096;
  auto parts = parse_multipart(body, *boundary, limits);
  if (!parts.ok()) return 0;
  if (parts->empty() || parts->size() > limits.max_parts) std::abort();
  std::set<std::string> names;
  for (const MultipartPart& p : *parts) {
    if (p.name.empty() || !names.insert(p.name).second) std::abort();
    if (p.body.size() > limits.max_part_bytes) std::abort();
    if (!p.body.empty() && (p.body.data() < body.data() || p.body.data() + p.body.size() > body.data() + body.size())) {
      std::abort();
    }
    if (!p.has_filename && !p.filename.empty()) std::abort();
  }
  return 0;
}
