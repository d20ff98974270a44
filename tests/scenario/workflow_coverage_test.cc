// The shipped workflows: every model's scenarios (workflows/*.scenario, run
// together as `banshi test workflows/` does) pass and reach every sequence
// flow and every element of each executable process in it. A model without
// scenarios, or with a path no scenario walks, fails its test.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "dmn/evaluate.h"
#include "dmn/model.h"
#include "expr/feel.h"
#include "expr/value.h"
#include "model/iso8601.h"
#include "model/load.h"
#include "scenario/scenario.h"

namespace banshi::scenario {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> files_with(const char* extension) {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(BANSHI_WORKFLOWS_DIR)) {
    if (entry.path().extension() == extension) out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Every workflow scenario, run once with one runner so coverage adds up.
struct WorkflowRun {
  Runner runner;
  std::vector<std::string> failures;
  size_t files = 0;
};

const WorkflowRun& workflow_run() {
  static const WorkflowRun* run = [] {
    auto* r = new WorkflowRun;
    for (const std::string& f : files_with(".scenario")) {
      ScenarioResult result = r->runner.run(f);
      ++r->files;
      for (const std::string& msg : result.failures) r->failures.push_back(msg);
    }
    return r;
  }();
  return *run;
}

class WorkflowCoverage : public ::testing::TestWithParam<std::string> {};

TEST_P(WorkflowCoverage, ScenariosTakeEveryFlow) {
  const WorkflowRun& run = workflow_run();
  for (const std::string& f : run.failures) ADD_FAILURE() << f;

  std::ifstream in(GetParam(), std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  model::LoadResult loaded = model::load_bpmn(bytes.str());
  ASSERT_TRUE(loaded.ok()) << GetParam() << " does not load";
  size_t executable = 0;
  for (const model::Process& p : loaded.definitions->processes) {
    if (!p.executable) continue;
    ++executable;
    auto it = run.runner.coverage().find(p.id);
    if (it == run.runner.coverage().end()) {
      ADD_FAILURE() << "no scenario in workflows/ deploys and runs process '" << p.id << "'";
      continue;
    }
    const ProcessCoverage& cov = it->second;
    std::string flows_missed, elements_missed;
    for (const model::SequenceFlow& fl : p.flows) {
      if (!cov.flows_taken.count(fl.id)) flows_missed += " " + fl.id;
    }
    for (const model::FlowNode& n : p.nodes) {
      if (!cov.elements_reached.count(n.id)) elements_missed += " " + n.id;
    }
    EXPECT_EQ(flows_missed, "") << "sequence flows of '" << p.id << "' no scenario takes:" << flows_missed;
    EXPECT_EQ(elements_missed, "") << "elements of '" << p.id << "' no scenario reaches:" << elements_missed;
    EXPECT_GT(cov.flows_taken.size(), 0u);
  }
  EXPECT_GT(executable, 0u) << GetParam() << " has no executable process";
}

// Every user task names a form (bs:formKey "process/task") and the form is a
// file beside the models, workflows/forms/<formKey>.json, that the console
// renders: a title and fields, each with an id, a known type and labels in
// Chinese and English.
TEST_P(WorkflowCoverage, UserTasksHaveTheirForms) {
  std::ifstream in(GetParam(), std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  model::LoadResult loaded = model::load_bpmn(bytes.str());
  ASSERT_TRUE(loaded.ok()) << GetParam() << " does not load";
  static const std::vector<std::string> kTypes = {"text", "textarea", "number", "boolean", "select",
                                                  "multiselect", "date", "month"};
  for (const model::Process& p : loaded.definitions->processes) {
    for (const model::FlowNode& n : p.nodes) {
      if (!n.user_task) continue;
      const model::Expr& key = n.user_task->form_key;
      ASSERT_FALSE(key.empty()) << p.id << "/" << n.id << " names no form";
      EXPECT_FALSE(key.is_feel) << p.id << "/" << n.id << ": the form key is a literal";
      EXPECT_EQ(key.text, p.id + "/" + n.id);
      fs::path file = fs::path(BANSHI_WORKFLOWS_DIR) / "forms" / (key.text + ".json");
      std::ifstream form_in(file, std::ios::binary);
      ASSERT_TRUE(form_in.good()) << file << " is missing";
      std::ostringstream form_bytes;
      form_bytes << form_in.rdbuf();
      boost::system::error_code ec;
      boost::json::value form = boost::json::parse(form_bytes.str(), ec);
      ASSERT_FALSE(ec) << file << ": " << ec.message();
      ASSERT_TRUE(form.is_object()) << file;
      const boost::json::object& o = form.as_object();
      EXPECT_EQ(o.contains("formKey") ? o.at("formKey") : boost::json::value(), boost::json::value(key.text)) << file;
      ASSERT_TRUE(o.contains("title") && o.at("title").is_object()) << file;
      EXPECT_TRUE(o.at("title").as_object().contains("zh-CN")) << file;
      ASSERT_TRUE(o.contains("fields") && o.at("fields").is_array() && !o.at("fields").as_array().empty()) << file;
      for (const boost::json::value& f : o.at("fields").as_array()) {
        ASSERT_TRUE(f.is_object()) << file;
        const boost::json::object& field = f.as_object();
        ASSERT_TRUE(field.contains("id") && field.at("id").is_string()) << file;
        std::string id(field.at("id").as_string());
        ASSERT_TRUE(field.contains("type") && field.at("type").is_string()) << file << " " << id;
        std::string type(field.at("type").as_string());
        EXPECT_NE(std::find(kTypes.begin(), kTypes.end(), type), kTypes.end()) << file << " " << id << ": " << type;
        ASSERT_TRUE(field.contains("label") && field.at("label").is_object()) << file << " " << id;
        EXPECT_TRUE(field.at("label").as_object().contains("zh-CN")) << file << " " << id;
        EXPECT_TRUE(field.at("label").as_object().contains("en")) << file << " " << id;
        if (type == "select" || type == "multiselect") {
          EXPECT_TRUE(field.contains("options") && field.at("options").is_array() &&
                      !field.at("options").as_array().empty())
              << file << " " << id << " has no options";
        }
      }
    }
  }
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// workflows/eligibility-cases.json: each case is evaluated with its decision
// table and must give the expected value; the linked-services step that
// decides it must call that decision (or, were it a FEEL step, give the same
// value), so the model and the tables cannot drift apart.
TEST(WorkflowDecisions, TablesAndStepsGiveTheExpectedEligibility) {
  const fs::path dir(BANSHI_WORKFLOWS_DIR);
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(read_file(dir / "eligibility-cases.json"), ec);
  ASSERT_FALSE(ec) << ec.message();
  const boost::json::object& steps = doc.at("steps").as_object();
  model::LoadResult bpmn = model::load_bpmn(read_file(dir / "linked-services.bpmn"));
  ASSERT_TRUE(bpmn.ok());
  const model::Process* linked = nullptr;
  for (const model::Process& p : bpmn.definitions->processes) {
    if (p.id == "linked-services") linked = &p;
  }
  ASSERT_NE(linked, nullptr);
  std::map<std::string, std::shared_ptr<const dmn::Definitions>> tables;
  size_t cases = 0;
  for (const boost::json::value& c : doc.at("cases").as_array()) {
    const boost::json::object& o = c.as_object();
    std::string decision(o.at("decision").as_string());
    std::string why(o.at("why").as_string());
    std::string day = o.contains("today") ? std::string(o.at("today").as_string()) : "2026-03-02";
    auto now = model::parse_date_time(day + "T09:00:00+08:00");
    ASSERT_TRUE(now.ok());
    const boost::json::object& input = o.at("input").as_object();
    const boost::json::value& expected = o.at("expected");
    expr::JsonVariables vars(input);

    if (!tables.count(decision)) {
      dmn::LoadResult loaded = dmn::load_dmn(read_file(dir / (decision + ".dmn")));
      ASSERT_TRUE(loaded.ok()) << decision << ".dmn does not load";
      tables[decision] = loaded.definitions;
    }
    dmn::EvalOptions options;
    options.now_epoch_ms = *now;
    dmn::DecisionResult table = dmn::evaluate(*tables[decision], decision, vars, options);
    EXPECT_TRUE(table.errors.empty()) << decision << " (" << why << "): " << (table.errors.empty() ? "" : table.errors[0]);
    EXPECT_EQ(expr::to_json(table.value), expected) << decision << ".dmn (" << why << ")";

    ASSERT_TRUE(steps.contains(decision)) << decision;
    std::string step(steps.at(decision).as_string());
    const model::FlowNode* node = nullptr;
    for (const model::FlowNode& n : linked->nodes) {
      if (n.id == step) node = &n;
    }
    ASSERT_NE(node, nullptr) << step;
    if (node->type == model::ElementType::kBusinessRuleTask) {
      EXPECT_EQ(node->decision_id.text, decision) << step;
    } else {
      ASSERT_TRUE(node->script.compiled.has_value()) << step;
      expr::EvalContext ctx;
      ctx.variables = &vars;
      ctx.now_epoch_ms = *now;
      EXPECT_EQ(expr::to_json(node->script.compiled->evaluate(ctx)), expected) << "linked-services " << step << " (" << why << ")";
    }
    ++cases;
  }
  EXPECT_GE(cases, 10u);
}

std::string name_of(const ::testing::TestParamInfo<std::string>& info) {
  std::string stem = fs::path(info.param).stem().string();
  for (char& c : stem) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return stem;
}

INSTANTIATE_TEST_SUITE_P(Workflows, WorkflowCoverage, ::testing::ValuesIn(files_with(".bpmn")), name_of);

TEST(WorkflowSuite, ShipsTheCertificateOperationsAndLinkedServices) {
  std::vector<std::string> names;
  for (const std::string& f : files_with(".bpmn")) names.push_back(fs::path(f).stem().string());
  for (const char* expected :
       {"certificate-new-issue", "certificate-renewal", "certificate-transfer", "certificate-replacement",
        "certificate-cancellation", "certificate-change", "living-subsidy", "nursing-subsidy", "employment-assistance",
        "pension-contribution", "linked-services"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected << ".bpmn is missing";
  }
  EXPECT_GT(workflow_run().files, names.size());
}

}  // namespace
}  // namespace banshi::scenario
