// api/http_metrics.h — request counters and latency for /metrics, and the
// Prometheus text exposition of them together with the engine's metrics.
//
// Labels are route templates ("/api/v1/tasks/{id}"), methods and status
// codes, never raw paths, so their number stays bounded and no personal data
// becomes a label. Threads: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "banshi/metrics.h"

namespace banshi::api {

class HttpMetrics {
 public:
  void observe(const std::string& route, const std::string& method, int status, double ms);
  // Appends the HTTP metrics in Prometheus text format 0.0.4.
  void expose(std::string& out) const;

 private:
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  Histogram latency_;
};

// Appends the engine's counters and histograms in Prometheus text format.
void expose_engine_metrics(const EngineMetrics& metrics, std::string& out);

}  // namespace banshi::api
