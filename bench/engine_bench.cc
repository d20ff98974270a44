// Prints the engine service's throughput on SQLite (durable: WAL,
// synchronous=FULL) for the straight-through process: start -> service task
// (an in-process connector that returns at once) -> exclusive gateway -> end.
// Many client threads submit at once, so group commit can share transactions.
// Usage: bench_engine [instances] [client threads] [database path]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <sys/resource.h>

#include "banshi/engine.h"
#include "store/sqlite/sqlite_store.h"

using namespace banshi;

static const char* kModel = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="p" isExecutable="true">
    <startEvent id="start"/><sequenceFlow id="f1" sourceRef="start" targetRef="calc"/>
    <serviceTask id="calc" bs:connector="calc"/><sequenceFlow id="f2" sourceRef="calc" targetRef="gw"/>
    <exclusiveGateway id="gw" default="f4"/>
    <sequenceFlow id="f3" sourceRef="gw" targetRef="big"><conditionExpression>=amount &gt; 1000</conditionExpression></sequenceFlow>
    <sequenceFlow id="f4" sourceRef="gw" targetRef="small"/>
    <endEvent id="big"/><endEvent id="small"/>
  </process></definitions>)";

int main(int argc, char** argv) {
  const int instances = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int clients = argc > 2 ? std::atoi(argv[2]) : 64;
  const std::string path = argc > 3 ? argv[3] : "/tmp/banshi-bench-engine.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);

  store::sqlite::SqliteOptions o;
  o.path = path;
  auto s = store::sqlite::SqliteStore::open(o);
  if (!s.ok()) {
    fmt::print(stderr, "{}\n", s.error().message);
    return 1;
  }
  EngineConfig config;
  auto e = Engine::open(config, std::move(s).value(), std::make_shared<SystemClock>());
  if (!e.ok()) return 1;
  Engine& engine = **e;
  if (!engine.deploy("p.bpmn", kModel, "bench").ok()) return 1;
  std::atomic<int> jobs{0};
  engine.register_connector("calc", [&](const JobContext&) {
    ++jobs;
    return JobOutcome::completed();
  });
  engine.start();
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  std::atomic<int> next{0};
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      while (next.fetch_add(1) < instances) {
        StartRequest req;
        req.process_id = "p";
        req.variables["amount"] = 5000;
        if (!engine.start_instance(req).ok()) std::abort();
      }
    });
  }
  for (auto& t : threads) t.join();
  auto started = std::chrono::steady_clock::now();
  // Wait until every instance has ended (its job ran and the end committed).
  store::InstanceQuery q;
  q.status = 1;
  q.limit = 1;
  while (true) {
    auto running = engine.store().instances(q);
    if (running.ok() && running->empty() && jobs.load() >= instances) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto t1 = std::chrono::steady_clock::now();
  engine.stop();
  double secs = std::chrono::duration<double>(t1 - t0).count();
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  fmt::print("straight-through on SQLite (durable), {} client threads\n", clients);
  fmt::print("  {} instances in {:.2f} s: {:.0f} instances/s (starts alone: {:.0f}/s)\n", instances, secs,
             instances / secs, instances / std::chrono::duration<double>(started - t0).count());
  fmt::print("  peak RSS {} MB\n", ru.ru_maxrss / 1024);
  return 0;
}
