// banshi_cluster_worker — one node of the cluster test (tests/cluster), or
// the check that runs after it.
//
//   banshi_cluster_worker run   --db URL --schema S --dir DIR --node ID [--seed N]
//                               [--start-seconds T] [--drain-timeout-s T]
//   banshi_cluster_worker check --db URL --schema S --dir DIR
//
// run: an engine node on the shared PostgreSQL database (its own node id,
// short leases so a killed node's work moves on soon) running a mixed
// workload: it starts instances of kModel for --start-seconds, while a staff
// thread completes review tasks, a messenger publishes the message each of
// its instances waits for, and the connector calls a department system
// shared by every node. Then it drains: it publishes for every waiting
// instance (a killed node's too) until no instance runs, and exits 0 (5 when
// some instance is still running after --drain-timeout-s).
//
// check: reads the store and the files and prints every broken invariant:
// an instance started and acknowledged but missing or not completed, a user
// task, timer, message or job step done other than once, a department effect
// applied twice or missing; exit 0 when there is none.
//
// Files in DIR (appended with one write() per line, so a kill cannot tear one):
//   start.log   "<instance id> <business key> <node>" after start_instance returned (committed)
//   ledger.log  "<idempotency key> <instance id> <element id> <node>": the department's record of
//               effects applied, under an exclusive lock on DIR/ledger.lock, fsynced before success
#include <fcntl.h>
#include <sys/file.h>
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
#include "store/store.h"
#include "support/line_files.h"

namespace {

namespace json = boost::json;
using namespace banshi;  // NOLINT

const char* const kModel = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="cluster-definitions">
  <message id="m" name="assessment-done" bs:correlationKey="=applicationId"/>
  <process id="cluster" isExecutable="true">
    <startEvent id="s"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="register"/>
    <serviceTask id="register" bs:connector="dept" bs:retries="8" bs:retryBackoff="PT0.05S"/>
    <sequenceFlow id="f2" sourceRef="register" targetRef="review"/>
    <userTask id="review" name="review" bs:candidateGroups="staff"/>
    <sequenceFlow id="f3" sourceRef="review" targetRef="cool"/>
    <intermediateCatchEvent id="cool">
      <timerEventDefinition><timeDuration>PT0.5S</timeDuration></timerEventDefinition>
    </intermediateCatchEvent>
    <sequenceFlow id="f4" sourceRef="cool" targetRef="await"/>
    <receiveTask id="await" messageRef="m"/>
    <sequenceFlow id="f5" sourceRef="await" targetRef="notify"/>
    <serviceTask id="notify" bs:connector="dept" bs:retries="8" bs:retryBackoff="PT0.05S"/>
    <sequenceFlow id="f6" sourceRef="notify" targetRef="e"/>
    <endEvent id="e"/>
  </process>
</definitions>)";

constexpr const char* kProcess = "cluster";
constexpr const char* kMessage = "assessment-done";

// Record kinds of core/records.h (persisted codes, docs/storage.md).
constexpr int kJobCreated = 30;
constexpr int kJobCompleted = 34;
constexpr int kUserTaskCreated = 40;
constexpr int kUserTaskCompleted = 42;
constexpr int kTimerScheduled = 50;
constexpr int kTimerFired = 52;
constexpr int kMessageCorrelated = 62;
constexpr int kInstanceCompleted = 100;
constexpr uint8_t kCompleted = 2;  // core::InstanceStatus

using banshi::testing::append_line;
using banshi::testing::fnv1a;
using banshi::testing::read_fields;
int open_log(const std::string& path) { return banshi::testing::open_line_file(path); }

// The department system every node calls: applies each job's effect once
// per idempotency key, whichever node asks, however often.
class Department {
 public:
  Department(const std::string& dir, std::string node)
      : node_(std::move(node)), ledger_path_(dir + "/ledger.log"), lock_(open_log(dir + "/ledger.lock")),
        ledger_(open_log(ledger_path_)) {}

