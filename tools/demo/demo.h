// tools/demo/demo.h — `banshi demo -n N`: the engine's smoke path with synthetic applications.
//
// (Without -n, `banshi demo` runs the live demo: demo/live.h.) The smoke path
// opens the engine service on a SQLite database in its data folder
// (batch.db, a fresh one every run), deploys every shipped workflow, then runs a stream
// of synthetic applications through it with the department simulators
// answering over HTTP on a loopback port, reached through the department
// adapters as in `banshi serve` and the live demo (demo/department_systems.h),
// and simulated staff (who decide tasks within hours) on a simulated clock
// that waits for every department's answer, printing what happens to each
// case — read back from the stored history — and a summary at the end.
#pragma once

#include <cstdint>
#include <string>

namespace banshi::demo {

struct DemoOptions {
  std::string workflows = "workflows";
  std::string data = "var/demo";  // the database goes here; replaced on every run
  int applications = 8;
  uint64_t seed = 2026;
  bool quiet = false;  // summary only
};

// Returns the process exit code (0 when every application reached an end).
int run_demo(const DemoOptions& options);

}  // namespace banshi::demo
