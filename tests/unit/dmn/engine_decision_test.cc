// Business rule tasks evaluating deployed decisions in the engine: DMN and
// BPMN deployed together, the process branching on the result, the latest
// version winning, decisions surviving a restart, and failures as incidents.
#include <filesystem>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "banshi/engine.h"
#include "model/iso8601.h"
#include "store/sqlite/sqlite_store.h"

namespace banshi {
namespace {

namespace fs = std::filesystem;

std::string eligibility(const std::string& limit) {
  return R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20230324/MODEL/" id="subsidy" name="Subsidy" namespace="urn:test">
  <inputData id="i_income" name="income"><variable name="income" typeRef="number"/></inputData>
  <decision id="eligibility" name="Eligibility">
    <informationRequirement><requiredInput href="#i_income"/></informationRequirement>
    <decisionTable hitPolicy="UNIQUE">
      <input><inputExpression typeRef="number"><text>income</text></inputExpression></input>
      <output name="eligible" typeRef="boolean"/>
      <output name="amount" typeRef="number"/>
      <rule><inputEntry><text>&lt; )" + limit + R"(</text></inputEntry>
        <outputEntry><text>true</text></outputEntry><outputEntry><text>)" + limit + R"( - income</text></outputEntry></rule>
      <rule><inputEntry><text>&gt;= )" + limit + R"(</text></inputEntry>
        <outputEntry><text>false</text></outputEntry><outputEntry><text>0</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>)";
}

const std::string kProcess = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="apply" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="decide"/>
    <businessRuleTask id="decide" bs:decisionRef="eligibility" bs:resultVariable="verdict"/>
    <sequenceFlow id="f2" sourceRef="decide" targetRef="gw"/>
    <exclusiveGateway id="gw" default="f4"/>
    <sequenceFlow id="f3" sourceRef="gw" targetRef="granted"><conditionExpression>=verdict.eligible</conditionExpression></sequenceFlow>
    <sequenceFlow id="f4" sourceRef="gw" targetRef="refused"/>
    <endEvent id="granted"/><endEvent id="refused"/>
  </process></definitions>)";

class DecisionEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("banshi-dmn-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    clock_ = std::make_shared<ManualClock>(*model::parse_date_time("2026-03-02T09:00:00+08:00"));
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Engine> open() {
    store::sqlite::SqliteOptions o;
    o.path = (dir_ / "banshi.db").string();
    auto s = store::sqlite::SqliteStore::open(o);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    auto e = Engine::open(EngineConfig{}, std::move(s).value(), clock_);
    EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
    return std::move(e).value();
  }

  // Starts `apply` with an income, runs it, and returns its history as text.
  static std::string run(Engine& e, int income, InstanceId* id_out = nullptr) {
    StartRequest req;
    req.process_id = "apply";
    req.variables["income"] = income;
    auto id = e.start_instance(req);
    EXPECT_TRUE(id.ok()) << (id.ok() ? "" : id.error().message);
    if (!id.ok()) return {};
    if (id_out) *id_out = *id;
    e.run_until_idle();
    auto history = e.store().history(*id);
    std::string all;
    if (history.ok()) {
      for (const auto& h : *history) all += h.records;
    }
    return all;
  }

  fs::path dir_;
  std::shared_ptr<ManualClock> clock_;
};

TEST_F(DecisionEngineTest, ProcessBranchesOnTheDeployedTable) {
  auto e = open();
  auto deployed = e->deploy_resources({{"subsidy.dmn", eligibility("1000")}, {"apply.bpmn", kProcess}}, "designer");
  ASSERT_TRUE(deployed.ok()) << deployed.error().message;
  ASSERT_EQ(deployed->decisions.size(), 1u);
  EXPECT_EQ(deployed->decisions[0].decision_id, "eligibility");
  EXPECT_EQ(deployed->decisions[0].version, 1);
  ASSERT_EQ(deployed->processes.size(), 1u);

  std::string poor = run(*e, 800);
  EXPECT_NE(poor.find("\"granted\""), std::string::npos) << poor;
  EXPECT_EQ(poor.find("\"refused\""), std::string::npos) << poor;
  std::string rich = run(*e, 5000);
  EXPECT_NE(rich.find("\"refused\""), std::string::npos) << rich;

  auto outcome = e->evaluate_decision("eligibility", boost::json::parse(R"({"income": 800})").as_object());
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(boost::json::serialize(outcome->result), R"({"eligible":true,"amount":200})");
  ASSERT_EQ(outcome->matched.size(), 1u);
  EXPECT_EQ(outcome->matched[0], "eligibility: rules 1");
}

