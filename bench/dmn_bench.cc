// Prints decision evaluations per second for a 50-rule decision table (three
// inputs: a number range, a list of strings, a date comparison) under the
// FIRST hit policy (two outputs) and COLLECT SUM (one output), for inputs that
// match an early rule, a late rule and no rule. Every rule's tests run in each
// case (the matched rules are reported), so the three differ mostly in the
// outputs computed. Inputs come as JSON, as a business rule task passes them.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "dmn/evaluate.h"
#include "dmn/model.h"

namespace {

std::string table(const std::string& policy) {
  std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="bench" name="bench" namespace="urn:bench">
  <inputData id="i1" name="income"><variable name="income" typeRef="number"/></inputData>
  <inputData id="i2" name="region"><variable name="region" typeRef="string"/></inputData>
  <inputData id="i3" name="registered"><variable name="registered" typeRef="date"/></inputData>
  <decision id="subsidy" name="Subsidy">
    <informationRequirement><requiredInput href="#i1"/></informationRequirement>
    <informationRequirement><requiredInput href="#i2"/></informationRequirement>
    <informationRequirement><requiredInput href="#i3"/></informationRequirement>
    <decisionTable hitPolicy=")" + policy + R"(">
      <input><inputExpression typeRef="number"><text>income</text></inputExpression></input>
      <input><inputExpression typeRef="string"><text>region</text></inputExpression></input>
      <input><inputExpression typeRef="date"><text>registered</text></inputExpression></input>
      <output name="amount" typeRef="number"/>
)";
  if (policy == "FIRST") xml += R"(      <output name="band" typeRef="string"/>
)";
  for (int i = 0; i < 50; ++i) {
    xml += fmt::format(R"(      <rule id="r{0}">
        <inputEntry><text>[{1}..{2})</text></inputEntry>
        <inputEntry><text>"330{3:03}", "330{4:03}", "330{5:03}"</text></inputEntry>
        <inputEntry><text>&lt;= date("2026-{6:02}-01")</text></inputEntry>
        <outputEntry><text>{7} + income * 0.01</text></outputEntry>
)",
                       i, i * 100, i * 100 + 500, i, i + 1, i + 2, i % 12 + 1, 1000 - i * 10);
    if (policy == "FIRST") xml += fmt::format("        <outputEntry><text>\"band {}\"</text></outputEntry>\n", i);
    xml += "      </rule>\n";
  }
  xml += "    </decisionTable>\n  </decision>\n</definitions>\n";
  return xml;
}

}  // namespace

int main() {
  struct Input {
    const char* label;
    const char* json;
  };
  const std::vector<Input> inputs = {
      {"early match", R"({"income": 150, "region": "330001", "registered": "2025-12-01"})"},
      {"late match", R"({"income": 4850, "region": "330048", "registered": "2025-12-01"})"},
      {"no match", R"({"income": 99999, "region": "110000", "registered": "2025-12-01"})"},
  };
  fmt::print("{:<14} {:<12} {:>14} {:>12}  {}\n", "hit policy", "input", "evals/s", "us/eval", "result");
  for (const char* policy : {"FIRST", "COLLECT"}) {
    std::string xml = table(policy);
    if (std::string(policy) == "COLLECT") {
      xml.replace(xml.find("hitPolicy=\"COLLECT\""), 19, "hitPolicy=\"COLLECT\" aggregation=\"SUM\"");
    }
    banshi::dmn::LoadResult loaded = banshi::dmn::load_dmn(xml);
    if (!loaded.ok()) {
      for (const auto& d : loaded.diagnostics) fmt::print("{}\n", banshi::model::format_diagnostic(d, "bench.dmn"));
      return 1;
    }
    const auto& defs = *loaded.definitions;
    for (const auto& input : inputs) {
      boost::json::object vars = boost::json::parse(input.json).as_object();
      banshi::expr::JsonVariables variables(vars);
      using Clock = std::chrono::steady_clock;
      uint64_t iterations = 0;
      std::string last;
      auto start = Clock::now();
      auto elapsed = Clock::duration::zero();
      while (elapsed < std::chrono::seconds(1)) {
        for (int i = 0; i < 16; ++i) {
          banshi::dmn::DecisionResult r = banshi::dmn::evaluate(defs, "subsidy", variables);
          if (iterations == 0 && i == 0) last = r.value.to_string();
        }
        iterations += 16;
        elapsed = Clock::now() - start;
      }
      double seconds = std::chrono::duration<double>(elapsed).count();
      fmt::print("{:<14} {:<12} {:>14.0f} {:>12.1f}  {}\n", policy, input.label,
                 static_cast<double>(iterations) / seconds, seconds * 1e6 / static_cast<double>(iterations), last);
    }
  }
  return 0;
}
