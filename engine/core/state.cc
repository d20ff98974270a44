#include "core/state.h"

namespace banshi::core {

std::vector<Key> InstanceState::instances_of(model::Index element) const {
  std::vector<Key> out;
  for (const auto& [k, ei] : elements) {
    if (ei.element == element) out.push_back(k);
  }
  return out;
}

std::string_view incident_kind_name(IncidentKind kind) {
  switch (kind) {
    case IncidentKind::kExpressionFailed: return "expression-failed";
    case IncidentKind::kNoFlowMatched: return "no-flow-matched";
    case IncidentKind::kJobNoRetries: return "job-no-retries";
    case IncidentKind::kUncaughtError: return "uncaught-error";
    case IncidentKind::kCalledProcessFailed: return "called-process-failed";
    case IncidentKind::kLoopWithoutWait: return "loop-without-wait";
  }
  return "unknown";
}

std::string_view record_kind_name(RecordKind kind) {
  switch (kind) {
    case RecordKind::kElementActivating: return "ELEMENT_ACTIVATING";
    case RecordKind::kElementActivated: return "ELEMENT_ACTIVATED";
    case RecordKind::kElementCompleting: return "ELEMENT_COMPLETING";
    case RecordKind::kElementCompleted: return "ELEMENT_COMPLETED";
    case RecordKind::kElementTerminating: return "ELEMENT_TERMINATING";
    case RecordKind::kElementTerminated: return "ELEMENT_TERMINATED";
    case RecordKind::kSequenceFlowTaken: return "SEQUENCE_FLOW_TAKEN";
    case RecordKind::kVariableCreated: return "VARIABLE_CREATED";
    case RecordKind::kVariableUpdated: return "VARIABLE_UPDATED";
    case RecordKind::kIncidentCreated: return "INCIDENT_CREATED";
    case RecordKind::kIncidentResolved: return "INCIDENT_RESOLVED";
    case RecordKind::kJobCreated: return "JOB_CREATED";
    case RecordKind::kJobCanceled: return "JOB_CANCELED";
    case RecordKind::kJobFailed: return "JOB_FAILED";
    case RecordKind::kJobRetriesUpdated: return "JOB_RETRIES_UPDATED";
    case RecordKind::kJobCompleted: return "JOB_COMPLETED";
    case RecordKind::kJobErrorThrown: return "JOB_ERROR_THROWN";
    case RecordKind::kUserTaskCreated: return "USER_TASK_CREATED";
    case RecordKind::kUserTaskCanceled: return "USER_TASK_CANCELED";
    case RecordKind::kUserTaskCompleted: return "USER_TASK_COMPLETED";
    case RecordKind::kTimerScheduled: return "TIMER_SCHEDULED";
    case RecordKind::kTimerCanceled: return "TIMER_CANCELED";
    case RecordKind::kTimerFired: return "TIMER_FIRED";
    case RecordKind::kMessageSubscriptionOpened: return "MESSAGE_SUBSCRIPTION_OPENED";
    case RecordKind::kMessageSubscriptionClosed: return "MESSAGE_SUBSCRIPTION_CLOSED";
    case RecordKind::kMessageCorrelated: return "MESSAGE_CORRELATED";
    case RecordKind::kMessagePublished: return "MESSAGE_PUBLISHED";
    case RecordKind::kSignalSubscriptionOpened: return "SIGNAL_SUBSCRIPTION_OPENED";
    case RecordKind::kSignalSubscriptionClosed: return "SIGNAL_SUBSCRIPTION_CLOSED";
    case RecordKind::kSignalThrown: return "SIGNAL_THROWN";
    case RecordKind::kChildInstanceRequested: return "CHILD_INSTANCE_REQUESTED";
    case RecordKind::kChildInstanceCanceled: return "CHILD_INSTANCE_CANCELED";
    case RecordKind::kEscalationUncaught: return "ESCALATION_UNCAUGHT";
    case RecordKind::kErrorUncaught: return "ERROR_UNCAUGHT";
    case RecordKind::kInstanceCompleted: return "INSTANCE_COMPLETED";
    case RecordKind::kInstanceTerminated: return "INSTANCE_TERMINATED";
    case RecordKind::kSlaWarning: return "SLA_WARNING";
    case RecordKind::kSlaOverdue: return "SLA_OVERDUE";
    case RecordKind::kSlaEscalated: return "SLA_ESCALATED";
    case RecordKind::kSlaBreached: return "SLA_BREACHED";
    case RecordKind::kSlaPaused: return "SLA_PAUSED";
    case RecordKind::kSlaResumed: return "SLA_RESUMED";
  }
  return "UNKNOWN";
}

}  // namespace banshi::core
