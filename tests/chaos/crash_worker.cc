// banshi_crash_worker — the process the crash test kills.
//
// Opens the engine on a SQLite file with the real clock and runs a mixed
// workload until it is killed (SIGKILL, so nothing is cleaned up), or, with
// --drain, stops starting instances and runs until every instance has ended.
//
//   banshi_crash_worker --db FILE --dir DIR --run N [--drain] [--seed S]
//                       [--max-seconds T] [--drain-timeout-s T]
//
// The model (kModel): a service task whose connector fails now and then, a
// user task completed by a "staff" thread, a 0.3 s timer, a receive task
// correlated by a "messenger" thread, a second service task, the end.
//
// Files in DIR, appended with one write() per line so a kill cannot tear a
// line (only drop the line not yet written):
//   start.log     "<instance id> <business key>", written after start_instance
//                 returned, i.e. after the start was committed
//   ledger.log    "<idempotency key> <instance id> <element id>": the
//                 department system's record of effects it applied; appended
//                 and fsynced before the connector reports success
//   attempts.log  "<run> <idempotency key> <instance id> <element id> <job id>
//                 <decision>" for every connector call, written before acting;
//                 decision: fail (planned failure), apply (first effect), dup
//                 (key already in the ledger: success without a new effect)
//   messages.log  "<run> <business key> early|late <result>"
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "banshi/engine.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "support/line_files.h"

namespace {

namespace json = boost::json;
using namespace banshi;  // NOLINT

const char* const kModel = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="crash-definitions">
  <message id="m" name="assessment-done" bs:correlationKey="=applicationId"/>
  <process id="crash" isExecutable="true">
    <startEvent id="s"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="register"/>
    <serviceTask id="register" bs:connector="dept" bs:retries="6" bs:retryBackoff="PT0.05S"/>
    <sequenceFlow id="f2" sourceRef="register" targetRef="review"/>
    <userTask id="review" name="review" bs:candidateGroups="staff"/>
    <sequenceFlow id="f3" sourceRef="review" targetRef="cool"/>
    <intermediateCatchEvent id="cool">
      <timerEventDefinition><timeDuration>PT0.3S</timeDuration></timerEventDefinition>
    </intermediateCatchEvent>
    <sequenceFlow id="f4" sourceRef="cool" targetRef="await"/>
    <receiveTask id="await" messageRef="m"/>
    <sequenceFlow id="f5" sourceRef="await" targetRef="notify"/>
    <serviceTask id="notify" bs:connector="dept" bs:retries="6" bs:retryBackoff="PT0.05S"/>
    <sequenceFlow id="f6" sourceRef="notify" targetRef="e"/>
    <endEvent id="e"/>
  </process>
</definitions>)";

constexpr const char* kProcess = "crash";
constexpr const char* kMessage = "assessment-done";

// A log file appended one line per write(); optionally fsynced.
class LineLog {
 public:
  explicit LineLog(const std::string& path) : fd_(banshi::testing::open_line_file(path)) {}
  ~LineLog() { ::close(fd_); }
  LineLog(const LineLog&) = delete;
  LineLog& operator=(const LineLog&) = delete;

  void append(const std::string& line, bool sync) { banshi::testing::append_line(fd_, line, sync); }

 private:
  int fd_ = -1;
};

using banshi::testing::fnv1a;
using banshi::testing::read_fields;

// The department system: applies each job's effect once per idempotency key.
class Department {
 public:
  Department(const std::string& dir, int run)
      : run_(run), ledger_(dir + "/ledger.log"), attempts_(dir + "/attempts.log") {
    for (const auto& f : read_fields(dir + "/ledger.log")) applied_.insert(f[0]);
    for (const auto& f : read_fields(dir + "/attempts.log")) {
      if (f.size() >= 2) ++calls_[f[1]];
    }
  }

