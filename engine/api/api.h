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

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "api/auth.h"
#include "api/events.h"
#include "api/frontdoor_routes.h"
#include "api/http_metrics.h"
#include "api/http_types.h"
#include "api/rate_limit.h"
#include "api/router.h"
#include "api/server.h"
#include "api/static_files.h"
#include "banshi/engine.h"
#include "frontdoor/gateway.h"
#include "store/frontdoor_store.h"

namespace banshi::api {

// One department's connector circuit breaker (connectors/sdk/runtime.h, DepartmentStatus).
struct ConnectorHealth {
  std::string department;
  std::string state;                 // closed, open, half-open
  int64_t unreachable_since_ms = 0;  // 0 when reachable
  int consecutive_failures = 0;
  std::string last_error;
  int64_t times_opened = 0;
  std::string summary;               // "dpf unreachable since …: …" while open, else empty
};

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
  // 429: each client (its credential, else its address) may make
  // rate_limit_per_second requests a second on average and rate_limit_burst
  // at once, and an address 16 times that over all the credentials sent
  // from it; 0 turns the limit off. /healthz, /readyz and /metrics are exempt.
  double rate_limit_per_second = 0;
  double rate_limit_burst = 100;
  // External-task long polls waiting at once (each holds one of the server's
  // handler threads); more are answered at once, empty.
  int max_long_polls = 2;
  // Events kept for WebSocket clients that resume with ?since= (EventHub);
  // keep it below ServerOptions::ws_max_queue.
  size_t ws_replay_events = 512;
  // How often, at most, an open event stream's session is looked at again
  // (EventHub::set_recheck): its user's present rights, or its end.
  int64_t ws_recheck_ms = EventHub::kRecheckMs;
  // This node's id (EngineConfig::node_id): /readyz and /metrics name it,
  // with its store and the job leases it holds (docs/cluster.md).
  std::string node_id;
  // The front door (frontdoor_routes.h, docs/frontdoor.md): the departments'
  // shared data and the SMS gateway (null: pre-fill, codes and notices answer
  // 503), and the store of its cases (null: the engine's store when it keeps
  // them, as the SQLite store does).
  frontdoor::Gateway* gateway = nullptr;
  store::FrontDoorStore* frontdoor_store = nullptr;
  FrontDoorOptions frontdoor;
  // Each department's connector circuit breaker, for GET
  // /api/v1/connectors/health (connector_routes.cc); unset: no connector
  // runtime runs in this process.
  std::function<std::vector<ConnectorHealth>()> connector_health;
  // Runs a designer's scenario test (POST /api/v1/definitions/test,
  // scenario_routes.cc) over these files (name -> content: the latest
  // deployed models and decisions, and the model under test) and answers the
  // report; unset: the route answers 503.
  std::function<Result<boost::json::object>(const std::map<std::string, std::string>& files,
                                            const std::string& scenario)>
      run_scenario;
  // The engine's clock when it is controlled (clock.mode = "controlled",
  // tests and training): admins move it with POST /api/v1/admin/clock
  // (clock_routes.cc); null: the route is absent (404).
  std::shared_ptr<ManualClock> controlled_clock;
};

// The 403 of a route for users that an API token called: a token holds no
// role, it serves job topics (the external-task routes) and reads
// GET /api/v1/me, nothing else.
Response token_refused();

class Api {
 public:
  Api(Engine& engine, ApiOptions options);

  Response handle(const Request& request);
  // A WebSocket upgrade (Server::set_upgrade_handler): /api/v1/events for a
  // logged-in user; 401 without a credential, 403 for an API token or a
  // foreign Origin, 404 elsewhere.
  Upgrade upgrade(const Request& request);
  // Wakes and ends the long polls in progress; call before Server::stop().
  void begin_shutdown();

  const Router& router() const { return router_; }
  HttpMetrics& http_metrics() { return http_metrics_; }

  // The OpenAPI document served at /api/v1/openapi.yaml (docs/api/openapi.yaml).
  static std::string_view openapi_yaml();

 private:
  void add_routes();
  void add_auth_routes();
  void add_external_task_routes();
  void add_task_routes();
  // Why `assignee` may not be given `task` (no such active user, or not of
  // its department and region); nothing when they may.
  std::optional<Response> may_take(const std::string& assignee, const store::TaskRecord& task,
                                   const std::string& field);
  void add_instance_routes();
  void add_monitor_routes();  // monitor_routes.cc
  void add_case_routes();  // case_routes.cc
  void add_frontdoor_routes();  // frontdoor_routes.cc
  void add_applicant_routes();  // applicant_routes.cc
  void add_connector_routes();  // connector_routes.cc
  void add_scenario_routes();  // scenario_routes.cc
  void add_report_routes();   // report_routes.cc
  void add_clock_routes();    // clock_routes.cc
  // Waits up to `ms` (or until begin_shutdown()); false when shutting down.
  bool long_poll_wait(int64_t ms);

  // Who may call a route.
  struct Access {
    enum class Kind { kOpen, kLoopbackOrRoles, kAnyUser, kRoles, kApplicant } kind = Kind::kRoles;
    std::vector<std::string> roles;
  };
  static Access open() { return Access{Access::Kind::kOpen, {}}; }
  static Access any_user() { return Access{Access::Kind::kAnyUser, {}}; }
  static Access roles(std::vector<std::string> r) { return Access{Access::Kind::kRoles, std::move(r)}; }
  static Access loopback_or(std::vector<std::string> r) { return Access{Access::Kind::kLoopbackOrRoles, std::move(r)}; }
  // An applicant signed in by a one-time code (applicant_routes.cc); nobody else.
  static Access applicant() { return Access{Access::Kind::kApplicant, {}}; }
  // The signed-in applicant of a request (its banshi_applicant cookie), if any.
  Result<std::optional<Principal>> authenticate_applicant(const Request& request);
  // Whether the case with this business key was filed with the applicant's phone.
  bool applicant_owns(const Principal& who, const std::string& business_key);

  using AuthedHandler = std::function<Response(const Request&, const PathParams&, const Principal&)>;
  // Registers a route whose handler runs only when `access` allows the caller.
  void add(std::string method, std::string path_template, Access access, AuthedHandler handler);

  Engine& engine_;
  ApiOptions options_;
  Auth auth_;
  Router router_;
  StaticFiles static_files_;
  HttpMetrics http_metrics_;
  // Every client's limit (its credential, else its address), and each
  // address's over all its credentials (within_rate).
  static constexpr double kAddressShare = 16;
  bool within_rate(const Request& request, int64_t* retry_after);
  RateLimiter rate_limiter_;
  RateLimiter address_limiter_;
  std::unique_ptr<EventHub> events_;
  store::FrontDoorStore* frontdoor_store_ = nullptr;
  frontdoor_detail::FilingLocks filing_locks_;
  std::shared_ptr<void> notifier_;  // the milestone notifier (frontdoor_routes.cc); unsubscribes when destroyed
  std::atomic<int> long_polls_{0};
  std::atomic<bool> shutting_down_{false};
  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
};

}  // namespace banshi::api
