// `banshi serve`'s connector settings, from a configuration as an operator
// writes it (defaults, then overrides as flags give them).
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "departments.h"
#include "serve/serve.h"

namespace banshi::serve {
namespace {

ServeConfig config_of(std::vector<std::pair<std::string, std::string>> overrides) {
  ServeOptions options;
  options.overrides = std::move(overrides);
  auto config = load_config(options);
  EXPECT_TRUE(config.ok()) << (config.ok() ? "" : config.error().message);
  return config.ok() ? *config : ServeConfig{};
}

// Each node's runtime reports as a worker of its own, so a report counts
// only while that node's runtime holds the job's lease.
TEST(ServeConnectors, EachNodeIsAWorkerOfItsOwn) {
  const std::pair<std::string, std::string> url{"connectors.base_url", "http://127.0.0.1:8090"};
  auto a = endpoints_config(config_of({{"engine.node_id", "node-a"}, url}));
  auto b = endpoints_config(config_of({{"engine.node_id", "node-b"}, url}));
  EXPECT_EQ(a.runtime.worker_id, "banshi-connectors@node-a");
  EXPECT_EQ(b.runtime.worker_id, "banshi-connectors@node-b");
}

TEST(ServeConnectors, DepartmentsTakeTheirOwnUrlOrTheSharedOne) {
  const std::string first = connectors::department_codes().front();
  std::string key = first;
  for (char& c : key) c = c == '-' ? '_' : c;
  auto endpoints = endpoints_config(config_of({{"connectors.base_url", "http://127.0.0.1:8090"},
                                               {"connectors." + key + "_url", "https://dept.example.gov.cn/api"},
                                               {"connectors.topics", " ocr , sms-gateway ,,"}}));
  ASSERT_EQ(endpoints.endpoints.size(), connectors::department_codes().size());
  EXPECT_EQ(endpoints.endpoints.at(first).base_url, "https://dept.example.gov.cn/api");
  for (const std::string& dept : connectors::department_codes()) {
    if (dept == first) continue;
    EXPECT_EQ(endpoints.endpoints.at(dept).base_url, "http://127.0.0.1:8090") << dept;
  }
  EXPECT_EQ(endpoints.topics, (std::vector<std::string>{"ocr", "sms-gateway"}));
}

// Under an accelerated clock the lease (counted on the engine's clock) is
// stretched by the factor, or every report of a real call would come late.
TEST(ServeConnectors, AnAcceleratedClockStretchesTheLease) {
  auto normal = endpoints_config(config_of({{"connectors.base_url", "http://127.0.0.1:8090"}}));
  auto fast = endpoints_config(config_of(
      {{"connectors.base_url", "http://127.0.0.1:8090"}, {"clock.mode", "accelerated"}, {"clock.factor", "60"}}));
  EXPECT_EQ(fast.runtime.lock_ms, normal.runtime.lock_ms * 60);
}

}  // namespace
}  // namespace banshi::serve
