// core/start_timer.h — when the timer start events of a process fire.
//
// A top-level timer start event starts a new instance of its process each
// time it fires (docs/designer-guide.md, "Timer start events"). The engine
// service stores the schedule durably and fires it; the scenario runner keeps
// it in memory. Both compute it here, so they agree to the millisecond.
//
// Pure: no clock (the instant is a parameter), no I/O. FEEL timer values are
// evaluated without variables (there is no instance yet), at deploy time.
//
// Semantics (Camunda's):
// - timeDate: fires once at that instant (at once if it has passed).
// - timeDuration: fires once, that long after the deployment.
// - timeCycle "R[n]/[start/]period": without a start, the first firing is one
//   period after the deployment; with a start, at the start. Occurrences of
//   the series that lie before the deployment (or before a firing, for the
//   next one) are skipped and count towards n; a late firing starts one
//   instance, not one per missed occurrence. "R/" repeats without end.
// - timeCycle as a cron expression ("0 0 6 * * MON-FRI", model/cron.h): fires
//   at each match after the deployment, without end; a late firing starts
//   one instance and the next is the first match after the firing.
// - Only top-level start events of executable processes have a schedule; a
//   timer start of an event subprocess belongs to the instance.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "banshi/result.h"
#include "model/definition.h"
#include "model/diagnostic.h"

namespace banshi::expr {
class WorkingDays;
}

namespace banshi::core {

struct StartTimerSchedule {
  std::string element_id;         // the start event
  int64_t due_at = 0;             // the next firing, ms since the epoch
  int64_t repetitions_left = 0;   // firings after the next one: 0 none, -1 without end
  std::string interval;           // a cycle's period (ISO 8601 duration) or cron expression; empty: fires once
};

struct StartTimerEnv {
  int64_t now_ms = 0;
  int32_t utc_offset_minutes = 480;
  const expr::WorkingDays* working_days = nullptr;  // for FEEL values that count working days
};

// The first firing of every top-level timer start event of `process`, in
// model order. A value that does not evaluate or parse, or a cycle that can
// never fire, gives a diagnostic (code BS207) at the value's line and column.
std::vector<StartTimerSchedule> schedule_start_timers(const model::Process& process, const StartTimerEnv& env,
                                                      std::vector<model::Diagnostic>& errors);

// What deploying `definitions` at env.now_ms would say of its timer start
// events: the BS207 diagnostics of schedule_start_timers() for every
// executable process, scheduling nothing. For validating without deploying.
std::vector<model::Diagnostic> check_start_timers(const model::Definitions& definitions, const StartTimerEnv& env);

// The occurrence after the one due at `fired.due_at`, fired at `now_ms`: the
// first of the series later than now_ms; nullopt when the series has ended.
std::optional<StartTimerSchedule> next_start_timer(const StartTimerSchedule& fired, int64_t now_ms,
                                                   int32_t utc_offset_minutes);

}  // namespace banshi::core
