// The decision engine on its own: loading with diagnostics, every hit policy,
// boxed expressions, business knowledge models and the requirements graph.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include "dmn/decide.h"
#include "dmn/evaluate.h"
#include "dmn/model.h"

namespace banshi::dmn {
namespace {

const std::string kHead = R"(<?xml version="1.0" encoding="UTF-8"?>
<dmn:definitions xmlns:dmn="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="subsidy" namespace="urn:test">
)";
const std::string kTail = "</dmn:definitions>\n";

// A table on age and income with the given hit policy (and aggregation).
std::string table(const std::string& policy, const std::string& aggregation = "") {
  std::string agg = aggregation.empty() ? "" : " aggregation=\"" + aggregation + "\"";
  return kHead + R"(
  <dmn:inputData id="i_age" name="age"><dmn:variable name="age" typeRef="number"/></dmn:inputData>
  <dmn:decision id="amount" name="Amount">
    <dmn:informationRequirement><dmn:requiredInput href="#i_age"/></dmn:informationRequirement>
    <dmn:decisionTable hitPolicy=")" + policy + "\"" + agg + R"(>
      <dmn:input label="Age"><dmn:inputExpression typeRef="number"><dmn:text>age</dmn:text></dmn:inputExpression></dmn:input>
      <dmn:output name="amount" typeRef="number"><dmn:outputValues><dmn:text>300, 200, 100</dmn:text></dmn:outputValues></dmn:output>
      <dmn:rule id="r1"><dmn:inputEntry><dmn:text>&gt;= 60</dmn:text></dmn:inputEntry><dmn:outputEntry><dmn:text>100</dmn:text></dmn:outputEntry></dmn:rule>
      <dmn:rule id="r2"><dmn:inputEntry><dmn:text>&gt;= 70</dmn:text></dmn:inputEntry><dmn:outputEntry><dmn:text>300</dmn:text></dmn:outputEntry></dmn:rule>
      <dmn:rule id="r3"><dmn:inputEntry><dmn:text>[65..75]</dmn:text></dmn:inputEntry><dmn:outputEntry><dmn:text>200</dmn:text></dmn:outputEntry></dmn:rule>
      <dmn:rule id="r4"><dmn:inputEntry><dmn:text>&gt;= 80</dmn:text></dmn:inputEntry><dmn:outputEntry><dmn:text>100</dmn:text></dmn:outputEntry></dmn:rule>
    </dmn:decisionTable>
  </dmn:decision>
)" + kTail;
}

std::shared_ptr<const Definitions> load_ok(const std::string& xml) {
  LoadResult r = load_dmn(xml);
  std::string all;
  for (const auto& d : r.diagnostics) all += model::format_diagnostic(d, "t.dmn") + "\n";
  EXPECT_TRUE(r.ok()) << all;
  return r.definitions;
}

std::string diagnostics(const std::string& xml) {
  LoadResult r = load_dmn(xml);
  std::string all;
  for (const auto& d : r.diagnostics) all += model::format_diagnostic(d, "t.dmn") + "\n";
  return all;
}

DecisionResult run(const Definitions& defs, const std::string& decision, const std::string& inputs) {
  boost::json::object vars = boost::json::parse(inputs).as_object();
  expr::JsonVariables variables(vars);
  return evaluate(defs, decision, variables);
}

std::string value_of(const std::string& xml, const std::string& inputs, const std::string& decision = "amount") {
  auto defs = load_ok(xml);
  if (!defs) return "not loaded";
  DecisionResult r = run(*defs, decision, inputs);
  std::string out = r.value.to_string();
  for (const auto& e : r.errors) out += " | " + e;
  return out;
}

TEST(DmnHitPolicies, Unique) {
  EXPECT_EQ(value_of(table("UNIQUE"), R"({"age": 62})"), "100");
  EXPECT_EQ(value_of(table("UNIQUE"), R"({"age": 10})"), "null");
  std::string twice = value_of(table("UNIQUE"), R"({"age": 72})");
  EXPECT_NE(twice.find("null | amount: the UNIQUE table matched 3 rules (1, 2, 3)"), std::string::npos) << twice;
}

