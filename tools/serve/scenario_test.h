// serve/scenario_test.h — runs a designer's scenario test for POST
// /api/v1/definitions/test (engine/api/scenario_routes.cc).
//
// The files (name -> content) and the scenario are written to a fresh private
// temporary folder, the business calendars (when the server has a calendar
// folder) beside them as "calendars", and the scenario runner plays the
// scenario confined to that folder with a step budget; the folder is removed
// afterwards. Threads: safe to call from many threads (each call has its own
// folder).
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include <boost/json.hpp>

#include "banshi/result.h"

namespace banshi::serve {

// The report: {"passed", "commands", "expectations", "failures": [{"line",
// "message"}], "coverage": [{"processId", "file", "elements", "elementsReached",
// "flows", "flowsTaken", "missedElements", "missedFlows"}]}.
Result<boost::json::object> run_scenario_test(const std::map<std::string, std::string>& files,
                                              const std::string& scenario,
                                              const std::filesystem::path& calendar_dir);

}  // namespace banshi::serve
