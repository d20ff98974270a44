#include "sdk/circuit_breaker.h"

namespace banshi::connectors {

std::string_view breaker_state_name(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed: return "closed";
    case BreakerState::kOpen: return "open";
    case BreakerState::kHalfOpen: return "half-open";
  }
  return "closed";
}

int CircuitBreaker::permits(int64_t now_ms) const {
  switch (state_) {
    case BreakerState::kClosed: return -1;
    case BreakerState::kOpen: return now_ms >= retry_at_ms_ ? 1 : 0;
    case BreakerState::kHalfOpen: return probe_out_ ? 0 : 1;
  }
  return 0;
}

bool CircuitBreaker::try_acquire(int64_t now_ms) {
  if (state_ == BreakerState::kClosed) return true;
  if (state_ == BreakerState::kOpen) {
    if (now_ms < retry_at_ms_) return false;
    state_ = BreakerState::kHalfOpen;
    probe_out_ = false;
  }
  if (probe_out_) return false;
  probe_out_ = true;
  return true;
}

void CircuitBreaker::on_success(int64_t) {
  state_ = BreakerState::kClosed;
  failures_ = 0;
  first_failure_ms_ = 0;
  since_ms_ = 0;
  probe_out_ = false;
  last_error_.clear();
}

void CircuitBreaker::on_failure(int64_t now_ms, std::string_view why) {
  last_error_ = std::string(why);
  if (failures_ == 0) first_failure_ms_ = now_ms;
  ++failures_;
  if (state_ == BreakerState::kHalfOpen || (state_ == BreakerState::kClosed && failures_ >= options_.failure_threshold)) {
    if (state_ == BreakerState::kClosed) {
      since_ms_ = first_failure_ms_;
      ++opened_;
    }
    state_ = BreakerState::kOpen;
    retry_at_ms_ = now_ms + options_.open_for_ms;
    probe_out_ = false;
  }
}

void CircuitBreaker::on_neutral() {
  if (state_ == BreakerState::kHalfOpen) probe_out_ = false;
}

}  // namespace banshi::connectors
