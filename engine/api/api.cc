#include "api/api.h"

#include <chrono>
#include <exception>

#include <boost/json.hpp>

#include "api/input.h"
#include "api/problem.h"
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

}  // namespace

Api::Api(Engine& engine, ApiOptions options)
    : engine_(engine), options_(std::move(options)), static_files_(options_.console_dir) {
  add_routes();
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
  r.add("GET", "/healthz", [](const Request&, const PathParams&) {
    return json_response(200, json::object{{"status", "alive"}});
  });

  r.add("GET", "/readyz", [this](const Request&, const PathParams&) {
    auto present = engine_.store().schema_version();
    if (!present.ok()) return problem(ProblemKind::kNotReady, "The store cannot be reached.");
    int latest = engine_.store().latest_schema_version();
    if (*present != latest) {
      return problem(ProblemKind::kNotReady, "The store schema is version " + std::to_string(*present) +
                                                 "; this server needs version " + std::to_string(latest) + ".");
    }
    return json_response(200, json::object{{"status", "ready"}, {"schemaVersion", latest}});
  });

  r.add("GET", "/metrics", [this](const Request&, const PathParams&) {
    Response out;
    out.content_type = "text/plain; version=0.0.4; charset=utf-8";
    expose_engine_metrics(engine_.metrics(), out.body);
    http_metrics_.expose(out.body);
    return out;
  });

  r.add("GET", "/api/v1/openapi.yaml", [](const Request&, const PathParams&) {
    Response out;
    out.content_type = "application/yaml";
    out.body = std::string(openapi_yaml());
    return out;
  });

  // --- definitions ---------------------------------------------------------
  r.add("POST", "/api/v1/definitions", [this](const Request& req, const PathParams&) {
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
    auto deployed = engine_.deploy(resource, req.body, options_.deployed_by);
    if (!deployed.ok()) return problem_from_error(deployed.error());
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

  r.add("GET", "/api/v1/definitions", [this](const Request& req, const PathParams&) {
    QueryReader q(req, {"processId"});
    std::string process_id = q.string("processId");  // empty: every process
    if (!q.ok()) return input_problem(q.error());
    auto defs = engine_.store().definitions(process_id);
    if (!defs.ok()) return problem_from_error(defs.error());
    json::array items;
    for (const auto& d : *defs) items.push_back(definition_json(d));
    return json_response(200, json::object{{"items", std::move(items)}});
  });

  r.add("GET", "/api/v1/definitions/{processId}/{version}/xml", [this](const Request&, const PathParams& p) {
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
  r.add("POST", "/api/v1/instances", [this](const Request& req, const PathParams&) {
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

  r.add("GET", "/api/v1/instances", [this](const Request& req, const PathParams&) {
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

  r.add("GET", "/api/v1/instances/{id}", [this](const Request&, const PathParams& p) {
    Response error;
    auto id = path_id(p, error);
    if (!id) return error;
    auto inst = engine_.store().instance(*id);
    if (!inst.ok()) return problem_from_error(inst.error());
    if (!*inst) return problem(ProblemKind::kNotFound, "There is no instance " + std::to_string(*id) + ".");
    return json_response(200, instance_json(**inst));
  });

  r.add("POST", "/api/v1/instances/{id}/cancel", [this](const Request& req, const PathParams& p) {
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
    return no_content();
  });

  r.add("GET", "/api/v1/instances/{id}/history", [this](const Request&, const PathParams& p) {
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
  r.add("GET", "/api/v1/tasks", [this](const Request& req, const PathParams&) {
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
    auto list = engine_.store().tasks(query);
    if (!list.ok()) return problem_from_error(list.error());
    json::array items;
    for (const auto& t : *list) items.push_back(task_json(t));
    return json_response(200, json::object{{"items", std::move(items)},
                                           {"offset", query.offset},
                                           {"limit", query.limit}});
  });

  r.add("GET", "/api/v1/tasks/{id}", [this](const Request&, const PathParams& p) {
    Response error;
    auto id = path_id(p, error);
    if (!id) return error;
    auto task = engine_.store().task(*id);
    if (!task.ok()) return problem_from_error(task.error());
    if (!*task) return problem(ProblemKind::kNotFound, "There is no open task " + std::to_string(*id) + ".");
    return json_response(200, task_json(**task));
  });

  r.add("POST", "/api/v1/tasks/{id}/claim", [this](const Request& req, const PathParams& p) {
    Response error;
    auto id = path_id(p, error);
    if (!id) return error;
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"user"});
    std::string user = b.string("user", true, 255);
    if (!b.ok()) return input_problem(b.error());
    auto done = engine_.claim_task(*id, user);
    if (!done.ok()) return problem_from_error(done.error());
    return no_content();
  });

  r.add("POST", "/api/v1/tasks/{id}/unclaim", [this](const Request& req, const PathParams& p) {
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
    if ((*task)->assignee.empty()) {
      return problem(ProblemKind::kConflict, "Task " + std::to_string(*id) + " is not claimed.");
    }
    // Without authentication the caller may name the assignee it expects;
    // otherwise the current assignee is released.
    auto done = engine_.unclaim_task(*id, user.empty() ? (*task)->assignee : user);
    if (!done.ok()) return problem_from_error(done.error());
    return no_content();
  });

  r.add("POST", "/api/v1/tasks/{id}/complete", [this](const Request& req, const PathParams& p) {
    Response error;
    auto id = path_id(p, error);
    if (!id) return error;
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"variables", "user"});
    json::object variables = b.object("variables");
    std::string user = b.string("user", false, 255);
    if (!b.ok()) return input_problem(b.error());
    auto done = engine_.complete_task(*id, variables, user);
    if (!done.ok()) return problem_from_error(done.error());
    return no_content();
  });

  // --- messages and signals -------------------------------------------------
  r.add("POST", "/api/v1/messages", [this](const Request& req, const PathParams&) {
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

  r.add("POST", "/api/v1/signals", [this](const Request& req, const PathParams&) {
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
  r.add("GET", "/api/v1/incidents", [this](const Request& req, const PathParams&) {
    QueryReader q(req, {"instanceId"});
    int64_t instance = q.integer("instanceId", 1, kMaxId, 0);
    if (!q.ok()) return input_problem(q.error());
    auto list = engine_.store().incidents(instance);
    if (!list.ok()) return problem_from_error(list.error());
    json::array items;
    for (const auto& i : *list) items.push_back(incident_json(i));
    return json_response(200, json::object{{"items", std::move(items)}});
  });

  r.add("POST", "/api/v1/incidents/{id}/resolve", [this](const Request& req, const PathParams& p) {
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

}  // namespace banshi::api
