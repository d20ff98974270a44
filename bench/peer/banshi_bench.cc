// Runs one of the three peer-comparison workloads on banshi and prints one
// JSON line of results (bench/peer/README.md describes them).
//
//   straight-through  start -> service task (in-process, returns at once) -> exclusive gateway -> end
//   fan-out           start -> parallel split -> 5 service tasks -> parallel join -> end
//   user-task         start -> user task -> end; the benchmark completes each task
//
// The store is SQLite, durable (WAL, synchronous=FULL). Many client threads
// submit at once so group commit can share transactions.
//
// Latency of one instance: from just before start_instance() is called on
// the client to the moment the store transaction that wrote the instance as
// ended has committed (write() returned). The store handed to the engine is
// a thin wrapper over SqliteStore that notes that moment for every instance
// a committed batch ends; steady_clock, nanosecond resolution.
//
// Clients: for straight-through and fan-out, --clients threads start
// instances back to back, never letting more than --inflight instances be
// started and not yet ended. For user-task each instance is run by one slot:
// start (the variable "worker" names the slot, and the task is assigned to
// it), find its task with the store's tasks query by assignee, complete it,
// start the next. With --api async (the default) --drivers threads keep
// --inflight slots (default 64) going through the engine's asynchronous
// methods, an event loop each; with --api blocking each of --clients threads
// is one slot and waits on every call. With --find event (async only) a slot
// learns of its task from the engine's live events (Engine::subscribe)
// instead of the query.
//
// Usage: bench_peer_banshi --workload NAME --model FILE [--instances N]
//          [--clients C] [--inflight K] [--warmup W] [--db PATH]
//          [--connectors inline|workers] [--api async|blocking]
//          [--drivers D] [--find query|event] [--keep-db 1] [--sync-delay-us U]
//
// The store file is removed at the end unless --keep-db 1 is given (to look
// at what the workload wrote).
//
// --sync-delay-us U (for comparing two builds, not for the table): each sync
// of the write-ahead log that makes commits durable waits U microseconds
// more. With --db on a memory file system (/dev/shm) that is a disk whose
// flush always takes U, so the comparison is not at the mercy of a shared
// disk's swings; checkpoints' syncs are then free.
//
// Service tasks: by default their connector is registered inline
// (Engine::register_inline_connector), so it runs inside the batch that
// creates the job, as a synchronous delegate does elsewhere; `workers` hands
// every job to the job worker threads instead (a job row, a lease and a
// second transaction per service task).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include "banshi/engine.h"
#include "store/sqlite/sqlite_store.h"

using namespace banshi;
using Clock_ = std::chrono::steady_clock;

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock_::now().time_since_epoch()).count();
}

// Pairs each instance's start time (client side) with the commit that ended it.
class Tracker {
 public:
  void started(int64_t id, int64_t t) { pair(id, t, true); }
  void ended(int64_t id, int64_t t) { pair(id, t, false); }

  // Blocks while `limit` instances are started and not yet ended; then counts one more.
  void acquire(int64_t limit) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ < limit; });
    ++in_flight_;
  }
  void release_unstarted() {
    std::lock_guard lock(mu_);
    --in_flight_;
    cv_.notify_all();
  }
  void wait_done(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return latencies_.size() >= n; });
  }
  std::vector<int64_t> take(int64_t* last_end) {
    std::lock_guard lock(mu_);
    *last_end = last_end_;
    std::vector<int64_t> out;
    out.swap(latencies_);
    return out;
  }

 private:
  void pair(int64_t id, int64_t t, bool is_start) {
    std::lock_guard lock(mu_);
    auto [it, fresh] = open_.try_emplace(id, t);
    if (fresh) return;  // the other half comes later
    int64_t start = is_start ? t : it->second;
    int64_t end = is_start ? it->second : t;
    open_.erase(it);
    latencies_.push_back(end - start);
    last_end_ = std::max(last_end_, end);
    --in_flight_;
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<int64_t, int64_t> open_;
  std::vector<int64_t> latencies_;
  int64_t in_flight_ = 0;
  int64_t last_end_ = 0;
};