  JobOutcome call(const JobContext& ctx) {
    const std::string& key = ctx.idempotency_key;
    {
      std::lock_guard lock(mu_);
      // Each node fails a job's first attempt now and then (a busy system):
      // at most once per node, so retries never run out.
      if (!failed_once_.count(key) && fnv1a(key + node_) % 3 == 0) {
        failed_once_.insert(key);
        return JobOutcome::failed("the department system is busy");
      }
    }
    ::flock(lock_, LOCK_EX);
    bool applied = false;
    for (const auto& f : read_fields(ledger_path_)) applied = applied || f[0] == key;
    if (!applied) {
      append_line(ledger_, key + " " + std::to_string(ctx.instance_id) + " " + ctx.element_id + " " + node_, true);
    }
    ::flock(lock_, LOCK_UN);
    json::object out;
    out[ctx.element_id + "Receipt"] = key;
    return JobOutcome::completed(std::move(out));
  }

 private:
  std::string node_;
  std::string ledger_path_;
  int lock_;
  int ledger_;
  std::mutex mu_;
  std::set<std::string> failed_once_;
};

struct Options {
  std::string mode, db, schema, dir, node;
  uint64_t seed = 1;
  int start_seconds = 15;
  int drain_timeout_s = 90;
};

Options parse(int argc, char** argv) {
  Options o;
  if (argc < 2) {
    std::fprintf(stderr, "usage: banshi_cluster_worker run|check --db URL --schema S --dir DIR [--node ID]\n");
    std::exit(2);
  }
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--db") o.db = next();
    else if (a == "--schema") o.schema = next();
    else if (a == "--dir") o.dir = next();
    else if (a == "--node") o.node = next();
    else if (a == "--seed") o.seed = std::stoull(next());
    else if (a == "--start-seconds") o.start_seconds = std::stoi(next());
    else if (a == "--drain-timeout-s") o.drain_timeout_s = std::stoi(next());
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      std::exit(2);
    }
  }
  if ((o.mode != "run" && o.mode != "check") || o.db.empty() || o.dir.empty() || (o.mode == "run" && o.node.empty())) {
    std::fprintf(stderr, "usage: banshi_cluster_worker run|check --db URL --schema S --dir DIR [--node ID]\n");
    std::exit(2);
  }
  return o;
}

std::vector<store::InstanceRecord> instances_of(store::Store& s, int status) {
  std::vector<store::InstanceRecord> out;
  for (size_t offset = 0;; offset += 1000) {
    store::InstanceQuery q;
    q.process_id = kProcess;
    q.status = status;
    q.limit = 1000;
    q.offset = offset;
    auto page = s.instances(q);
    if (!page.ok()) break;
    out.insert(out.end(), page->begin(), page->end());
    if (page->size() < 1000) break;
  }
  return out;
}

std::unique_ptr<store::Store> open(const Options& opt) {
  store::OpenOptions o;
  o.schema = opt.schema;
  o.connections = 6;
  auto st = store::open_store(opt.db, o);
  if (!st.ok()) {
    std::fprintf(stderr, "cannot open the store: %s\n", st.error().message.c_str());
    std::exit(3);
  }
  return std::move(st).value();
}

