// One test per scenario file: the file's commands run and every expectation holds.
#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "scenario/scenario.h"

namespace banshi::scenario {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> scenario_files() {
  std::vector<std::string> out;
  std::stringstream dirs(BANSHI_SCENARIO_DIRS);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!fs::exists(dir)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (entry.path().extension() == ".scenario") out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

class ScenarioTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ScenarioTest, Passes) {
  Runner runner;
  ScenarioResult r = runner.run(GetParam());
  for (const std::string& f : r.failures) ADD_FAILURE() << f;
  EXPECT_GT(r.expectations, 0u) << GetParam() << " checks nothing";
}

std::string name_of(const ::testing::TestParamInfo<std::string>& info) {
  std::string stem = fs::path(info.param).parent_path().filename().string() + "_" + fs::path(info.param).stem().string();
  for (char& c : stem) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return stem;
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenarioTest, ::testing::ValuesIn(scenario_files()), name_of);

TEST(ScenarioSuite, FindsTheScenarioFiles) { EXPECT_GE(scenario_files().size(), 10u); }

}  // namespace
}  // namespace banshi::scenario