TEST_F(DecisionEngineTest, TheLatestVersionWinsAndSurvivesARestart) {
  {
    auto e = open();
    ASSERT_TRUE(e->deploy("subsidy.dmn", eligibility("1000"), "designer").ok());
    ASSERT_TRUE(e->deploy("apply.bpmn", kProcess, "designer").ok());
    auto again = e->deploy_resources({{"subsidy.dmn", eligibility("1000")}}, "designer");
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->decisions[0].new_version);  // same bytes, no new version
    auto v2 = e->deploy_resources({{"subsidy.dmn", eligibility("3000")}}, "designer");
    ASSERT_TRUE(v2.ok());
    EXPECT_EQ(v2->decisions[0].version, 2);
    EXPECT_NE(run(*e, 2000).find("\"granted\""), std::string::npos);
  }
  auto e = open();  // a new engine reads the decision from the store
  auto outcome = e->evaluate_decision("eligibility", boost::json::parse(R"({"income": 2500})").as_object());
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->version, 2);
  EXPECT_EQ(boost::json::serialize(outcome->result), R"({"eligible":true,"amount":500})");
  // "id:version" pins a version.
  auto pinned = e->evaluate_decision("eligibility:1", boost::json::parse(R"({"income": 2500})").as_object());
  ASSERT_TRUE(pinned.ok()) << pinned.error().message;
  EXPECT_EQ(pinned->version, 1);
  EXPECT_EQ(boost::json::serialize(pinned->result), R"({"eligible":false,"amount":0})");
  EXPECT_EQ(e->evaluate_decision("eligibility:3", {}).error().message, "decision 'eligibility' has no version 3");
  EXPECT_EQ(e->evaluate_decision("eligibility:x", {}).error().code, "invalid");
}

TEST_F(DecisionEngineTest, OneInvalidFileDeploysNothing) {
  auto e = open();
  std::string broken = eligibility("1000");
  broken.replace(broken.find("&lt; 1000"), 9, "&lt; (1000");
  auto deployed = e->deploy_resources({{"apply.bpmn", kProcess}, {"subsidy.dmn", broken}}, "designer");
  ASSERT_FALSE(deployed.ok());
  EXPECT_NE(deployed.error().message.find("subsidy.dmn:10:38: error DMN020: rule 1, input entry"), std::string::npos) << deployed.error().message;
  EXPECT_FALSE(e->evaluate_decision("eligibility", {}).ok());
  auto processes = e->store().definitions("apply");
  ASSERT_TRUE(processes.ok());
  EXPECT_TRUE(processes->empty());
}

TEST_F(DecisionEngineTest, MissingOrFailingDecisionsRaiseIncidents) {
  auto e = open();
  ASSERT_TRUE(e->deploy("apply.bpmn", kProcess, "designer").ok());
  InstanceId id = 0;
  std::string history = run(*e, 800, &id);
  EXPECT_NE(history.find("decision 'eligibility' failed"), std::string::npos) << history;
  EXPECT_NE(history.find("is not deployed"), std::string::npos) << history;
  EXPECT_EQ(history.find("\"granted\""), std::string::npos);

  // Deploying the decision and resolving the incident evaluates it again.
  ASSERT_TRUE(e->deploy("subsidy.dmn", eligibility("1000"), "designer").ok());
  auto incidents = e->store().incidents(id);
  ASSERT_TRUE(incidents.ok());
  ASSERT_EQ(incidents->size(), 1u);
  ASSERT_TRUE(e->resolve_incident(incidents->front().id, 1).ok());
  e->run_until_idle();
  auto after = e->store().history(id);
  ASSERT_TRUE(after.ok());
  std::string all;
  for (const auto& h : *after) all += h.records;
  EXPECT_NE(all.find("\"granted\""), std::string::npos) << all;

  // A UNIQUE table whose rules overlap is an error, and an incident.
  std::string overlapping = eligibility("1000");
  overlapping.replace(overlapping.find("&gt;= 1000"), 10, "&gt;= 500");
  ASSERT_TRUE(e->deploy("subsidy2.dmn", overlapping, "designer").ok());
  std::string twice = run(*e, 800);
  EXPECT_NE(twice.find("the UNIQUE table matched 2 rules"), std::string::npos) << twice;
}

}  // namespace
}  // namespace banshi