int run(const Options& opt) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("%s: pid %d\n", opt.node.c_str(), static_cast<int>(::getpid()));
  EngineConfig config;
  config.node_id = opt.node;
  // A killed node's leases must lapse soon, or its work waits for them.
  config.job_lease_ms = 3000;
  config.timer_lease_ms = 3000;
  config.heartbeat_ms = 500;
  config.job_workers = 2;
  auto opened = Engine::open(config, open(opt), std::make_shared<SystemClock>());
  if (!opened.ok()) {
    std::fprintf(stderr, "cannot open the engine: %s\n", opened.error().message.c_str());
    return 3;
  }
  std::unique_ptr<Engine> engine = std::move(opened).value();
  auto deployed = engine->deploy("cluster.bpmn", kModel, "cluster-test");
  if (!deployed.ok()) {
    std::fprintf(stderr, "cannot deploy: %s\n", deployed.error().message.c_str());
    return 3;
  }
  auto department = std::make_shared<Department>(opt.dir, opt.node);
  engine->register_connector("dept", [department](const JobContext& ctx) { return department->call(ctx); });
  engine->start();

  const int start_log = open_log(opt.dir + "/start.log");
  std::atomic<bool> stop{false};
  std::atomic<bool> draining{false};
  std::mt19937_64 rng(opt.seed);

  // Staff: one clerk, logged in on every node, claims and completes open
  // review tasks; the nodes race for the same tasks, and a task claimed
  // through the killed node is completed through another.
  std::thread staff([&] {
    while (!stop) {
      store::TaskQuery q;
      q.candidate_groups = {"staff"};
      q.limit = 100;
      auto tasks = engine->store().tasks(q);
      if (tasks.ok()) {
        for (const store::TaskRecord& t : *tasks) {
          if (stop) break;
          if (t.assignee.empty() && !engine->claim_task(t.id, "clerk").ok()) continue;
          json::object vars;
          vars["approved"] = true;
          (void)engine->complete_task(t.id, vars, "clerk");
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
  });

  // Messenger: publishes the message an instance waits for; its own
  // instances while starting, every instance while draining (a killed
  // node's instances wait for someone else).
  std::thread messenger([&] {
    std::set<std::string> published;
    while (!stop) {
      for (const store::InstanceRecord& r : instances_of(engine->store(), 1)) {
        if (stop) break;
        if (published.count(r.business_key)) continue;
        if (!draining && r.business_key.rfind(opt.node + "-", 0) != 0) continue;
        auto subs = engine->store().message_subscriptions(kMessage, r.business_key);
        if (!subs.ok() || subs->empty()) continue;
        PublishRequest p;
        p.name = kMessage;
        p.correlation_key = r.business_key;
        p.message_id = r.business_key + "-late";  // one publication cluster-wide
        p.time_to_live_ms = 120000;
        auto res = engine->publish_message(p);
        if (res.ok() || res.error().code == "duplicate") published.insert(r.business_key);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });

  int exit_code = 0;
  auto began = std::chrono::steady_clock::now();
  for (int n = 1; std::chrono::steady_clock::now() - began < std::chrono::seconds(opt.start_seconds); ++n) {
    std::string key = opt.node + "-" + std::to_string(n);
    StartRequest req;
    req.process_id = kProcess;
    req.business_key = key;
    req.variables["applicationId"] = key;
    auto id = engine->start_instance(req);
    if (!id.ok()) {
      std::fprintf(stderr, "%s: start_instance failed: %s\n", opt.node.c_str(), id.error().message.c_str());
      continue;  // a store error, not a lost instance: nothing was acknowledged
    }
    append_line(start_log, std::to_string(*id) + " " + key + " " + opt.node, false);
    std::this_thread::sleep_for(std::chrono::milliseconds(10 + static_cast<int>(rng() % 30)));
  }
  draining = true;
  std::printf("%s: draining\n", opt.node.c_str());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(opt.drain_timeout_s);
  size_t left = 0;
  for (;;) {
    left = instances_of(engine->store(), 1).size();
    if (left == 0 || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (left > 0) {
    exit_code = 5;
    std::printf("%s: %zu instances still running after %d s\n", opt.node.c_str(), left, opt.drain_timeout_s);
  } else {
    std::printf("%s: every instance has ended\n", opt.node.c_str());
  }
  stop = true;
  staff.join();
  messenger.join();
  engine->stop();
  engine.reset();
  return exit_code;
}

int check(const Options& opt) {
  auto s = open(opt);
  std::vector<std::string> problems;
  auto add = [&](const std::string& p) {
    if (problems.size() < 50) std::printf("violation: %s\n", p.c_str());
    problems.push_back(p);
  };
  std::map<int64_t, store::InstanceRecord> all;
  for (int status : {1, 2, 3, 4}) {
    for (auto& r : instances_of(*s, status)) all[r.id] = r;
  }
  // Nothing acknowledged is lost.
  size_t acknowledged = 0;
  std::map<std::string, int> started_by;
  for (const auto& f : read_fields(opt.dir + "/start.log")) {
    if (f.size() < 3) continue;
    ++acknowledged;
    ++started_by[f[2]];
    auto it = all.find(std::stoll(f[0]));
    if (it == all.end()) add("instance " + f[0] + " (" + f[1] + ") was started but is not stored");
    else if (it->second.business_key != f[1]) add("instance " + f[0] + " has another business key");
  }
  // Every department effect is applied once, and every job's effect was.
  std::map<std::string, int> applied;
  std::map<int64_t, std::set<std::string>> effects;
  for (const auto& f : read_fields(opt.dir + "/ledger.log")) {
    if (f.size() < 4) continue;
    if (++applied[f[0]] == 2) add("the effect of " + f[0] + " was applied twice");
    effects[std::stoll(f[1])].insert(f[2]);
  }
  size_t completed = 0;
  for (const auto& [id, r] : all) {
    const std::string who = "instance " + std::to_string(id) + " (" + r.business_key + ")";
    if (r.status != kCompleted) {
      add(who + " did not complete (status " + std::to_string(r.status) + ")");
      continue;
    }
    ++completed;
    if (effects[id] != std::set<std::string>{"register", "notify"}) {
      add(who + " has " + std::to_string(effects[id].size()) + " of its 2 department effects");
    }
    auto history = s->history(id);
    if (!history.ok()) {
      add(who + ": history unreadable: " + history.error().message);
      continue;
    }
    std::map<int, int> count;
    for (const store::HistoryRecord& h : *history) {
      boost::system::error_code ec;
      json::value records = json::parse(h.records, ec);
      if (ec || !records.is_array()) {
        add(who + ": a history entry is not a JSON array");
        continue;
      }
      for (const json::value& rv : records.as_array()) {
        ++count[static_cast<int>(rv.as_object().at("k").to_number<int64_t>())];
      }
    }
    const std::pair<int, int> once[] = {{kJobCreated, 2},      {kJobCompleted, 2},     {kUserTaskCreated, 1},
                                        {kUserTaskCompleted, 1}, {kTimerScheduled, 1}, {kTimerFired, 1},
                                        {kMessageCorrelated, 1}, {kInstanceCompleted, 1}};
    for (auto [kind, expected] : once) {
      if (count[kind] != expected) {
        add(who + ": record kind " + std::to_string(kind) + " " + std::to_string(count[kind]) + " times, expected " +
            std::to_string(expected));
      }
    }
    if (auto jobs = s->jobs_of(id); jobs.ok() && !jobs->empty()) add(who + " has jobs left");
  }
  if (auto incidents = s->incidents(0); incidents.ok() && !incidents->empty()) {
    add(std::to_string(incidents->size()) + " incidents are open");
  }
  auto nodes = s->nodes(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count());
  std::string by_node;
  for (const auto& [node, n] : started_by) by_node += " " + node + ":" + std::to_string(n);
  std::printf("cluster: %zu instances (%zu acknowledged, started by%s), %zu completed, %zu department effects, "
              "%zu nodes seen, %zu violations\n",
              all.size(), acknowledged, by_node.c_str(), completed, applied.size(), nodes.ok() ? nodes->size() : 0,
              problems.size());
  if (acknowledged == 0) {
    std::printf("violation: no instance was started\n");
    return 1;
  }
  return problems.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  return opt.mode == "run" ? run(opt) : check(opt);
}
