// connectors/sdk/circuit_breaker.h — one breaker per department system.
//
// Closed: calls go through; `failure_threshold` consecutive unreachable
// answers open it. Open: no job of the department is fetched, so its jobs wait
// together instead of each burning its retries; after `open_for` the breaker
// lets exactly one probe call through (half-open). The probe's success closes
// it; its failure opens it again for another `open_for`. `unreachable_since`
// keeps the time of the first failure of the outage until it closes.
//
// Pure and not synchronised: the caller holds a lock and passes the time
// (milliseconds since the epoch), so tests drive it without waiting.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace banshi::connectors {

struct BreakerOptions {
  int failure_threshold = 5;
  int64_t open_for_ms = 30'000;
};

enum class BreakerState : uint8_t { kClosed, kOpen, kHalfOpen };
std::string_view breaker_state_name(BreakerState s);

class CircuitBreaker {
 public:
  explicit CircuitBreaker(BreakerOptions options = {}) : options_(options) {}

  // Whether a call may start now. In half-open, true once until its answer comes.
  bool try_acquire(int64_t now_ms);
  // How many calls may start now: unlimited (-1) when closed, 0 or 1 otherwise.
  int permits(int64_t now_ms) const;
  void on_success(int64_t now_ms);
  void on_failure(int64_t now_ms, std::string_view why);
  // A call that neither succeeded nor reached the system (a business error or a bad request).
  void on_neutral();

  BreakerState state() const { return state_; }
  int64_t unreachable_since_ms() const { return since_ms_; }  // 0 when closed
  int consecutive_failures() const { return failures_; }
  const std::string& last_error() const { return last_error_; }
  int64_t opened_count() const { return opened_; }

 private:
  BreakerOptions options_;
  BreakerState state_ = BreakerState::kClosed;
  int failures_ = 0;
  int64_t first_failure_ms_ = 0;
  int64_t since_ms_ = 0;
  int64_t retry_at_ms_ = 0;
  bool probe_out_ = false;
  int64_t opened_ = 0;
  std::string last_error_;
};

}  // namespace banshi::connectors