TEST(DmnHitPolicies, AnyNeedsEqualOutputs) {
  EXPECT_EQ(value_of(table("ANY"), R"({"age": 62})"), "100");
  std::string differ = value_of(table("ANY"), R"({"age": 72})");
  EXPECT_NE(differ.find("matched rules 1 and 2 with different outputs"), std::string::npos) << differ;
}

// ANY compares the matches' outputs with FEEL '=': the same instant in two
// zones, or a context with its entries in another order, is the same output.
TEST(DmnHitPolicies, AnyComparesOutputsWithFeelEquality) {
  const std::string xml = kHead + R"(
  <dmn:inputData id="i_age" name="age"><dmn:variable name="age" typeRef="number"/></dmn:inputData>
  <dmn:decision id="amount" name="Amount">
    <dmn:informationRequirement><dmn:requiredInput href="#i_age"/></dmn:informationRequirement>
    <dmn:decisionTable hitPolicy="ANY">
      <dmn:input label="Age"><dmn:inputExpression typeRef="number"><dmn:text>age</dmn:text></dmn:inputExpression></dmn:input>
      <dmn:output name="out"/>
      <dmn:rule id="r1"><dmn:inputEntry><dmn:text>&gt;= 60</dmn:text></dmn:inputEntry><dmn:outputEntry><dmn:text>{a: 1, at: date and time("2026-01-01T08:00:00+08:00")}</dmn:text></dmn:outputEntry></dmn:rule>
      <dmn:rule id="r2"><dmn:inputEntry><dmn:text>&gt;= 70</dmn:text></dmn:inputEntry><dmn:outputEntry><dmn:text>{at: date and time("2026-01-01T00:00:00Z"), a: 1}</dmn:text></dmn:outputEntry></dmn:rule>
      <dmn:rule id="r3"><dmn:inputEntry><dmn:text>&gt;= 80</dmn:text></dmn:inputEntry><dmn:outputEntry><dmn:text>{a: 2, at: date and time("2026-01-01T00:00:00Z")}</dmn:text></dmn:outputEntry></dmn:rule>
    </dmn:decisionTable>
  </dmn:decision>
)" + kTail;
  std::string agree = value_of(xml, R"({"age": 72})");
  EXPECT_EQ(agree.find(" | "), std::string::npos) << agree;
  EXPECT_NE(agree.find("a: 1"), std::string::npos) << agree;
  std::string differ = value_of(xml, R"({"age": 82})");
  EXPECT_NE(differ.find("matched rules 1 and 3 with different outputs"), std::string::npos) << differ;
}

TEST(DmnHitPolicies, PriorityFirstRuleOrderOutputOrder) {
  EXPECT_EQ(value_of(table("PRIORITY"), R"({"age": 72})"), "300");
  EXPECT_EQ(value_of(table("FIRST"), R"({"age": 72})"), "100");
  EXPECT_EQ(value_of(table("RULE ORDER"), R"({"age": 82})"), "[100, 300, 100]");
  EXPECT_EQ(value_of(table("OUTPUT ORDER"), R"({"age": 72})"), "[300, 200, 100]");
  EXPECT_EQ(value_of(table("RULE ORDER"), R"({"age": 1})"), "[]");
}

// FIRST's result is its first hit alone: a later matching rule whose output
// is outside the output values does not make the decision fail.
TEST(DmnHitPolicies, FirstLooksAtNoRuleAfterItsFirstHit) {
  std::string xml = table("FIRST");
  const std::string r4 = R"(<dmn:rule id="r4"><dmn:inputEntry><dmn:text>&gt;= 80</dmn:text></dmn:inputEntry><dmn:outputEntry><dmn:text>100</dmn:text>)";
  ASSERT_NE(xml.find(r4), std::string::npos);
  xml.replace(xml.find(r4), r4.size(),
              R"(<dmn:rule id="r4"><dmn:inputEntry><dmn:text>&gt;= 80</dmn:text></dmn:inputEntry><dmn:outputEntry><dmn:text>999</dmn:text>)");
  EXPECT_EQ(value_of(xml, R"({"age": 82})"), "100");
  // RULE ORDER uses every hit, so the same rule fails it.
  std::string all = xml;
  all.replace(all.find("hitPolicy=\"FIRST\""), 17, "hitPolicy=\"RULE ORDER\"");
  EXPECT_NE(value_of(all, R"({"age": 82})").find("not one of its output values"), std::string::npos);
}