// Forwards everything to the real store; notes when a committed batch ended instances.
class TimingStore final : public store::Store {
 public:
  TimingStore(std::unique_ptr<store::Store> inner, Tracker& tracker) : inner_(std::move(inner)), tracker_(tracker) {}

  std::atomic<int64_t> commits{0}, instance_writes{0}, write_ns{0};

  Result<void> migrate() override { return inner_->migrate(); }
  Result<int> schema_version() override { return inner_->schema_version(); }
  int latest_schema_version() const override { return inner_->latest_schema_version(); }
  Result<void> write(const store::WriteBatch& batch) override {
    int64_t t0 = now_ns();
    Result<void> r = inner_->write(batch);
    int64_t t1 = now_ns();
    if (r.ok()) {
      ++commits;
      instance_writes += static_cast<int64_t>(batch.instances.size());
      write_ns += t1 - t0;
      for (const store::InstanceWrite& w : batch.instances) {
        if (w.record.status != 1) tracker_.ended(w.record.id, t1);
      }
    }
    return r;
  }
  // An instance ended by a batch whose log sync was left for later ends
  // when a sync_written() that began after the write returns.
  Result<void> write_unsynced(const store::WriteBatch& batch) override {
    int64_t t0 = now_ns();
    Result<void> r = inner_->write_unsynced(batch);
    int64_t t1 = now_ns();
    if (r.ok()) {
      ++commits;
      instance_writes += static_cast<int64_t>(batch.instances.size());
      write_ns += t1 - t0;
      std::lock_guard lock(unsynced_mu_);
      for (const store::InstanceWrite& w : batch.instances) {
        if (w.record.status != 1) unsynced_ends_.push_back(w.record.id);
      }
    }
    return r;
  }
  Result<void> sync_written() override {
    std::vector<int64_t> ends;
    {
      std::lock_guard lock(unsynced_mu_);
      ends.swap(unsynced_ends_);
    }
    Result<void> r = inner_->sync_written();
    int64_t t = now_ns();
    if (!r.ok()) return r;
    for (int64_t id : ends) tracker_.ended(id, t);
    return r;
  }
  Result<std::vector<store::DefinitionRecord>> deploy(std::vector<store::DefinitionRecord> p) override {
    return inner_->deploy(std::move(p));
  }
  Result<int64_t> allocate_ids(const std::string& s, int64_t n) override { return inner_->allocate_ids(s, n); }
  std::atomic<int64_t> acquires{0}, acquired{0}, acquire_ns{0};
  Result<int64_t> release_leases(const std::string& owner) override { return inner_->release_leases(owner); }
  Result<int64_t> delete_expired_messages(int64_t now) override { return inner_->delete_expired_messages(now); }
  Result<std::vector<store::JobRecord>> acquire_jobs(const std::vector<std::string>& types, const std::string& owner,
                                                     int64_t now, int64_t until, size_t limit) override {
    int64_t t0 = now_ns();
    auto r = inner_->acquire_jobs(types, owner, now, until, limit);
    acquire_ns += now_ns() - t0;
    ++acquires;
    if (r.ok()) acquired += static_cast<int64_t>(r->size());
    return r;
  }
  Result<void> assign_task(int64_t id, const std::string& e, const std::string& a) override {
    return inner_->assign_task(id, e, a);
  }
  Result<std::vector<store::DefinitionRecord>> definitions(const std::string& p) override {
    return inner_->definitions(p);
  }
  Result<std::optional<store::DefinitionRecord>> definition(const std::string& p, int32_t v) override {
    return inner_->definition(p, v);
  }
  Result<std::optional<store::DefinitionRecord>> definition_by_key(int64_t k) override {
    return inner_->definition_by_key(k);
  }
  Result<std::optional<store::InstanceRecord>> instance(store::InstanceId id) override { return inner_->instance(id); }
  Result<std::vector<store::InstanceRecord>> instances(const store::InstanceQuery& q) override {
    return inner_->instances(q);
  }
  Result<std::vector<store::InstanceRecord>> running_instances_of(store::InstanceId p) override {
    return inner_->running_instances_of(p);
  }
  Result<std::vector<store::TaskRecord>> tasks(const store::TaskQuery& q) override { return inner_->tasks(q); }
  Result<std::optional<store::TaskRecord>> task(int64_t id) override { return inner_->task(id); }
  Result<std::vector<store::TaskRecord>> tasks_by_keys(const std::vector<store::InstanceKey>& keys) override {
    return inner_->tasks_by_keys(keys);
  }
  Result<std::vector<store::JobRecord>> jobs_of(store::InstanceId id) override { return inner_->jobs_of(id); }
  Result<std::vector<store::TimerRecord>> due_timers(int64_t u, size_t l) override { return inner_->due_timers(u, l); }
  Result<std::optional<int64_t>> next_timer_due() override { return inner_->next_timer_due(); }
  Result<std::vector<store::SubscriptionRecord>> message_subscriptions(const std::string& n,
                                                                      const std::string& c) override {
    return inner_->message_subscriptions(n, c);
  }
  Result<std::vector<store::SubscriptionRecord>> signal_subscriptions(const std::string& n) override {
    return inner_->signal_subscriptions(n);
  }
  Result<std::vector<store::MessageRecord>> buffered_messages(const std::string& n, const std::string& c,
                                                              int64_t now, size_t limit) override {
    return inner_->buffered_messages(n, c, now, limit);
  }
  Result<std::vector<store::IncidentRecord>> incidents(store::InstanceId id) override { return inner_->incidents(id); }
  Result<std::vector<store::IncidentRecord>> incidents(const store::IncidentQuery& q, int64_t* total) override {
    return inner_->incidents(q, total);
  }
  Result<std::optional<store::IncidentRecord>> incident(int64_t id) override { return inner_->incident(id); }
  using store::Store::history;
  Result<std::vector<store::HistoryRecord>> history(store::InstanceId id, int64_t after, size_t limit) override {
    return inner_->history(id, after, limit);
  }
  Result<void> backup(const std::string& path) override { return inner_->backup(path); }

