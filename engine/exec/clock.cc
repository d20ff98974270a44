#include "banshi/clock.h"

#include <algorithm>
#include <cmath>

namespace banshi {

int64_t SystemClock::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::chrono::milliseconds SystemClock::real_wait_until(int64_t until) const {
  return std::chrono::milliseconds(std::max<int64_t>(0, until - now_ms()));
}

AcceleratedClock::AcceleratedClock(int64_t start_ms, double factor)
    : start_ms_(start_ms), factor_(factor > 0 ? factor : 1.0), real_start_(std::chrono::steady_clock::now()) {}

int64_t AcceleratedClock::now_ms() const {
  auto real = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - real_start_);
  return start_ms_ + static_cast<int64_t>(std::llround(static_cast<double>(real.count()) * factor_));
}

std::chrono::milliseconds AcceleratedClock::real_wait_until(int64_t until) const {
  int64_t sim = until - now_ms();
  if (sim <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(static_cast<double>(sim) / factor_)));
}

}  // namespace banshi