TEST(DmnHitPolicies, CollectAndItsAggregations) {
  EXPECT_EQ(value_of(table("COLLECT"), R"({"age": 82})"), "[100, 300, 100]");
  EXPECT_EQ(value_of(table("COLLECT", "SUM"), R"({"age": 82})"), "500");
  EXPECT_EQ(value_of(table("COLLECT", "MIN"), R"({"age": 82})"), "100");
  EXPECT_EQ(value_of(table("COLLECT", "MAX"), R"({"age": 82})"), "300");
  EXPECT_EQ(value_of(table("COLLECT", "COUNT"), R"({"age": 82})"), "2");  // distinct outputs
  EXPECT_EQ(value_of(table("COLLECT", "COUNT"), R"({"age": 1})"), "0");
  EXPECT_EQ(value_of(table("COLLECT", "SUM"), R"({"age": 1})"), "null");
}

TEST(DmnTables, MatchedRulesAreReported) {
  auto defs = load_ok(table("RULE ORDER"));
  ASSERT_TRUE(defs);
  DecisionResult r = run(*defs, "amount", R"({"age": 82})");
  ASSERT_EQ(r.matched.size(), 1u);
  EXPECT_EQ(r.matched[0].decision_id, "amount");
  EXPECT_EQ(r.matched[0].rules, (std::vector<size_t>{1, 2, 4}));
  EXPECT_EQ(r.matched[0].rule_ids, (std::vector<std::string>{"r1", "r2", "r4"}));
}

const std::string kMultiOutput = kHead + R"(
  <dmn:itemDefinition name="tCategory"><dmn:typeRef>string</dmn:typeRef>
    <dmn:allowedValues><dmn:text>"low", "middle", "high"</dmn:text></dmn:allowedValues></dmn:itemDefinition>
  <dmn:inputData id="i_income" name="Monthly Income"><dmn:variable name="Monthly Income" typeRef="number"/></dmn:inputData>
  <dmn:inputData id="i_cat" name="Category"><dmn:variable name="Category" typeRef="tCategory"/></dmn:inputData>
  <dmn:inputData id="i_since" name="Registered On"><dmn:variable name="Registered On" typeRef="date"/></dmn:inputData>
  <dmn:decision id="eligibility" name="Eligibility">
    <dmn:informationRequirement><dmn:requiredInput href="#i_income"/></dmn:informationRequirement>
    <dmn:informationRequirement><dmn:requiredInput href="#i_since"/></dmn:informationRequirement>
    <dmn:decisionTable hitPolicy="FIRST">
      <dmn:input><dmn:inputExpression><dmn:text>Monthly Income</dmn:text></dmn:inputExpression></dmn:input>
      <dmn:input><dmn:inputExpression><dmn:text>Registered On</dmn:text></dmn:inputExpression></dmn:input>
      <dmn:output name="eligible" typeRef="boolean"><dmn:defaultOutputEntry><dmn:text>false</dmn:text></dmn:defaultOutputEntry></dmn:output>
      <dmn:output name="months" typeRef="number"><dmn:defaultOutputEntry><dmn:text>0</dmn:text></dmn:defaultOutputEntry></dmn:output>
      <dmn:rule><dmn:inputEntry><dmn:text>&lt; 1000</dmn:text></dmn:inputEntry>
        <dmn:inputEntry><dmn:text>&lt;= date("2026-01-01")</dmn:text></dmn:inputEntry>
        <dmn:outputEntry><dmn:text>true</dmn:text></dmn:outputEntry><dmn:outputEntry><dmn:text>6</dmn:text></dmn:outputEntry></dmn:rule>
    </dmn:decisionTable>
  </dmn:decision>
  <dmn:decision id="statement" name="Statement">
    <dmn:informationRequirement><dmn:requiredDecision href="#eligibility"/></dmn:informationRequirement>
    <dmn:informationRequirement><dmn:requiredInput href="#i_cat"/></dmn:informationRequirement>
    <dmn:literalExpression><dmn:text>if Eligibility.eligible then Category + ": " + string(Eligibility.months) else "none"</dmn:text></dmn:literalExpression>
  </dmn:decision>
)" + kTail;

