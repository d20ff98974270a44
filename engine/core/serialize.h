// core/serialize.h — InstanceState to bytes and back.
//
// The engine service stores one blob per process instance and reads it back
// before every step, so the format is compact, deterministic and versioned.
// docs/storage.md describes the byte layout ("Instance state format").
//
// Contract
// - encode() is deterministic: equal states give identical bytes (maps are
//   written in key order, JSON values as canonical compact text). It writes
//   the current format version, InstanceState::kFormatVersion.
// - decode(encode(s)) gives back a state equal to s, field by field, and
//   encode(decode(encode(s))) == encode(s). Two documented exceptions, both
//   because JSON cannot express them: a NaN number in a variable reads back
//   as null, and infinities read back as infinities but through the text
//   "1e99999".
// - decode() treats its input as hostile. Truncation, a wrong magic, an
//   unknown version, lengths or counts larger than the remaining input,
//   overlong or overflowing varints, out-of-range enum codes, keys out of
//   order, invalid JSON, JSON nested more than kMaxJsonDepth levels and
//   trailing bytes all give an Error (code "corrupt-state", or
//   "unsupported-state-version" for a version this build does not know).
//   It allocates at most in proportion to the input's size.
// - decode() reads every version this build has ever written; a new format
//   version adds a decoder, it never changes an old one.
// - encode() throws std::logic_error when a map's key differs from the key
//   stored in its entry: the engine never builds such a state, so that is a
//   bug, and storing it would silently change the state on reload.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "banshi/result.h"
#include "core/state.h"

namespace banshi::core {

// The first four bytes of every encoded state: "BSI" and the format byte,
// which names this binary encoding (a different encoding would use another).
inline constexpr std::string_view kStateMagic{"BSI\x01", 4};

// JSON values nested deeper than this are refused by decode(): the depth
// bounds the parser's stack and the recursion that destroys a value.
inline constexpr std::size_t kMaxJsonDepth = 1000;

std::string encode(const InstanceState& state);
Result<InstanceState> decode(std::string_view bytes);

}  // namespace banshi::core
