#include "api/http_metrics.h"

#include <fmt/format.h>

namespace banshi::api {

namespace {

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

void counter(std::string& out, const char* name, const char* help, uint64_t value) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, value);
}

// Histograms are kept in milliseconds and exposed in seconds, as Prometheus expects.
void histogram(std::string& out, const char* name, const char* help, const Histogram::Snapshot& s) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} histogram\n", name, help);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < Histogram::kBoundsMs.size(); ++i) {
    cumulative += s.buckets[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, Histogram::kBoundsMs[i] / 1000.0, cumulative);
  }
  cumulative += s.buckets.back();
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  out += fmt::format("{}_sum {}\n{}_count {}\n", name, s.sum_ms / 1000.0, name, s.count);
}

}  // namespace

void HttpMetrics::observe(const std::string& route, const std::string& method, int status, double ms) {
  latency_.observe(ms);
  std::lock_guard lock(mu_);
  ++requests_[{route, method, status}];
}

void HttpMetrics::expose(std::string& out) const {
  out += "# HELP banshi_http_requests_total HTTP requests answered, by route template, method and status.\n";
  out += "# TYPE banshi_http_requests_total counter\n";
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, n] : requests_) {
      const auto& [route, method, status] = key;
      out += fmt::format("banshi_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n",
                         escape_label(route), escape_label(method), status, n);
    }
  }
  histogram(out, "banshi_http_request_duration_seconds", "Time to answer one HTTP request.", latency_.snapshot());
}

void expose_engine_metrics(const EngineMetrics& m, std::string& out) {
  auto load = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  counter(out, "banshi_commands_applied_total", "Commands the state machine applied.", load(m.commands_applied));
  counter(out, "banshi_commands_rejected_total", "Commands the state machine rejected.", load(m.commands_rejected));
  counter(out, "banshi_batches_committed_total", "Group commits written.", load(m.batches_committed));
  counter(out, "banshi_batches_failed_total", "Group commits that failed.", load(m.batches_failed));
  counter(out, "banshi_instances_started_total", "Process instances started.", load(m.instances_started));
  counter(out, "banshi_instances_ended_total", "Process instances that ended.", load(m.instances_ended));
  counter(out, "banshi_jobs_run_total", "Connector calls made.", load(m.jobs_run));
  counter(out, "banshi_jobs_failed_total", "Connector calls that failed.", load(m.jobs_failed));
  counter(out, "banshi_incidents_created_total", "Incidents raised.", load(m.incidents_created));
  counter(out, "banshi_timers_fired_total", "Timers fired.", load(m.timers_fired));
  histogram(out, "banshi_commit_latency_seconds", "Time of one store transaction.", m.commit_latency.snapshot());
  histogram(out, "banshi_timer_lag_seconds", "How late a timer fired after its due time.", m.timer_lag.snapshot());
  histogram(out, "banshi_job_duration_seconds", "Time of one connector call.", m.job_duration.snapshot());
}

}  // namespace banshi::api