  JobOutcome call(const JobContext& ctx) {
    std::lock_guard lock(mu_);
    const std::string& key = ctx.idempotency_key;
    int before = calls_[key]++;
    // 0, 1 or 2 planned failures per key, counted over every run, so a job
    // never runs out of its retries however often the worker is killed.
    int planned = static_cast<int>(fnv1a(key) % 3);
    std::string decision = applied_.count(key) ? "dup" : before < planned ? "fail" : "apply";
    attempts_.append(std::to_string(run_) + " " + key + " " + std::to_string(ctx.instance_id) + " " +
                         ctx.element_id + " " + std::to_string(ctx.job_id) + " " + decision,
                     false);
    if (decision == "fail") return JobOutcome::failed("the department system is busy");
    if (decision == "apply") {
      ledger_.append(key + " " + std::to_string(ctx.instance_id) + " " + ctx.element_id, true);
      applied_.insert(key);
    }
    json::object out;
    out[ctx.element_id + "Receipt"] = key;
    return JobOutcome::completed(std::move(out));
  }

 private:
  int run_;
  std::mutex mu_;
  LineLog ledger_;
  LineLog attempts_;
  std::set<std::string> applied_;
  std::map<std::string, int> calls_;
};

struct Options {
  std::string db;
  std::string dir;
  int run = 0;
  bool drain = false;
  uint64_t seed = 1;
  int max_seconds = 60;
  int drain_timeout_s = 60;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--db") o.db = next();
    else if (a == "--dir") o.dir = next();
    else if (a == "--run") o.run = std::stoi(next());
    else if (a == "--drain") o.drain = true;
    else if (a == "--seed") o.seed = std::stoull(next());
    else if (a == "--max-seconds") o.max_seconds = std::stoi(next());
    else if (a == "--drain-timeout-s") o.drain_timeout_s = std::stoi(next());
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      std::exit(2);
    }
  }
  if (o.db.empty() || o.dir.empty()) {
    std::fprintf(stderr, "usage: banshi_crash_worker --db FILE --dir DIR --run N [--drain] [--seed S]\n");
    std::exit(2);
  }
  return o;
}

