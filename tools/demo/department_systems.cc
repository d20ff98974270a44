#include "demo/department_systems.h"

#include <fmt/format.h>

#include "departments.h"

namespace banshi::demo {

Result<std::unique_ptr<DepartmentSystems>> DepartmentSystems::start(uint64_t seed, const std::string& state_dir,
                                                                   std::function<int64_t()> now_ms) {
  std::unique_ptr<DepartmentSystems> d(new DepartmentSystems());
  connectors::sim::SimulatorOptions options;
  options.seed = seed;
  options.now_ms = std::move(now_ms);
  d->simulator_ = std::make_unique<connectors::sim::Simulator>(options);
  if (!state_dir.empty()) {
    if (auto r = d->simulator_->open_store(state_dir); !r.ok()) {
      return Error{r.error().code, fmt::format("the department simulators cannot keep their state: {}", r.error().message)};
    }
  }
  api::ServerOptions server_options;
  server_options.address = "127.0.0.1";
  server_options.port = 0;
  server_options.threads = 2;
  server_options.max_body_bytes = 1024 * 1024;
  connectors::sim::Simulator* sim = d->simulator_.get();
  d->server_ = std::make_unique<api::Server>(server_options, [sim](const api::Request& r) { return sim->handle(r); });
  if (auto r = d->server_->start(); !r.ok()) {
    return Error{r.error().code, fmt::format("the department simulators cannot listen: {}", r.error().message)};
  }
  d->url_ = fmt::format("http://127.0.0.1:{}", d->server_->port());
  return d;
}

DepartmentSystems::~DepartmentSystems() { stop(); }

void DepartmentSystems::stop() {
  if (server_) server_->stop();
}

std::vector<std::pair<std::string, std::string>> DepartmentSystems::serve_overrides() const {
  std::vector<std::pair<std::string, std::string>> out = {
      {"connectors.enabled", "true"}, {"connectors.base_url", url_}, {"connectors.ca_file", ""}};
  // No department keeps an endpoint of its own from a configuration file.
  for (const std::string& dept : connectors::department_codes()) {
    std::string key = dept;
    for (char& c : key) c = c == '-' ? '_' : c;
    out.emplace_back(fmt::format("connectors.{}_url", key), "");
  }
  return out;
}

connectors::EndpointsConfig DepartmentSystems::endpoints() const {
  connectors::EndpointsConfig out;
  for (const std::string& dept : connectors::department_codes()) {
    connectors::DepartmentEndpoint ep;
    ep.base_url = url_;
    out.endpoints[dept] = ep;
  }
  return out;
}

}  // namespace banshi::demo
