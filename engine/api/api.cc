#include "api/api.h"

#include <chrono>
#include <exception>

#include <boost/json.hpp>

#include "api/input.h"
#include "api/password.h"
#include "api/problem.h"
#include "api/roles.h"
#include "model/iso8601.h"
#include "store/store.h"

namespace banshi::api {

namespace json = boost::json;

namespace {

constexpr int64_t kMaxId = INT64_MAX;
constexpr size_t kMaxPage = 1000;

Response json_response(int status, const json::value& v) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = json::serialize(v);
  return r;
}

Response no_content() {
  Response r;
  r.status = 204;
  return r;
}

Response input_problem(const InputError& e) {
  if (e.status == 415) return problem(ProblemKind::kUnsupportedMediaType, e.detail, e.field);
  return problem(ProblemKind::kBadRequest, e.detail, e.field);
}

std::optional<int64_t> path_id(const PathParams& params, Response& error) {
  auto id = parse_int(params.at("id"), 1, kMaxId);
  if (!id) error = problem(ProblemKind::kBadRequest, "The id in the path must be a positive integer.", "id");
  return id;
}

std::string_view status_word(uint8_t status) {
  switch (status) {
    case 1: return "active";
    case 2: return "completed";
    case 3: return "terminated";
    default: return "unknown";
  }
}

int status_code(std::string_view word) {
  if (word == "active") return 1;
  if (word == "completed") return 2;
  if (word == "terminated") return 3;
  return 0;
}

std::string_view sla_word(uint8_t sla) {
  switch (sla) {
    case 0: return "on-time";
    case 1: return "reminded";
    case 2: return "escalated";
    case 3: return "breached";
    default: return "unknown";
  }
}

std::string_view incident_kind_word(uint8_t kind) {
  switch (kind) {
    case 1: return "expression-failed";
    case 2: return "no-flow-matched";
    case 3: return "job-no-retries";
    case 4: return "uncaught-error";
    case 5: return "called-process-failed";
    case 6: return "loop-without-wait";
    default: return "unknown";
  }
}

// A stored JSON text as a value; a text that does not parse is kept as a string.
json::value stored_json(const std::string& text) {
  if (text.empty()) return nullptr;
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return json::value(text);
  return v;
}

json::array string_array(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

json::object definition_json(const store::DefinitionRecord& d) {
  json::object o;
  o["processId"] = d.process_id;
  o["version"] = d.version;
  o["key"] = d.key;
  o["name"] = d.name;
  o["resource"] = d.resource;
  o["checksum"] = d.checksum;
  o["deployedAt"] = d.deployed_at;
  o["deployedBy"] = d.deployed_by;
  return o;
}

json::object instance_json(const store::InstanceRecord& i) {
  json::object o;
  o["id"] = i.id;
  o["processId"] = i.process_id;
  o["version"] = i.definition_version;
  o["definitionKey"] = i.definition_key;
  o["businessKey"] = i.business_key;
  o["status"] = status_word(i.status);
  o["startedAt"] = i.started_at;
  if (i.ended_at != 0) o["endedAt"] = i.ended_at;
  if (i.parent_id != 0) o["parentId"] = i.parent_id;
  return o;
}

json::object task_json(const store::TaskRecord& t) {
  json::object o;
  o["id"] = t.id;
  o["instanceId"] = t.instance_id;
  o["processId"] = t.process_id;
  o["elementId"] = t.element_id;
  o["name"] = t.name;
  o["businessKey"] = t.business_key;
  if (!t.assignee.empty()) o["assignee"] = t.assignee;
  o["candidateGroups"] = string_array(t.candidate_groups);
  o["candidateUsers"] = string_array(t.candidate_users);
  o["region"] = t.region;
  o["formKey"] = t.form_key;
  o["priority"] = t.priority;
  o["createdAt"] = t.created_at;
  if (t.due_at != 0) o["dueAt"] = t.due_at;
  if (t.follow_up_at != 0) o["followUpAt"] = t.follow_up_at;
  o["slaState"] = sla_word(t.sla_state);
  o["payload"] = stored_json(t.payload);
  return o;
}

json::object incident_json(const store::IncidentRecord& i) {
  json::object o;
  o["id"] = i.id;
  o["instanceId"] = i.instance_id;
  o["processId"] = i.process_id;
  o["elementId"] = i.element_id;
  o["kind"] = incident_kind_word(i.kind);
  o["message"] = i.message;
  o["createdAt"] = i.created_at;
  return o;
}

// A time parameter: milliseconds since the epoch, or an ISO 8601 date-time.
int64_t time_param(QueryReader& q, const Request& request, std::string_view name) {
  auto v = request.param(name);
  if (!v) return 0;
  if (auto ms = parse_int(*v, 0, kMaxId)) return *ms;
  auto parsed = model::parse_date_time(*v);
  if (!parsed.ok()) {
    q.fail(name, "This parameter must be milliseconds since the epoch or an ISO 8601 date-time.");
    return 0;
  }
  return *parsed;
}

bool is_loopback(const std::string& address) {
  return address == "::1" || address.rfind("127.", 0) == 0 || address.rfind("::ffff:127.", 0) == 0;
}

json::object user_json(const store::UserRecord& u) {
  json::object o;
  o["name"] = u.name;
  o["roles"] = string_array(u.roles);
  o["department"] = u.department;
  o["regions"] = string_array(u.regions);
  o["disabled"] = u.disabled;
  o["createdAt"] = u.created_at;
  o["passwordChangedAt"] = u.password_changed_at;
  return o;
}

// Reads and checks the roles, department and regions members of a user body.
void read_user_fields(BodyReader& b, const json::object& body, store::UserRecord& u) {
  if (body.contains("roles")) {
    u.roles = b.strings("roles", 16, 32);
    for (const std::string& r : u.roles) {
      if (!known_role(r)) b.fail("roles", "A role must be staff, supervisor, monitor, designer or admin.");
    }
  }
  if (body.contains("department")) {
    u.department = b.string("department", false, 32);
    if (!u.department.empty() && !valid_department(u.department)) {
      b.fail("department", "A department is 1 to 32 characters of a-z and 0-9.");
    }
  }
  if (body.contains("regions")) {
    u.regions = b.strings("regions", 64, 6);
    for (const std::string& r : u.regions) {
      if (!valid_region(r)) b.fail("regions", "A region is a 6-digit region code such as 220102.");
    }
  }
}

bool valid_user_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

store::AuthStore* auth_store_of(Engine& engine, store::AuthStore* given) {
  if (given != nullptr) return given;
  return dynamic_cast<store::AuthStore*>(&engine.store());
}

}  // namespace

Api::Api(Engine& engine, ApiOptions options)
    : engine_(engine),
      options_(std::move(options)),
      auth_(auth_store_of(engine_, options_.auth_store), options_.clock, options_.auth),
      static_files_(options_.console_dir) {
  add_routes();
  add_auth_routes();
  add_monitor_routes();
}

void Api::add(std::string method, std::string path_template, Access access, AuthedHandler handler) {
  router_.add(std::move(method), std::move(path_template),
              [this, access = std::move(access), handler = std::move(handler)](const Request& req,
                                                                               const PathParams& params) {
                if (access.kind == Access::Kind::kOpen) return handler(req, params, Principal{});
                if (access.kind == Access::Kind::kLoopbackOrRoles && is_loopback(req.remote_address)) {
                  return handler(req, params, Principal{});
                }
                auto who = auth_.authenticate(req);
                if (!who.ok()) return problem_from_error(who.error());
                if (!*who) {
                  Response r = problem(ProblemKind::kUnauthorized,
                                       "Log in (POST /api/v1/auth/login) or send a bearer token.");
                  r.headers.emplace_back("WWW-Authenticate", "Bearer");
                  return r;
                }
                const Principal& p = **who;
                if (p.via_session() && req.method != "GET" && req.method != "HEAD") {
                  auto sent = req.header("x-csrf-token");
                  if (!sent || !equal_constant_time(*sent, p.csrf_token)) {
                    return problem(ProblemKind::kForbidden,
                                   "Send the session's CSRF token (from login or GET /api/v1/me) in X-CSRF-Token.");
                  }
                }
                if (access.kind != Access::Kind::kAnyUser) {
                  bool allowed = false;
                  for (const std::string& role : access.roles) allowed = allowed || p.has(role);
                  if (!allowed) return problem(ProblemKind::kForbidden, "Your roles do not allow this call.");
                }
                return handler(req, params, p);
              });
}

Response Api::handle(const Request& request) {
  auto started = std::chrono::steady_clock::now();
  Response response;
  try {
    response = router_.route(request);
  } catch (const std::exception& e) {
    response = problem_from_error(Error{"exception", e.what()});
    response.route = "unmatched";
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::string method = request.method;
  static constexpr std::string_view kKnown[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  bool known = false;
  for (std::string_view k : kKnown) known = known || method == k;
  if (!known) method = "OTHER";  // keep the label set bounded
  http_metrics_.observe(response.route, method, response.status, ms);
  return response;
}

void Api::add_routes() {
  Router& r = router_;

  // --- operations ------------------------------------------------------------
  add("GET", "/healthz", open(), [](const Request&, const PathParams&, [[maybe_unused]] const Principal& who) {
    return json_response(200, json::object{{"status", "alive"}});
  });

  add("GET", "/readyz", open(), [this](const Request&, const PathParams&, [[maybe_unused]] const Principal& who) {
    auto present = engine_.store().schema_version();
    if (!present.ok()) return problem(ProblemKind::kNotReady, "The store cannot be reached.");
    int latest = engine_.store().latest_schema_version();
    if (*present != latest) {
      return problem(ProblemKind::kNotReady, "The store schema is version " + std::to_string(*present) +
                                                 "; this server needs version " + std::to_string(latest) + ".");
    }
    return json_response(200, json::object{{"status", "ready"}, {"schemaVersion", latest}});
  });

  add("GET", "/metrics", loopback_or({"monitor", "admin"}), [this](const Request&, const PathParams&, [[maybe_unused]] const Principal& who) {
    Response out;
    out.content_type = "text/plain; version=0.0.4; charset=utf-8";
    expose_engine_metrics(engine_.metrics(), out.body);
    http_metrics_.expose(out.body);
    return out;
  });

  add("GET", "/api/v1/openapi.yaml", open(), [](const Request&, const PathParams&, [[maybe_unused]] const Principal& who) {
    Response out;
    out.content_type = "application/yaml";
    out.body = std::string(openapi_yaml());
    return out;
  });

  // --- definitions ---------------------------------------------------------
  add("POST", "/api/v1/definitions", roles({"designer"}), [this](const Request& req, const PathParams&, [[maybe_unused]] const Principal& who) {
    if (!has_media_type(req, {"application/xml", "text/xml"})) {
      return problem(ProblemKind::kUnsupportedMediaType,
                     "Send the BPMN file with Content-Type: application/xml or text/xml.", "Content-Type");
    }
    QueryReader q(req, {"resource"});
    std::string resource = q.string("resource", 255);
    if (!q.ok()) return input_problem(q.error());
    if (resource.empty()) {
      if (auto h = req.header("x-banshi-resource")) resource = std::string(*h);
    }
    if (resource.empty()) {
      return problem(ProblemKind::kBadRequest,
                     "Name the file with the resource query parameter or the X-Banshi-Resource header.", "resource");
    }
    if (resource.size() > 255 || resource.find_first_of(std::string_view("\0\r\n", 3)) != std::string::npos) {
      return problem(ProblemKind::kBadRequest, "The resource name is too long or has control characters.",
                     "resource");
    }
    if (req.body.empty()) return problem(ProblemKind::kBadRequest, "The body must hold the BPMN file.", "body");
    auto deployed = engine_.deploy(resource, req.body, who.actor());
    if (!deployed.ok()) return problem_from_error(deployed.error());
    auth_.audit(who.actor(), "deploy", "resource " + resource, req.remote_address);
    json::array processes;
    bool any_new = false;
    for (const DeployedProcess& p : *deployed) {
      any_new = any_new || p.new_version;
      processes.push_back(json::object{{"processId", p.process_id},
                                       {"version", p.version},
                                       {"key", p.definition_key},
                                       {"newVersion", p.new_version}});
    }
    return json_response(any_new ? 201 : 200, json::object{{"processes", std::move(processes)}});
  });

  add("GET", "/api/v1/definitions", any_user(), [this](const Request& req, const PathParams&, [[maybe_unused]] const Principal& who) {
    QueryReader q(req, {"processId"});
    std::string process_id = q.string("processId");  // empty: every process
    if (!q.ok()) return input_problem(q.error());
    auto defs = engine_.store().definitions(process_id);
    if (!defs.ok()) return problem_from_error(defs.error());
    json::array items;
    for (const auto& d : *defs) items.push_back(definition_json(d));
    return json_response(200, json::object{{"items", std::move(items)}});
  });

  add("GET", "/api/v1/definitions/{processId}/{version}/xml", any_user(), [this](const Request&, const PathParams& p, [[maybe_unused]] const Principal& who) {
    auto version = parse_int(p.at("version"), 1, INT32_MAX);
    if (!version) {
      return problem(ProblemKind::kBadRequest, "The version must be a positive integer.", "version");
    }
    auto def = engine_.store().definition(p.at("processId"), static_cast<int32_t>(*version));
    if (!def.ok()) return problem_from_error(def.error());
    if (!*def) return problem(ProblemKind::kNotFound, "There is no such process version.");
    Response out;
    out.content_type = "application/xml";
    out.body = (*def)->xml;
    return out;
  });

  // --- instances -------------------------------------------------------------
  add("POST", "/api/v1/instances", roles({"staff", "supervisor", "designer"}), [this](const Request& req, const PathParams&, [[maybe_unused]] const Principal& who) {
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"processId", "version", "businessKey", "variables", "startEvent"});
    StartRequest start;
    start.process_id = b.string("processId", true, 255);
    start.version = static_cast<int32_t>(b.integer("version", false, 0, INT32_MAX, 0));
    start.business_key = b.string("businessKey", false, 255);
    start.variables = b.object("variables");
    start.start_event = b.string("startEvent", false, 255);
    if (!b.ok()) return input_problem(b.error());
    auto id = engine_.start_instance(start);
    if (!id.ok()) return problem_from_error(id.error());
    Response out = json_response(201, json::object{{"id", *id}});
    out.headers.emplace_back("Location", "/api/v1/instances/" + std::to_string(*id));
    return out;
  });

  add("GET", "/api/v1/instances", roles({"supervisor", "monitor", "designer"}), [this](const Request& req, const PathParams&, [[maybe_unused]] const Principal& who) {
    QueryReader q(req, {"processId", "businessKey", "status", "offset", "limit"});
    store::InstanceQuery query;
    query.process_id = q.string("processId");
    query.business_key = q.string("businessKey");
    std::string status = q.string("status");
    if (!status.empty()) {
      query.status = status_code(status);
      if (query.status == 0) q.fail("status", "The status must be active, completed or terminated.");
    }
    query.offset = static_cast<size_t>(q.integer("offset", 0, 1'000'000'000, 0));
    query.limit = static_cast<size_t>(q.integer("limit", 1, kMaxPage, 50));
    if (!q.ok()) return input_problem(q.error());
    auto list = engine_.store().instances(query);
    if (!list.ok()) return problem_from_error(list.error());
    json::array items;
    for (const auto& i : *list) items.push_back(instance_json(i));
    return json_response(200, json::object{{"items", std::move(items)},
                                           {"offset", query.offset},
                                           {"limit", query.limit}});
  });

  add("GET", "/api/v1/instances/{id}", roles({"supervisor", "monitor", "designer"}), [this](const Request&, const PathParams& p, [[maybe_unused]] const Principal& who) {
    Response error;
    auto id = path_id(p, error);
    if (!id) return error;
    auto inst = engine_.store().instance(*id);
    if (!inst.ok()) return problem_from_error(inst.error());
    if (!*inst) return problem(ProblemKind::kNotFound, "There is no instance " + std::to_string(*id) + ".");
    return json_response(200, instance_json(**inst));
  });

  add("POST", "/api/v1/instances/{id}/cancel", roles({"supervisor", "designer"}), [this](const Request& req, const PathParams& p, [[maybe_unused]] const Principal& who) {
    Response error;
    auto id = path_id(p, error);
    if (!id) return error;
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"reason"});
    std::string reason = b.string("reason", false, 1024);
    if (!b.ok()) return input_problem(b.error());
    auto inst = engine_.store().instance(*id);
    if (!inst.ok()) return problem_from_error(inst.error());
    if (!*inst) return problem(ProblemKind::kNotFound, "There is no instance " + std::to_string(*id) + ".");
    if ((*inst)->status != 1) {
      return problem(ProblemKind::kConflict, "Instance " + std::to_string(*id) + " is no longer active.");
    }
    auto done = engine_.cancel_instance(*id, reason);
    if (!done.ok()) return problem_from_error(done.error());
    auth_.audit(who.actor(), "cancel", "instance " + std::to_string(*id), req.remote_address, reason);
    return no_content();
  });

  add("GET", "/api/v1/instances/{id}/history", roles({"supervisor", "monitor", "designer"}), [this](const Request&, const PathParams& p, [[maybe_unused]] const Principal& who) {
    Response error;
    auto id = path_id(p, error);
    if (!id) return error;
    auto inst = engine_.store().instance(*id);
    if (!inst.ok()) return problem_from_error(inst.error());
    if (!*inst) return problem(ProblemKind::kNotFound, "There is no instance " + std::to_string(*id) + ".");
    auto history = engine_.store().history(*id);
    if (!history.ok()) return problem_from_error(history.error());
    json::array items;
    for (const auto& h : *history) {
      items.push_back(json::object{{"seq", h.seq}, {"at", h.at}, {"records", stored_json(h.records)}});
    }
    return json_response(200, json::object{{"items", std::move(items)}});
  });

  // --- tasks -------------------------------------------------------------------
  add("GET", "/api/v1/tasks", roles({"staff", "supervisor", "monitor"}), [this](const Request& req, const PathParams&, [[maybe_unused]] const Principal& who) {
    QueryReader q(req, {"assignee", "candidateGroup", "candidateUser", "region", "processId", "dueBefore",
                        "unassigned", "sort", "offset", "limit"});
    store::TaskQuery query;
    query.assignee = q.string("assignee");
    query.candidate_groups = q.strings("candidateGroup");
    query.candidate_user = q.string("candidateUser");
    query.regions = q.strings("region");
    query.process_id = q.string("processId");
    query.due_before = time_param(q, req, "dueBefore");
    query.unassigned_only = q.boolean("unassigned", false);
    std::string sort = q.string("sort");
    if (!sort.empty()) {
      query.descending = sort.front() == '-';
      std::string key = query.descending ? sort.substr(1) : sort;
      if (key == "created") query.sort = store::TaskQuery::Sort::kCreated;
      else if (key == "due") query.sort = store::TaskQuery::Sort::kDue;
      else if (key == "priority") query.sort = store::TaskQuery::Sort::kPriority;
      else q.fail("sort", "The sort must be created, due or priority, with '-' before it for descending order.");
    }
    query.offset = static_cast<size_t>(q.integer("offset", 0, 1'000'000'000, 0));
    query.limit = static_cast<size_t>(q.integer("limit", 1, kMaxPage, 50));
    if (!q.ok()) return input_problem(q.error());
    json::array items;
    if (who.has("monitor") && who.regions.empty()) {
      auto list = engine_.store().tasks(query);  // a monitor of every region sees every task
      if (!list.ok()) return problem_from_error(list.error());
      for (const auto& t : *list) items.push_back(task_json(t));
    } else {
      // Page through the store and keep the tasks this caller may see, so
      // offset and limit count visible tasks only.
      store::TaskQuery page = query;
      page.offset = 0;
      page.limit = kMaxPage;
      size_t skipped = 0;
      while (items.size() < query.limit) {
        auto list = engine_.store().tasks(page);
        if (!list.ok()) return problem_from_error(list.error());
        for (const auto& t : *list) {
          if (!may_see_task(who, t)) continue;
          if (skipped < query.offset) {
            ++skipped;
            continue;
          }
          if (items.size() < query.limit) items.push_back(task_json(t));
        }
        if (list->size() < kMaxPage) break;
        page.offset += kMaxPage;
      }
    }
    return json_response(200, json::object{{"items", std::move(items)},
                                           {"offset", query.offset},
                                           {"limit", query.limit}});
  });

  add("GET", "/api/v1/tasks/{id}", roles({"staff", "supervisor", "monitor"}), [this](const Request&, const PathParams& p, [[maybe_unused]] const Principal& who) {
    Response error;
    auto id = path_id(p, error);
    if (!id) return error;
    auto task = engine_.store().task(*id);
    if (!task.ok()) return problem_from_error(task.error());
    if (!*task) return problem(ProblemKind::kNotFound, "There is no open task " + std::to_string(*id) + ".");
    if (!may_see_task(who, **task)) {
      return problem(ProblemKind::kForbidden, "This task is not in your department and region.");
    }
    return json_response(200, task_json(**task));
  });

  add("POST", "/api/v1/tasks/{id}/claim", roles({"staff", "supervisor"}), [this](const Request& req, const PathParams& p, [[maybe_unused]] const Principal& who) {
    Response error;
    auto id = path_id(p, error);
    if (!id) return error;
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"user"});
    std::string user = b.string("user", false, 255);
    if (!b.ok()) return input_problem(b.error());
    if (user.empty()) user = who.name;
    if (user != who.name && !who.has("supervisor")) {
      return problem(ProblemKind::kForbidden, "Only a supervisor may claim a task for someone else.");
    }
    auto task = engine_.store().task(*id);
    if (!task.ok()) return problem_from_error(task.error());
    if (!*task) return problem(ProblemKind::kNotFound, "There is no open task " + std::to_string(*id) + ".");
    if (!may_work_on_task(who, **task)) {
      return problem(ProblemKind::kForbidden, "This task is not in your department and region.");
    }
    auto done = engine_.claim_task(*id, user);
    if (!done.ok()) return problem_from_error(done.error());
    auth_.audit(who.actor(), "claim", "task " + std::to_string(*id), req.remote_address,
                user == who.name ? std::string{} : "for " + user);
    return no_content();
  });

  add("POST", "/api/v1/tasks/{id}/unclaim", roles({"staff", "supervisor"}), [this](const Request& req, const PathParams& p, [[maybe_unused]] const Principal& who) {
    Response error;
    auto id = path_id(p, error);
    if (!id) return error;
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"user"});
    std::string user = b.string("user", false, 255);
    if (!b.ok()) return input_problem(b.error());
    auto task = engine_.store().task(*id);
    if (!task.ok()) return problem_from_error(task.error());
    if (!*task) return problem(ProblemKind::kNotFound, "There is no open task " + std::to_string(*id) + ".");
    if (!may_work_on_task(who, **task)) {
      return problem(ProblemKind::kForbidden, "This task is not in your department and region.");
    }
    if ((*task)->assignee.empty()) {
      return problem(ProblemKind::kConflict, "Task " + std::to_string(*id) + " is not claimed.");
    }
    // Staff release their own tasks; a supervisor may release anyone's. The
    // caller may name the assignee it expects.
    if ((*task)->assignee != who.name && !who.has("supervisor")) {
      return problem(ProblemKind::kForbidden, "Only the assignee or a supervisor may release this task.");
    }
    auto done = engine_.unclaim_task(*id, user.empty() ? (*task)->assignee : user);
    if (!done.ok()) return problem_from_error(done.error());
    auth_.audit(who.actor(), "unclaim", "task " + std::to_string(*id), req.remote_address);
    return no_content();
  });

  add("POST", "/api/v1/tasks/{id}/complete", roles({"staff", "supervisor"}), [this](const Request& req, const PathParams& p, [[maybe_unused]] const Principal& who) {
    Response error;
    auto id = path_id(p, error);
    if (!id) return error;
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"variables", "user"});
    json::object variables = b.object("variables");
    std::string user = b.string("user", false, 255);
    if (!b.ok()) return input_problem(b.error());
    if (!user.empty() && user != who.name) {
      return problem(ProblemKind::kForbidden, "A task is completed by its assignee, as themselves.");
    }
    auto task = engine_.store().task(*id);
    if (!task.ok()) return problem_from_error(task.error());
    if (!*task) return problem(ProblemKind::kNotFound, "There is no open task " + std::to_string(*id) + ".");
    if (!may_work_on_task(who, **task)) {
      return problem(ProblemKind::kForbidden, "This task is not in your department and region.");
    }
    auto done = engine_.complete_task(*id, variables, who.name);
    if (!done.ok()) return problem_from_error(done.error());
    auth_.audit(who.actor(), "complete", "task " + std::to_string(*id), req.remote_address);
    return no_content();
  });

  // --- messages and signals -------------------------------------------------
  add("POST", "/api/v1/messages", roles({"staff", "supervisor", "designer"}), [this](const Request& req, const PathParams&, [[maybe_unused]] const Principal& who) {
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"name", "correlationKey", "variables", "timeToLiveMs", "messageId"});
    PublishRequest pub;
    pub.name = b.string("name", true, 255);
    pub.correlation_key = b.string("correlationKey", false, 255);
    pub.variables = b.object("variables");
    pub.time_to_live_ms = b.integer("timeToLiveMs", false, 0, int64_t{10} * 365 * 24 * 3600 * 1000, 0);
    pub.message_id = b.string("messageId", false, 255);
    if (!b.ok()) return input_problem(b.error());
    auto result = engine_.publish_message(pub);
    if (!result.ok()) return problem_from_error(result.error());
    return json_response(200, json::object{{"correlated", result->correlated},
                                           {"started", result->started},
                                           {"buffered", result->buffered}});
  });

  add("POST", "/api/v1/signals", roles({"supervisor", "designer"}), [this](const Request& req, const PathParams&, [[maybe_unused]] const Principal& who) {
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"name", "variables"});
    std::string name = b.string("name", true, 255);
    json::object variables = b.object("variables");
    if (!b.ok()) return input_problem(b.error());
    auto n = engine_.throw_signal(name, variables);
    if (!n.ok()) return problem_from_error(n.error());
    return json_response(200, json::object{{"triggered", *n}});
  });

  // --- incidents ---------------------------------------------------------------
  add("GET", "/api/v1/incidents", roles({"supervisor", "monitor", "designer"}), [this](const Request& req, const PathParams&, [[maybe_unused]] const Principal& who) {
    QueryReader q(req, {"instanceId"});
    int64_t instance = q.integer("instanceId", 1, kMaxId, 0);
    if (!q.ok()) return input_problem(q.error());
    auto list = engine_.store().incidents(instance);
    if (!list.ok()) return problem_from_error(list.error());
    json::array items;
    for (const auto& i : *list) items.push_back(incident_json(i));
    return json_response(200, json::object{{"items", std::move(items)}});
  });

  add("POST", "/api/v1/incidents/{id}/resolve", roles({"designer"}), [this](const Request& req, const PathParams& p, [[maybe_unused]] const Principal& who) {
    Response error;
    auto id = path_id(p, error);
    if (!id) return error;
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"retries"});
    auto retries = static_cast<int32_t>(b.integer("retries", false, 0, 1000, 1));
    if (!b.ok()) return input_problem(b.error());
    auto done = engine_.resolve_incident(*id, retries);
    if (!done.ok()) return problem_from_error(done.error());
    return no_content();
  });

  // --- the console -------------------------------------------------------------
  r.set_fallback([this](const Request& req, const PathParams&) { return static_files_.serve(req); });
}

