// Prints the pure state machine's speed: element transitions per second on the
// straight-through process (start -> service task -> exclusive gateway -> end)
// and on a 5-way parallel fan-out, and the bytes of stored state of an
// instance waiting at one user task. No I/O is involved: this is core::step alone.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/serialize.h"
#include "core/step.h"
#include "model/load.h"

namespace {

using namespace banshi;

const char* kHeader = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">)";

std::string straight_through() {
  return std::string(kHeader) + R"(
  <process id="p" isExecutable="true">
    <startEvent id="start"/><sequenceFlow id="f1" sourceRef="start" targetRef="calc"/>
    <serviceTask id="calc" bs:connector="calc"/><sequenceFlow id="f2" sourceRef="calc" targetRef="gw"/>
    <exclusiveGateway id="gw" default="f4"/>
    <sequenceFlow id="f3" sourceRef="gw" targetRef="big"><conditionExpression>=amount &gt; 1000</conditionExpression></sequenceFlow>
    <sequenceFlow id="f4" sourceRef="gw" targetRef="small"/>
    <endEvent id="big"/><endEvent id="small"/>
  </process></definitions>)";
}

std::string fan_out() {
  std::string x = std::string(kHeader) + R"(<process id="p" isExecutable="true">
    <startEvent id="start"/><sequenceFlow id="f0" sourceRef="start" targetRef="split"/><parallelGateway id="split"/>
    <parallelGateway id="join"/><sequenceFlow id="fe" sourceRef="join" targetRef="end"/><endEvent id="end"/>)";
  for (int i = 1; i <= 5; ++i) {
    x += fmt::format(R"(<sequenceFlow id="a{0}" sourceRef="split" targetRef="t{0}"/><serviceTask id="t{0}" bs:connector="t"/>
      <sequenceFlow id="b{0}" sourceRef="t{0}" targetRef="join"/>)", i);
  }
  return x + "</process></definitions>";
}

std::string one_user_task() {
  return std::string(kHeader) + R"(<process id="p" isExecutable="true">
    <startEvent id="start"/><sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <userTask id="review" bs:candidateGroups="dpf-county" bs:region="=region"/>
    <sequenceFlow id="f2" sourceRef="review" targetRef="end"/><endEvent id="end"/></process></definitions>)";
}

core::ExecutableProcess compile(const std::string& xml, std::shared_ptr<const model::Definitions>& keep) {
  model::LoadResult r = model::load_bpmn(xml);
  if (!r.ok()) {
    fmt::print(stderr, "bench model does not load\n");
    std::exit(1);
  }
  keep = r.definitions;
  return core::ExecutableProcess(keep, keep->processes[0]);
}

bool is_transition(core::RecordKind k) {
  return k >= core::RecordKind::kElementActivating && k <= core::RecordKind::kSequenceFlowTaken;
}

struct Figures {
  double instances_per_s;
  double transitions_per_s;
};

// Runs instances to the end for about `seconds`, completing every job at once.
Figures run(const core::ExecutableProcess& p, double seconds) {
  core::StepEnv env;
  env.now_ms = 1772413200000;
  boost::json::object vars;
  vars["amount"] = 5000;
  std::vector<core::Record> out;
  out.reserve(256);
  size_t instances = 0, transitions = 0;
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    for (int batch = 0; batch < 256; ++batch) {
      core::InstanceState state;
      core::Command c{core::CommandKind::kStart};
      c.variables = vars;
      out.clear();
      (void)core::step(p, state, c, env, out);
      for (const auto& r : out) transitions += is_transition(r.kind);
      while (!state.jobs.empty()) {
        core::Command done{core::CommandKind::kCompleteJob};
        done.key = state.jobs.begin()->first;
        out.clear();
        (void)core::step(p, state, done, env, out);
        for (const auto& r : out) transitions += is_transition(r.kind);
      }
      if (state.status != core::InstanceStatus::kCompleted) {
        fmt::print(stderr, "bench instance did not complete\n");
        std::exit(1);
      }
      ++instances;
    }
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {static_cast<double>(instances) / elapsed, static_cast<double>(transitions) / elapsed};
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  std::shared_ptr<const model::Definitions> a, b, c;
  core::ExecutableProcess st = compile(straight_through(), a);
  core::ExecutableProcess fo = compile(fan_out(), b);
  core::ExecutableProcess ut = compile(one_user_task(), c);

  fmt::print("{:<28} {:>16} {:>22}\n", "workload (pure core, 1 core)", "instances/s", "element transitions/s");
  Figures f1 = run(st, seconds);
  fmt::print("{:<28} {:>16.0f} {:>22.0f}\n", "straight-through", f1.instances_per_s, f1.transitions_per_s);
  Figures f2 = run(fo, seconds);
  fmt::print("{:<28} {:>16.0f} {:>22.0f}\n", "5-way parallel fan-out", f2.instances_per_s, f2.transitions_per_s);

  core::InstanceState waiting;
  core::Command start{core::CommandKind::kStart};
  start.variables["region"] = "220102";
  start.variables["applicationId"] = "A-2026-000123";
  start.variables["operation"] = "new-issue";
  std::vector<core::Record> out;
  core::StepEnv env;
  (void)core::step(ut, waiting, start, env, out);
  fmt::print("state of an instance waiting at one user task: {} bytes (3 variables)\n", core::encode(waiting).size());
  return 0;
}
