// core/sla.h — SLA clocks: reminders, due times, escalation up the
// administrative levels, breaches and pauses, driven by the pure core.
//
// A user task with a <bs:sla> policy (model::SlaSpec) gets one SlaClock when
// it is created; a process with a policy gets one when the instance starts
// (the case's deadline). Each clock keeps exactly one ordinary timer in
// InstanceState::timers for its next stage, so the engine service and the
// scenario runner fire it like any other timer, durably and restart-safe.
// Every stage emits one SLA record (records.h, kSlaWarning..kSlaResumed).
//
// Stages, in time order:
//   remindAt (share of the time from creation to the due time: of the
//   working time for a working-day policy) → due soon;
//   the due time → overdue, and escalated to escalateTo (level 1) in the
//   task's region; then every escalateAfter → the next administrative level
//   (220102 → 220100 → 220000), until the province; breachAfter after the
//   due time → breached.
// While an element named in pauseWhile is active the clock stands still; when
// the last one ends, every pending time moves by the paused working days (a
// working-day policy) or by the paused time (a duration policy).
// A stage the calendar cannot compute (a year no file covers) raises an
// incident whose resolution computes that stage again (retry_sla_stage).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/records.h"
#include "core/state.h"

namespace banshi::core {

class Processor;

// The region one administrative level up: "220102" → "220100" → "220000";
// nullopt for a province ("220000") or anything that is not 6 digits.
std::optional<std::string> parent_region(std::string_view region);

// Starts the clock of a user task just created (its policy is node.sla).
// `due_at` is the due time computed by compute_task_due().
void start_task_sla(Processor& p, const ElementInstance& ei, const model::FlowNode& node, Key task, int64_t due_at,
                    bool working_days, const std::string& region);
// The due time of a user task's SLA policy, evaluated in the task's scope:
// sets `due_at` and whether it counts working days. False after raising an
// incident on the task's element instance (nothing else changed).
bool compute_task_due(Processor& p, const ElementInstance& ei, const model::SlaSpec& sla, int64_t& due_at,
                      bool& working_days);
// Starts the case's deadline clock when the process has a policy (after the
// start variables are set). False after raising an incident on the root.
bool start_process_sla(Processor& p);
// Drops the task clocks owned by an element instance (its timers are already
// cancelled by close_subscriptions) — the task completed, was cancelled or
// is being created again.
void drop_task_sla(Processor& p, Key element_instance);
// Drops every clock and cancels its timer (the instance ended).
void drop_all_sla(Processor& p);
// Fires an SLA timer; false when `timer` belongs to no clock.
bool fire_sla_timer(Processor& p, Key timer);
// Resolving `incident`: when an SLA clock raised it for a stage the calendar
// could not compute (an escalation level, the end of a pause), computes that
// stage again (raising a new incident if it still cannot) and returns true;
// the task itself is left as it is. False when no clock waits for it.
bool retry_sla_stage(Processor& p, Key incident);
// Pauses or resumes clocks when an element named in a policy's pauseWhile is
// activated, completed or terminated.
void sla_on_lifecycle(Processor& p, RecordKind kind, const ElementInstance& ei);

}  // namespace banshi::core
