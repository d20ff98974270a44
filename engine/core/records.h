// core/records.h — what a step emits: history events and effects.
//
// RecordKind, IncidentKind and the codes in state.h are persisted (history
// rows, instance state): DO NOT CHANGE OR REUSE THEIR NUMBERS; add new ones at
// the end. docs/storage.md lists them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "model/definition.h"

namespace banshi::core {

// Keys are unique within one instance and never reused; the engine service
// combines them with the instance id where it needs global names.
using Key = uint64_t;

enum class RecordKind : uint16_t {
  // Element lifecycle (element instances, including the process itself).
  kElementActivating = 1,
  kElementActivated = 2,
  kElementCompleting = 3,
  kElementCompleted = 4,
  kElementTerminating = 5,
  kElementTerminated = 6,
  kSequenceFlowTaken = 7,
  // Variables.
  kVariableCreated = 10,
  kVariableUpdated = 11,
  // Incidents.
  kIncidentCreated = 20,
  kIncidentResolved = 21,
  // Effects: the engine service acts on these after the step commits.
  kJobCreated = 30,
  kJobCanceled = 31,
  kJobFailed = 32,           // retries remain; retry at due_at
  kJobRetriesUpdated = 33,
  kJobCompleted = 34,
  kJobErrorThrown = 35,
  kUserTaskCreated = 40,
  kUserTaskCanceled = 41,
  kUserTaskCompleted = 42,
  kTimerScheduled = 50,
  kTimerCanceled = 51,
  kTimerFired = 52,
  kMessageSubscriptionOpened = 60,
  kMessageSubscriptionClosed = 61,
  kMessageCorrelated = 62,
  kMessagePublished = 63,
  kSignalSubscriptionOpened = 70,
  kSignalSubscriptionClosed = 71,
  kSignalThrown = 72,
  kChildInstanceRequested = 80,   // start a called process
  kChildInstanceCanceled = 81,
  kEscalationUncaught = 90,
  kErrorUncaught = 91,
  kInstanceCompleted = 100,
  kInstanceTerminated = 101,
  // SLA clocks (core/sla.h): key = the user task (0 for the process deadline:
  // then the clock's key), element/scope = the task's element and element
  // instance (kNoIndex/0 for the process), due_at = the due time, name = the
  // group escalated to, text = the region escalated to, payload = {task,
  // slaState, level, dueAt, at, group, region}.
  kSlaWarning = 102,    // the reminder share of the time has passed (due soon)
  kSlaOverdue = 103,    // the due time has passed
  kSlaEscalated = 104,  // handed to the supervisor group, or up one administrative level
  kSlaBreached = 105,   // the breach period after the due time has passed too
  kSlaPaused = 106,     // a wait the policy names started: the clock stops
  kSlaResumed = 107,    // it ended: the clock runs again, due times moved (payload dueAt)
};

std::string_view record_kind_name(RecordKind kind);

// One record. Which fields mean what depends on the kind:
// - lifecycle: key = element instance, element = its element, scope = parent element instance
// - kSequenceFlowTaken: element = the flow's index, scope = the scope it was taken in
// - variables: key = scope element instance, name = variable, payload = value
// - jobs: key = job, element/scope = the waiting element instance's element and key (scope),
//   name = job type, due_at = when to (re)try, payload = {retries, headers, error}
// - user tasks: key = task, payload = {assignee, candidateGroups, candidateUsers, dueDate,
//   followUpDate, formKey, priority, region, name}
// - timers: key = timer, due_at = when it fires
// - message subscriptions: key = subscription, name = message name, text = correlation key
// - messages published / signals thrown: name, text = correlation key, payload = variables
// - child instance: key = element instance of the call activity, name = process id,
//   payload = {binding, version, variables}
// - incidents: key = incident, text = message, name = incident kind name
struct Record {
  Record() = default;
  Record(RecordKind k, Key record_key, model::Index element_index = model::kNoIndex, Key scope_key = 0)
      : kind(k), key(record_key), element(element_index), scope(scope_key) {}

  RecordKind kind{};
  Key key = 0;
  model::Index element = model::kNoIndex;
  Key scope = 0;
  int64_t due_at = 0;
  std::string name;
  std::string text;
  boost::json::value payload;
};

}  // namespace banshi::core
