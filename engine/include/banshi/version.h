// banshi/version.h — the engine's version, as set by the build.
#pragma once

namespace banshi {
#ifdef BANSHI_VERSION
inline constexpr const char* kVersion = BANSHI_VERSION;
#else
inline constexpr const char* kVersion = "0.0.0-unknown";
#endif
}  // namespace banshi
