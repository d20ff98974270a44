// connectors/sdk/connector.h — the asynchronous connector interface.
//
// A connector is one named operation of a department system
// (`dpf.register-certificate`, `civil-affairs.decide-subsidy`, ...). The
// runtime (runtime.h) hands it one Call per job attempt and the connector
// answers through the completion handler, exactly once, from any thread:
// - a result (JobOutcome::completed with the variables to set),
// - a retryable failure (JobOutcome::failed; the engine retries with backoff
//   and raises an incident when the retries run out),
// - a BPMN error (JobOutcome::bpmn_error: a business outcome such as
//   "not-eligible" that the model catches with an error boundary event).
// Reply::unreachable says the failure was the department system's (no
// connection, a timeout, a 5xx) rather than the request's; it feeds the
// department's circuit breaker.
//
// Threading: call() runs on one of the runtime's I/O threads and must not
// block; long work belongs on the executor given in the Call. The connector
// object is shared by all concurrent calls and must be thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/object.hpp>

#include "banshi/engine.h"

namespace banshi::connectors {

using SteadyClock = std::chrono::steady_clock;

struct Call {
  int64_t job_id = 0;
  InstanceId instance_id = 0;
  std::string type;             // the connector name the task gave
  std::string element_id;
  std::string idempotency_key;  // the same for every attempt of one job
  int32_t retries_left = 0;
  SteadyClock::time_point deadline;  // answer by then; the runtime fails the attempt after it
  boost::json::object variables;     // everything visible from the task
  boost::json::object headers;       // the task's static headers
  boost::asio::any_io_executor executor;  // where to run asynchronous work
};

struct Reply {
  JobOutcome outcome;
  bool unreachable = false;  // the department system did not answer usefully
  // No request reached the system (it could not be built, the connector
  // threw): says nothing of the system's health, so the circuit breaker
  // neither opens nor closes on it.
  bool local = false;

  static Reply ok(boost::json::object vars = {}) { return {JobOutcome::completed(std::move(vars)), false, false}; }
  static Reply retry(std::string why, bool unreachable = false) {
    return {JobOutcome::failed(std::move(why)), unreachable, false};
  }
  static Reply business_error(std::string code, std::string why = {}, boost::json::object vars = {}) {
    JobOutcome o = JobOutcome::bpmn_error(std::move(code), std::move(why));
    o.variables = std::move(vars);
    return {std::move(o), false, false};
  }
};

using Done = std::function<void(Reply)>;

class AsyncConnector {
 public:
  virtual ~AsyncConnector() = default;
  virtual void call(Call call, Done done) = 0;
};

// A connector from a function that answers at once (handy for small built-ins).
class FunctionConnector final : public AsyncConnector {
 public:
  explicit FunctionConnector(std::function<Reply(const Call&)> fn) : fn_(std::move(fn)) {}
  void call(Call call, Done done) override { done(fn_(call)); }

 private:
  std::function<Reply(const Call&)> fn_;
};

}  // namespace banshi::connectors
