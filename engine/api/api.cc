#include "api/api.h"

#include <chrono>
#include <exception>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "api/case_routes.h"
#include "api/input.h"
#include "api/mask.h"
#include "api/password.h"
#include "api/problem.h"
#include "api/roles.h"
#include "api/task_json.h"
#include "core/records.h"
#include "exec/case_region.h"
#include "expr/json_text.h"
#include "model/iso8601.h"
#include "store/store.h"

namespace banshi::api {

namespace json = boost::json;

namespace {

constexpr int64_t kMaxId = INT64_MAX;
constexpr size_t kMaxPage = 1000;

// Numbers as people write them (expr/json_text.h), into a buffer sized for a
// page of tasks so that it is not grown a step at a time.
std::string to_json_text(const json::value& v) {
  std::string out;
  out.reserve(4096);
  expr::append_json(out, v);
  return out;
}

Response json_response(int status, const json::value& v) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = to_json_text(v);
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


// The rate limiter's key: the credential when there is one (hashed, so a key
// is small whatever a client sends; a collision only shares a bucket), else
// the address. The credential is not checked here: made-up ones are capped
// by their address (Api::handle).
std::string client_key(const Request& req) {
  auto hashed = [](char kind, std::string_view credential) {
    return fmt::format("{}:{:016x}", kind, std::hash<std::string_view>{}(credential));
  };
  if (auto auth = req.header("authorization")) return hashed('a', *auth);
  if (auto cookie = req.header("cookie")) {
    std::string_view c = *cookie;
    size_t at = c.find(kSessionCookie);
    if (at != std::string_view::npos) return hashed('s', c.substr(at, kSessionCookie.size() + 1 + 64));
  }
  return "ip:" + req.remote_address;
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
  o["businessKey"] = mask_key(i.business_key);
  o["status"] = status_word(i.status);
  o["startedAt"] = i.started_at;
  if (i.ended_at != 0) o["endedAt"] = i.ended_at;
  if (i.parent_id != 0) o["parentId"] = i.parent_id;
  o["region"] = i.region;
  // Masked: the full record is GET /instances/{id}/applicant?full=true (audited).
  if (!i.applicant_name.empty()) o["applicantName"] = mask_name(i.applicant_name);
  if (!i.applicant_id.empty()) o["applicantIdNumber"] = mask_id_number(i.applicant_id);
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
      b.fail("department", "A department is 1 to 32 characters of a-z, 0-9 and inner hyphens, such as civil-affairs.");
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

// The case (instance) a path names, when the caller may see it as a whole
// (may_see_case): otherwise `error` holds the 400, 404 or 403 to answer.
std::optional<store::InstanceRecord> visible_case(Engine& engine, const PathParams& p, const Principal& who,
                                                  Response& error) {
  auto id = path_id(p, error);
  if (!id) return std::nullopt;
  auto inst = engine.store().instance(*id);
  if (!inst.ok()) {
    error = problem_from_error(inst.error());
    return std::nullopt;
  }
  if (!*inst) {
    error = problem(ProblemKind::kNotFound, "There is no instance " + std::to_string(*id) + ".");
    return std::nullopt;
  }
  if (!may_see_case(who, (*inst)->region)) {
    error = problem(ProblemKind::kForbidden, "This case is not in your region.");
    return std::nullopt;
  }
  return std::move(**inst);
}

store::AuthStore* auth_store_of(Engine& engine, store::AuthStore* given) {
  if (given != nullptr) return given;
  return dynamic_cast<store::AuthStore*>(&engine.store());
}

}  // namespace

Response token_refused() {
  return problem(ProblemKind::kForbidden, "An API token serves job topics only; this route is for users.");
}

Api::Api(Engine& engine, ApiOptions options)
    : engine_(engine),
      options_(std::move(options)),
      auth_(auth_store_of(engine_, options_.auth_store), options_.clock, options_.auth),
      static_files_(options_.console_dir),
      rate_limiter_(options_.rate_limit_per_second, options_.rate_limit_burst),
      address_limiter_(options_.rate_limit_per_second * kAddressShare, options_.rate_limit_burst * kAddressShare),
      events_(std::make_unique<EventHub>(engine_, options_.ws_replay_events)) {
  // A connection's rights follow its session (a failed look keeps them: the
  // store answers again a moment later).
  events_->set_recheck([this](const Principal& who) -> std::optional<Principal> {
    if (who.session_hash.empty()) return who;
    auto now = auth_.session_principal(who.session_hash, /*touch=*/false);
    if (!now.ok()) return who;
    return *now;
  }, options_.ws_recheck_ms);
  add_routes();
  add_auth_routes();
  add_monitor_routes();
  add_report_routes();
  add_task_routes();
  add_instance_routes();
  add_case_routes();
  add_external_task_routes();
  add_frontdoor_routes();
  add_applicant_routes();
  add_connector_routes();
  add_scenario_routes();
  add_clock_routes();
}

Upgrade Api::upgrade(const Request& req) {
  Upgrade up;
  std::string path;
  if (!percent_decode(req.path, path, false) || path != "/api/v1/events") {
    up.refuse = problem(ProblemKind::kNotFound, "WebSocket connections are served at /api/v1/events only.");
    return up;
  }
  // A browser sends its page's origin: a page from elsewhere must not ride on
  // the user's cookie (the WebSocket handshake carries no CSRF header).
  if (auto origin = req.header("origin")) {
    auto host = req.header("host");
    std::string_view o = *origin;
    size_t scheme = o.find("://");
    if (!host || scheme == std::string_view::npos || o.substr(scheme + 3) != *host) {
      up.refuse = problem(ProblemKind::kForbidden, "The page's Origin is not this server.");
      return up;
    }
  }
  auto who = auth_.authenticate(req);
  if (!who.ok()) {
    up.refuse = problem_from_error(who.error());
    return up;
  }
  if (!*who) {
    up.refuse = problem(ProblemKind::kUnauthorized, "Log in (POST /api/v1/auth/login) or send a bearer token.");
    return up;
  }
  if ((*who)->kind != Principal::Kind::kUser) {
    up.refuse = problem(ProblemKind::kForbidden, "Events are for users; an API token serves job topics.");
    return up;
  }
  // ?since=<position>: resume after the last event the client saw.
  std::optional<uint64_t> since;
  QueryReader q(req, {"since"});
  int64_t position = q.integer("since", 0, INT64_MAX, -1);
  if (!q.ok()) {
    up.refuse = input_problem(q.error());
    return up;
  }
  if (position >= 0) {
    since = static_cast<uint64_t>(position);
    if (auto refused = events_->replay_refusal(*since)) {
      up.refuse = refused->gone ? problem(ProblemKind::kGone, refused->detail)
                                : problem(ProblemKind::kBadRequest, refused->detail, "since");
      return up;
    }
  }
  auto slot = std::make_shared<std::weak_ptr<WsClient>>();
  EventHub* hub = events_.get();
  up.on_open = [hub, slot, since, principal = **who](const std::shared_ptr<WsClient>& client) {
    *slot = client;
    hub->add(client, principal, since);
  };
  up.on_message = [hub, slot](std::string_view text) {
    if (auto client = slot->lock()) hub->on_message(client, text);
  };
  up.on_close = [hub, slot] {
    if (auto client = slot->lock()) hub->remove(client.get());
  };
  return up;
}

void Api::begin_shutdown() {
  shutting_down_ = true;
  std::lock_guard lock(poll_mu_);
  poll_cv_.notify_all();
}

bool Api::long_poll_wait(int64_t ms) {
  std::unique_lock lock(poll_mu_);
  poll_cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return shutting_down_.load(); });
  return !shutting_down_;
}

