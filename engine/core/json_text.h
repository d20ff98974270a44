// core/json_text.h — JSON text written straight into a buffer, for the hot
// paths that would otherwise build Boost.JSON values only to serialise them
// (the history entry of every commit, a page of tasks). Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace banshi::core {

// Appends `s` as a JSON string: quoted; ", \ and control characters escaped
// as Boost.JSON escapes them; a byte that is not part of well-formed UTF-8
// (RFC 3629) written as U+FFFD, so the text always parses.
void append_json_string(std::string& out, std::string_view s);

}  // namespace banshi::core
