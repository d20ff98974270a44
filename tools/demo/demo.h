// tools/demo/demo.h — `banshi demo`: the engine's smoke path with synthetic applications.
//
// Until the engine service and server exist, the demo deploys every shipped
// workflow, then runs a stream of synthetic applications through the state
// machine with simulated department systems (connectors answer after a short
// delay) and simulated staff (tasks are decided within hours), on a simulated
// clock, printing what happens to each case and a summary at the end.
#pragma once

#include <cstdint>
#include <string>

namespace banshi::demo {

struct DemoOptions {
  std::string workflows = "workflows";
  int applications = 8;
  uint64_t seed = 2026;
  bool quiet = false;  // summary only
};

// Returns the process exit code (0 when every application reached an end).
int run_demo(const DemoOptions& options);

}  // namespace banshi::demo