TEST(DmnTables, SeveralOutputsDefaultsAndJsonDates) {
  // "Registered On" is typed date: the JSON string becomes a date.
  EXPECT_EQ(value_of(kMultiOutput, R"({"Monthly Income": 800, "Registered On": "2025-06-01"})", "eligibility"),
            "{eligible: true, months: 6}");
  EXPECT_EQ(value_of(kMultiOutput, R"({"Monthly Income": 5000, "Registered On": "2025-06-01"})", "eligibility"),
            "{eligible: false, months: 0}");
}

TEST(DmnGraph, RequiredDecisionsRunFirstAndTypesAreChecked) {
  EXPECT_EQ(value_of(kMultiOutput, R"({"Monthly Income": 800, "Registered On": "2025-06-01", "Category": "low"})",
                     "Statement"),
            "\"low: 6\"");
  std::string bad =
      value_of(kMultiOutput, R"({"Monthly Income": 800, "Registered On": "2025-06-01", "Category": "none"})",
               "statement");
  EXPECT_NE(bad.find("i_cat: the input 'Category': \"none\" is not one of the allowed values of 'tCategory'"),
            std::string::npos)
      << bad;
}

const std::string kKnowledge = kHead + R"(
  <dmn:inputData id="i_loan" name="Loan"><dmn:variable name="Loan"/></dmn:inputData>
  <dmn:businessKnowledgeModel id="b_pmt" name="Payment">
    <dmn:encapsulatedLogic>
      <dmn:formalParameter name="p" typeRef="number"/><dmn:formalParameter name="r" typeRef="number"/>
      <dmn:formalParameter name="n" typeRef="number"/>
      <dmn:literalExpression><dmn:text>(p*r/12)/(1-(1+r/12)**-n)</dmn:text></dmn:literalExpression>
    </dmn:encapsulatedLogic>
  </dmn:businessKnowledgeModel>
  <dmn:decision id="monthly" name="Monthly">
    <dmn:informationRequirement><dmn:requiredInput href="#i_loan"/></dmn:informationRequirement>
    <dmn:knowledgeRequirement><dmn:requiredKnowledge href="#b_pmt"/></dmn:knowledgeRequirement>
    <dmn:context>
      <dmn:contextEntry><dmn:variable name="raw"/>
        <dmn:invocation>
          <dmn:literalExpression><dmn:text>Payment</dmn:text></dmn:literalExpression>
          <dmn:binding><dmn:parameter name="p"/><dmn:literalExpression><dmn:text>Loan.amount</dmn:text></dmn:literalExpression></dmn:binding>
          <dmn:binding><dmn:parameter name="r"/><dmn:literalExpression><dmn:text>Loan.rate</dmn:text></dmn:literalExpression></dmn:binding>
          <dmn:binding><dmn:parameter name="n"/><dmn:literalExpression><dmn:text>Loan.term</dmn:text></dmn:literalExpression></dmn:binding>
        </dmn:invocation>
      </dmn:contextEntry>
      <dmn:contextEntry><dmn:variable name="same"/>
        <dmn:literalExpression><dmn:text>Payment(Loan.amount, Loan.rate, Loan.term) = raw</dmn:text></dmn:literalExpression>
      </dmn:contextEntry>
      <dmn:contextEntry>
        <dmn:literalExpression><dmn:text>if same then decimal(raw, 2) else null</dmn:text></dmn:literalExpression>
      </dmn:contextEntry>
    </dmn:context>
  </dmn:decision>
  <dmn:decision id="rows" name="Rows">
    <dmn:relation>
      <dmn:column name="item"/><dmn:column name="price"/>
      <dmn:row><dmn:literalExpression><dmn:text>"rice"</dmn:text></dmn:literalExpression><dmn:literalExpression><dmn:text>2.5</dmn:text></dmn:literalExpression></dmn:row>
    </dmn:relation>
  </dmn:decision>
  <dmn:decision id="list" name="List">
    <dmn:informationRequirement><dmn:requiredDecision href="#rows"/></dmn:informationRequirement>
    <dmn:list>
      <dmn:literalExpression><dmn:text>Rows[1].item</dmn:text></dmn:literalExpression>
      <dmn:literalExpression><dmn:text>sum(Rows.price)</dmn:text></dmn:literalExpression>
    </dmn:list>
  </dmn:decision>
)" + kTail;