// Every running instance of the model, page by page.
std::vector<store::InstanceRecord> running(store::Store& s) {
  std::vector<store::InstanceRecord> out;
  for (size_t offset = 0;; offset += 1000) {
    store::InstanceQuery q;
    q.process_id = kProcess;
    q.status = 1;
    q.limit = 1000;
    q.offset = offset;
    auto page = s.instances(q);
    if (!page.ok()) break;
    out.insert(out.end(), page->begin(), page->end());
    if (page->size() < 1000) break;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("worker run %d pid %d seed %llu%s\n", opt.run, static_cast<int>(::getpid()),
              static_cast<unsigned long long>(opt.seed), opt.drain ? " (drain)" : "");

  store::sqlite::SqliteOptions so;
  so.path = opt.db;
  auto st = store::sqlite::SqliteStore::open(so);
  if (!st.ok()) {
    std::fprintf(stderr, "cannot open the store: %s\n", st.error().message.c_str());
    return 3;
  }
  EngineConfig config;
  config.node_id = "crash-worker";
  // A killed worker's leases must lapse soon, or its jobs wait for them.
  config.job_lease_ms = 3000;
  config.job_workers = 2;
  auto opened = Engine::open(config, std::move(st).value(), std::make_shared<SystemClock>());
  if (!opened.ok()) {
    std::fprintf(stderr, "cannot open the engine: %s\n", opened.error().message.c_str());
    return 3;
  }
  std::unique_ptr<Engine> engine = std::move(opened).value();
  auto deployed = engine->deploy("crash.bpmn", kModel, "crash-test");
  if (!deployed.ok()) {
    std::fprintf(stderr, "cannot deploy: %s\n", deployed.error().message.c_str());
    return 3;
  }
  auto department = std::make_shared<Department>(opt.dir, opt.run);
  engine->register_connector("dept", [department](const JobContext& ctx) { return department->call(ctx); });
  engine->start();

  LineLog start_log(opt.dir + "/start.log");
  LineLog message_log(opt.dir + "/messages.log");
  std::atomic<bool> stop{false};
  std::mt19937_64 rng(opt.seed);

  // Staff: claim and complete every open review task.
  std::thread staff([&] {
    while (!stop) {
      store::TaskQuery q;
      q.candidate_groups = {"staff"};
      q.limit = 200;
      auto tasks = engine->store().tasks(q);
      if (tasks.ok()) {
        for (const store::TaskRecord& t : *tasks) {
          if (stop) break;
          (void)engine->claim_task(t.id, "staff-1");  // may already be ours from an earlier run
          json::object vars;
          vars["approved"] = true;
          (void)engine->complete_task(t.id, vars, "staff-1");
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });

  // Messenger: publishes each waiting instance's message once per run (late).
  // Messages published early by the starter are buffered until the instance
  // opens its subscription.
  std::thread messenger([&] {
    std::set<std::string> published;
    while (!stop) {
      for (const store::InstanceRecord& r : running(engine->store())) {
        if (stop) break;
        if (published.count(r.business_key)) continue;
        auto subs = engine->store().message_subscriptions(kMessage, r.business_key);
        if (!subs.ok() || subs->empty()) continue;
        PublishRequest p;
        p.name = kMessage;
        p.correlation_key = r.business_key;
        p.variables["assessment"] = "late";
        p.time_to_live_ms = 120000;
        auto res = engine->publish_message(p);
        if (!res.ok()) continue;
        published.insert(r.business_key);
        message_log.append(std::to_string(opt.run) + " " + r.business_key + " late " +
                               (res->correlated ? "correlated" : res->buffered ? "buffered" : "dropped"),
                           false);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
  });

  int exit_code = 0;
  auto began = std::chrono::steady_clock::now();
  if (!opt.drain) {
    // Starter: start instances until killed; every second one gets its
    // message published right away, long before it waits for it.
    for (int n = 1; std::chrono::steady_clock::now() - began < std::chrono::seconds(opt.max_seconds); ++n) {
      std::string key = "r" + std::to_string(opt.run) + "-" + std::to_string(n);
      StartRequest req;
      req.process_id = kProcess;
      req.business_key = key;
      req.variables["applicationId"] = key;
      auto id = engine->start_instance(req);
      if (!id.ok()) {
        std::fprintf(stderr, "start_instance failed: %s\n", id.error().message.c_str());
        exit_code = 4;
        break;
      }
      start_log.append(std::to_string(*id) + " " + key, false);
      if (n % 2 == 0) {
        PublishRequest p;
        p.name = kMessage;
        p.correlation_key = key;
        p.variables["assessment"] = "early";
        p.time_to_live_ms = 120000;
        auto res = engine->publish_message(p);
        if (res.ok()) {
          message_log.append(std::to_string(opt.run) + " " + key + " early " +
                                 (res->correlated ? "correlated" : res->buffered ? "buffered" : "dropped"),
                             false);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5 + static_cast<int>(rng() % 20)));
    }
    if (exit_code == 0) std::printf("worker run %d was not killed within %d s\n", opt.run, opt.max_seconds);
  } else {
    // Drain: wait until nothing runs any more.
    auto deadline = began + std::chrono::seconds(opt.drain_timeout_s);
    std::vector<store::InstanceRecord> left;
    for (;;) {
      left = running(engine->store());
      if (left.empty() || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!left.empty()) {
      exit_code = 5;
      std::printf("drain: %zu instances still running after %d s\n", left.size(), opt.drain_timeout_s);
      size_t shown = 0;
      for (const store::InstanceRecord& r : left) {
        if (++shown > 20) break;
        auto jobs = engine->store().jobs_of(r.id);
        auto subs = engine->store().message_subscriptions(kMessage, r.business_key);
        auto buffered = engine->store().buffered_messages(kMessage, r.business_key, 0, 100);
        auto incidents = engine->store().incidents(r.id);
        std::printf("  instance %lld (%s): jobs %zu, subscriptions %zu, buffered messages %zu, incidents %zu\n",
                    static_cast<long long>(r.id), r.business_key.c_str(), jobs.ok() ? jobs->size() : 0,
                    subs.ok() ? subs->size() : 0, buffered.ok() ? buffered->size() : 0,
                    incidents.ok() ? incidents->size() : 0);
        if (jobs.ok()) {
          for (const store::JobRecord& j : *jobs) {
            std::printf("    job %lld %s retries %d due %lld lease %s until %lld state %d: %s\n",
                        static_cast<long long>(j.id), j.element_id.c_str(), j.retries,
                        static_cast<long long>(j.due_at), j.lease_owner.c_str(),
                        static_cast<long long>(j.lease_until), j.state, j.last_error.c_str());
          }
        }
      }
    } else {
      std::printf("drain: every instance has ended\n");
    }
  }
  stop = true;
  staff.join();
  messenger.join();
  engine->stop();
  engine.reset();
  return exit_code;
}
