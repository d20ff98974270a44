// Shared by the end and intermediate throw events and the send task: what a
// thrown message or signal produces.
#pragma once

#include "core/processor.h"

namespace banshi::core {

// Publishes the element's message (name, correlation key, the element's local
// variables as payload). False when the correlation key failed (incident).
bool publish_message(Processor& p, ElementInstance& ei, const model::FlowNode& node, model::Index message);

// Broadcasts the element's signal; the engine service delivers it.
void throw_signal(Processor& p, ElementInstance& ei, const model::FlowNode& node);

// Raises an incident naming a construct the engine cannot run yet.
void not_supported(Processor& p, ElementInstance& ei, const model::FlowNode& node, const char* what);

}  // namespace banshi::core
