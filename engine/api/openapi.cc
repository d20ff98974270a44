// The OpenAPI document, linked into the binary from docs/api/openapi.yaml so
// an installed server serves the spec it was built with.
#include <string_view>

#include "api/api.h"

#ifndef BANSHI_OPENAPI_FILE
#error "BANSHI_OPENAPI_FILE must name docs/api/openapi.yaml"
#endif

__asm__(".section .rodata\n"
        ".balign 16\n"
        "banshi_openapi_begin:\n"
        ".incbin \"" BANSHI_OPENAPI_FILE "\"\n"
        "banshi_openapi_end:\n"
        ".byte 0\n"
        ".previous\n");

extern "C" const char banshi_openapi_begin[];
extern "C" const char banshi_openapi_end[];

namespace banshi::api {

std::string_view Api::openapi_yaml() {
  return std::string_view(banshi_openapi_begin, static_cast<size_t>(banshi_openapi_end - banshi_openapi_begin));
}

}  // namespace banshi::api
