// tools/scenario — scenario tests as data, for designers and for the test suite.
//
// A scenario file is a list of lines: commands that drive process instances
// (deploy, start, complete a job or task, publish a message, advance the
// clock, restart) and expectations about what happened (active elements, the
// path taken, the exact events of the last command, variables, incidents, the
// end state). docs/scenarios.md describes the format. run_scenario() plays
// the part of the engine service with the pure state machine: it keeps the
// instances, acts on their effects (child instances, messages, signals,
// timers) and checks each expectation.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace banshi::scenario {

// What a set of scenarios exercised of one process.
struct ProcessCoverage {
  std::string process_id;
  std::string file;
  std::vector<std::string> elements;  // every flow node id, in model order
  std::vector<std::string> flows;     // every sequence flow id
  std::set<std::string> elements_reached;
  std::set<std::string> flows_taken;
};

struct ScenarioResult {
  std::string file;
  std::vector<std::string> failures;  // "file:line: message"
  size_t commands = 0;
  size_t expectations = 0;
  bool passed() const { return failures.empty(); }
};

// Limits for scenarios that come from outside (the server's test route).
struct RunnerOptions {
  // `deploy` and `calendar` name only entries of the scenario's own folder
  // (no '/', no '..', not absolute).
  bool confine_to_folder = false;
  // At most this many state-machine steps over the whole file (0: no limit);
  // past it the scenario fails and stops.
  size_t max_steps = 0;
};

class Runner {
 public:
  explicit Runner(RunnerOptions options = {}) : options_(options) {}
  // Runs one scenario file; coverage accumulates over every file run.
  ScenarioResult run(const std::filesystem::path& file);
  const std::map<std::string, ProcessCoverage>& coverage() const { return coverage_; }

 private:
  RunnerOptions options_;
  std::map<std::string, ProcessCoverage> coverage_;
};

}  // namespace banshi::scenario
