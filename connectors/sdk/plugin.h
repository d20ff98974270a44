// connectors/sdk/plugin.h — loads connector plugins (banshi/connector_abi.h).
//
// load_plugin() opens the shared library, checks its ABI version and wraps
// each connector it declares as an AsyncConnector. The library stays loaded
// as long as any of those connectors (or the Plugin) lives. A plugin that
// does not load, exports no entry point, speaks another ABI version, or
// declares a connector without a name or invoke function is refused with an
// Error naming the file and the reason.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "banshi/result.h"
#include "sdk/connector.h"

namespace banshi::connectors {

struct PluginConnector {
  std::string name;
  std::string department;
  std::shared_ptr<AsyncConnector> connector;
};

struct LoadedPlugin {
  std::string name;
  std::string version;
  std::vector<PluginConnector> connectors;
};

Result<LoadedPlugin> load_plugin(const std::string& path, const std::string& config_json = "{}");

}  // namespace banshi::connectors
