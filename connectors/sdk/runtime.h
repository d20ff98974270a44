// connectors/sdk/runtime.h — runs asynchronous connectors for an Engine.
//
// The runtime leases the jobs of its connector types from the engine
// (Engine::fetch_and_lock, in process, under its own worker id), runs each
// attempt on its own Asio I/O threads with a deadline, and reports the
// outcome back (Engine::report_job). The engine's processing thread never
// waits for a department: many calls are in flight at once, bounded by
// `max_in_flight`, and by `max_in_flight_per_department` for any one
// department, so a slow department holds at most its share of the slots and
// never blocks the others' work.
//
// Each connector belongs to a department; the department's circuit breaker
// (circuit_breaker.h) decides whether its jobs are fetched at all. While a
// department is unreachable its jobs stay in the store, untouched, and
// departments() reports one summary ("unreachable since ...") instead of
// one incident per job.
//
// Threading: add()/allow_topic()/install_deploy_check() before start();
// departments(), counters() and check_job_type() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include "banshi/engine.h"
#include "banshi/result.h"
#include "sdk/circuit_breaker.h"
#include "sdk/connector.h"

namespace banshi::connectors {

struct RuntimeOptions {
  std::string worker_id = "banshi-connectors";
  int threads = 2;                      // I/O threads running connector calls
  size_t max_in_flight = 256;           // attempts running at once
  size_t max_in_flight_per_department = 64;  // of which one department's, at most
  std::chrono::milliseconds poll_interval{25};   // how often to look for due jobs when idle
  std::chrono::milliseconds default_timeout{30'000};  // an attempt's deadline when the task sets none
  int64_t lock_ms = 5 * 60 * 1000;      // the job lease; an attempt's timeout is cut to end within it
  BreakerOptions breaker;
};

struct DepartmentStatus {
  std::string department;
  BreakerState state = BreakerState::kClosed;
  int64_t unreachable_since_ms = 0;  // 0 when reachable
  int consecutive_failures = 0;
  std::string last_error;
  int64_t times_opened = 0;
  // "department unreachable since 2026-03-02T09:00:00Z: <last error>" or empty.
  std::string summary() const;
};

struct RuntimeCounters {
  std::atomic<uint64_t> started{0};
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> bpmn_errors{0};
  std::atomic<uint64_t> timed_out{0};
};

class Runtime {
 public:
  Runtime(Engine& engine, RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Registers the connector for a job type; a type is registered once.
  // `timeout`: the attempt's deadline when the task sets no bs:timeout
  // (zero: the runtime's default_timeout).
  Result<void> add(const std::string& type, const std::string& department, std::shared_ptr<AsyncConnector> connector,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // A topic external workers fetch (not run here) that deployments may name.
  void allow_topic(const std::string& topic);
  // Ok when `type` is a registered connector or an allowed topic.
  Result<void> check_job_type(const std::string& type) const;
  // Makes the engine refuse deployments naming a type check_job_type() refuses.
  void install_deploy_check();

  void start();
  // Stops fetching, waits up to `drain` for attempts in flight, then stops the
  // threads. The jobs of attempts still without an answer are released, so
  // another node (or this one restarted) runs them at once instead of when
  // their leases end; each carries its idempotency key to the department.
  void stop(std::chrono::milliseconds drain = std::chrono::milliseconds(2000));

  std::vector<std::string> types() const;
  std::vector<DepartmentStatus> departments() const;
  const RuntimeCounters& counters() const { return counters_; }
  size_t in_flight() const { return in_flight_.load(); }
  size_t in_flight(const std::string& department) const;
  // The I/O context the calls run on; asynchronous clients (http::HttpClient) share it.
  boost::asio::io_context& io_context() { return ioc_; }

 private:
  struct Entry {
    std::string department;
    std::shared_ptr<AsyncConnector> connector;
    std::chrono::milliseconds timeout{0};
  };
  struct Attempt;

  void poll_loop();
  size_t poll_once();
  void dispatch(JobContext job, const Entry& entry);
  void finish(const std::shared_ptr<Attempt>& attempt, Reply reply);
  static int64_t wall_ms();

  Engine& engine_;
  RuntimeOptions options_;
  // Declared before the connectors so it outlives them: their clients hold sockets on it.
  boost::asio::io_context ioc_;
  std::map<std::string, Entry> entries_;        // by type; fixed after start()
  std::set<std::string> topics_;
  mutable std::mutex breakers_mu_;
  std::map<std::string, CircuitBreaker> breakers_;  // by department
  std::map<std::string, size_t> department_in_flight_;  // under breakers_mu_
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::thread poller_;
  std::atomic<bool> running_{false};
  std::atomic<size_t> in_flight_{0};
  std::mutex running_mu_;
  std::set<int64_t> running_jobs_;  // jobs with an attempt in flight, under running_mu_
  std::atomic<uint64_t> run_{0};    // counts stop()s: attempts of an earlier run are void
  std::mutex wake_mu_;
  std::condition_variable wake_;
  RuntimeCounters counters_;
};

}  // namespace banshi::connectors