void Api::add(std::string method, std::string path_template, Access access, AuthedHandler handler) {
  router_.add(std::move(method), std::move(path_template),
              [this, access = std::move(access), handler = std::move(handler)](const Request& req,
                                                                               const PathParams& params) {
                if (access.kind == Access::Kind::kOpen) return handler(req, params, Principal{});
                if (access.kind == Access::Kind::kLoopbackOrRoles && is_loopback(req.remote_address)) {
                  return handler(req, params, Principal{});
                }
                if (access.kind == Access::Kind::kApplicant) {
                  auto applicant = authenticate_applicant(req);
                  if (!applicant.ok()) return problem_from_error(applicant.error());
                  if (!*applicant) {
                    return problem(ProblemKind::kUnauthorized,
                                   "Sign in with the one-time code sent to your phone (POST /api/v1/applicant/session).");
                  }
                  auto sent = req.header("x-csrf-token");
                  if (req.method != "GET" && req.method != "HEAD" &&
                      (!sent || !equal_constant_time(*sent, (*applicant)->csrf_token))) {
                    return problem(ProblemKind::kForbidden,
                                   "Send the session's CSRF token (from sign-in or GET /api/v1/applicant/me) in X-CSRF-Token.");
                  }
                  return handler(req, params, **applicant);
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

// Each credential has its bucket, so colleagues behind one office address do
// not share one; an address as a whole may make kAddressShare times one
// client's rate, so a client cannot escape its limit by sending a new
// made-up credential with every request.
bool Api::within_rate(const Request& request, int64_t* retry_after) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  const std::string key = client_key(request);
  if (!rate_limiter_.allow(key, now, retry_after)) return false;
  if (key.rfind("ip:", 0) == 0) return true;
  return address_limiter_.allow("ip:" + request.remote_address, now, retry_after);
}

Response Api::handle(const Request& request) {
  auto started = std::chrono::steady_clock::now();
  Response response;
  int64_t retry_after = 0;
  if (rate_limiter_.enabled() && request.path != "/healthz" && request.path != "/readyz" &&
      request.path != "/metrics" &&
      !within_rate(request, &retry_after)) {
    response = problem(ProblemKind::kTooManyRequests, "Slow down: this client is over its request rate.");
    response.headers.emplace_back("Retry-After", std::to_string((retry_after + 999) / 1000));
    response.route = "rate-limited";
    http_metrics_.observe(response.route, "OTHER", response.status, 0);
    return response;
  }
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
    json::object ready{{"status", "ready"}, {"schemaVersion", latest}, {"store", engine_.store().kind()}};
    if (!options_.node_id.empty()) {
      // A node of a cluster: its role and the job leases it holds.
      ready["node"] = options_.node_id;
      auto nodes = engine_.store().nodes(engine_.clock().now_ms());
      if (nodes.ok()) {
        for (const store::NodeRecord& n : *nodes) {
          if (n.node_id != options_.node_id) continue;
          ready["role"] = n.role;
          ready["leases"] = n.leases;
        }
        ready["nodes"] = static_cast<int64_t>(nodes->size());
      } else {
        ready["role"] = "single";
      }
    }
    return json_response(200, std::move(ready));
  });

  add("GET", "/metrics", loopback_or({"monitor", "admin"}), [this](const Request&, const PathParams&, [[maybe_unused]] const Principal& who) {
    Response out;
    out.content_type = "text/plain; version=0.0.4; charset=utf-8";
    expose_engine_metrics(engine_.metrics(), out.body);
    http_metrics_.expose(out.body);
    {
      // Which node this is and what it holds (docs/cluster.md).
      const std::string node = options_.node_id.empty() ? "banshi" : options_.node_id;
      auto label = [](const std::string& v) {  // a Prometheus label value, escaped
        std::string escaped;
        for (char c : v) {
          if (c == '\\' || c == '"') escaped += '\\';
          escaped += c == '\n' ? 'n' : c;
        }
        return escaped;
      };
      out.body += "# HELP banshi_node_info This node: its id, its store and its role in the cluster.\n"
                  "# TYPE banshi_node_info gauge\n";
      std::string role = "single";
      int64_t leases = -1;
      auto nodes = engine_.store().nodes(engine_.clock().now_ms());
      if (nodes.ok()) {
        for (const store::NodeRecord& n : *nodes) {
          if (n.node_id == node) role = n.role, leases = n.leases;
        }
      }
      out.body += "banshi_node_info{node=\"" + label(node) + "\",store=\"" + label(engine_.store().kind()) +
                  "\",role=\"" + label(role) + "\"} 1\n";
      // Known in a cluster only; elsewhere the families have no sample.
      out.body += "# HELP banshi_node_job_leases Jobs this node holds a live lease on (cluster only).\n"
                  "# TYPE banshi_node_job_leases gauge\n";
      if (leases >= 0) out.body += "banshi_node_job_leases " + std::to_string(leases) + "\n";
      out.body += "# HELP banshi_cluster_nodes Nodes that ever beat in the shared store (cluster only).\n"
                  "# TYPE banshi_cluster_nodes gauge\n";
      if (nodes.ok()) out.body += "banshi_cluster_nodes " + std::to_string(nodes->size()) + "\n";
    }
    out.body += "# HELP banshi_ws_clients WebSocket clients connected to /api/v1/events.\n"
                "# TYPE banshi_ws_clients gauge\nbanshi_ws_clients " + std::to_string(events_->clients()) + "\n";
    out.body += "# HELP banshi_ws_events_sent_total Event frames queued to WebSocket clients.\n"
                "# TYPE banshi_ws_events_sent_total counter\nbanshi_ws_events_sent_total " +
                std::to_string(events_->sent()) + "\n";
    out.body += "# HELP banshi_ws_events_dropped_total Event frames not sent because the client was too slow or gone.\n"
                "# TYPE banshi_ws_events_dropped_total counter\nbanshi_ws_events_dropped_total " +
                std::to_string(events_->dropped()) + "\n";
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
    QueryReader q(req, {"resource", "validateOnly"});
    std::string resource = q.string("resource", 255);
    bool validate_only = q.boolean("validateOnly", false);
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
    if (validate_only) return validation_report(resource, req.body, deploy_timer_env(engine_));  // nothing stored
    AuditNote note = auth_.note(who, "deploy", "resource " + resource, req.remote_address);
    auto deployed = engine_.deploy(resource, req.body, who.actor(), &note);
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

  add("GET", "/api/v1/definitions", any_user(), [this](const Request& req, const PathParams&, const Principal& who) {
    if (who.kind == Principal::Kind::kToken) return token_refused();
    QueryReader q(req, {"processId"});
    std::string process_id = q.string("processId");  // empty: every process
    if (!q.ok()) return input_problem(q.error());
    auto defs = engine_.store().definitions(process_id);
    if (!defs.ok()) return problem_from_error(defs.error());
    json::array items;
    for (const auto& d : *defs) items.push_back(definition_json(d));
    return json_response(200, json::object{{"items", std::move(items)}});
  });

  add("GET", "/api/v1/definitions/{processId}/{version}/xml", any_user(), [this](const Request&, const PathParams& p, const Principal& who) {
    if (who.kind == Principal::Kind::kToken) return token_refused();
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
  add("POST", "/api/v1/instances", roles({"staff", "supervisor", "designer"}), [this](const Request& req, const PathParams&, const Principal& who) {
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
    // Staff and supervisors open cases of their regions only, as they find
    // and work on only those; designers start any. A case's region is its
    // applicant's (applicant.region, else a top-level region variable).
    if (who.kind == Principal::Kind::kUser && !who.has("designer")) {
      const std::string region = exec::case_region(start.variables);
      if (!region.empty() && !may_see_case(who, region)) {
        return problem(ProblemKind::kForbidden, "You may start cases of your regions only.", "variables");
      }
    }
    auto id = engine_.start_instance(start);
    if (!id.ok()) return problem_from_error(id.error());
    Response out = json_response(201, json::object{{"id", *id}});
    out.headers.emplace_back("Location", "/api/v1/instances/" + std::to_string(*id));
    return out;
  });

  add("GET", "/api/v1/instances", roles({"staff", "supervisor", "monitor", "designer", "admin"}), [this](const Request& req, const PathParams&, [[maybe_unused]] const Principal& who) {
    QueryReader q(req, {"processId", "businessKey", "relatedTo", "status", "startedAfter", "startedBefore",
                        "applicantIdNumber", "applicantName", "namePrefix", "region", "offset", "limit"});
    store::InstanceQuery query;
    query.process_id = q.string("processId");
    query.business_key = q.string("businessKey");
    // The instances that share an instance's business key, which lists show
    // masked when it is an ID number (mask_key).
    const int64_t related_to = q.integer("relatedTo", 1, kMaxId, 0);
    if (related_to != 0 && !query.business_key.empty()) q.fail("relatedTo", "Give relatedTo or businessKey, not both.");
    bool nothing_related = false;
    if (related_to != 0 && q.ok()) {
      auto related = engine_.store().instance(static_cast<InstanceId>(related_to));
      if (!related.ok()) return problem_from_error(related.error());
      nothing_related = !*related || (*related)->business_key.empty();
      if (!nothing_related) query.business_key = (*related)->business_key;
    }
    // Personal data in a query: validated, bound, never logged or echoed.
    query.applicant_id = q.string("applicantIdNumber", 18);
    if (!query.applicant_id.empty() && !valid_id_number(query.applicant_id)) {
      q.fail("applicantIdNumber", "An ID number is 18 characters: 17 digits and a digit or X (15 digits for old cards).");
    }
    query.applicant_name = q.string("applicantName", 64);
    query.name_prefix = q.boolean("namePrefix", false);
    for (const std::string& code : q.strings("region", 50, 6)) {
      if (!valid_region(code)) q.fail("region", "A region is a 6-digit region code such as 220102.");
      query.regions.push_back(region_prefix(code));
    }
    // Whom the caller may see: staff, supervisors and monitors with regions
    // find cases of their regions only; designers, admins and monitors
    // without regions find every case.
    if (!who.has("designer") && !who.has("admin") && !(who.has("monitor") && who.regions.empty())) {
      std::vector<std::string> mine;
      for (const std::string& code : who.regions) mine.push_back(region_prefix(code));
      if (query.regions.empty()) {
        query.regions = mine;
      } else {
        std::vector<std::string> both;
        for (const std::string& asked : query.regions) {
          for (const std::string& own : mine) {
            if (asked.rfind(own, 0) == 0) both.push_back(asked);        // asked lies within own
            else if (own.rfind(asked, 0) == 0) both.push_back(own);     // own lies within asked
          }
        }
        query.regions = both;
      }
      query.any_region = false;
    }
    query.started_after = time_param(q, req, "startedAfter");
    query.started_before = time_param(q, req, "startedBefore");
    std::string status = q.string("status");
    if (!status.empty()) {
      query.status = status_code(status);
      if (query.status == 0) q.fail("status", "The status must be active, completed or terminated.");
    }
    query.offset = static_cast<size_t>(q.integer("offset", 0, 1'000'000'000, 0));
    query.limit = static_cast<size_t>(q.integer("limit", 1, kMaxPage, 50));
    if (!q.ok()) return input_problem(q.error());
    auto list = nothing_related ? Result<std::vector<store::InstanceRecord>>(std::vector<store::InstanceRecord>{})
                                : engine_.store().instances(query);
    if (!list.ok()) return problem_from_error(list.error());
    json::array items;
    for (const auto& i : *list) items.push_back(instance_json(i));
    return json_response(200, json::object{{"items", std::move(items)},
                                           {"offset", query.offset},
                                           {"limit", query.limit}});
  });

  add("GET", "/api/v1/instances/{id}", roles({"supervisor", "monitor", "designer"}), [this](const Request&, const PathParams& p, const Principal& who) {
    Response error;
    auto inst = visible_case(engine_, p, who, error);
    if (!inst) return error;
    return json_response(200, instance_json(*inst));
  });

  add("POST", "/api/v1/instances/{id}/cancel", roles({"supervisor", "designer"}), [this](const Request& req, const PathParams& p, const Principal& who) {
    Response error;
    auto id = path_id(p, error);
    if (!id) return error;
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"reason"});
    std::string reason = b.string("reason", false, 1024);
    if (!b.ok()) return input_problem(b.error());
    auto inst = visible_case(engine_, p, who, error);
    if (!inst) return error;
    if (inst->status != 1) {
      return problem(ProblemKind::kConflict, "Instance " + std::to_string(*id) + " is no longer active.");
    }
    AuditNote note = auth_.note(who, "cancel", "instance " + std::to_string(*id), req.remote_address, reason);
    auto done = engine_.cancel_instance(*id, reason, &note);
    if (!done.ok()) return problem_from_error(done.error());
    return no_content();
  });

  // The history carries every value the case's variables took, the
  // applicant's among them: it is shown masked to everyone (mask_personal);
  // the values in full are the audited GET .../variables.
  // A page at a time, in seq order: `next` is the `after` of the next page
  // while there may be more.
  add("GET", "/api/v1/instances/{id}/history", roles({"supervisor", "monitor", "designer"}), [this](const Request& req, const PathParams& p, const Principal& who) {
    QueryReader q(req, {"after", "limit"});
    const int64_t after = q.integer("after", 0, kMaxId, 0);
    const auto limit = static_cast<size_t>(q.integer("limit", 1, kMaxPage, 500));
    if (!q.ok()) return input_problem(q.error());
    Response error;
    auto inst = visible_case(engine_, p, who, error);
    if (!inst) return error;
    auto history = engine_.store().history(inst->id, after, limit);
    if (!history.ok()) return problem_from_error(history.error());
    json::array items;
    for (const auto& h : *history) {
      json::value records = stored_json(h.records);
      if (records.is_array()) {
        for (json::value& item : records.get_array()) {
          if (!item.is_object()) continue;
          json::object& record = item.get_object();
          // A message's correlation key (subscriptions, correlations) is
          // often an ID number.
          if (json::value* text = record.if_contains("t"); text && text->is_string()) {
            *text = mask_key(text->get_string());
          }
          json::value* payload = record.if_contains("p");
          if (payload == nullptr) continue;
          // A variable's record names it ("n"); other payloads are objects of named values.
          const json::value* kind = record.if_contains("k");
          const json::value* name = record.if_contains("n");
          bool variable = kind != nullptr && kind->is_int64() &&
                          (kind->get_int64() == static_cast<int64_t>(core::RecordKind::kVariableCreated) ||
                           kind->get_int64() == static_cast<int64_t>(core::RecordKind::kVariableUpdated));
          mask_personal(*payload, variable && name != nullptr && name->is_string() ? std::string_view(name->get_string())
                                                                                  : std::string_view());
        }
      }
      items.push_back(json::object{{"seq", h.seq}, {"at", h.at}, {"records", std::move(records)}});
    }
    json::object page{{"items", std::move(items)}, {"limit", limit}};
    if (history->size() == limit) page["next"] = history->back().seq;
    Response out = json_response(200, std::move(page));
    out.headers.emplace_back("Cache-Control", "no-store");
    return out;
  });

  // --- tasks -------------------------------------------------------------------
  add("GET", "/api/v1/tasks", roles({"staff", "supervisor", "monitor"}), [this](const Request& req, const PathParams&, [[maybe_unused]] const Principal& who) {
    QueryReader q(req, {"assignee", "candidateGroup", "candidateUser", "region", "processId", "dueBefore",
                        "unassigned", "mine", "myGroups", "slaState", "instanceId", "sort", "offset", "limit"});
    store::TaskQuery query;
    query.assignee = q.string("assignee");
    query.candidate_groups = q.strings("candidateGroup");
    query.candidate_user = q.string("candidateUser");
    query.regions = q.strings("region");
    query.process_id = q.string("processId");
    query.due_before = time_param(q, req, "dueBefore");
    query.unassigned_only = q.boolean("unassigned", false);
    if (q.boolean("mine", false)) query.assignee = who.name;
    // Offered to a group of the caller's department (not just to them by name).
    bool my_groups = q.boolean("myGroups", false);
    if (my_groups && who.department.empty()) q.fail("myGroups", "You belong to no department.");
    std::string sla = q.string("slaState");
    if (!sla.empty()) {
      query.sla_state = sla_code(sla);
      if (query.sla_state < 0) q.fail("slaState", "The SLA state must be on_time, due_soon, overdue, escalated or breached.");
    }
    query.instance_id = q.integer("instanceId", 1, kMaxId, 0);
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
    // What the caller may see is part of the query, so offset and limit
    // count visible tasks only (auth.h may_see_task says the same in C++).
    if (!(who.has("monitor") && who.regions.empty()) || my_groups) {
      store::TaskQuery::Visibility& v = query.visible;
      v.active = true;
      v.groups_only = my_groups;
      if (who.has("staff") || who.has("supervisor") || my_groups) {
        v.user = who.name;
        v.department = who.department;
        for (const std::string& code : who.regions) v.work_regions.push_back(region_prefix(code));
        v.see_escalated = who.has("supervisor");
      }
      if (who.has("monitor") && !my_groups) {
        v.monitor = true;
        for (const std::string& code : who.regions) v.monitor_regions.push_back(region_prefix(code));
      }
    }
    auto list = engine_.store().tasks(query);
    if (!list.ok()) return problem_from_error(list.error());
    // Written as text straight away (task_json.h): a page of 50 tasks as
    // objects cost more than the query that found them.
    Response page;
    page.status = 200;
    page.content_type = "application/json";
    page.body.reserve(512 * list->size() + 64);
    page.body += "{\"items\":[";
    for (size_t i = 0; i < list->size(); ++i) {
      if (i > 0) page.body += ',';
      append_task_json(page.body, (*list)[i]);
    }
    page.body += fmt::format("],\"offset\":{},\"limit\":{}}}", query.offset, query.limit);
    return page;
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
    // For someone else: a user who may work on it, as an assignment asks.
    if (user != who.name) {
      if (auto refused = may_take(user, **task, "user")) return *refused;
    }
    AuditNote note = auth_.note(who, "claim", "task " + std::to_string(*id), req.remote_address,
                                user == who.name ? std::string{} : "for " + user);
    auto done = engine_.claim_task(*id, user, &note);
    if (!done.ok()) return problem_from_error(done.error());
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
    AuditNote note = auth_.note(who, "unclaim", "task " + std::to_string(*id), req.remote_address);
    auto done = engine_.unclaim_task(*id, user.empty() ? (*task)->assignee : user, &note);
    if (!done.ok()) return problem_from_error(done.error());
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
    AuditNote note = auth_.note(who, "complete", "task " + std::to_string(*id), req.remote_address);
    auto done = engine_.complete_task(*id, variables, who.name, &note);
    if (!done.ok()) return problem_from_error(done.error());
    return no_content();
  });

  // --- messages and signals -------------------------------------------------
  // Audited: a message or a signal moves cases on. The correlation key is
  // not written to the trail, as it is often an applicant's ID number. A
  // message from staff or a supervisor reaches only the waiting cases of
  // their regions, starts nothing and is not buffered (PublishRequest::regions).
  add("POST", "/api/v1/messages", roles({"staff", "supervisor", "designer"}), [this](const Request& req, const PathParams&, const Principal& who) {
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
    // Staff and supervisors move on the cases of their regions only, as they
    // find only those (GET /api/v1/instances); designers reach every case.
    if (!who.has("designer")) {
      if (pub.time_to_live_ms > 0) {
        return problem(ProblemKind::kBadRequest,
                       "A message from staff reaches the cases of your regions that wait for it now; it is not kept "
                       "for later (leave timeToLiveMs out).",
                       "timeToLiveMs");
      }
      pub.regions.emplace();
      for (const std::string& code : who.regions) pub.regions->push_back(region_prefix(code));
    }
    AuditNote note = auth_.note(who, "publish-message", "message " + pub.name, req.remote_address);
    auto result = engine_.publish_message(pub, &note);
    if (!result.ok()) return problem_from_error(result.error());
    return json_response(200, json::object{{"correlated", result->correlated},
                                           {"started", result->started},
                                           {"buffered", result->buffered}});
  });

  add("POST", "/api/v1/signals", roles({"supervisor", "designer"}), [this](const Request& req, const PathParams&, const Principal& who) {
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"name", "variables"});
    std::string name = b.string("name", true, 255);
    json::object variables = b.object("variables");
    if (!b.ok()) return input_problem(b.error());
    // A supervisor's signal reaches the waiting cases of their regions and
    // starts nothing, as their messages do; a designer's reaches every case.
    std::optional<std::vector<std::string>> regions;
    if (!who.has("designer")) {
      regions.emplace();
      for (const std::string& code : who.regions) regions->push_back(region_prefix(code));
    }
    AuditNote note = auth_.note(who, "throw-signal", "signal " + name, req.remote_address);
    auto n = engine_.throw_signal(name, variables, &note, regions ? &*regions : nullptr);
    if (!n.ok()) return problem_from_error(n.error());
    return json_response(200, json::object{{"triggered", *n}});
  });

  // --- incidents ---------------------------------------------------------------
  add("GET", "/api/v1/incidents", roles({"supervisor", "monitor", "designer"}), [this](const Request& req, const PathParams&, const Principal& who) {
    QueryReader q(req, {"instanceId", "offset", "limit"});
    store::IncidentQuery query;
    query.instance_id = q.integer("instanceId", 1, kMaxId, 0);
    query.offset = static_cast<size_t>(q.integer("offset", 0, 1'000'000'000, 0));
    query.limit = static_cast<size_t>(q.integer("limit", 1, kMaxPage, 500));
    if (!q.ok()) return input_problem(q.error());
    // Whom the caller may see, as for cases (may_see_case): supervisors and
    // monitors with regions find the incidents of their regions' cases only.
    if (!who.has("designer") && !who.has("admin") && !(who.has("monitor") && who.regions.empty())) {
      for (const std::string& code : who.regions) query.regions.push_back(region_prefix(code));
      query.any_region = false;
    }
    int64_t total = 0;
    auto list = engine_.store().incidents(query, &total);
    if (!list.ok()) return problem_from_error(list.error());
    json::array items;
    for (const auto& i : *list) items.push_back(incident_json(i));
    return json_response(200, json::object{{"items", std::move(items)},
                                           {"offset", query.offset},
                                           {"limit", query.limit},
                                           {"total", total}});
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
    AuditNote note = auth_.note(who, "resolve-incident", "incident " + std::to_string(*id), req.remote_address);
    auto done = engine_.resolve_incident(*id, retries, &note);
    if (!done.ok()) return problem_from_error(done.error());
    return no_content();
  });

  // --- the console -------------------------------------------------------------
  r.set_fallback([this](const Request& req, const PathParams&) { return static_files_.serve(req); });
}

std::optional<Response> Api::may_take(const std::string& assignee, const store::TaskRecord& task,
                                      const std::string& field) {
  if (!auth_.available()) return problem(ProblemKind::kNotFound, "There is no user " + assignee + ".");
  auto user = auth_.store().user(assignee);
  if (!user.ok()) return problem_from_error(user.error());
  if (!*user || (*user)->disabled) {
    return problem(ProblemKind::kBadRequest, "There is no active user " + assignee + ".", field);
  }
  Principal target;
  target.name = (*user)->name;
  target.roles = (*user)->roles;
  target.department = (*user)->department;
  target.regions = (*user)->regions;
  store::TaskRecord offered = task;
  offered.assignee = target.name;  // as it will be once assigned
  if (!may_work_on_task(target, offered) ||
      (!target.has("supervisor") &&
       [&] {
         for (const std::string& g : offered.candidate_groups) {
           if (group_of_department(g, target.department)) return false;
         }
         return std::find(offered.candidate_users.begin(), offered.candidate_users.end(), target.name) ==
                offered.candidate_users.end();
       }())) {
    return problem(ProblemKind::kBadRequest, assignee + " may not work on this task (department or region).", field);
  }
  return std::nullopt;
}

void Api::add_task_routes() {
  // A supervisor hands a task to someone; the assignee may delegate their own
  // task. Either way the new assignee must be a user who may work on it.
  auto reassign = [this](const Request& req, const PathParams& p, const Principal& who, bool delegate) {
    Response error;
    auto id = path_id(p, error);
    if (!id) return error;
    json::object body;
    if (auto e = parse_json_body(req, body)) return input_problem(*e);
    BodyReader b(body, {"assignee"});
    std::string assignee = b.string("assignee", true, 64);
    if (!b.ok()) return input_problem(b.error());
    auto task = engine_.store().task(*id);
    if (!task.ok()) return problem_from_error(task.error());
    if (!*task) return problem(ProblemKind::kNotFound, "There is no open task " + std::to_string(*id) + ".");
    if (!may_work_on_task(who, **task)) {
      return problem(ProblemKind::kForbidden, "This task is not in your department and region.");
    }
    if (delegate && (*task)->assignee != who.name) {
      return problem(ProblemKind::kForbidden, "Only the task's assignee may delegate it.");
    }
    if (auto refused = may_take(assignee, **task, "assignee")) return *refused;
    AuditNote note = auth_.note(who, delegate ? "delegate" : "assign", "task " + std::to_string(*id),
                                req.remote_address, "to " + assignee);
    auto done = engine_.assign_task(*id, (*task)->assignee, assignee, &note);
    if (!done.ok()) return problem_from_error(done.error());
    return no_content();
  };
  add("POST", "/api/v1/tasks/{id}/assign", roles({"supervisor"}),
      [reassign](const Request& req, const PathParams& p, const Principal& who) { return reassign(req, p, who, false); });
  add("POST", "/api/v1/tasks/{id}/delegate", roles({"staff", "supervisor"}),
      [reassign](const Request& req, const PathParams& p, const Principal& who) { return reassign(req, p, who, true); });
}

void Api::add_instance_routes() {
  // The process variables hold applicants' personal data: every view is audited.
  add("GET", "/api/v1/instances/{id}/variables", roles({"supervisor", "designer"}),
      [this](const Request& req, const PathParams& p, const Principal& who) {
        Response error;
        auto inst = visible_case(engine_, p, who, error);
        if (!inst) return error;
        const int64_t id = inst->id;
        auto view = engine_.inspect_instance(id);
        if (!view.ok()) return problem_from_error(view.error());
        auth_.audit(who.actor(), "view-variables", "instance " + std::to_string(id), req.remote_address);
        Response out = json_response(200, json::object{{"variables", view->variables}});
        out.headers.emplace_back("Cache-Control", "no-store");
        return out;
      });

  add("GET", "/api/v1/instances/{id}/active-elements", roles({"supervisor", "monitor", "designer"}),
      [this](const Request&, const PathParams& p, const Principal& who) {
        Response error;
        auto inst = visible_case(engine_, p, who, error);
        if (!inst) return error;
        auto view = engine_.inspect_instance(inst->id);
        if (!view.ok()) return problem_from_error(view.error());
        json::array items;
        for (const ActiveElement& a : view->active) {
          items.push_back(json::object{{"elementId", a.element_id}, {"count", a.count}, {"incident", a.incident}});
        }
        return json_response(200, json::object{{"items", std::move(items)}});
      });
}

void Api::add_external_task_routes() {
  // The WebSocket itself is served by upgrade(); a plain GET learns how.
  add("GET", "/api/v1/events", any_user(), [](const Request&, const PathParams&, const Principal&) {
    Response r = problem(ProblemKind::kUpgradeRequired,
                         "Open a WebSocket here (Connection: Upgrade, Upgrade: websocket).");
    r.headers.emplace_back("Upgrade", "websocket");
    return r;
  });


  // Department systems pull jobs of their topics with an API token; the token
  // names the topics it may serve (POST /api/v1/tokens).
  auto only_tokens = [](const Principal& who) -> std::optional<Response> {
    if (who.kind != Principal::Kind::kToken) {
      return problem(ProblemKind::kForbidden, "External tasks are served with an API token.");
    }
    return std::nullopt;
  };

  add("POST", "/api/v1/external-tasks/fetch-and-lock", any_user(),
      [this, only_tokens](const Request& req, const PathParams&, const Principal& who) {
        if (auto refused = only_tokens(who)) return *refused;
        json::object body;
        if (auto e = parse_json_body(req, body)) return input_problem(*e);
        BodyReader b(body, {"workerId", "topics", "maxTasks", "lockMs", "asyncResponseTimeoutMs"});
        std::string worker = b.string("workerId", true, 255);
        std::vector<std::string> topics = b.strings("topics", 100, 255);
        if (b.ok() && topics.empty()) b.fail("topics", "Name at least one topic.");
        auto max_tasks = static_cast<size_t>(b.integer("maxTasks", false, 1, 100, 10));
        int64_t lock_ms = b.integer("lockMs", false, 1000, int64_t{24} * 3600 * 1000, 5 * 60 * 1000);
        int64_t wait_ms = b.integer("asyncResponseTimeoutMs", false, 0, 60'000, 0);
        if (!b.ok()) return input_problem(b.error());
        for (const std::string& t : topics) {
          if (!may_serve_topic(who, t)) return problem(ProblemKind::kForbidden, "This token may not serve topic " + t + ".");
        }
        // A long poll holds a handler thread: only a few wait at once.
        bool may_wait = wait_ms > 0 && long_polls_.fetch_add(1) < options_.max_long_polls;
        if (wait_ms > 0 && !may_wait) long_polls_.fetch_sub(1);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
        Result<std::vector<JobContext>> jobs = std::vector<JobContext>{};
        for (;;) {
          jobs = engine_.fetch_and_lock(topics, worker, max_tasks, lock_ms);
          if (!jobs.ok() || !jobs->empty() || !may_wait || std::chrono::steady_clock::now() >= deadline) break;
          if (!long_poll_wait(100)) break;
        }
        if (may_wait) long_polls_.fetch_sub(1);
        if (!jobs.ok()) return problem_from_error(jobs.error());
        int64_t lock_until = engine_.clock().now_ms() + lock_ms;
        json::array items;
        for (const JobContext& j : *jobs) {
          items.push_back(json::object{{"id", j.job_id},
                                       {"topic", j.type},
                                       {"workerId", worker},
                                       {"instanceId", j.instance_id},
                                       {"elementId", j.element_id},
                                       {"idempotencyKey", j.idempotency_key},
                                       {"retries", j.retries_left},
                                       {"lockExpiresAt", lock_until},
                                       {"variables", j.variables},
                                       {"headers", j.headers}});
        }
        return json_response(200, json::object{{"items", std::move(items)}});
      });

  // Reads {id}, the body and the worker id, and checks that this token's
  // worker holds the lease on a job of one of the token's topics.
  struct Report {
    int64_t id = 0;
    std::string worker;
    json::object body;
    std::optional<Response> refused;
  };
  auto begin = [this, only_tokens](const Request& req, const PathParams& p, const Principal& who,
                                   std::initializer_list<std::string_view> fields,
                                   const std::function<void(BodyReader&)>& read) {
    Report r;
    if (auto refused = only_tokens(who)) {
      r.refused = *refused;
      return r;
    }
    Response error;
    auto id = path_id(p, error);
    if (!id) {
      r.refused = error;
      return r;
    }
    r.id = *id;
    if (auto e = parse_json_body(req, r.body)) {
      r.refused = input_problem(*e);
      return r;
    }
    BodyReader b(r.body, fields);
    r.worker = b.string("workerId", true, 255);
    read(b);
    if (!b.ok()) {
      r.refused = input_problem(b.error());
      return r;
    }
    auto topic = engine_.check_job_lease(r.id, r.worker);
    if (!topic.ok()) {
      r.refused = problem_from_error(topic.error());
      return r;
    }
    if (!may_serve_topic(who, *topic)) {
      r.refused = problem(ProblemKind::kForbidden, "This token may not serve topic " + *topic + ".");
    }
    return r;
  };

  add("POST", "/api/v1/external-tasks/{id}/complete", any_user(),
      [this, begin](const Request& req, const PathParams& p, const Principal& who) {
        json::object variables;
        Report r = begin(req, p, who, {"workerId", "variables"}, [&](BodyReader& b) { variables = b.object("variables"); });
        if (r.refused) return *r.refused;
        auto done = engine_.report_job(r.id, JobOutcome::completed(std::move(variables)), &r.worker);
        if (!done.ok()) return problem_from_error(done.error());
        return no_content();
      });

  add("POST", "/api/v1/external-tasks/{id}/failure", any_user(),
      [this, begin](const Request& req, const PathParams& p, const Principal& who) {
        std::string message;
        int64_t retries = -1;
        int64_t retry_timeout = -1;
        Report r = begin(req, p, who, {"workerId", "errorMessage", "retries", "retryTimeoutMs"}, [&](BodyReader& b) {
          message = b.string("errorMessage", false, 4096);
          retries = b.integer("retries", false, 0, 1000, -1);
          retry_timeout = b.integer("retryTimeoutMs", false, 0, int64_t{7} * 24 * 3600 * 1000, -1);
        });
        if (r.refused) return *r.refused;
        JobOutcome outcome = JobOutcome::failed(message.empty() ? "the worker reported a failure" : message);
        // retries 0: the worker knows retrying cannot help; the incident is raised now.
        if (retries == 0) outcome.no_retry = true;
        // As in Camunda: the job may be fetched again only once this has passed.
        outcome.retry_after_ms = retry_timeout;
        auto done = engine_.report_job(r.id, outcome, &r.worker);
        if (!done.ok()) return problem_from_error(done.error());
        return no_content();
      });

  add("POST", "/api/v1/external-tasks/{id}/bpmn-error", any_user(),
      [this, begin](const Request& req, const PathParams& p, const Principal& who) {
        std::string code;
        std::string message;
        json::object variables;
        Report r = begin(req, p, who, {"workerId", "errorCode", "errorMessage", "variables"}, [&](BodyReader& b) {
          code = b.string("errorCode", true, 255);
          message = b.string("errorMessage", false, 4096);
          variables = b.object("variables");
        });
        if (r.refused) return *r.refused;
        JobOutcome outcome = JobOutcome::bpmn_error(code, message);
        outcome.variables = std::move(variables);
        auto done = engine_.report_job(r.id, outcome, &r.worker);
        if (!done.ok()) return problem_from_error(done.error());
        return no_content();
      });

  add("POST", "/api/v1/external-tasks/{id}/extend-lock", any_user(),
      [this, begin](const Request& req, const PathParams& p, const Principal& who) {
        int64_t duration = 0;
        Report r = begin(req, p, who, {"workerId", "newDurationMs"}, [&](BodyReader& b) {
          duration = b.integer("newDurationMs", true, 1000, int64_t{24} * 3600 * 1000, 0);
        });
        if (r.refused) return *r.refused;
        auto done = engine_.extend_job_lease(r.id, r.worker, duration);
        if (!done.ok()) return problem_from_error(done.error());
        return no_content();
      });
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
    if (auto r = auth_.logout(who, req.remote_address); !r.ok()) return problem_from_error(r.error());
    // Only a session logs out: an API token has none, and its name may be a
    // user's too, whose event streams an empty session hash would all end.
    if (who.via_session()) events_->end_sessions(who.name, who.session_hash, "You have logged out.");
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
    // Every session ends, this one too: log in again with the new password.
    auto changed = auth_.audited(
        [&]() -> Result<void> {
          if (auto r = auth_.store().update_user(updated); !r.ok()) return r;
          if (auto ended = auth_.store().delete_sessions_of(who.name); !ended.ok()) return ended.error();
          return {};
        },
        who.actor(), "password-change", "user " + who.name, req.remote_address);
    if (!changed.ok()) return problem_from_error(changed.error());
    events_->end_sessions(who.name, "", "The password was changed; log in again.");
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
    auto added = auth_.audited([&] { return auth_.store().add_user(u); }, who.actor(), "user-add", "user " + u.name,
                               req.remote_address);
    if (!added.ok()) {
      if (added.error().code == "duplicate") {
        return problem(ProblemKind::kConflict, "There is already a user " + u.name + ".");
      }
      return problem_from_error(added.error());
    }
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
        // Changed rights take effect at once: sessions load the user on every call
        // (live event streams within EventHub::kRecheckMs).
        auto changed = auth_.audited(
            [&]() -> Result<void> {
              if (auto r = auth_.store().update_user(u); !r.ok()) return r;
              if (!u.disabled) return {};
              if (auto ended = auth_.store().delete_sessions_of(u.name); !ended.ok()) return ended.error();
              return {};
            },
            who.actor(), "user-change", "user " + u.name, req.remote_address, u.disabled ? "disabled" : std::string{});
        if (!changed.ok()) return problem_from_error(changed.error());
        // Live event streams: closed now for a disabled user; other changes
        // reach them within EventHub::kRecheckMs.
        if (u.disabled) events_->end_sessions(u.name, "", "The account was disabled.");
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
    int64_t id = 0;
    auto added = auth_.audited(
        [&]() -> Result<void> {
          auto r = auth_.store().add_api_token(t);
          if (!r.ok()) return r.error();
          id = *r;
          return {};
        },
        who.actor(), "token-add", "token " + t.name, req.remote_address);
    if (!added.ok()) {
      if (added.error().code == "duplicate") {
        return problem(ProblemKind::kConflict, "There is already a token " + t.name + ".");
      }
      return problem_from_error(added.error());
    }
    Response out = json_response(
        201, json::object{{"id", id}, {"name", t.name}, {"topics", string_array(t.topics)}, {"token", secret}});
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