void Api::add_auth_routes() {
  // --- sessions ----------------------------------------------------------------
  add("POST", "/api/v1/auth/login", open(), [this](const Request& req, const PathParams&, const Principal&) {
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"username", "password"});
    std::string name = b.string("username", true, 64);
    std::string password = b.string("password", true, 1024);
    if (!b.ok()) return input_problem(b.error());
    if (!auth_.available()) return problem(ProblemKind::kUnauthorized, "This server keeps no users.");
    auto result = auth_.login(name, password, req.remote_address);
    if (!result.ok()) return problem_from_error(result.error());
    if (!*result) {
      // The same answer whether the name is unknown, the password wrong, the
      // user disabled or the name locked after repeated failures.
      return problem(ProblemKind::kUnauthorized,
                     "The user name or password is wrong, or the account is temporarily locked.");
    }
    const Principal& p = (*result)->principal;
    Response out = json_response(200, json::object{{"name", p.name},
                                                   {"roles", string_array(p.roles)},
                                                   {"department", p.department},
                                                   {"regions", string_array(p.regions)},
                                                   {"csrfToken", p.csrf_token}});
    out.headers.emplace_back("Set-Cookie", auth_.set_cookie((*result)->cookie_token));
    out.headers.emplace_back("Cache-Control", "no-store");
    return out;
  });

  add("POST", "/api/v1/auth/logout", any_user(), [this](const Request& req, const PathParams&, const Principal& who) {
    if (auto r = auth_.logout(who); !r.ok()) return problem_from_error(r.error());
    if (who.via_session()) auth_.audit(who.actor(), "logout", "user " + who.name, req.remote_address);
    Response out = no_content();
    out.headers.emplace_back("Set-Cookie", auth_.clear_cookie());
    return out;
  });

  add("GET", "/api/v1/me", any_user(), [](const Request&, const PathParams&, const Principal& who) {
    json::object o{{"name", who.name},
                   {"kind", who.kind == Principal::Kind::kToken ? "token" : "user"},
                   {"roles", string_array(who.roles)},
                   {"department", who.department},
                   {"regions", string_array(who.regions)}};
    if (who.kind == Principal::Kind::kToken) o["topics"] = string_array(who.topics);
    if (who.via_session()) o["csrfToken"] = who.csrf_token;
    Response out = json_response(200, o);
    out.headers.emplace_back("Cache-Control", "no-store");
    return out;
  });

  add("POST", "/api/v1/me/password", any_user(), [this](const Request& req, const PathParams&, const Principal& who) {
    if (who.kind != Principal::Kind::kUser) {
      return problem(ProblemKind::kForbidden, "An API token has no password.");
    }
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"oldPassword", "newPassword"});
    std::string old_password = b.string("oldPassword", true, 1024);
    std::string new_password = b.string("newPassword", true, 1024);
    if (!b.ok()) return input_problem(b.error());
    if (new_password.size() < 12) {
      return problem(ProblemKind::kBadRequest, "A new password needs at least 12 characters.", "newPassword");
    }
    auto user = auth_.store().user(who.name);
    if (!user.ok()) return problem_from_error(user.error());
    if (!*user || !verify_password(old_password, (*user)->password_hash)) {
      auth_.audit(who.actor(), "password-change-failed", "user " + who.name, req.remote_address);
      return problem(ProblemKind::kForbidden, "The old password is wrong.", "oldPassword");
    }
    store::UserRecord updated = **user;
    updated.password_hash = hash_password(new_password, auth_.options().password_iterations);
    updated.password_changed_at = auth_.now();
    if (auto r = auth_.store().update_user(updated); !r.ok()) return problem_from_error(r.error());
    // Every session ends, this one too: log in again with the new password.
    (void)auth_.store().delete_sessions_of(who.name);
    auth_.audit(who.actor(), "password-change", "user " + who.name, req.remote_address);
    Response out = no_content();
    out.headers.emplace_back("Set-Cookie", auth_.clear_cookie());
    return out;
  });

  // --- users and tokens (admin) -------------------------------------------------
  add("GET", "/api/v1/users", roles({"admin"}), [this](const Request&, const PathParams&, const Principal&) {
    auto users = auth_.store().users();
    if (!users.ok()) return problem_from_error(users.error());
    json::array items;
    for (const auto& u : *users) items.push_back(user_json(u));
    return json_response(200, json::object{{"items", std::move(items)}});
  });

  add("POST", "/api/v1/users", roles({"admin"}), [this](const Request& req, const PathParams&, const Principal& who) {
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"name", "roles", "department", "regions", "password"});
    store::UserRecord u;
    u.name = b.string("name", true, 64);
    if (b.ok() && !valid_user_name(u.name)) b.fail("name", "A name is 1 to 64 letters, digits, '.', '_' or '-'.");
    read_user_fields(b, body, u);
    std::string password = b.string("password", false, 1024);
    if (b.ok() && !password.empty() && password.size() < 12) {
      b.fail("password", "A password needs at least 12 characters.");
    }
    if (!b.ok()) return input_problem(b.error());
    bool generated = password.empty();
    if (generated) password = generate_password();
    u.password_hash = hash_password(password, auth_.options().password_iterations);
    u.created_at = u.password_changed_at = auth_.now();
    if (auto r = auth_.store().add_user(u); !r.ok()) {
      if (r.error().code == "duplicate") return problem(ProblemKind::kConflict, "There is already a user " + u.name + ".");
      return problem_from_error(r.error());
    }
    auth_.audit(who.actor(), "user-add", "user " + u.name, req.remote_address);
    json::object o = user_json(u);
    if (generated) o["password"] = password;  // shown this once
    Response out = json_response(201, o);
    out.headers.emplace_back("Cache-Control", "no-store");
    return out;
  });

  add("PATCH", "/api/v1/users/{name}", roles({"admin"}),
      [this](const Request& req, const PathParams& p, const Principal& who) {
        json::object body;
        if (auto e = parse_json_body(req, body)) return input_problem(*e);
        auto user = auth_.store().user(p.at("name"));
        if (!user.ok()) return problem_from_error(user.error());
        if (!*user) return problem(ProblemKind::kNotFound, "There is no user " + p.at("name") + ".");
        BodyReader b(body, {"roles", "department", "regions", "disabled"});
        store::UserRecord u = **user;
        read_user_fields(b, body, u);
        u.disabled = b.boolean("disabled", u.disabled);
        if (!b.ok()) return input_problem(b.error());
        if (auto r = auth_.store().update_user(u); !r.ok()) return problem_from_error(r.error());
        // Changed rights take effect at once: sessions load the user on every call.
        if (u.disabled) (void)auth_.store().delete_sessions_of(u.name);
        auth_.audit(who.actor(), "user-change", "user " + u.name, req.remote_address,
                    u.disabled ? "disabled" : std::string{});
        return json_response(200, user_json(u));
      });

  add("POST", "/api/v1/tokens", roles({"admin"}), [this](const Request& req, const PathParams&, const Principal& who) {
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"name", "topics"});
    store::ApiTokenRecord t;
    t.name = b.string("name", true, 64);
    if (b.ok() && !valid_user_name(t.name)) b.fail("name", "A name is 1 to 64 letters, digits, '.', '_' or '-'.");
    t.topics = b.strings("topics", 100, 255);
    if (b.ok() && t.topics.empty()) b.fail("topics", "Name at least one job topic or connector the token may serve.");
    if (!b.ok()) return input_problem(b.error());
    std::string secret = random_token();
    t.token_hash = sha256_hex(secret);
    t.created_by = who.actor();
    t.created_at = auth_.now();
    auto id = auth_.store().add_api_token(t);
    if (!id.ok()) {
      if (id.error().code == "duplicate") return problem(ProblemKind::kConflict, "There is already a token " + t.name + ".");
      return problem_from_error(id.error());
    }
    auth_.audit(who.actor(), "token-add", "token " + t.name, req.remote_address);
    Response out = json_response(
        201, json::object{{"id", *id}, {"name", t.name}, {"topics", string_array(t.topics)}, {"token", secret}});
    out.headers.emplace_back("Cache-Control", "no-store");
    return out;
  });

  // --- the audit trail ---------------------------------------------------------
  add("GET", "/api/v1/audit", roles({"admin", "monitor"}), [this](const Request& req, const PathParams&, const Principal&) {
    QueryReader q(req, {"actor", "action", "since", "offset", "limit"});
    store::AuditQuery query;
    query.actor = q.string("actor");
    query.action = q.string("action");
    query.since = time_param(q, req, "since");
    query.offset = static_cast<size_t>(q.integer("offset", 0, 1'000'000'000, 0));
    query.limit = static_cast<size_t>(q.integer("limit", 1, kMaxPage, 50));
    if (!q.ok()) return input_problem(q.error());
    auto rows = auth_.store().audit(query);
    if (!rows.ok()) return problem_from_error(rows.error());
    json::array items;
    for (const auto& a : *rows) {
      items.push_back(json::object{{"id", a.id},
                                   {"at", a.at},
                                   {"actor", a.actor},
                                   {"action", a.action},
                                   {"target", a.target},
                                   {"address", a.address},
                                   {"detail", a.detail}});
    }
    return json_response(200, json::object{{"items", std::move(items)},
                                           {"offset", query.offset},
                                           {"limit", query.limit}});
  });
}

}  // namespace banshi::api
