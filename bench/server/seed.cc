// bench_server_seed — fills a banshi database with open user tasks for the
// server benchmark (bench/server/run.sh): LIST tasks offered to the group
// dpf-county in region 220102, then COMPLETE tasks already assigned to the
// user "bench", then CLAIM tasks offered to dpf-county for bench to claim.
// Also deploys bench-start, which the start-instance run starts. Prints the
// id ranges of the assigned and the claimable ones.
// Usage: bench_server_seed DATABASE LIST COMPLETE [CLAIM [THREADS]]
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "banshi/engine.h"
#include "store/sqlite/sqlite_store.h"

namespace {

// One process per run of the benchmark: a start event, one user task
// offered to dpf-county in region 220102, an end event. Ids are unique in
// the file, as BPMN requires.
std::string bench_model() {
  struct Process {
    const char* id;
    const char* task;
    const char* name;
    const char* assignee;  // empty: offered to the group only
  };
  const Process processes[] = {{"bench-list", "check", "Check the application", ""},
                               {"bench-complete", "approve", "Approve", "bench"},
                               {"bench-claim", "review", "Review", ""},
                               {"bench-start", "intake", "Intake", ""}};
  std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="bench">
)";
  for (const Process& p : processes) {
    std::string assignee = *p.assignee ? fmt::format(R"( bs:assignee="{}")", p.assignee) : std::string();
    xml += fmt::format(R"(  <process id="{0}" isExecutable="true">
    <startEvent id="{0}-s"/><sequenceFlow id="{0}-f1" sourceRef="{0}-s" targetRef="{1}"/>
    <userTask id="{1}" name="{2}"{3} bs:candidateGroups="dpf-county" bs:region="220102"/>
    <sequenceFlow id="{0}-f2" sourceRef="{1}" targetRef="{0}-e"/><endEvent id="{0}-e"/>
  </process>
)",
                       p.id, p.task, p.name, assignee);
  }
  return xml + "</definitions>";
}

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
    fmt::print(stderr, "usage: bench_server_seed DATABASE LIST COMPLETE [CLAIM [THREADS]]\n");
    return 64;
  }
  long list = std::atol(argv[2]);
  long complete = std::atol(argv[3]);
  long claim = argc > 4 ? std::atol(argv[4]) : 0;
  int threads = argc > 5 ? std::atoi(argv[5]) : 64;
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
  auto deployed = (*engine)->deploy("bench.bpmn", bench_model(), "bench");
  if (!deployed.ok()) {
    fmt::print(stderr, "cannot deploy: {}\n", deployed.error().message);
    return 1;
  }
  bool ok = start_many(**engine, "bench-list", list, threads) &&
            start_many(**engine, "bench-complete", complete, threads) &&
            start_many(**engine, "bench-claim", claim, threads);
  // The first and last task id of a query, printed as "<label> FIRST LAST".
  auto print_range = [&](const char* label, banshi::store::TaskQuery q) {
    q.limit = 1;
    auto first = (*engine)->store().tasks(q);
    q.descending = true;
    auto last = (*engine)->store().tasks(q);
    if (first.ok() && last.ok() && !first->empty() && !last->empty()) {
      fmt::print("{} {} {}\n", label, first->front().id, last->front().id);
    }
  };
  banshi::store::TaskQuery assigned;
  assigned.assignee = "bench";
  print_range("complete-ids", assigned);
  if (claim > 0) {
    banshi::store::TaskQuery claimable;
    claimable.process_id = "bench-claim";
    print_range("claim-ids", claimable);
  }
  (*engine)->stop();
  return ok ? 0 : 1;
}
