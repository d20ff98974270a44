// api/case_routes.h — what the case routes (case_routes.cc) share with the
// rest of the API.
#pragma once

#include <string>

#include "api/http_types.h"
#include "core/start_timer.h"

namespace banshi {
class Engine;
}

namespace banshi::api {

// The validation report of a BPMN or DMN file, nothing stored: 200 with
// {resource, kind, valid, errors, diagnostics: ["file:line:col: error CODE:
// text"], items: [{severity, code, line, column, elementId, message}]}.
// A BPMN file that loads cleanly has its timer start events evaluated as a
// deploy at `timers` would (BS207 for a value that does not evaluate, parse
// or ever fire), so a file reported valid deploys.
Response validation_report(const std::string& resource, const std::string& xml, const core::StartTimerEnv& timers);

// The timer environment a deploy on `engine` would use now: its clock, zone
// and business calendar.
core::StartTimerEnv deploy_timer_env(Engine& engine);

}  // namespace banshi::api
