// banshi/clock.h — every reading of the time goes through a Clock.
//
// SystemClock is the real one; ManualClock moves only when a test says so;
// AcceleratedClock runs faster than real time (the demo: one real second can
// be an hour) from a given simulated start. All are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace banshi {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (UTC).
  virtual int64_t now_ms() const = 0;
  // How long to sleep in real time until the clock shows `until` (0 when it already does).
  virtual std::chrono::milliseconds real_wait_until(int64_t until) const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override;
  std::chrono::milliseconds real_wait_until(int64_t until) const override;
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms) : now_(start_ms) {}
  int64_t now_ms() const override { return now_.load(); }
  // A manual clock never advances by itself: waiting is the test's business.
  std::chrono::milliseconds real_wait_until(int64_t) const override { return std::chrono::milliseconds(50); }
  void advance(int64_t ms) { now_ += ms; }
  void set(int64_t ms) { now_ = ms; }
  // Moves the clock to `ms` unless it already shows that or later (it never
  // goes back); returns the time it shows afterwards. Safe against callers
  // moving it at once.
  int64_t move_forward_to(int64_t ms) {
    int64_t seen = now_.load();
    while (seen < ms && !now_.compare_exchange_weak(seen, ms)) {
    }
    return seen < ms ? ms : seen;
  }

 private:
  std::atomic<int64_t> now_;
};

class AcceleratedClock final : public Clock {
 public:
  // `factor` simulated milliseconds pass per real millisecond, from `start_ms`.
  AcceleratedClock(int64_t start_ms, double factor);
  int64_t now_ms() const override;
  std::chrono::milliseconds real_wait_until(int64_t until) const override;

 private:
  int64_t start_ms_;
  double factor_;
  std::chrono::steady_clock::time_point real_start_;
};

}  // namespace banshi
