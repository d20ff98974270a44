#include "sdk/runtime.h"

#include <algorithm>
#include <ctime>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace banshi::connectors {

namespace asio = boost::asio;

std::string DepartmentStatus::summary() const {
  if (unreachable_since_ms == 0 || state == BreakerState::kClosed) return {};
  std::time_t secs = static_cast<std::time_t>(unreachable_since_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char at[32];
  std::strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return fmt::format("{} unreachable since {}: {}", department, at, last_error);
}

struct Runtime::Attempt {
  explicit Attempt(asio::io_context& ioc) : strand(asio::make_strand(ioc)), timer(strand) {}
  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer timer;
  std::atomic<bool> done{false};
  int64_t job_id = 0;
  std::string department;
  int64_t timeout_ms = 0;
  uint64_t run = 0;  // the start() it belongs to: handlers a stop() left queued do nothing after a restart
};

Runtime::Runtime(Engine& engine, RuntimeOptions options) : engine_(engine), options_(std::move(options)) {}

Runtime::~Runtime() { stop(std::chrono::milliseconds(0)); }

int64_t Runtime::wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<void> Runtime::add(const std::string& type, const std::string& department,
                          std::shared_ptr<AsyncConnector> connector, std::chrono::milliseconds timeout) {
  if (type.empty()) return Error{"bad-config", "a connector needs a name"};
  if (!connector) return Error{"bad-config", fmt::format("connector {} has no implementation", type)};
  if (running_) return Error{"bad-config", "connectors are added before the runtime starts"};
  if (entries_.count(type)) return Error{"bad-config", fmt::format("connector {} is registered twice", type)};
  entries_[type] = Entry{department.empty() ? type : department, std::move(connector), timeout};
  std::lock_guard lock(breakers_mu_);
  breakers_.try_emplace(entries_[type].department, options_.breaker);
  return {};
}

void Runtime::allow_topic(const std::string& topic) { topics_.insert(topic); }

Result<void> Runtime::check_job_type(const std::string& type) const {
  if (entries_.count(type) || topics_.count(type)) return {};
  return Error{"unknown-connector",
               fmt::format("no connector named '{}' is installed and no external-task topic of that name is declared", type)};
}

void Runtime::install_deploy_check() {
  engine_.set_job_type_check([this](const std::string& type) { return check_job_type(type); });
}

std::vector<std::string> Runtime::types() const {
  std::vector<std::string> out;
  for (const auto& [type, e] : entries_) out.push_back(type);
  return out;
}

std::vector<DepartmentStatus> Runtime::departments() const {
  std::lock_guard lock(breakers_mu_);
  std::vector<DepartmentStatus> out;
  for (const auto& [dept, b] : breakers_) {
    DepartmentStatus s;
    s.department = dept;
    s.state = b.state();
    s.unreachable_since_ms = b.unreachable_since_ms();
    s.consecutive_failures = b.consecutive_failures();
    s.last_error = b.last_error();
    s.times_opened = b.opened_count();
    out.push_back(std::move(s));
  }
  return out;
}

void Runtime::start() {
  if (running_.exchange(true)) return;
  ioc_.restart();
  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(ioc_.get_executor());
  for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { ioc_.run(); });
  poller_ = std::thread([this] { poll_loop(); });
}

