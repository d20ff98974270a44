// core/state.h — everything the engine knows about one process instance.
//
// InstanceState is a plain value: the engine service loads it, core::step()
// changes it, the service stores it (serialize.h). Ordered maps keep every
// walk over it deterministic, so the same inputs always give the same records.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "core/records.h"
#include "model/definition.h"

namespace banshi::core {

// Persisted codes: DO NOT CHANGE OR REUSE.
enum class InstanceStatus : uint8_t { kActive = 1, kCompleted = 2, kTerminated = 3 };
enum class ElementState : uint8_t { kActivating = 1, kActivated = 2, kCompleting = 3 };
enum class IncidentKind : uint8_t {
  kExpressionFailed = 1,    // an expression could not be evaluated (or gave the wrong type)
  kNoFlowMatched = 2,       // an exclusive gateway found no condition true and no default
  kJobNoRetries = 3,        // a job failed and has no retries left
  kUncaughtError = 4,       // a BPMN error no boundary or event subprocess catches
  kCalledProcessFailed = 5, // a call activity could not start its child
  kLoopWithoutWait = 6,     // the step did too much work without reaching a wait state
};
std::string_view incident_kind_name(IncidentKind kind);

using Variables = std::map<std::string, boost::json::value>;

struct ElementInstance {
  Key key = 0;
  model::Index element = model::kNoIndex;  // kNoIndex: the process itself
  Key scope = 0;                           // parent element instance; 0 for the process
  ElementState state = ElementState::kActivating;
  model::Index entered_by = model::kNoIndex;  // the sequence flow taken into it
  Variables variables;                        // local variables (scopes, mappings, loop items)
  Key incident = 0;                           // open incident blocking this element

  // Multi-instance: the body counts its inner instances; inner instances carry their index.
  bool is_mi_body = false;
  int64_t loop_counter = 0;  // inner instance: 1-based; body: instances started
  int64_t mi_total = 0;      // body: how many instances in all
  int64_t mi_completed = 0;  // body: how many completed
  int64_t mi_active = 0;     // body: how many running now

  bool interrupted = false;  // an interrupting event is replacing this scope's content

  // Compensation (format 2): a throw event waiting for handlers to run, in
  // order; a handler remembers which throw it serves.
  std::vector<model::Index> pending_compensation;
  Key compensation_thrower = 0;
};

struct Job {
  Key key = 0;
  Key element_instance = 0;
  std::string type;
  int32_t retries = 3;
  std::string last_error;
  bool failed = false;   // waiting for a retry or an incident resolution
};

struct UserTask {
  Key key = 0;
  Key element_instance = 0;
};

struct Timer {
  Key key = 0;
  Key element_instance = 0;   // the waiting element, boundary owner or scope of an event subprocess
  model::Index element = model::kNoIndex;  // the timer event (catch, boundary or event-subprocess start)
  int64_t due_at = 0;
  int64_t repetitions_left = 0;  // cycles: -1 unbounded; 0 for one-shot timers
  int64_t interval_ms = 0;       // cycles without calendar parts
  std::string cron;              // a cron cycle (model/cron.h): the next due time is its next match; format 4
};

struct MessageSubscription {
  Key key = 0;
  Key element_instance = 0;
  model::Index element = model::kNoIndex;  // the catching element
  std::string name;
  std::string correlation_key;
};

struct SignalSubscription {
  Key key = 0;
  Key element_instance = 0;
  model::Index element = model::kNoIndex;
  std::string name;
};

// A conditional event waiting for its condition to become true (format 2).
struct ConditionalSubscription {
  Key key = 0;
  Key element_instance = 0;
  model::Index element = model::kNoIndex;
  bool last_value = false;  // fires on a change from false to true
};

// A completed activity with a compensation handler, compensable while the scope
// it completed in (or an enclosing one it was handed to) lives (format 2).
struct CompensableActivity {
  Key key = 0;  // keys grow, so key order is completion order
  Key scope = 0;
  model::Index element = model::kNoIndex;
};

struct Incident {
  Key key = 0;
  Key element_instance = 0;
  IncidentKind kind{};
  std::string message;
  Key job = 0;
};

// SLA states of a task or a case (persisted: user_tasks.sla_state, format 3).
// DO NOT CHANGE OR REUSE these numbers.
enum class SlaState : uint8_t { kOnTime = 0, kDueSoon = 1, kEscalated = 2, kBreached = 3, kOverdue = 4 };
std::string_view sla_state_name(SlaState state);  // "on_time", "due_soon", "escalated", "breached", "overdue"

// What an SLA clock computes again when its incident is resolved (persisted,
// format 5). DO NOT CHANGE OR REUSE these numbers.
enum class SlaRetry : uint8_t { kNone = 0, kNextLevel = 1, kResume = 2 };

// A running SLA clock (format 3): the due time of a user task under a
// <bs:sla> policy, or of the whole case (the process's policy), and the one
// timer that fires its next stage. Times are 0 when that stage is not pending.
struct SlaClock {
  Key key = 0;
  Key element_instance = 0;                // the user task's element instance; 0: the process deadline
  model::Index element = model::kNoIndex;  // the user task; kNoIndex: the process
  Key task = 0;                            // the user task; 0: the process deadline
  int64_t started_at = 0;
  int64_t due_at = 0;
  int64_t remind_at = 0;
  int64_t next_level_at = 0;
  int64_t breach_at = 0;
  int64_t paused_at = 0;                   // 0: running
  SlaState state = SlaState::kOnTime;
  bool due_passed = false;
  bool working_days = false;               // the due period counts working days (a pause shifts by them)
  int32_t level = 0;                       // 0: not escalated; 1: the supervisor group; 2..: levels above
  std::string region;                      // the region the case is escalated to (or starts from)
  std::string escalated_to;                // the group escalated to
  Key timer = 0;                           // the pending timer; 0: none (paused or nothing left)
  // A stage the calendar could not compute (format 5): the incident raised
  // for it and what resolving that incident computes again, from `retry_from`.
  SlaRetry retry = SlaRetry::kNone;
  Key incident = 0;
  int64_t retry_from = 0;                  // kNextLevel: the previous level's time; kResume: the pause's end
};

// Tokens that reached a parallel or inclusive join and wait there, per scope.
struct JoinState {
  Key scope = 0;
  model::Index gateway = model::kNoIndex;
  std::vector<uint32_t> arrived;  // per incoming flow, in the gateway's incoming order
};

struct InstanceState {
  static constexpr uint32_t kFormatVersion = 5;

  std::string process_id;
  InstanceStatus status = InstanceStatus::kActive;
  Key next_key = 1;
  Key root = 0;  // the process's element instance
  Key parent_element = 0;  // called instances: the parent's call activity element instance (format 2)
  std::map<Key, ElementInstance> elements;
  std::map<Key, Job> jobs;
  std::map<Key, UserTask> user_tasks;
  std::map<Key, Timer> timers;
  std::map<Key, MessageSubscription> message_subscriptions;
  std::map<Key, SignalSubscription> signal_subscriptions;
  std::map<Key, Incident> incidents;
  std::vector<JoinState> joins;
  std::map<Key, ConditionalSubscription> conditional_subscriptions;
  std::map<Key, CompensableActivity> compensable;
  std::map<Key, SlaClock> sla_clocks;  // format 3

  const ElementInstance* find(Key key) const {
    auto it = elements.find(key);
    return it == elements.end() ? nullptr : &it->second;
  }
  // The element instances currently at the given element (any scope).
  std::vector<Key> instances_of(model::Index element) const;
};

}  // namespace banshi::core
