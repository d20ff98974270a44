// api/case_routes.cc — the routes around one case: the applicant summary
// (masked, or in full and audited), instance modification, the diagram of a
// process version, validating a model without deploying it, and evaluating a
// deployed decision (docs/api/README.md).
#include <algorithm>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "api/api.h"
#include "api/case_routes.h"
#include "api/input.h"
#include "api/mask.h"
#include "api/problem.h"
#include "api/roles.h"
#include "dmn/model.h"
#include "expr/json_text.h"
#include "model/load.h"
#include "store/store.h"

namespace banshi::api {

namespace json = boost::json;

namespace {

Response case_json(int status, const json::value& v) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = expr::json_text(v);
  return r;
}

Response case_input_problem(const InputError& e) {
  if (e.status == 415) return problem(ProblemKind::kUnsupportedMediaType, e.detail, e.field);
  return problem(ProblemKind::kBadRequest, e.detail, e.field);
}

std::optional<int64_t> case_path_id(const PathParams& params, Response& error) {
  auto id = parse_int(params.at("id"), 1, INT64_MAX);
  if (!id) error = problem(ProblemKind::kBadRequest, "The id in the path must be a positive integer.", "id");
  return id;
}

std::string string_member(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

// A process or decision id in a path: what BPMN and DMN allow as an id
// (letters, digits, '_', '-', '.'), 1 to 255 characters.
bool valid_model_id(const std::string& id) {
  if (id.empty() || id.size() > 255) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

}  // namespace

core::StartTimerEnv deploy_timer_env(Engine& engine) {
  return core::StartTimerEnv{engine.clock().now_ms(), engine.utc_offset_minutes(), engine.working_days()};
}

Response validation_report(const std::string& resource, const std::string& xml, const core::StartTimerEnv& timers) {
  std::vector<model::Diagnostic> diagnostics;
  std::string kind = "bpmn";
  if (resource.ends_with(".dmn") || dmn::looks_like_dmn(xml)) {
    kind = "dmn";
    dmn::LoadResult loaded = dmn::load_dmn(xml);
    diagnostics = std::move(loaded.diagnostics);
    if (loaded.definitions && loaded.definitions->decisions.empty() && !model::has_errors(diagnostics)) {
      diagnostics.push_back(model::Diagnostic{model::Severity::kError, "BS001", {}, {}, "the file has no decision"});
    }
  } else {
    model::LoadResult loaded = model::load_bpmn(xml);
    diagnostics = std::move(loaded.diagnostics);
    if (loaded.definitions && !model::has_errors(diagnostics)) {
      bool executable = false;
      for (const model::Process& p : loaded.definitions->processes) executable = executable || p.executable;
      if (!executable) {
        diagnostics.push_back(
            model::Diagnostic{model::Severity::kError, "BS001", {}, {}, "the file has no executable process"});
      }
      for (model::Diagnostic& d : core::check_start_timers(*loaded.definitions, timers)) {
        diagnostics.push_back(std::move(d));
      }
    }
  }
  json::array lines;
  json::array items;
  size_t errors = 0;
  for (const model::Diagnostic& d : diagnostics) {
    bool error = d.severity == model::Severity::kError;
    errors += error ? 1 : 0;
    lines.emplace_back(model::format_diagnostic(d, resource));
    items.push_back(json::object{{"severity", error ? "error" : "warning"},
                                 {"code", d.code},
                                 {"line", d.pos.line},
                                 {"column", d.pos.column},
                                 {"elementId", d.element_id},
                                 {"message", d.message}});
  }
  return case_json(200, json::object{{"resource", resource},
                                     {"kind", kind},
                                     {"valid", errors == 0},
                                     {"errors", errors},
                                     {"diagnostics", std::move(lines)},
                                     {"items", std::move(items)}});
}

void Api::add_case_routes() {
  // --- the applicant summary ----------------------------------------------
  // Masked for whoever may look at the case; in full (?full=true) for staff
  // who may work on one of its open tasks, supervisors of its region and
  // admins, each full view audited before the data leaves the server.
  add("GET", "/api/v1/instances/{id}/applicant", roles({"staff", "supervisor", "monitor", "admin"}),
      [this](const Request& req, const PathParams& p, const Principal& who) {
        Response error;
        auto id = case_path_id(p, error);
        if (!id) return error;
        QueryReader q(req, {"full"});
        bool full = q.boolean("full", false);
        if (!q.ok()) return case_input_problem(q.error());
        auto inst = engine_.store().instance(*id);
        if (!inst.ok()) return problem_from_error(inst.error());
        if (!*inst) return problem(ProblemKind::kNotFound, "There is no instance " + std::to_string(*id) + ".");
        store::TaskQuery tq;
        tq.instance_id = *id;
        tq.limit = 1000;
        auto tasks = engine_.store().tasks(tq);
        if (!tasks.ok()) return problem_from_error(tasks.error());
        bool works_on = false;
        for (const store::TaskRecord& t : *tasks) {
          // Working on it, not merely seeing it (a monitor's role sees
          // every task of its regions, and gives no full view).
          works_on = works_on || may_work_on_task(who, t);
        }
        const std::string& region = (*inst)->region;
        bool in_region = !region.empty() && regions_cover(who.regions, region, false);
        bool admin = who.has("admin");
        bool monitor_sees = who.has("monitor") && (who.regions.empty() || in_region);
        bool may_view = admin || works_on || monitor_sees ||
                        ((who.has("staff") || who.has("supervisor")) && in_region);
        if (!may_view) return problem(ProblemKind::kForbidden, "This case is not in your department and region.");
        bool may_full = admin || works_on || (who.has("supervisor") && in_region);
        if (full && !may_full) {
          return problem(ProblemKind::kForbidden,
                         "Only staff working on this case, a supervisor of its region or an admin may see the "
                         "applicant's data in full.",
                         "full");
        }
        auto view = engine_.inspect_instance(*id);
        if (!view.ok()) return problem_from_error(view.error());
        auto a = view->variables.find("applicant");
        if (a == view->variables.end() || !a->value().is_object()) {
          return problem(ProblemKind::kNotFound, "Instance " + std::to_string(*id) + " holds no applicant data.");
        }
        const json::object& applicant = a->value().get_object();
        std::string name = string_member(applicant, "name");
        std::string id_number = string_member(applicant, "idNumber");
        std::string phone = string_member(applicant, "phone");
        if (full) {
          // No view without its audit row: a failed write refuses the data.
          store::AuditRecord row;
          row.at = auth_.now();
          row.actor = who.actor();
          row.action = "view-applicant";
          row.target = "instance " + std::to_string(*id);
          row.address = req.remote_address;
          if (!auth_.available()) return problem(ProblemKind::kForbidden, "This server keeps no audit trail.");
          if (auto written = auth_.store().append_audit(row); !written.ok()) return problem_from_error(written.error());
        } else {
          name = mask_name(name);
          id_number = mask_id_number(id_number);
          phone = mask_phone(phone);
        }
        json::object out{{"instanceId", *id},
                         {"businessKey", full ? (*inst)->business_key : mask_key((*inst)->business_key)},
                         {"processId", (*inst)->process_id},
                         {"masked", !full},
                         {"mayShowFull", may_full},
                         {"name", name},
                         {"idNumber", id_number},
                         {"phone", phone},
                         {"region", string_member(applicant, "region")}};
        Response r = case_json(200, out);
        r.headers.emplace_back("Cache-Control", "no-store");
        return r;
      });

  // --- instance modification -----------------------------------------------
  add("POST", "/api/v1/instances/{id}/modify", roles({"supervisor", "designer"}),
      [this](const Request& req, const PathParams& p, const Principal& who) {
        Response error;
        auto id = case_path_id(p, error);
        if (!id) return error;
        json::object body;
        if (auto e = parse_json_body(req, body)) return case_input_problem(*e);
        BodyReader b(body, {"instructions", "reason"});
        std::string reason = b.string("reason", true, 1024);
        if (!b.ok()) return case_input_problem(b.error());
        if (reason.find_first_not_of(" \t\r\n") == std::string::npos) {
          return problem(ProblemKind::kBadRequest, "Give the reason for the modification.", "reason");
        }
        auto list = body.find("instructions");
        if (list == body.end() || !list->value().is_array() || list->value().get_array().empty()) {
          return problem(ProblemKind::kBadRequest, "instructions must be a non-empty array.", "instructions");
        }
        const json::array& given = list->value().get_array();
        if (given.size() > 100) {
          return problem(ProblemKind::kBadRequest, "At most 100 instructions at once.", "instructions");
        }
        std::vector<ModifyInstruction> instructions;
        std::string summary;
        for (size_t i = 0; i < given.size(); ++i) {
          std::string field = "instructions[" + std::to_string(i) + "]";
          if (!given[i].is_object()) return problem(ProblemKind::kBadRequest, "An instruction is an object.", field);
          const json::object& o = given[i].get_object();
          BodyReader ib(o, {"type", "activityId", "activityInstanceId", "variables"});
          std::string type = ib.string("type", true, 32);
          std::string activity = ib.string("activityId", false, 255);
          int64_t activity_instance = ib.integer("activityInstanceId", false, 1, INT64_MAX, 0);
          json::object variables = ib.object("variables");
          if (!ib.ok()) return problem(ProblemKind::kBadRequest, ib.error().detail, field + "." + ib.error().field);
          ModifyInstruction m;
          if (type == "startBeforeActivity") {
            if (!valid_model_id(activity)) {
              return problem(ProblemKind::kBadRequest, "Name the element to start before (activityId).",
                             field + ".activityId");
            }
            m.kind = ModifyInstruction::Kind::kStartBefore;
            m.element_id = activity;
            summary += "start before " + activity + "; ";
          } else if (type == "cancel") {
            if (activity_instance == 0 && !valid_model_id(activity)) {
              return problem(ProblemKind::kBadRequest,
                             "Name the element (activityId) or the element instance (activityInstanceId) to cancel.",
                             field + ".activityId");
            }
            m.kind = ModifyInstruction::Kind::kCancel;
            m.element_id = activity;
            m.element_instance = static_cast<uint64_t>(activity_instance);
            summary += activity_instance != 0 ? "cancel element instance " + std::to_string(activity_instance) + "; "
                                              : "cancel " + activity + "; ";
          } else if (type == "setVariables") {
            if (variables.empty()) {
              return problem(ProblemKind::kBadRequest, "Give the variables to set.", field + ".variables");
            }
            m.kind = ModifyInstruction::Kind::kSetVariables;
            m.variables = std::move(variables);
            // Names only: values may be personal data.
            summary += "set";
            for (const auto& kv : m.variables) summary += " " + std::string(kv.key());
            summary += "; ";
          } else {
            return problem(ProblemKind::kBadRequest, "type must be startBeforeActivity, cancel or setVariables.",
                           field + ".type");
          }
          instructions.push_back(std::move(m));
        }
        auto inst = engine_.store().instance(*id);
        if (!inst.ok()) return problem_from_error(inst.error());
        if (!*inst) return problem(ProblemKind::kNotFound, "There is no instance " + std::to_string(*id) + ".");
        if (!may_see_case(who, (*inst)->region)) return problem(ProblemKind::kForbidden, "This case is not in your region.");
        if ((*inst)->status != 1) {
          return problem(ProblemKind::kConflict, "Instance " + std::to_string(*id) + " is no longer active.");
        }
        AuditNote note = auth_.note(who, "modify", "instance " + std::to_string(*id), req.remote_address,
                                    summary + "reason: " + reason);
        auto done = engine_.modify_instance(*id, instructions, note);
        if (!done.ok()) return problem_from_error(done.error());
        auto view = engine_.inspect_instance(*id);
        json::array active;
        if (view.ok()) {
          for (const ActiveElement& a : view->active) {
            active.push_back(json::object{{"elementId", a.element_id}, {"count", a.count}, {"incident", a.incident}});
          }
        }
        return case_json(200, json::object{{"id", *id}, {"activeElements", std::move(active)}});
      });

  // --- the diagram of a process version ---------------------------------------
  // The deployed file with its BPMN DI, which the console draws with bpmn-js.
  add("GET", "/api/v1/definitions/{processId}/diagram", any_user(),
      [this](const Request& req, const PathParams& p, const Principal& who) {
        if (who.kind == Principal::Kind::kToken) return token_refused();
        QueryReader q(req, {"version"});
        auto version = static_cast<int32_t>(q.integer("version", 1, INT32_MAX, 0));
        if (!q.ok()) return case_input_problem(q.error());
        const std::string& process_id = p.at("processId");
        if (!valid_model_id(process_id)) {
          return problem(ProblemKind::kBadRequest, "The process id has characters a BPMN id cannot have.",
                         "processId");
        }
        auto def = engine_.store().definition(process_id, version);
        if (!def.ok()) return problem_from_error(def.error());
        if (!*def) return problem(ProblemKind::kNotFound, "There is no such process version.");
        model::LoadResult loaded = model::load_bpmn((*def)->xml);
        if (!loaded.definitions || loaded.definitions->diagrams.empty()) {
          return problem(ProblemKind::kNotFound, "Process " + process_id + " version " +
                                                     std::to_string((*def)->version) + " was deployed without a diagram.");
        }
        Response out;
        out.status = 200;
        out.content_type = "application/xml";
        out.body = (*def)->xml;
        out.headers.emplace_back("ETag", "\"" + (*def)->checksum + "\"");
        out.headers.emplace_back("X-Banshi-Version", std::to_string((*def)->version));
        return out;
      });

  // --- validating without deploying -------------------------------------------
  add("POST", "/api/v1/definitions/validate", roles({"designer"}),
      [this](const Request& req, const PathParams&, const Principal&) {
        if (!has_media_type(req, {"application/xml", "text/xml"})) {
          return problem(ProblemKind::kUnsupportedMediaType,
                         "Send the model with Content-Type: application/xml or text/xml.", "Content-Type");
        }
        std::string resource = "model.bpmn";
        if (auto h = req.header("x-banshi-resource")) resource = std::string(*h);
        if (resource.empty() || resource.size() > 255 ||
            resource.find_first_of(std::string_view("\0\r\n", 3)) != std::string::npos) {
          return problem(ProblemKind::kBadRequest, "The resource name is empty, too long or has control characters.",
                         "X-Banshi-Resource");
        }
        if (req.body.empty()) return problem(ProblemKind::kBadRequest, "The body must hold the model.", "body");
        return validation_report(resource, req.body, deploy_timer_env(engine_));
      });

  // --- evaluating a deployed decision -------------------------------------------
  add("POST", "/api/v1/decisions/{id}/evaluate", roles({"designer", "admin", "staff"}),
      [this](const Request& req, const PathParams& p, const Principal&) {
        const std::string& decision_id = p.at("id");
        if (!valid_model_id(decision_id)) {
          return problem(ProblemKind::kBadRequest, "The decision id has characters a DMN id cannot have.", "id");
        }
        json::object body;
        if (auto e = parse_json_body(req, body)) return case_input_problem(*e);
        BodyReader b(body, {"variables", "version"});
        json::object variables = b.object("variables");
        int64_t version = b.integer("version", false, 1, INT32_MAX, 0);
        if (!b.ok()) return case_input_problem(b.error());
        std::string ref = version == 0 ? decision_id : decision_id + ":" + std::to_string(version);
        auto outcome = engine_.evaluate_decision(ref, variables);
        if (!outcome.ok()) {
          // The caller's doing (the inputs, the reference) is told; anything
          // else (the store, a model that no longer loads) goes to the log
          // behind a 500.
          const std::string& code = outcome.error().code;
          if (code == "decision-failed" || code == "invalid") {
            return problem(ProblemKind::kBadRequest, "The decision could not be evaluated: " + outcome.error().message,
                           "variables");
          }
          return problem_from_error(outcome.error());
        }
        json::array matched;
        for (const std::string& m : outcome->matched) matched.emplace_back(m);
        return case_json(200, json::object{{"decisionId", outcome->decision_id},
                                           {"version", outcome->version},
                                           {"result", outcome->result},
                                           {"matchedRules", std::move(matched)}});
      });
}

}  // namespace banshi::api
