// api/api.h — banshi's HTTP API: the routes over an Engine, as a pure
// function from Request to Response.
//
// Contract
// - handle() never throws and never touches a socket: it validates the
//   request field by field, calls the Engine or reads its Store, and answers
//   JSON, Prometheus text, XML or problem+json (problem.h). Input that fails
//   validation is refused before the engine is called, so it changes nothing.
// - Every answered request is counted for /metrics by route template,
//   method and status, and its latency observed.
// - Every route states who may call it (see add_routes() and
//   docs/operations.md, "Users and roles"); it is checked here, on the
//   server, before the handler runs: no valid credential → 401, a
//   credential whose roles, scope or CSRF header do not allow the call →
//   403, both as problem+json. Open without credentials: /healthz, /readyz,
//   the OpenAPI document, login and the console's static files; /metrics
//   is open to loopback clients only.
// - Logins, logouts, claims, unclaims, completions, deployments,
//   cancellations and user and token changes are written to the audit trail
//   right after the change commits (the engine commits on its own writer).
//
// Threads: handle() may run on many threads at once; the Engine's methods
// are thread-safe and block until their command is committed.
// Ownership: the Engine must outlive the Api.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/auth.h"
#include "api/http_metrics.h"
#include "api/http_types.h"
#include "api/router.h"
#include "api/static_files.h"
#include "banshi/engine.h"

namespace banshi::api {

struct ApiOptions {
  std::filesystem::path console_dir;  // static files under "/"; empty: none
  AuthOptions auth;
  // Where users, sessions, tokens and the audit trail live; null: the
  // engine's store when it keeps them (the SQLite store does). Without one,
  // every route that needs a credential answers 401.
  store::AuthStore* auth_store = nullptr;
  // The clock for sessions, lockouts and the audit trail; null: the system
  // clock (never the engine's clock, which may run accelerated).
  std::shared_ptr<Clock> clock;
};

class Api {
 public:
  Api(Engine& engine, ApiOptions options);

  Response handle(const Request& request);

  const Router& router() const { return router_; }
  HttpMetrics& http_metrics() { return http_metrics_; }

  // The OpenAPI document served at /api/v1/openapi.yaml (docs/api/openapi.yaml).
  static std::string_view openapi_yaml();

 private:
  void add_routes();
  void add_auth_routes();
  void add_monitor_routes();  // monitor_routes.cc

  // Who may call a route.
  struct Access {
    enum class Kind { kOpen, kLoopbackOrRoles, kAnyUser, kRoles } kind = Kind::kRoles;
    std::vector<std::string> roles;
  };
  static Access open() { return Access{Access::Kind::kOpen, {}}; }
  static Access any_user() { return Access{Access::Kind::kAnyUser, {}}; }
  static Access roles(std::vector<std::string> r) { return Access{Access::Kind::kRoles, std::move(r)}; }
  static Access loopback_or(std::vector<std::string> r) { return Access{Access::Kind::kLoopbackOrRoles, std::move(r)}; }

  using AuthedHandler = std::function<Response(const Request&, const PathParams&, const Principal&)>;
  // Registers a route whose handler runs only when `access` allows the caller.
  void add(std::string method, std::string path_template, Access access, AuthedHandler handler);

  Engine& engine_;
  ApiOptions options_;
  Auth auth_;
  Router router_;
  StaticFiles static_files_;
  HttpMetrics http_metrics_;
};

}  // namespace banshi::api
