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
// - There is no authentication yet: whoever reaches the port may do
//   everything. The server therefore listens on 127.0.0.1 by default.
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

#include "api/http_metrics.h"
#include "api/http_types.h"
#include "api/router.h"
#include "api/static_files.h"
#include "banshi/engine.h"

namespace banshi::api {

struct ApiOptions {
  std::filesystem::path console_dir;  // static files under "/"; empty: none
  std::string deployed_by = "api";    // recorded with deployments until there are users
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

  Engine& engine_;
  ApiOptions options_;
  Router router_;
  StaticFiles static_files_;
  HttpMetrics http_metrics_;
};

}  // namespace banshi::api
