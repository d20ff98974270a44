// Crash safety: runs banshi_crash_worker (see crash_worker.cc), kills it with
// SIGKILL at random moments, restarts it each time, lets a final run drain
// every instance, then checks from the store and from the department's own
// files that nothing was lost or done twice.
//
// Environment:
//   BANSHI_CRASH_KILLS  how many times to kill the worker (default 20)
//   BANSHI_CRASH_SEED   the random seed (default: random, printed)
//   BANSHI_CRASH_KEEP   keep the working folder when set (it is printed)
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "support/line_files.h"

#ifndef BANSHI_CRASH_WORKER
#error "BANSHI_CRASH_WORKER must name the worker binary"
#endif

namespace banshi {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

// Record kinds of core/records.h (persisted codes, docs/storage.md).
constexpr int kJobCreated = 30;
constexpr int kJobFailed = 32;
constexpr int kJobCompleted = 34;
constexpr int kUserTaskCreated = 40;
constexpr int kUserTaskCompleted = 42;
constexpr int kTimerScheduled = 50;
constexpr int kTimerFired = 52;
constexpr int kMessageCorrelated = 62;
constexpr int kInstanceCompleted = 100;
constexpr uint8_t kCompleted = 2;  // core::InstanceStatus

const char* const kMessage = "assessment-done";

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  return std::stoull(v);
}

std::vector<std::vector<std::string>> read_fields(const fs::path& path) { return testing::read_fields(path.string()); }

std::string tail_of(const fs::path& path, size_t bytes = 3000) {
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > bytes ? "..." + all.substr(all.size() - bytes) : all;
}

// Starts the worker with its output in `log`; returns its pid.
pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid == 0) {
    FILE* out = std::freopen(log.c_str(), "w", stdout);
    if (!out || ::dup2(::fileno(stdout), 2) < 0) ::_exit(120);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(121);
  }
  return pid;
}

