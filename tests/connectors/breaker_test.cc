// The per-department circuit breaker, driven with explicit times.
#include <gtest/gtest.h>

#include "sdk/circuit_breaker.h"

namespace banshi::connectors {
namespace {

TEST(CircuitBreaker, OpensAfterTheThresholdOfConsecutiveFailures) {
  CircuitBreaker b(BreakerOptions{3, 1000});
  EXPECT_EQ(b.permits(0), -1);
  b.on_failure(100, "refused");
  b.on_failure(200, "refused");
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  b.on_success(250);  // an answer in between starts the count again
  b.on_failure(300, "refused");
  b.on_failure(400, "refused");
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  b.on_failure(500, "503");
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  EXPECT_EQ(b.unreachable_since_ms(), 300);  // the first failure of the outage
  EXPECT_EQ(b.last_error(), "503");
  EXPECT_EQ(b.opened_count(), 1);
  EXPECT_EQ(b.permits(1499), 0);
  EXPECT_FALSE(b.try_acquire(1499));
}

TEST(CircuitBreaker, LetsOneProbeThroughAfterTheWaitAndClosesOnItsSuccess) {
  CircuitBreaker b(BreakerOptions{1, 1000});
  b.on_failure(0, "down");
  ASSERT_EQ(b.state(), BreakerState::kOpen);
  EXPECT_EQ(b.permits(1000), 1);
  EXPECT_TRUE(b.try_acquire(1000));
  EXPECT_EQ(b.state(), BreakerState::kHalfOpen);
  EXPECT_FALSE(b.try_acquire(1001));  // one probe at a time
  EXPECT_EQ(b.permits(1001), 0);
  b.on_success(1100);
  EXPECT_EQ(b.state(), BreakerState::kClosed);
  EXPECT_EQ(b.unreachable_since_ms(), 0);
  EXPECT_EQ(b.permits(1100), -1);
}

TEST(CircuitBreaker, AFailedProbeOpensItAgainAndKeepsTheOutageStart) {
  CircuitBreaker b(BreakerOptions{1, 1000});
  b.on_failure(0, "down");
  ASSERT_TRUE(b.try_acquire(1000));
  b.on_failure(1050, "still down");
  EXPECT_EQ(b.state(), BreakerState::kOpen);
  EXPECT_EQ(b.unreachable_since_ms(), 0);
  EXPECT_EQ(b.opened_count(), 1);  // one outage, not two
  EXPECT_FALSE(b.try_acquire(2000));
  EXPECT_TRUE(b.try_acquire(2050));
}

TEST(CircuitBreaker, AProbeThatFoundNoJobGivesItsPermitBack) {
  CircuitBreaker b(BreakerOptions{1, 10});
  b.on_failure(0, "down");
  ASSERT_TRUE(b.try_acquire(10));
  b.on_neutral();
  EXPECT_TRUE(b.try_acquire(11));
}

}  // namespace
}  // namespace banshi::connectors
