// core/command.h — what can happen to an instance.
#pragma once

#include <cstdint>
#include <string>

#include <boost/json/object.hpp>

#include "core/records.h"

namespace banshi::core {

enum class CommandKind : uint8_t {
  kStart = 1,             // name: start event id (empty: the none start event); variables;
                          // key: the parent's call activity element instance when called (else 0)
  kCompleteJob = 2,       // key: job; variables
  kFailJob = 3,           // key: job; retries: left; message; retry_at
  kThrowJobError = 4,     // key: job; name: error code; message; variables
  kCompleteUserTask = 5,  // key: task; variables
  kCorrelateMessage = 6,  // key: subscription; name: message name; variables
  kFireTimer = 7,         // key: timer; due_at: the occurrence it fires (0: the one now armed)
  kThrowSignal = 8,       // name: signal name; variables (delivered to this instance)
  kCancel = 9,            // message: reason
  kResolveIncident = 10,  // key: incident; retries (for job incidents; default 1)
  kSetVariables = 11,     // key: scope element instance (0: process); variables
  kChildCompleted = 12,   // key: call activity element instance; variables
  kChildError = 13,       // key: call activity element instance; name: error code; message
  kActivateElement = 14,  // name: element id to start a token at (operator repair)
  kTerminateElement = 15, // key: element instance to terminate (operator repair)
  kErrorNotCaught = 16,   // key: the element instance that threw; name: error code; message
  kChildEscalation = 17,  // key: call activity element instance; name: escalation code
  kRaiseIncident = 18,    // key: element instance; message: what the engine service could not do
                          // (a called process that does not exist); resolving retries the element
};

struct Command {
  Command() = default;
  explicit Command(CommandKind k) : kind(k) {}

  CommandKind kind{};
  Key key = 0;
  std::string name;
  std::string message;
  boost::json::object variables;
  int32_t retries = -1;
  int64_t retry_at = 0;
  // kFireTimer: the due time the firing was armed for. A firing of an
  // occurrence the timer has left behind (a repeating timer fired already
  // and armed again) is refused, so a firing queued twice fires once.
  int64_t due_at = 0;
};

}  // namespace banshi::core