TEST(DmnBoxed, InvocationsContextsRelationsLists) {
  EXPECT_EQ(value_of(kKnowledge, R"({"Loan": {"amount": 600000, "rate": 0.0375, "term": 360}})", "monthly"),
            "2778.69");
  EXPECT_EQ(value_of(kKnowledge, "{}", "list"), "[\"rice\", 2.5]");
}

TEST(DmnLoad, DiagnosticsCarryLineAndColumn) {
  std::string bad_feel = kHead + R"(  <dmn:decision id="x" name="X">
    <dmn:literalExpression><dmn:text>1 +</dmn:text></dmn:literalExpression>
  </dmn:decision>
)" + kTail;
  EXPECT_NE(diagnostics(bad_feel).find("t.dmn:4:41: error DMN020: the literal expression: the expression ends too early"), std::string::npos)
      << diagnostics(bad_feel);

  std::string bad_ref = kHead + R"(  <dmn:decision id="x" name="X">
    <dmn:informationRequirement><dmn:requiredDecision href="#nowhere"/></dmn:informationRequirement>
    <dmn:literalExpression><dmn:text>1</dmn:text></dmn:literalExpression>
  </dmn:decision>
)" + kTail;
  EXPECT_NE(diagnostics(bad_ref).find("t.dmn:4:61: error DMN007: no decision has the id 'nowhere'"),
            std::string::npos)
      << diagnostics(bad_ref);

  std::string cycle = kHead + R"(  <dmn:decision id="a" name="A">
    <dmn:informationRequirement><dmn:requiredDecision href="#b"/></dmn:informationRequirement>
    <dmn:literalExpression><dmn:text>B</dmn:text></dmn:literalExpression></dmn:decision>
  <dmn:decision id="b" name="B">
    <dmn:informationRequirement><dmn:requiredDecision href="#a"/></dmn:informationRequirement>
    <dmn:literalExpression><dmn:text>A</dmn:text></dmn:literalExpression></dmn:decision>
)" + kTail;
  EXPECT_NE(diagnostics(cycle).find("error DMN008: the decision 'A' requires itself"), std::string::npos)
      << diagnostics(cycle);

  std::string policy = table("SOMETIMES");
  EXPECT_NE(diagnostics(policy).find("error DMN030: 'SOMETIMES' is not a hit policy"), std::string::npos);
  EXPECT_NE(diagnostics(table("FIRST", "SUM")).find("error DMN032: an aggregation needs the COLLECT hit policy"),
            std::string::npos);

  std::string entries = kHead + R"(  <dmn:decision id="x" name="X"><dmn:decisionTable>
      <dmn:input><dmn:inputExpression><dmn:text>a</dmn:text></dmn:inputExpression></dmn:input>
      <dmn:output name="o"/>
      <dmn:rule><dmn:outputEntry><dmn:text>1</dmn:text></dmn:outputEntry></dmn:rule>
  </dmn:decisionTable></dmn:decision>
)" + kTail;
  EXPECT_NE(diagnostics(entries).find("t.dmn:6:7: error DMN038: rule 1 has 0 input entries but the table has 1 inputs"),
            std::string::npos)
      << diagnostics(entries);
}

