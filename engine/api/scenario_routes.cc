// api/scenario_routes.cc — POST /api/v1/definitions/test: a designer runs
// scenario tests (docs/scenarios.md) against the model they are editing,
// before deploying it. The scenario may deploy the model under its resource
// name, any other model or decision file by the resource name of its latest
// deployed version, and nothing else. The run itself is ApiOptions::
// run_scenario (the server wires the scenario runner in, confined to those
// files and to a step budget); this file checks the input and gathers the
// files. Role designer.
#include <map>
#include <string>

#include <boost/json.hpp>

#include "api/api.h"
#include "api/input.h"
#include "api/problem.h"
#include "expr/json_text.h"

namespace banshi::api {

namespace json = boost::json;

namespace {

constexpr size_t kMaxScenarioBytes = 256 * 1024;
constexpr size_t kMaxModelBytes = 4 * 1024 * 1024;

// A file name a scenario may name: no folders, no dot files, a model's extension.
bool plain_resource_name(const std::string& name) {
  if (name.empty() || name.size() > 255 || name.front() == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.';
    if (!ok) return false;
  }
  return name.ends_with(".bpmn") || name.ends_with(".dmn") || name.ends_with(".xml");
}

}  // namespace

void Api::add_scenario_routes() {
  add("POST", "/api/v1/definitions/test", roles({"designer"}), [this](const Request& req, const PathParams&, const Principal&) {
    if (!has_media_type(req, {"application/json"})) {
      return problem(ProblemKind::kUnsupportedMediaType, "Send the test as JSON with Content-Type: application/json.",
                     "Content-Type");
    }
    json::object body;
    if (auto bad = parse_json_body(req, body)) return problem(ProblemKind::kBadRequest, bad->detail, bad->field);
    BodyReader b(body, {"resource", "xml", "scenario"});
    std::string resource = b.string("resource", true, 255);
    std::string xml = b.string("xml", true, kMaxModelBytes);
    std::string scenario = b.string("scenario", true, kMaxScenarioBytes);
    if (b.ok() && !plain_resource_name(resource)) {
      b.fail("resource", "The resource must be a plain file name ending in .bpmn, .dmn or .xml (letters, digits, - _ .).");
    }
    if (b.ok() && scenario.find('\0') != std::string::npos) b.fail("scenario", "The scenario holds a NUL character.");
    if (!b.ok()) return problem(ProblemKind::kBadRequest, b.error().detail, b.error().field);
    if (!options_.run_scenario) {
      return problem(ProblemKind::kNotReady, "This server does not run scenario tests.");
    }

    // The latest deployed version of every file, then the model under test over its own name.
    std::map<std::string, std::string> files;
    std::map<std::string, int64_t> newest;
    auto keep_newest = [&](const std::string& name, int64_t deployed_at, const std::string& content) {
      if (!plain_resource_name(name)) return;
      auto [it, fresh] = newest.emplace(name, deployed_at);
      if (fresh || deployed_at > it->second) {
        it->second = deployed_at;
        files[name] = content;
      }
    };
    auto definitions = engine_.store().definitions("");
    if (!definitions.ok()) return problem(ProblemKind::kInternal, "The deployed models cannot be read.");
    for (const store::DefinitionRecord& d : *definitions) keep_newest(d.resource, d.deployed_at, d.xml);
    auto decisions = engine_.store().decisions("");
    if (!decisions.ok()) return problem(ProblemKind::kInternal, "The deployed decisions cannot be read.");
    for (const store::DecisionRecord& d : *decisions) keep_newest(d.resource, d.deployed_at, d.xml);
    files[resource] = xml;

    auto report = options_.run_scenario(files, scenario);
    if (!report.ok()) return problem_from_error(report.error());  // the cause is logged, not answered
    Response r;
    r.status = 200;
    r.content_type = "application/json";
    r.body = expr::json_text(*report);
    return r;
  });
}

}  // namespace banshi::api
