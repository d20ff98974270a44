// api/case_routes.h — what the case routes (case_routes.cc) share with the
// rest of the API.
#pragma once

#include <string>

#include "api/http_types.h"

namespace banshi::api {

// The validation report of a BPMN or DMN file, nothing stored: 200 with
// {resource, kind, valid, errors, diagnostics: ["file:line:col: error CODE:
// text"], items: [{severity, code, line, column, elementId, message}]}.
Response validation_report(const std::string& resource, const std::string& xml);

}  // namespace banshi::api
