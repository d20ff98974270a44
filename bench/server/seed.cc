// bench_server_seed — fills a banshi database with open user tasks for the
// server benchmark (bench/server/run.sh): LIST tasks offered to the group
// dpf-county in region 220102, then COMPLETE tasks already assigned to the
// user "bench". Prints the id range of the assigned ones.
// Usage: bench_server_seed DATABASE LIST COMPLETE [THREADS]
#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "banshi/engine.h"
#include "store/sqlite/sqlite_store.h"

namespace {

const char* kModel = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="bench">
  <process id="bench-list" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="check"/>
    <userTask id="check" name="Check the application" bs:candidateGroups="dpf-county" bs:region="220102"/>
    <sequenceFlow id="f2" sourceRef="check" targetRef="e"/><endEvent id="e"/>
  </process>
  <process id="bench-complete" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="approve"/>
    <userTask id="approve" name="Approve" bs:assignee="bench" bs:candidateGroups="dpf-county" bs:region="220102"/>
    <sequenceFlow id="f2" sourceRef="approve" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>)";

bool start_many(banshi::Engine& engine, const std::string& process, long count, int threads) {
  std::atomic<long> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (long i = next++; i < count && !failed; i = next++) {
        banshi::StartRequest r;
        r.process_id = process;
        r.business_key = fmt::format("B-{}", i);
        r.variables["applicant"] = fmt::format("applicant {}", i);
        if (auto id = engine.start_instance(r); !id.ok()) {
          fmt::print(stderr, "cannot start {}: {}\n", process, id.error().message);
          failed = true;
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  return !failed;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    fmt::print(stderr, "usage: bench_server_seed DATABASE LIST COMPLETE [THREADS]\n");
    return 64;
  }
  long list = std::atol(argv[2]);
  long complete = std::atol(argv[3]);
  int threads = argc > 4 ? std::atoi(argv[4]) : 64;
  banshi::store::sqlite::SqliteOptions o;
  o.path = argv[1];
  o.durable = false;
  auto store = banshi::store::sqlite::SqliteStore::open(o);
  if (!store.ok()) {
    fmt::print(stderr, "cannot open {}: {}\n", o.path, store.error().message);
    return 1;
  }
  auto engine = banshi::Engine::open(banshi::EngineConfig{}, std::move(store).value(),
                                     std::make_shared<banshi::SystemClock>());
  if (!engine.ok()) {
    fmt::print(stderr, "cannot open the engine: {}\n", engine.error().message);
    return 1;
  }
  (*engine)->start();
  auto deployed = (*engine)->deploy("bench.bpmn", kModel, "bench");
  if (!deployed.ok()) {
    fmt::print(stderr, "cannot deploy: {}\n", deployed.error().message);
    return 1;
  }
  bool ok = start_many(**engine, "bench-list", list, threads) && start_many(**engine, "bench-complete", complete, threads);
  banshi::store::TaskQuery q;
  q.assignee = "bench";
  q.limit = 1;
  auto first = (*engine)->store().tasks(q);
  q.descending = true;
  auto last = (*engine)->store().tasks(q);
  (*engine)->stop();
  if (!ok) return 1;
  if (first.ok() && last.ok() && !first->empty() && !last->empty()) {
    fmt::print("complete-ids {} {}\n", first->front().id, last->front().id);
  }
  return 0;
}