 private:
  std::unique_ptr<store::Store> inner_;
  Tracker& tracker_;
  std::mutex unsynced_mu_;
  std::vector<int64_t> unsynced_ends_;  // ended by written batches not yet synced
};

[[noreturn]] void die(const std::string& why) {
  fmt::print(stderr, "bench_peer_banshi: {}\n", why);
  std::exit(1);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double pct(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return static_cast<double>(v[i]) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::string workload = "straight-through", model, db = "/tmp/banshi-peer-bench.db";
  int instances = 20000, clients = 64, warmup = -1, job_workers = 0;
  int64_t inflight = -1;  // 4,096 (64 for the user task driven asynchronously)
  std::string connectors = "inline";
  std::string api = "async";
  std::string find = "query";
  int drivers = 2;
  bool keep_db = false;
  int sync_delay_us = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--workload") workload = v;
    else if (k == "--model") model = v;
    else if (k == "--instances") instances = std::atoi(v.c_str());
    else if (k == "--clients") clients = std::atoi(v.c_str());
    else if (k == "--inflight") inflight = std::atoll(v.c_str());
    else if (k == "--warmup") warmup = std::atoi(v.c_str());
    else if (k == "--db") db = v;
    else if (k == "--job-workers") job_workers = std::atoi(v.c_str());
    else if (k == "--connectors") connectors = v;
    else if (k == "--keep-db") keep_db = v == "1";
    else if (k == "--api") api = v;
    else if (k == "--find") find = v;
    else if (k == "--drivers") drivers = std::atoi(v.c_str());
    else if (k == "--sync-delay-us") sync_delay_us = std::atoi(v.c_str());
    else die("unknown option " + k);
  }
  const bool user = workload == "user-task";
  std::string process_id;
  if (workload == "straight-through") process_id = "straight_through";
  else if (workload == "fan-out") process_id = "fan_out";
  else if (user) process_id = "user_task";
  else die("unknown workload " + workload);
  if (model.empty()) die("--model FILE is required");
  if (warmup < 0) warmup = std::min(2000, instances / 10);
  if (api != "async" && api != "blocking") die("--api is async or blocking");
  if (find != "query" && find != "event") die("--find is query or event");
  if (inflight < 0) inflight = user && api == "async" ? 64 : 4096;
  if (drivers < 1 || drivers > inflight || inflight % drivers != 0) {
    die("--drivers is between 1 and --inflight, and divides it");
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);

  store::sqlite::SqliteOptions o;
  o.path = db;
  o.durable = true;  // synchronous=FULL
  if (sync_delay_us > 0) {
    o.sync_log = [sync_delay_us](int fd) {
      const int r = ::fdatasync(fd);
      std::this_thread::sleep_for(std::chrono::microseconds(sync_delay_us));
      return r;
    };
  }
  auto sqlite = store::sqlite::SqliteStore::open(o);
  if (!sqlite.ok()) die(sqlite.error().message);
  Tracker tracker;
  auto timing = std::make_unique<TimingStore>(std::move(sqlite).value(), tracker);
  TimingStore* ts = timing.get();
  EngineConfig config;
  if (job_workers > 0) config.job_workers = job_workers;
  auto opened = Engine::open(config, std::move(timing), std::make_shared<SystemClock>());
  if (!opened.ok()) die(opened.error().message);
  Engine& engine = **opened;
  if (auto d = engine.deploy(std::filesystem::path(model).filename().string(), read_file(model), "bench"); !d.ok()) {
    die(d.error().message);
  }
  std::atomic<int64_t> jobs{0};
  auto connector = [&](const JobContext&) {
    jobs.fetch_add(1, std::memory_order_relaxed);
    return JobOutcome::completed();
  };
  if (connectors == "inline") {
    engine.register_inline_connector("calc", connector);
    engine.register_inline_connector("work", connector);
  } else if (connectors == "workers") {
    engine.register_connector("calc", connector);
    engine.register_connector("work", connector);
  } else {
    die("--connectors is inline or workers");
  }
  engine.start();

  std::atomic<int> failures{0};
  auto run = [&](int n) -> double {
    std::atomic<int> next{0};
    int64_t t0 = now_ns();
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        const std::string worker = fmt::format("w{}", c);
        while (next.fetch_add(1) < n) {
          if (!user) tracker.acquire(inflight);
          StartRequest req;
          req.process_id = process_id;
          req.variables["amount"] = 5000;
          if (user) req.variables["worker"] = worker;
          int64_t ts0 = now_ns();
          auto id = engine.start_instance(req);
          if (!id.ok()) {
            ++failures;
            if (!user) tracker.release_unstarted();
            continue;
          }
          tracker.started(*id, ts0);
          if (!user) continue;
          // Find this client's task (its only open one) and complete it.
          store::TaskQuery q;
          q.assignee = worker;
          q.limit = 1;
          auto tasks = engine.store().tasks(q);
          if (!tasks.ok() || tasks->empty() || tasks->front().instance_id != *id) {
            ++failures;
            continue;
          }
          if (!engine.complete_task(tasks->front().id, {}, worker).ok()) ++failures;
        }
      });
    }
    for (auto& t : threads) t.join();
    return static_cast<double>(t0);
  };

  // The user task through the asynchronous API: `drivers` threads keep
  // `inflight` instances going between them, one event loop each, as a
  // server or a worker pool built on callbacks would (the way bpmn-engine is
  // driven). The engine's callbacks only post to the driver's mailbox; the
  // driver reads the task and completes it.
  struct Event {
    size_t slot;
    enum Kind { kStarted, kTask, kCompleted } kind;
    bool ok;
    int64_t id;           // the instance (kStarted, kTask)
    int64_t task_id = 0;  // kTask
  };
  struct Mailbox {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Event> events;
    // Notifies under the lock: the driver may return, and its mailbox go,
    // as soon as it can see the last event.
    void push(Event e) {
      std::lock_guard lock(mu);
      if (events.empty()) cv.notify_one();
      events.push_back(e);
    }
  };
  auto run_async = [&](int n) {
    std::atomic<int> next{0};
    std::vector<std::thread> threads;
    const int per_driver = static_cast<int>(inflight) / drivers;
    std::vector<std::unique_ptr<Mailbox>> boxes;
    for (int d = 0; d < drivers; ++d) boxes.push_back(std::make_unique<Mailbox>());
    // With --find event each slot learns of its task from the engine's live
    // events (task.created names the assignee, "w<driver>_<slot>"), as
    // bpmn-engine's listener hears its user task wait.
    uint64_t subscription = 0;
    if (find == "event") {
      subscription = engine.subscribe([&boxes](const EngineEvent& e) {
        if (e.type != "task.created" || e.assignee.size() < 4 || e.assignee[0] != 'w') return;
        size_t bar = e.assignee.find('_');
        if (bar == std::string::npos) return;
        size_t d = static_cast<size_t>(std::atoi(e.assignee.c_str() + 1));
        size_t slot = static_cast<size_t>(std::atoi(e.assignee.c_str() + bar + 1));
        if (d < boxes.size()) boxes[d]->push(Event{slot, Event::kTask, true, e.instance_id, e.task_id});
      });
    }
    for (int d = 0; d < drivers; ++d) {
      threads.emplace_back([&, d] {
        Mailbox& box = *boxes[static_cast<size_t>(d)];
        std::vector<std::string> workers;
        std::vector<int64_t> started_at(static_cast<size_t>(per_driver));
        for (int s = 0; s < per_driver; ++s) workers.push_back(fmt::format("w{}_{}", d, s));
        size_t open = 0;
        auto start = [&](size_t slot) {
          if (next.fetch_add(1) >= n) return;
          ++open;
          StartRequest req;
          req.process_id = process_id;
          req.variables["amount"] = 5000;
          req.variables["worker"] = workers[slot];
          started_at[slot] = now_ns();
          engine.start_instance_async(req, [&box, slot](Result<InstanceId> id) {
            box.push(Event{slot, Event::kStarted, id.ok(), id.ok() ? *id : 0});
          });
        };
        auto complete = [&](size_t slot, int64_t task_id) {
          engine.complete_task_async(task_id, {}, workers[slot], [&box, slot](Result<void> r) {
            box.push(Event{slot, Event::kCompleted, r.ok(), 0});
          });
        };
        for (size_t s = 0; s < workers.size(); ++s) start(s);
        std::vector<Event> events;
        while (open > 0) {
          {
            std::unique_lock lock(box.mu);
            box.cv.wait(lock, [&] { return !box.events.empty(); });
            events.swap(box.events);
          }
          for (const Event& e : events) {
            if (!e.ok) ++failures;
            if (e.kind == Event::kTask) {
              tracker.started(e.id, started_at[e.slot]);
              complete(e.slot, e.task_id);
              continue;
            }
            if (e.kind == Event::kStarted && e.ok) {
              if (find == "event") continue;  // the task's event carries on
              tracker.started(e.id, started_at[e.slot]);
              // Find this slot's task (its only open one) and complete it.
              store::TaskQuery q;
              q.assignee = workers[e.slot];
              q.limit = 1;
              auto tasks = engine.store().tasks(q);
              if (tasks.ok() && !tasks->empty() && tasks->front().instance_id == e.id) {
                complete(e.slot, tasks->front().id);
                continue;
              }
              ++failures;
            }
            --open;
            start(e.slot);
          }
          events.clear();
        }
      });
    }
    for (auto& t : threads) t.join();
    if (subscription != 0) engine.unsubscribe(subscription);
  };
  auto run_workload = [&](int n) {
    if (user && api == "async") run_async(n);
    else run(n);
  };

  // Warm-up: the same work, not measured.
  run_workload(warmup);
  tracker.wait_done(static_cast<size_t>(warmup) - static_cast<size_t>(failures.load()));
  int64_t ignored = 0;
  tracker.take(&ignored);
  const int64_t commits0 = ts->commits, writes0 = ts->instance_writes, write_ns0 = ts->write_ns;
  const int64_t acq0 = ts->acquires, acqd0 = ts->acquired, acq_ns0 = ts->acquire_ns, jobs0 = jobs;
  struct rusage ru0 {};
  getrusage(RUSAGE_SELF, &ru0);

  const int64_t t0 = now_ns();
  run_workload(instances);
  tracker.wait_done(static_cast<size_t>(instances) - static_cast<size_t>(failures.load()));
  int64_t last_end = 0;
  std::vector<int64_t> lat = tracker.take(&last_end);
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  engine.stop();

  const double secs = static_cast<double>(last_end - t0) / 1e9;
  const double cpu = (static_cast<double>(ru.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                      static_cast<double>(ru.ru_stime.tv_sec - ru0.ru_stime.tv_sec)) +
                     static_cast<double>(ru.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru.ru_stime.tv_usec -
                                         ru0.ru_stime.tv_usec) /
                         1e6;
  const int64_t commits = ts->commits - commits0;
  const int64_t acquires = ts->acquires - acq0;
  fmt::print(
      "{{\"engine\":\"{}\",\"api\":\"{}\",\"drivers\":{},\"connectors\":\"{}\",\"workload\":\"{}\",\"instances\":{},\"completed\":{},\"failures\":{},"
      "\"seconds\":{:.3f},\"per_second\":{:.1f},\"p50_ms\":{:.3f},\"p99_ms\":{:.3f},\"max_ms\":{:.3f},"
      "\"peak_rss_mb\":{:.1f},\"cpu_seconds\":{:.2f},\"clients\":{},\"inflight\":{},\"jobs_run\":{},"
      "\"commits\":{},\"instance_writes_per_commit\":{:.1f},\"commit_ms_total\":{:.0f},"
      "\"job_acquires\":{},\"jobs_per_acquire\":{:.2f},\"acquire_ms_total\":{:.0f},\"sync_delay_us\":{}}}\n",
      connectors != "inline" ? "banshi-workers" : user && api == "blocking" ? "banshi-blocking" : "banshi",
      user ? api : "blocking", user && api == "async" ? drivers : 0, connectors, workload, instances, lat.size(),
      failures.load(), secs, static_cast<double>(lat.size()) / secs,
      pct(lat, 0.50), pct(lat, 0.99), pct(lat, 1.0), static_cast<double>(ru.ru_maxrss) / 1024.0, cpu, clients,
      user && api == "blocking" ? clients : inflight, jobs - jobs0, commits,
      commits ? static_cast<double>(ts->instance_writes - writes0) / static_cast<double>(commits) : 0.0,
      static_cast<double>(ts->write_ns - write_ns0) / 1e6, acquires,
      acquires ? static_cast<double>(ts->acquired - acqd0) / static_cast<double>(acquires) : 0.0,
      static_cast<double>(ts->acquire_ns - acq_ns0) / 1e6, sync_delay_us);
  if (!keep_db) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  }
  return failures.load() == 0 ? 0 : 2;
}
