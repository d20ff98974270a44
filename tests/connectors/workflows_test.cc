// Every connector a shipped workflow names has a department adapter: a model
// naming an operation that no adapter implements would fail at deploy.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "departments.h"
#include "model/load.h"

namespace banshi::connectors {
namespace {

namespace fs = std::filesystem;

TEST(ShippedWorkflows, EveryServiceTaskNamesAnOperationWithAnAdapter) {
  std::set<std::string> adapters;
  for (const http::OperationSpec& op : all_operations()) {
    EXPECT_TRUE(adapters.insert(op.name).second) << op.name << " is defined twice";
  }
  std::map<std::string, std::string> named;  // job type -> the first file and element naming it
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(BANSHI_WORKFLOWS_DIR)) {
    if (entry.path().extension() != ".bpmn") continue;
    ++files;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    auto loaded = model::load_bpmn(text.str());
    ASSERT_TRUE(loaded.definitions) << entry.path();
    for (const model::Process& p : loaded.definitions->processes) {
      for (const model::FlowNode& n : p.nodes) {
        if (n.job) named.emplace(n.job->type, entry.path().filename().string() + " " + n.id);
      }
    }
  }
  EXPECT_GE(files, 10u);
  // Operations of a department (dpf.…, civil-affairs.…) need an adapter; the
  // server's own in-process operations (reports.…) are registered by the API.
  const std::set<std::string> served_in_process = {"reports"};
  std::set<std::string> departments(department_codes().begin(), department_codes().end());
  size_t department_operations = 0;
  for (const auto& [type, where] : named) {
    const std::string prefix = type.substr(0, type.find('.'));
    if (served_in_process.count(prefix)) continue;
    ++department_operations;
    EXPECT_TRUE(departments.count(prefix)) << where << " names '" << type << "', which belongs to no department";
    EXPECT_TRUE(adapters.count(type)) << where << " names the connector '" << type << "', which no adapter implements";
  }
  EXPECT_GE(department_operations, 20u);
}

}  // namespace
}  // namespace banshi::connectors