void Runtime::stop(std::chrono::milliseconds drain) {
  if (!running_.exchange(false)) return;
  wake_.notify_all();
  if (poller_.joinable()) poller_.join();
  auto until = SteadyClock::now() + drain;
  while (in_flight_.load() > 0 && SteadyClock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  work_.reset();
  ioc_.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  // Attempts abandoned without an answer: their leases would keep the jobs
  // from everyone until they end. Their handlers, still queued, belong to
  // this run: a later start() skips them.
  run_.fetch_add(1);
  in_flight_.store(0);
  {
    std::lock_guard lock(breakers_mu_);
    department_in_flight_.clear();
  }
  std::set<int64_t> abandoned;
  {
    std::lock_guard lock(running_mu_);
    abandoned.swap(running_jobs_);
  }
  for (int64_t job : abandoned) {
    if (auto r = engine_.extend_job_lease(job, options_.worker_id, 0); r.ok()) {
      spdlog::info("connector runtime: job {} released unanswered at shutdown", job);
    } else {
      spdlog::warn("connector runtime: job {} could not be released: {}", job, r.error().message);
    }
  }
}

void Runtime::poll_loop() {
  while (running_) {
    size_t got = 0;
    try {
      got = poll_once();
    } catch (const std::exception& e) {
      spdlog::error("connector runtime: fetching jobs failed: {}", e.what());
    }
    if (got > 0) continue;
    std::unique_lock lock(wake_mu_);
    wake_.wait_for(lock, options_.poll_interval, [this] { return !running_.load(); });
  }
}

size_t Runtime::in_flight(const std::string& department) const {
  std::lock_guard lock(breakers_mu_);
  auto it = department_in_flight_.find(department);
  return it == department_in_flight_.end() ? 0 : it->second;
}

size_t Runtime::poll_once() {
  size_t capacity = options_.max_in_flight > in_flight_.load() ? options_.max_in_flight - in_flight_.load() : 0;
  if (capacity == 0) return 0;
  // Closed departments share one fetch; an open one whose wait is over gets
  // one probe job. A department with its share of attempts running is left
  // out, and one fetch takes no more than any included department may still
  // start, so a slow department's backlog cannot take the others' slots.
  const int64_t now = wall_ms();
  const size_t share = std::max<size_t>(1, options_.max_in_flight_per_department);
  std::vector<std::string> open_types;
  std::map<std::string, std::vector<std::string>> probe_types;
  size_t fetch_limit = capacity;
  {
    std::lock_guard lock(breakers_mu_);
    for (const auto& [type, e] : entries_) {
      auto running = department_in_flight_.find(e.department);
      size_t left = share - std::min(share, running == department_in_flight_.end() ? 0 : running->second);
      if (left == 0) continue;
      int permits = breakers_.at(e.department).permits(now);
      if (permits < 0) {
        open_types.push_back(type);
        fetch_limit = std::min(fetch_limit, left);
      } else if (permits > 0) {
        probe_types[e.department].push_back(type);
      }
    }
  }
  size_t dispatched = 0;
  auto run = [&](const std::vector<std::string>& types, size_t max) {
    auto jobs = engine_.fetch_and_lock(types, options_.worker_id, max, options_.lock_ms);
    if (!jobs.ok()) {
      spdlog::warn("connector runtime: fetch-and-lock failed: {}", jobs.error().message);
      return;
    }
    for (JobContext& j : *jobs) {
      const Entry& e = entries_.at(j.type);
      dispatch(std::move(j), e);
      ++dispatched;
    }
  };
  if (!open_types.empty()) run(open_types, fetch_limit);
  for (const auto& [dept, types] : probe_types) {
    {
      std::lock_guard lock(breakers_mu_);
      // Claim the probe permit before fetching; give it back when no job was due.
      if (!breakers_.at(dept).try_acquire(now)) continue;
    }
    size_t before = dispatched;
    run(types, 1);
    if (dispatched == before) {
      std::lock_guard lock(breakers_mu_);
      breakers_.at(dept).on_neutral();
    }
  }
  return dispatched;
}

void Runtime::dispatch(JobContext job, const Entry& entry) {
  auto attempt = std::make_shared<Attempt>(ioc_);
  attempt->run = run_.load();
  attempt->job_id = job.job_id;
  attempt->department = entry.department;
  attempt->timeout_ms = job.timeout_ms > 0            ? job.timeout_ms
                        : entry.timeout.count() > 0 ? entry.timeout.count()
                                                    : options_.default_timeout.count();
  // An attempt ends before its lease does (with a tenth of it, at most 30 s,
  // to spare): past the lease the job is handed out again, and a second
  // attempt would run beside this one.
  const int64_t within_lease = options_.lock_ms - std::min<int64_t>(options_.lock_ms / 10, 30'000);
  if (attempt->timeout_ms > within_lease) attempt->timeout_ms = std::max<int64_t>(within_lease, 1);
  in_flight_.fetch_add(1);
  {
    std::lock_guard lock(breakers_mu_);
    ++department_in_flight_[entry.department];
  }
  {
    std::lock_guard lock(running_mu_);
    running_jobs_.insert(job.job_id);
  }
  counters_.started.fetch_add(1, std::memory_order_relaxed);

  Call call;
  call.job_id = job.job_id;
  call.instance_id = job.instance_id;
  call.type = std::move(job.type);
  call.element_id = std::move(job.element_id);
  call.idempotency_key = std::move(job.idempotency_key);
  call.retries_left = job.retries_left;
  call.deadline = SteadyClock::now() + std::chrono::milliseconds(attempt->timeout_ms);
  call.variables = std::move(job.variables);
  call.headers = std::move(job.headers);
  call.executor = ioc_.get_executor();

  attempt->timer.expires_at(call.deadline);
  attempt->timer.async_wait([this, attempt](boost::system::error_code ec) {
    if (ec) return;
    counters_.timed_out.fetch_add(1, std::memory_order_relaxed);
    finish(attempt, Reply::retry(fmt::format("no answer within {} ms", attempt->timeout_ms), true));
  });
  std::shared_ptr<AsyncConnector> connector = entry.connector;
  asio::post(ioc_, [this, attempt, connector, call = std::move(call)]() mutable {
    if (attempt->run != run_.load()) return;  // left from before a stop(): the job was released
    Done done = [this, attempt](Reply r) { finish(attempt, std::move(r)); };
    try {
      connector->call(std::move(call), std::move(done));
    } catch (const std::exception& e) {
      Reply threw = Reply::retry(fmt::format("the connector threw: {}", e.what()));
      threw.local = true;
      finish(attempt, std::move(threw));
    }
  });
}

void Runtime::finish(const std::shared_ptr<Attempt>& attempt, Reply reply) {
  if (attempt->run != run_.load()) return;   // abandoned by a stop(): released, and counted no more
  if (attempt->done.exchange(true)) return;  // the deadline or the answer came first; the other is ignored
  asio::post(attempt->strand, [attempt] { attempt->timer.cancel(); });
  {
    std::lock_guard lock(breakers_mu_);
    --department_in_flight_[attempt->department];
    CircuitBreaker& b = breakers_.at(attempt->department);
    bool was_closed = b.state() == BreakerState::kClosed;
    if (reply.unreachable) {
      b.on_failure(wall_ms(), reply.outcome.message);
      if (was_closed && b.state() == BreakerState::kOpen) {
        spdlog::warn("department {} unreachable: its jobs wait until it answers again ({})", attempt->department,
                     reply.outcome.message);
      }
    } else if (reply.local) {
      b.on_neutral();  // a half-open breaker may probe again with another job
    } else {
      if (!was_closed) spdlog::info("department {} reachable again", attempt->department);
      b.on_success(wall_ms());
    }
  }
  switch (reply.outcome.kind) {
    case JobOutcome::Kind::kCompleted: counters_.completed.fetch_add(1, std::memory_order_relaxed); break;
    case JobOutcome::Kind::kFailed: counters_.failed.fetch_add(1, std::memory_order_relaxed); break;
    case JobOutcome::Kind::kBpmnError: counters_.bpmn_errors.fetch_add(1, std::memory_order_relaxed); break;
  }
  {
    // Before the report: once reported, the job may be fetched and run again.
    std::lock_guard lock(running_mu_);
    running_jobs_.erase(attempt->job_id);
  }
  if (auto r = engine_.report_job(attempt->job_id, reply.outcome, &options_.worker_id); !r.ok()) {
    spdlog::warn("connector runtime: job {} could not be reported: {}", attempt->job_id, r.error().message);
  }
  in_flight_.fetch_sub(1);
  wake_.notify_all();
}

}  // namespace banshi::connectors
