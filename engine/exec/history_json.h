// exec/history_json.h — the history entry of one instance in one commit.
//
// A JSON array with one object per record, in order:
//   {"k": kind, "key": record key, "el": element or flow id, "scope": scope
//    key, "due": due time, "n": name, "t": text, "p": payload}
// where every member but "k" is left out when it is zero or empty
// (docs/storage.md, history). Written as text: a commit writes one entry per
// instance it touched, and building Boost.JSON objects only to serialise them
// took an eighth of the processing thread. Pure; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/records.h"
#include "core/step.h"

namespace banshi::exec {

std::string history_json(const core::ExecutableProcess& process, const std::vector<core::Record>& records);

}  // namespace banshi::exec
