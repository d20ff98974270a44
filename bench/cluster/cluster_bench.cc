// Prints the engine's throughput with one, two and three nodes sharing one
// PostgreSQL database, next to one node on SQLite (durable: WAL,
// synchronous=FULL), for the straight-through process: start -> service task
// (an in-process connector that returns at once) -> exclusive gateway -> end.
// Each node is an Engine with its own connection pool, processing thread and
// job workers, as a `banshi serve` process would have; client threads start
// instances on every node at once for a fixed time. An instance counts when
// it has ended.
//
// Usage: bench_cluster POSTGRES_URL [seconds per run] [client threads per node]
// The runs use schemas of their own (bench_cluster_N), dropped afterwards.
// bench/cluster/run.sh starts a throwaway PostgreSQL server for it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "banshi/engine.h"
#include "store/store.h"

using namespace banshi;  // NOLINT

namespace {

const char* const kModel = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="p" isExecutable="true">
    <startEvent id="start"/><sequenceFlow id="f1" sourceRef="start" targetRef="calc"/>
    <serviceTask id="calc" bs:connector="calc"/><sequenceFlow id="f2" sourceRef="calc" targetRef="gw"/>
    <exclusiveGateway id="gw" default="f4"/>
    <sequenceFlow id="f3" sourceRef="gw" targetRef="big"><conditionExpression>=amount &gt; 1000</conditionExpression></sequenceFlow>
    <sequenceFlow id="f4" sourceRef="gw" targetRef="small"/>
    <endEvent id="big"/><endEvent id="small"/>
  </process></definitions>)";

void drop_schema(const std::string& url, const std::string& schema) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) == CONNECTION_OK) {
    PQclear(PQexec(conn, ("SET client_min_messages = warning; DROP SCHEMA IF EXISTS " + schema + " CASCADE").c_str()));
  }
  PQfinish(conn);
}

struct Run {
  std::string label;
  int64_t started = 0;
  int64_t ended = 0;
  double seconds = 0;
  double p50_ms = 0, p99_ms = 0;
};

// `nodes` engines on `location`, clients starting instances for `seconds`;
// then waits (up to a minute) for the started instances to end.
Run measure(const std::string& label, const std::string& location, const std::string& schema, int nodes,
            int seconds, int clients) {
  Run run{label};
  std::vector<std::unique_ptr<Engine>> engines;
  for (int n = 0; n < nodes; ++n) {
    store::OpenOptions o;
    o.schema = schema;
    o.connections = 8;
    auto s = store::open_store(location, o);
    if (!s.ok()) {
      fmt::print(stderr, "cannot open {}: {}\n", label, s.error().message);
      std::exit(1);
    }
    EngineConfig config;
    config.node_id = fmt::format("bench-{}", n + 1);
    auto e = Engine::open(config, std::move(s).value(), std::make_shared<SystemClock>());
    if (!e.ok()) {
      fmt::print(stderr, "cannot open the engine: {}\n", e.error().message);
      std::exit(1);
    }
    if (!(*e)->deploy("p.bpmn", kModel, "bench").ok()) std::exit(1);
    (*e)->register_connector("calc", [](const JobContext&) { return JobOutcome::completed(); });
    engines.push_back(std::move(e).value());
  }
  for (auto& e : engines) e->start();
  std::atomic<bool> stop{false};
  std::atomic<int64_t> started{0};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(nodes * clients));
  std::vector<std::thread> threads;
  const auto t0 = std::chrono::steady_clock::now();
  for (int n = 0; n < nodes; ++n) {
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, n, c] {
        auto& mine = latencies[static_cast<size_t>(n * clients + c)];
        int i = 0;
        while (!stop) {
          StartRequest req;
          req.process_id = "p";
          req.variables["amount"] = (i++ * 37) % 2000;
          auto a = std::chrono::steady_clock::now();
          if (engines[static_cast<size_t>(n)]->start_instance(req).ok()) {
            ++started;
            mine.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
          }
        }
      });
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  // Every started instance ends once its job has run.
  auto ended = [&] {
    uint64_t sum = 0;
    for (auto& e : engines) sum += e->metrics().instances_ended.load();
    return static_cast<int64_t>(sum);
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (ended() < started.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  run.started = started.load();
  run.ended = ended();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  if (!all.empty()) {
    run.p50_ms = all[all.size() / 2];
    run.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  for (auto& e : engines) e->stop();
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: bench_cluster POSTGRES_URL [seconds per run] [client threads per node]\n");
    return 2;
  }
  const std::string url = argv[1];
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 10;
  const int clients = argc > 3 ? std::atoi(argv[3]) : 16;
  std::vector<Run> runs;
  const std::string sqlite = (std::filesystem::temp_directory_path() / "banshi-bench-cluster.db").string();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(sqlite + suffix);
  runs.push_back(measure("SQLite, 1 node", sqlite, "", 1, seconds, clients));
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(sqlite + suffix);
  for (int nodes = 1; nodes <= 3; ++nodes) {
    const std::string schema = fmt::format("bench_cluster_{}", nodes);
    drop_schema(url, schema);  // every run starts empty
    runs.push_back(measure(fmt::format("PostgreSQL, {} node{}", nodes, nodes == 1 ? "" : "s"), url, schema, nodes,
                           seconds, clients));
    drop_schema(url, schema);
  }
  fmt::print("{:<22} {:>10} {:>10} {:>14} {:>10} {:>10}\n", "store", "started", "ended", "instances/s", "p50 ms",
             "p99 ms");
  for (const Run& r : runs) {
    fmt::print("{:<22} {:>10} {:>10} {:>14.0f} {:>10.1f} {:>10.1f}\n", r.label, r.started, r.ended,
               static_cast<double>(r.ended) / r.seconds, r.p50_ms, r.p99_ms);
  }
  fmt::print("({} client threads per node, {} s of starts per run, {} hardware threads)\n", clients, seconds,
             std::thread::hardware_concurrency());
  return 0;
}
