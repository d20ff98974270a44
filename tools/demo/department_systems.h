// tools/demo/department_systems.h — the department systems of both demos.
//
// The simulators (connectors/simulators) served over HTTP on a loopback port,
// on the demo's clock. The live demo points `banshi serve`'s [connectors] at
// them (serve_overrides()); the smoke run (`banshi demo -n`) binds the same
// department adapters to them with connectors::DepartmentConnectors
// (endpoints()). Either way every service task of a demo case is a real HTTP
// call through the same connectors a deployment runs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/server.h"
#include "banshi/result.h"
#include "endpoints.h"
#include "simulators/simulator.h"

namespace banshi::demo {

class DepartmentSystems {
 public:
  // Starts the simulators; `state_dir` keeps their registry (empty: in memory
  // only), `now_ms` is the demo's clock, whose date the systems take as today.
  static Result<std::unique_ptr<DepartmentSystems>> start(uint64_t seed, const std::string& state_dir,
                                                          std::function<int64_t()> now_ms);
  ~DepartmentSystems();
  DepartmentSystems(const DepartmentSystems&) = delete;
  DepartmentSystems& operator=(const DepartmentSystems&) = delete;

  const std::string& url() const { return url_; }
  connectors::sim::Simulator& simulator() { return *simulator_; }
  // serve's [connectors] settings sending every department here.
  std::vector<std::pair<std::string, std::string>> serve_overrides() const;
  // Every department's endpoint here, for a connector runtime of one's own.
  connectors::EndpointsConfig endpoints() const;
  void stop();

 private:
  DepartmentSystems() = default;
  std::unique_ptr<connectors::sim::Simulator> simulator_;
  std::unique_ptr<api::Server> server_;
  std::string url_;
};

}  // namespace banshi::demo
