// core/step.h — the pure state machine's one entry point.
//
// step() applies one command to one instance: it changes `state` and appends
// the records (history and effects) to `out`. It performs no I/O, reads no
// clock (the instant comes in `env`), starts no threads and uses no
// randomness, so the same inputs always give the same state and records.
//
// A command that does not apply (a job that does not exist, a task already
// completed, an instance that has ended) is rejected: step() returns an Error
// and leaves `state` and `out` exactly as they were.
//
// Thread safety: step() touches only its arguments; the definition may be
// shared by any number of threads calling step() on different states.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "banshi/result.h"
#include "core/command.h"
#include "core/records.h"
#include "core/state.h"
#include "model/definition.h"

namespace banshi::core {

// Evaluates a decision (DMN) for business rule tasks. Must be pure.
class DecisionEvaluator {
 public:
  virtual ~DecisionEvaluator() = default;
  // The decision's result, or an Error whose message becomes the incident's.
  virtual Result<boost::json::value> evaluate(const std::string& decision_id,
                                              const boost::json::object& variables) const = 0;
};

struct StepEnv {
  int64_t now_ms = 0;                 // the instant of this step
  int32_t utc_offset_minutes = 480;   // the engine's zone (timers without offsets, today())
  const DecisionEvaluator* decisions = nullptr;
  const expr::WorkingDays* working_days = nullptr;  // the business calendar for FEEL's working-day built-ins
  size_t max_work_items = 100000;     // a step that does more is looping without a wait state
};

// An immutable, executable view of one process: the model plus what the
// state machine precomputes once (reachability for inclusive joins).
class ExecutableProcess {
 public:
  ExecutableProcess(std::shared_ptr<const model::Definitions> definitions, const model::Process& process);

  const model::Definitions& definitions() const { return *definitions_; }
  const model::Process& process() const { return *process_; }
  const model::FlowNode& node(model::Index i) const { return process_->nodes[i]; }
  const model::SequenceFlow& flow(model::Index i) const { return process_->flows[i]; }
  // Whether a token at `from` can reach `to` by sequence flows (same scope).
  bool can_reach(model::Index from, model::Index to) const;

 private:
  std::shared_ptr<const model::Definitions> definitions_;
  const model::Process* process_;
  std::vector<std::vector<bool>> reach_;
};

Result<void> step(const ExecutableProcess& process, InstanceState& state, const Command& command, const StepEnv& env,
                  std::vector<Record>& out);

}  // namespace banshi::core
