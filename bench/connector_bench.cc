// Prints connector calls per second to a local department simulator:
//  1. a bare Boost.Beast client loop (keep-alive, `concurrency` threads),
//  2. the HTTP connector alone (pooled client, `concurrency` calls in flight),
//  3. the engine: one instance per call, a service task run by the connector
//     runtime through the HTTP connector (SQLite, durable), all started at once,
// and the engine's overhead per call against the bare loop.
// Usage: bench_connector [calls] [concurrency] [database path]
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "api/server.h"
#include "banshi/engine.h"
#include "departments.h"
#include "http/http_connector.h"
#include "sdk/runtime.h"
#include "simulators/people.h"
#include "simulators/simulator.h"
#include "store/sqlite/sqlite_store.h"

using namespace banshi;
using Steady = std::chrono::steady_clock;
namespace json = boost::json;

static const char* kModel = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="p" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <serviceTask id="t" bs:connector="data-sharing.lookup-household"/>
    <sequenceFlow id="f2" sourceRef="t" targetRef="e"/><endEvent id="e"/>
  </process></definitions>)";

static double seconds_since(Steady::time_point t0) {
  return std::chrono::duration<double>(Steady::now() - t0).count();
}

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 5000;
  const int concurrency = argc > 2 ? std::atoi(argv[2]) : 8;
  const std::string path = argc > 3 ? argv[3] : "/tmp/banshi-bench-connector.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);

  connectors::sim::Simulator simulator;
  api::ServerOptions so;
  so.port = 0;
  so.threads = 2;
  api::Server server(so, [&](const api::Request& r) { return simulator.handle(r); });
  if (!server.start().ok()) return 1;
  const std::string port = std::to_string(server.port());
  const std::string id = connectors::sim::make_id_number("220102", "19800501", 1);
  const std::string target = "/data-sharing/household/" + id;

  // 1. The bare Beast loop.
  double bare_us = 0;
  {
    namespace beast = boost::beast;
    std::atomic<int> next{0};
    auto t0 = Steady::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < concurrency; ++c) {
      threads.emplace_back([&] {
        boost::asio::io_context ioc;
        boost::asio::ip::tcp::resolver resolver(ioc);
        beast::tcp_stream stream(ioc);
        stream.connect(resolver.resolve("127.0.0.1", port));
        beast::flat_buffer buffer;
        while (next.fetch_add(1) < calls) {
          beast::http::request<beast::http::empty_body> req{beast::http::verb::get, target, 11};
          req.set(beast::http::field::host, "127.0.0.1");
          beast::http::write(stream, req);
          beast::http::response<beast::http::string_body> res;
          beast::http::read(stream, buffer, res);
          if (res.result_int() != 200) std::abort();
        }
      });
    }
    for (auto& t : threads) t.join();
    double s = seconds_since(t0);
    bare_us = s * 1e6 / calls;
    fmt::print("bare Beast loop:        {:>8.0f} calls/s  ({:.1f} µs/call)\n", calls / s, bare_us);
    std::fflush(stdout);
  }
  // 2. The HTTP connector alone.
  {
    boost::asio::io_context ioc;
    auto work = boost::asio::make_work_guard(ioc);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) threads.emplace_back([&] { ioc.run(); });
    auto client = *connectors::http::HttpClient::create(ioc);
    auto op = *connectors::http::HttpConnector::create(client, {"http://127.0.0.1:" + port, {}},
                                                        connectors::data_sharing_operations().at(1));
    std::mutex mu;
    std::condition_variable cv;
    int done = 0;
    int started = 0;
    auto t0 = Steady::now();
    std::function<void()> launch = [&] {
      connectors::Call c;
      c.idempotency_key = "k";
      c.deadline = Steady::now() + std::chrono::seconds(30);
      c.variables["applicant"] = json::object{{"idNumber", id}};
      op->call(c, [&](connectors::Reply r) {
        if (r.outcome.kind != JobOutcome::Kind::kCompleted) std::abort();
        std::lock_guard lock(mu);
        ++done;
        if (started < calls) {
          ++started;
          boost::asio::post(ioc, launch);
        }
        cv.notify_all();
      });
    };
    {
      std::lock_guard lock(mu);
      for (; started < std::min(concurrency, calls); ++started) boost::asio::post(ioc, launch);
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done == calls; });
    lock.unlock();
    double s = seconds_since(t0);
    fmt::print("HTTP connector alone:   {:>8.0f} calls/s  ({:.1f} µs/call, {} connections opened)\n", calls / s,
               s * 1e6 / calls, client->connections_opened());
    work.reset();
    for (auto& t : threads) t.join();
  }

  // 3. Through the engine and the connector runtime.
  {
    store::sqlite::SqliteOptions o;
    o.path = path;
    auto store = store::sqlite::SqliteStore::open(o);
    if (!store.ok()) return 1;
    auto engine = std::move(Engine::open(EngineConfig{}, std::move(store).value(), nullptr)).value();
    connectors::RuntimeOptions ro;
    ro.max_in_flight = static_cast<size_t>(concurrency);
    ro.poll_interval = std::chrono::milliseconds(5);
    connectors::Runtime runtime(*engine, ro);
    auto client = *connectors::http::HttpClient::create(runtime.io_context());
    for (const auto& spec : connectors::all_operations()) {
      (void)runtime.add(spec.name, spec.department,
                        *connectors::http::HttpConnector::create(client, {"http://127.0.0.1:" + port, {}}, spec));
    }
    if (!engine->deploy("p.bpmn", kModel, "bench").ok()) return 1;
    engine->start();
    runtime.start();
    auto t0 = Steady::now();
    std::vector<std::thread> starters;
    std::atomic<int> next{0};
    for (int c = 0; c < 16; ++c) {
      starters.emplace_back([&] {
        while (next.fetch_add(1) < calls) {
          StartRequest req;
          req.process_id = "p";
          req.variables["applicant"] = json::object{{"idNumber", id}};
          if (!engine->start_instance(req).ok()) std::abort();
        }
      });
    }
    for (auto& t : starters) t.join();
    while (runtime.counters().completed.load() < static_cast<uint64_t>(calls)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    double s = seconds_since(t0);
    double per = s * 1e6 / calls;
    fmt::print("engine + HTTP connector:{:>8.0f} calls/s  ({:.1f} µs/call; overhead vs bare loop {:.1f} µs/call)\n",
               calls / s, per, per - bare_us);
    runtime.stop();
    engine->stop();
  }
  server.stop();
  return 0;
}
