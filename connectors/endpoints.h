// connectors/endpoints.h — the department connectors a server runs: every
// department adapter (departments.h) bound to its department's endpoint,
// on one connector runtime (sdk/runtime.h) installed into the engine.
//
// `banshi serve` builds an EndpointsConfig from its [connectors] section
// (docs/operations.md) and calls DepartmentConnectors::create(); once
// install_deploy_check() is called the engine refuses deployments naming an
// operation that is neither an adapter, a declared external-task topic nor
// an in-process connector, and the runtime reports each
// department's circuit breaker (GET /api/v1/connectors/health).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "banshi/engine.h"
#include "banshi/result.h"
#include "http/http_client.h"
#include "sdk/runtime.h"

namespace banshi::connectors {

struct DepartmentEndpoint {
  std::string base_url;  // "http://127.0.0.1:8090" or "https://dpf.example.gov.cn/api"
  std::string ca_file;   // PEM bundle for https; empty: the system's
  std::chrono::milliseconds timeout{0};  // the attempt's deadline when the task sets none; 0: the runtime's
};

struct EndpointsConfig {
  std::map<std::string, DepartmentEndpoint> endpoints;  // by department code; every department needs one
  RuntimeOptions runtime;
  std::vector<std::string> topics;  // external-task topics deployments may name besides the adapters
};

class DepartmentConnectors {
 public:
  // Binds every adapter to its department's endpoint; errors name the
  // department and the reason (a bad URL, an unreadable CA bundle).
  static Result<std::unique_ptr<DepartmentConnectors>> create(Engine& engine, const EndpointsConfig& config);
  ~DepartmentConnectors();
  DepartmentConnectors(const DepartmentConnectors&) = delete;
  DepartmentConnectors& operator=(const DepartmentConnectors&) = delete;

  // Makes the engine refuse deployments naming an operation that is neither
  // an adapter, a declared topic nor a connector registered in process; call
  // once the server's own in-process connectors are registered.
  void install_deploy_check() { runtime_->install_deploy_check(); }
  void start() { runtime_->start(); }
  void stop() { runtime_->stop(); }
  Runtime& runtime() { return *runtime_; }
  std::vector<DepartmentStatus> departments() const { return runtime_->departments(); }

 private:
  DepartmentConnectors() = default;
  std::unique_ptr<Runtime> runtime_;
  std::map<std::string, std::shared_ptr<http::HttpClient>> clients_;  // by CA bundle
};

}  // namespace banshi::connectors
