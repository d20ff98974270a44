// model/validate.h — the rules a process must meet to be deployed.
//
// validate() appends to `out`; it never removes what the reader already
// reported. Structural rules apply to every process; the executable rules
// (what banshi needs to run a process) only to processes marked
// isExecutable="true". Every rule has a code listed in docs/designer-guide.md.
#pragma once

#include <vector>

#include "model/definition.h"
#include "model/diagnostic.h"

namespace banshi::model {

void validate(const Definitions& definitions, std::vector<Diagnostic>& out);

}  // namespace banshi::model
