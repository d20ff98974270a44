// tools/demo/live.h — `banshi demo`: the whole system running, to be watched.
//
// The live demo is `banshi serve` (REST API, WebSocket events, console) on a
// SQLite database in its data folder, with an accelerated clock, plus what a
// real deployment would have around it:
// - the shipped workflows (and decisions) deployed;
// - the department systems: the simulators (connectors/simulators) served over
//   HTTP on a loopback port, keeping their registry in the data folder, which
//   serve reaches through the HTTP connectors like real systems;
// - users for every department in the pilot counties of 长春 and 辽源,
//   supervisors for the cities and the province, a monitor, a designer and
//   an admin, created on the first run with generated passwords printed once;
// - a generator that submits synthetic applications at a steady pace
//   (made-up names and ID numbers with valid check digits);
// - simulated staff who work every county's tasks except 南关区 (220102),
//   which is left to whoever logs in, so its deadlines slip and escalate
//   while you watch.
// Ctrl-C (or SIGTERM) stops everything cleanly; running it again resumes the
// same data and the simulated date where it stopped; --reset starts over.
#pragma once

#include <cstdint>
#include <string>

namespace banshi::demo {

struct LiveOptions {
  std::string workflows = "workflows";
  std::string data = "var/demo";
  std::string listen = "127.0.0.1:8080";
  std::string console = "console/dist";  // served when the folder exists
  double speed = 1440;       // simulated seconds per real second (1440: a day a minute)
  double interval = 10;      // real seconds between two applications
  double run_for = 0;        // real seconds, then stop as on Ctrl-C; 0: until stopped
  bool reset = false;
  uint64_t seed = 2026;
};

// Runs until SIGINT/SIGTERM (or run_for). Exit codes as `banshi serve`'s:
// 0 clean stop, 1 could not start, 2 bad options.
int run_live_demo(const LiveOptions& options);

}  // namespace banshi::demo