// Waits for the child until `timeout`; kills it (and says so) when it runs longer.
int wait_for(pid_t pid, std::chrono::milliseconds timeout, bool* timed_out) {
  auto deadline = Clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (Clock::now() > deadline) {
      *timed_out = true;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

struct Violations {
  std::vector<std::string> list;
  void add(const std::string& v) { list.push_back(v); }
};

TEST(CrashSafety, KilledWorkerLosesNothingAndDoesNothingTwice) {
  const uint64_t kills = env_number("BANSHI_CRASH_KILLS", 20);
  const uint64_t seed = env_number("BANSHI_CRASH_SEED", std::random_device{}());
  const bool keep = std::getenv("BANSHI_CRASH_KEEP") != nullptr;
  std::printf("crash test: %llu kills, seed %llu (rerun with BANSHI_CRASH_SEED=%llu)\n",
              static_cast<unsigned long long>(kills), static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  const fs::path dir = fs::temp_directory_path() / ("banshi-crash-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string db = (dir / "banshi.db").string();
  std::printf("working folder: %s\n", dir.c_str());
  const auto began = Clock::now();

  auto args = [&](int run, bool drain) {
    std::vector<std::string> a = {BANSHI_CRASH_WORKER, "--db", db, "--dir", dir.string(), "--run",
                                  std::to_string(run), "--seed", std::to_string(seed + static_cast<uint64_t>(run))};
    if (drain) a.insert(a.end(), {"--drain", "--drain-timeout-s", "60"});
    return a;
  };

  // --- kill, restart, kill ... ---------------------------------------------
  for (uint64_t run = 0; run < kills; ++run) {
    const fs::path log = dir / ("worker-" + std::to_string(run) + ".log");
    const auto delay = std::chrono::milliseconds(100 + rng() % 601);
    pid_t pid = spawn(args(static_cast<int>(run), false), log);
    ASSERT_GT(pid, 0) << "fork failed";
    // Every other run counts its moment from when the engine has started, so
    // that on a loaded machine (a slow start-up under the sanitizers) not
    // every kill lands in start-up and recovery; the others may.
    if (run % 2 == 1) {
      const auto give_up = Clock::now() + std::chrono::seconds(20);
      while (tail_of(log).find("started with") == std::string::npos && Clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    std::this_thread::sleep_for(delay);
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "worker run " << run << " " << describe(status) << " before it was killed; its output:\n"
        << tail_of(log);
  }

  // --- drain ------------------------------------------------------------------
  const fs::path drain_log = dir / "worker-drain.log";
  const auto drain_began = Clock::now();
  pid_t pid = spawn(args(static_cast<int>(kills), true), drain_log);
  ASSERT_GT(pid, 0);
  bool timed_out = false;
  int status = wait_for(pid, std::chrono::seconds(90), &timed_out);
  const double drain_s = std::chrono::duration<double>(Clock::now() - drain_began).count();
  ASSERT_FALSE(timed_out) << "the drain run did not end within 90 s; its output:\n" << tail_of(drain_log);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the drain run " << describe(status) << "; its output:\n"
      << tail_of(drain_log);

  // --- what the worker and the department wrote --------------------------------
  Violations v;
  std::map<int64_t, std::string> logged;  // instance id -> business key
  for (const auto& f : read_fields(dir / "start.log")) {
    if (f.size() != 2) {
      v.add("start.log has a malformed line");
      continue;
    }
    if (!logged.emplace(std::stoll(f[0]), f[1]).second) v.add("start.log names instance " + f[0] + " twice");
  }
  // (instance, element) -> ledger keys; key -> number of ledger lines
  std::map<std::pair<int64_t, std::string>, std::vector<std::string>> ledger_by_job;
  std::map<std::string, int> ledger_lines;
  for (const auto& f : read_fields(dir / "ledger.log")) {
    if (f.size() != 3) {
      v.add("ledger.log has a malformed line");
      continue;
    }
    ++ledger_lines[f[0]];
    ledger_by_job[{std::stoll(f[1]), f[2]}].push_back(f[0]);
  }
  std::map<std::pair<int64_t, std::string>, std::set<std::string>> attempt_keys;
  std::map<std::string, int> calls_per_key;
  size_t attempts = 0, planned_failures = 0, dup_calls = 0, applies = 0;
  for (const auto& f : read_fields(dir / "attempts.log")) {
    if (f.size() != 6) {
      v.add("attempts.log has a malformed line");
      continue;
    }
    ++attempts;
    ++calls_per_key[f[1]];
    attempt_keys[{std::stoll(f[2]), f[3]}].insert(f[1]);
    planned_failures += f[5] == "fail";
    dup_calls += f[5] == "dup";
    applies += f[5] == "apply";
  }
  size_t early_buffered = 0, early_other = 0, late_correlated = 0, late_other = 0;
  for (const auto& f : read_fields(dir / "messages.log")) {
    if (f.size() != 4) continue;
    if (f[2] == "early") (f[3] == "buffered" ? early_buffered : early_other)++;
    else (f[3] == "correlated" ? late_correlated : late_other)++;
  }

  // --- the store --------------------------------------------------------------
  store::sqlite::SqliteOptions so;
  so.path = db;
  auto opened = store::sqlite::SqliteStore::open(so);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  std::unique_ptr<store::sqlite::SqliteStore> s = std::move(opened).value();

  std::map<int64_t, store::InstanceRecord> all;
  for (size_t offset = 0;; offset += 1000) {
    store::InstanceQuery q;
    q.limit = 1000;
    q.offset = offset;
    auto page = s->instances(q);
    ASSERT_TRUE(page.ok()) << page.error().message;
    for (const auto& r : *page) all[r.id] = r;
    if (page->size() < 1000) break;
  }

  // 1. No instance lost; every instance has ended.
  std::map<std::string, int> per_business_key;
  for (const auto& [id, r] : all) ++per_business_key[r.business_key];
  for (const auto& [key, n] : per_business_key) {
    if (n > 1) v.add("business key " + key + " belongs to " + std::to_string(n) + " instances (started once)");
  }
  for (const auto& [id, key] : logged) {
    auto it = all.find(id);
    if (it == all.end()) {
      v.add("instance " + std::to_string(id) + " (" + key + ") was started (committed) but is not in the store");
      continue;
    }
    if (it->second.business_key != key) {
      v.add("instance " + std::to_string(id) + " has business key " + it->second.business_key + ", started as " + key);
    }
  }
  size_t unlogged = 0;
  for (const auto& [id, r] : all) {
    unlogged += !logged.count(id);
    if (r.status != kCompleted || r.ended_at == 0) {
      v.add("instance " + std::to_string(id) + " (" + r.business_key + ") has not ended: status " +
            std::to_string(r.status));
    }
  }

  // 2. From the history of each instance.
  size_t jobs_completed = 0, job_failures = 0, timers_fired = 0, tasks_created = 0, correlations = 0;
  std::map<std::pair<int64_t, std::string>, int> completed_jobs;  // (instance, element) -> completions
  std::set<std::pair<int64_t, std::string>> created_jobs;
  for (const auto& [id, r] : all) {
    const std::string who = "instance " + std::to_string(id) + " (" + r.business_key + ")";
    auto history = s->history(id);
    if (!history.ok()) {
      v.add(who + ": history does not read: " + history.error().message);
      continue;
    }
    std::map<uint64_t, int> task_created, task_completed, timer_scheduled, timer_fired, job_created, job_completed;
    std::map<uint64_t, int64_t> timer_due;
    int instance_completed = 0, correlated = 0;
    int64_t expected_seq = 1;
    for (const store::HistoryRecord& h : *history) {
      if (h.seq != expected_seq++) {
        v.add(who + ": history seq " + std::to_string(h.seq) + " where " + std::to_string(expected_seq - 1) +
              " was expected");
      }
      boost::system::error_code ec;
      json::value records = json::parse(h.records, ec);
      if (ec || !records.is_array()) {
        v.add(who + ": a history entry is not a JSON array");
        continue;
      }
      for (const json::value& rv : records.as_array()) {
        const json::object& rec = rv.as_object();
        int k = static_cast<int>(rec.at("k").to_number<int64_t>());
        uint64_t key = rec.contains("key") ? rec.at("key").to_number<uint64_t>() : 0;
        std::string el = rec.contains("el") ? std::string(rec.at("el").as_string()) : std::string();
        switch (k) {
          case kUserTaskCreated: ++task_created[key]; break;
          case kUserTaskCompleted: ++task_completed[key]; break;
          case kTimerScheduled:
            ++timer_scheduled[key];
            timer_due[key] = rec.contains("due") ? rec.at("due").to_number<int64_t>() : 0;
            break;
          case kTimerFired:
            ++timer_fired[key];
            if (timer_due.count(key) && h.at < timer_due[key]) {
              v.add(who + ": timer " + std::to_string(key) + " fired at " + std::to_string(h.at) + ", before its due " +
                    std::to_string(timer_due[key]));
            }
            break;
          case kJobCreated:
            ++job_created[key];
            created_jobs.insert({id, el});
            break;
          case kJobFailed: ++job_failures; break;
          case kJobCompleted:
            ++job_completed[key];
            ++completed_jobs[{id, el}];
            break;
          case kMessageCorrelated: ++correlated; break;
          case kInstanceCompleted: ++instance_completed; break;
          default: break;
        }
      }
    }
    if (task_created.size() != 1) {
      v.add(who + ": " + std::to_string(task_created.size()) + " user tasks created, expected 1");
    }
    for (const auto& [key, n] : task_created) {
      if (n != 1) v.add(who + ": user task " + std::to_string(key) + " created " + std::to_string(n) + " times");
      if (task_completed[key] != 1) {
        v.add(who + ": user task " + std::to_string(key) + " completed " + std::to_string(task_completed[key]) +
              " times");
      }
    }
    if (timer_scheduled.size() != 1) {
      v.add(who + ": " + std::to_string(timer_scheduled.size()) + " timers scheduled, expected 1");
    }
    for (const auto& [key, n] : timer_scheduled) {
      if (n != 1) v.add(who + ": timer " + std::to_string(key) + " scheduled " + std::to_string(n) + " times");
      if (timer_fired[key] != 1) {
        v.add(who + ": timer " + std::to_string(key) + " fired " + std::to_string(timer_fired[key]) + " times");
      }
    }
    for (const auto& [key, n] : timer_fired) {
      if (!timer_scheduled.count(key)) v.add(who + ": timer " + std::to_string(key) + " fired but never scheduled");
    }
    for (const auto& [key, n] : job_created) {
      if (n != 1) v.add(who + ": job " + std::to_string(key) + " created " + std::to_string(n) + " times");
    }
    for (const auto& [key, n] : job_completed) {
      if (n > 1) v.add(who + ": job " + std::to_string(key) + " completed " + std::to_string(n) + " times");
      if (!job_created.count(key)) v.add(who + ": job " + std::to_string(key) + " completed but never created");
    }
    if (r.status == kCompleted && job_completed.size() != 2) {
      v.add(who + ": " + std::to_string(job_completed.size()) + " jobs completed, expected 2 (register, notify)");
    }
    if (r.status == kCompleted && correlated != 1) {
      v.add(who + ": " + std::to_string(correlated) + " messages correlated, expected 1");
    }
    if (instance_completed != (r.status == kCompleted ? 1 : 0)) {
      v.add(who + ": 'instance completed' recorded " + std::to_string(instance_completed) + " times");
    }
    tasks_created += task_created.size();
    timers_fired += timer_fired.size();
    jobs_completed += job_completed.size();
    correlations += static_cast<size_t>(correlated);
  }

  // 3. Exactly-once effects: the department's ledger against the history.
  for (const auto& [key, n] : ledger_lines) {
    if (n > 1) v.add("the effect of job " + key + " was applied " + std::to_string(n) + " times");
  }
  for (const auto& [job, n] : completed_jobs) {
    auto it = ledger_by_job.find(job);
    size_t in_ledger = it == ledger_by_job.end() ? 0 : it->second.size();
    if (in_ledger != 1) {
      v.add("instance " + std::to_string(job.first) + " job at " + job.second + " completed, but its effect is " +
            std::to_string(in_ledger) + " times in the ledger");
    }
  }
  for (const auto& [job, keys] : ledger_by_job) {
    if (!created_jobs.count(job)) {
      v.add("the ledger holds " + keys.front() + " (instance " + std::to_string(job.first) + ", " + job.second +
            ") for a job no history knows");
    } else if (!completed_jobs.count(job) && all.count(job.first) && all.at(job.first).status == kCompleted) {
      v.add("the ledger holds " + keys.front() + " for a job that never completed");
    }
  }
  for (const auto& [job, keys] : attempt_keys) {
    if (keys.size() != 1) {
      v.add("the attempts of job at " + job.second + " of instance " + std::to_string(job.first) + " carried " +
            std::to_string(keys.size()) + " different idempotency keys");
    }
  }
  size_t repeated_keys = 0;  // keys called again after a kill or a failure
  for (const auto& [key, n] : calls_per_key) repeated_keys += n > 1;

  // 4. Nothing left behind for ended instances.
  store::TaskQuery tq;
  tq.limit = 1000;
  auto tasks = s->tasks(tq);
  ASSERT_TRUE(tasks.ok()) << tasks.error().message;
  for (const store::TaskRecord& t : *tasks) {
    auto it = all.find(t.instance_id);
    if (it == all.end() || it->second.status != 1) {
      v.add("task row " + std::to_string(t.id) + " is left for ended instance " + std::to_string(t.instance_id));
    }
  }
  auto timers = s->due_timers(std::numeric_limits<int64_t>::max(), 10000);
  ASSERT_TRUE(timers.ok()) << timers.error().message;
  for (const store::TimerRecord& t : *timers) {
    auto it = all.find(t.instance_id);
    if (it == all.end() || it->second.status != 1) {
      v.add("timer row " + std::to_string(t.key) + " is left for ended instance " + std::to_string(t.instance_id));
    }
  }
  size_t leftover_buffered = 0;
  for (const auto& [id, r] : all) {
    if (r.status == 1) continue;
    auto jobs = s->jobs_of(id);
    if (jobs.ok() && !jobs->empty()) {
      v.add(std::to_string(jobs->size()) + " job rows are left for ended instance " + std::to_string(id));
    }
    auto subs = s->message_subscriptions(kMessage, r.business_key);
    if (subs.ok() && !subs->empty()) v.add("a message subscription is left for ended instance " + std::to_string(id));
    auto buffered = s->buffered_messages(kMessage, r.business_key, 0, 100);
    if (buffered.ok()) leftover_buffered += buffered->size();
  }
  auto incidents = s->incidents(0);
  ASSERT_TRUE(incidents.ok());
  for (const store::IncidentRecord& i : *incidents) {
    v.add("open incident " + std::to_string(i.id) + " on instance " + std::to_string(i.instance_id) + " at " +
          i.element_id + ": " + i.message);
  }

  // --- report -------------------------------------------------------------------
  const double total_s = std::chrono::duration<double>(Clock::now() - began).count();
  std::printf(
      "crash test summary (seed %llu)\n"
      "  kills:              %llu, then one drain run of %.1f s; %.1f s in all\n"
      "  instances:          %zu in the store, %zu in the start log, %zu committed but unlogged (killed in between)\n"
      "  user tasks:         %zu created and completed\n"
      "  timers:             %zu fired\n"
      "  jobs:               %zu completed; %zu connector calls: %zu applied, %zu planned failures (%zu failures in "
      "history), %zu repeats after the effect (deduplicated by key); %zu keys called more than once\n"
      "  messages:           %zu buffered early, %zu published to a waiting instance (%zu other), %zu correlations, "
      "%zu buffered left over\n"
      "  violations:         %zu\n",
      static_cast<unsigned long long>(seed), static_cast<unsigned long long>(kills), drain_s, total_s, all.size(),
      logged.size(), unlogged, tasks_created, timers_fired, jobs_completed, attempts, applies, planned_failures,
      job_failures, dup_calls, repeated_keys, early_buffered, late_correlated, early_other + late_other, correlations,
      leftover_buffered, v.list.size());
  for (size_t i = 0; i < v.list.size() && i < 50; ++i) std::printf("  VIOLATION: %s\n", v.list[i].c_str());
  EXPECT_TRUE(v.list.empty()) << v.list.size() << " violations (first: " << v.list.front()
                              << "); working folder kept: " << dir;
  EXPECT_GT(all.size(), 0u) << "the workload started no instance at all";
  EXPECT_GT(jobs_completed, 0u);
  if (v.list.empty() && !keep && !HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace banshi