TEST(DmnLoad, HostileAndForeignInputIsRefused) {
  EXPECT_NE(diagnostics("<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"/>").find("DMN001"),
            std::string::npos);
  std::string dtd = "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x \"y\">]>"
                    "<definitions xmlns=\"https://www.omg.org/spec/DMN/20191111/MODEL/\"/>";
  EXPECT_FALSE(load_dmn(dtd).ok());
  EXPECT_FALSE(load_dmn("").ok());
  EXPECT_FALSE(load_dmn("<definitions").ok());
  EXPECT_TRUE(looks_like_dmn(table("FIRST")));
  EXPECT_FALSE(looks_like_dmn("<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"/>"));
}

TEST(DmnEvaluate, UnknownDecisionAndRecursionAreErrorsNotCrashes) {
  auto defs = load_ok(table("FIRST"));
  ASSERT_TRUE(defs);
  DecisionResult r = run(*defs, "nope", "{}");
  EXPECT_TRUE(r.value.is_null());
  ASSERT_EQ(r.errors.size(), 1u);

  std::string recursive = kHead + R"(
  <dmn:businessKnowledgeModel id="b" name="forever">
    <dmn:knowledgeRequirement><dmn:requiredKnowledge href="#b"/></dmn:knowledgeRequirement>
    <dmn:encapsulatedLogic><dmn:formalParameter name="n"/>
      <dmn:literalExpression><dmn:text>forever(n + 1)</dmn:text></dmn:literalExpression></dmn:encapsulatedLogic>
  </dmn:businessKnowledgeModel>
  <dmn:decision id="x" name="X">
    <dmn:knowledgeRequirement><dmn:requiredKnowledge href="#b"/></dmn:knowledgeRequirement>
    <dmn:literalExpression><dmn:text>forever(1)</dmn:text></dmn:literalExpression></dmn:decision>
)" + kTail;
  auto rec = load_ok(recursive);
  ASSERT_TRUE(rec);
  DecisionResult deep = run(*rec, "x", "{}");
  EXPECT_TRUE(deep.value.is_null());
  EXPECT_NE(deep.value.null_reason().find("levels deep"), std::string::npos) << deep.value.null_reason();
}

// banshi decide's core: the output and exit codes (tests/cli/cli_test.sh runs the command itself).
struct Decided {
  int code = 0;
  std::string out;
  std::string err;
};

Decided decide(const std::string& xml, const std::string& decision, const std::string& input, bool json = false) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("banshi-decide-" + std::to_string(::getpid()) + ".dmn")).string();
  std::ofstream(path) << xml;
  DecideOptions options;
  options.file = path;
  options.decision = decision;
  options.input = input;
  options.json = json;
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  Decided d;
  d.code = run_decide(options, out, err);
  auto slurp = [](std::FILE* f) {
    std::string text;
    std::rewind(f);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
    return text;
  };
  d.out = slurp(out);
  d.err = slurp(err);
  std::filesystem::remove(path);
  return d;
}

TEST(DmnDecide, PrintsTheResultAndTheMatchedRules) {
  Decided d = decide(table("RULE ORDER"), "amount", R"({"age": 82})");
  EXPECT_EQ(d.code, 0) << d.err;
  EXPECT_EQ(d.out, "[100,300,100]\nmatched in Amount: rule 1 (r1), 2 (r2), 4 (r4)\n");
  d = decide(table("FIRST"), "Amount", R"({"age": 61})", true);
  EXPECT_EQ(d.code, 0) << d.err;
  EXPECT_EQ(d.out, R"({"result":100,"matched":[{"decision":"amount","rules":[1],"ruleIds":["r1"]}],"errors":[]})" "\n");
}

TEST(DmnDecide, ExitCodesSayWhatWentWrong) {
  Decided d = decide(table("UNIQUE"), "amount", R"({"age": 72})");
  EXPECT_EQ(d.code, 1);
  EXPECT_NE(d.err.find("error: amount: the UNIQUE table matched 3 rules"), std::string::npos) << d.err;
  d = decide(table("SOMETIMES"), "amount", "{}");
  EXPECT_EQ(d.code, 1);
  EXPECT_NE(d.err.find("error DMN030"), std::string::npos) << d.err;
  d = decide(table("FIRST"), "nope", "{}");
  EXPECT_EQ(d.code, 2);
  EXPECT_NE(d.err.find("has no decision 'nope' (decisions: amount)"), std::string::npos) << d.err;
  d = decide(table("FIRST"), "amount", "[1, 2]");
  EXPECT_EQ(d.code, 2);
  EXPECT_NE(d.err.find("--input must be a JSON object"), std::string::npos) << d.err;
}

}  // namespace
}  // namespace banshi::dmn
