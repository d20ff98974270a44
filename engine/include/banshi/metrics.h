// banshi/metrics.h — counters and histograms the engine keeps for /metrics.
//
// Updated with relaxed atomics from any thread; snapshot() gives a consistent
// enough copy for exposition (each value is read once). No personal data is
// ever a label or a value here.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace banshi {

// A latency histogram with fixed bucket bounds in milliseconds.
class Histogram {
 public:
  static constexpr std::array<double, 12> kBoundsMs = {0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000};

  void observe(double ms);

  struct Snapshot {
    std::array<uint64_t, kBoundsMs.size() + 1> buckets{};  // the last one is +Inf
    uint64_t count = 0;
    double sum_ms = 0;
  };
  Snapshot snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, kBoundsMs.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_us_{0};
};

struct EngineMetrics {
  std::atomic<uint64_t> commands_applied{0};
  std::atomic<uint64_t> commands_rejected{0};
  std::atomic<uint64_t> batches_committed{0};
  std::atomic<uint64_t> batches_failed{0};
  std::atomic<uint64_t> instances_started{0};
  std::atomic<uint64_t> instances_ended{0};
  std::atomic<uint64_t> jobs_run{0};
  std::atomic<uint64_t> jobs_failed{0};
  std::atomic<uint64_t> incidents_created{0};
  std::atomic<uint64_t> timers_fired{0};
  Histogram commit_latency;  // one store transaction
  Histogram timer_lag;       // how late a timer fired after its due time
  Histogram job_duration;    // one connector call
};

}  // namespace banshi
