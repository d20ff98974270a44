#include "endpoints.h"

#include <fmt/format.h>

#include "departments.h"
#include "http/http_connector.h"

namespace banshi::connectors {

DepartmentConnectors::~DepartmentConnectors() {
  if (runtime_) runtime_->stop();
  clients_.clear();  // their pooled connections live on the runtime's I/O context
}

Result<std::unique_ptr<DepartmentConnectors>> DepartmentConnectors::create(Engine& engine, const EndpointsConfig& config) {
  std::unique_ptr<DepartmentConnectors> out(new DepartmentConnectors());
  out->runtime_ = std::make_unique<Runtime>(engine, config.runtime);
  for (const std::string& dept : department_codes()) {
    auto it = config.endpoints.find(dept);
    if (it == config.endpoints.end() || it->second.base_url.empty()) {
      return Error{"bad-config", fmt::format("the {} department has no endpoint URL", dept)};
    }
    auto url = http::parse_url(it->second.base_url);
    if (!url.ok()) return Error{"bad-config", fmt::format("the {} endpoint: {}", dept, url.error().message)};
    const std::string& ca = it->second.ca_file;
    if (!out->clients_.count(ca)) {
      http::ClientOptions co;
      co.ca_file = ca;
      auto client = http::HttpClient::create(out->runtime_->io_context(), co);
      if (!client.ok()) return Error{"bad-config", fmt::format("the {} endpoint: {}", dept, client.error().message)};
      out->clients_[ca] = *client;
    }
  }
  for (const http::OperationSpec& op : all_operations()) {
    const DepartmentEndpoint& ep = config.endpoints.at(op.department);
    auto c = http::HttpConnector::create(out->clients_.at(ep.ca_file), http::EndpointConfig{ep.base_url, {}}, op);
    if (!c.ok()) return c.error();
    if (auto r = out->runtime_->add(op.name, op.department, *c, ep.timeout); !r.ok()) return r.error();
  }
  for (const std::string& topic : config.topics) out->runtime_->allow_topic(topic);
  return out;
}

}  // namespace banshi::connectors
