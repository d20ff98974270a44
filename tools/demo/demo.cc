#include "demo/demo.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <queue>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "banshi/engine.h"
#include "calendar/business_calendar.h"
#include "demo/department_systems.h"
#include "demo/synthetic.h"
#include "endpoints.h"
#include "model/iso8601.h"
#include "simulators/people.h"
#include "store/sqlite/sqlite_store.h"

namespace banshi::demo {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr int32_t kZone = 480;
constexpr int64_t kMinute = 60000;
constexpr int64_t kHour = 60 * kMinute;
constexpr const char* kProcess = "certificate-new-issue";

std::string clock_text(int64_t ms) {
  int64_t local = ms + int64_t{kZone} * kMinute;
  int64_t days = local / 86400000;
  int64_t rest = local % 86400000;
  int64_t y;
  unsigned m, d;
  model::civil_from_days(days, y, m, d);
  return fmt::format("{:02}-{:02} {:02}:{:02}", m, d, rest / kHour, rest / kMinute % 60);
}


struct Case {
  int number = 0;
  Applicant applicant;
  InstanceId instance = 0;
  std::string outcome;
  int64_t started = 0;
  int64_t ended = 0;
  bool escalated = false;
  int64_t history_seen = 0;
};

struct Action {
  int64_t at = 0;
  int case_index = 0;
  int64_t task_id = 0;  // 0: submit the application
  std::string element;
  bool operator>(const Action& o) const { return at > o.at; }
};

class Demo {
 public:
  Demo(const DemoOptions& options, Engine& engine, ManualClock& clock, connectors::DepartmentConnectors& departments)
      : options_(options), engine_(engine), clock_(clock), departments_(departments), rng_(options.seed) {}

  int run() {
    ApplicantGenerator applicants(options_.seed);
    const int64_t start = clock_.now_ms();
    for (int i = 0; i < options_.applications; ++i) {
      Case c;
      c.number = i + 1;
      c.applicant = next_applicant(applicants);
      cases_.push_back(std::move(c));
      // Applications arrive at the window through the morning, minutes apart.
      actions_.push(Action{start + i * 25 * kMinute + pick(0, 20) * kMinute, i, 0, {}});
    }
    for (int guard = 0; guard < 1000000; ++guard) {
      // Done when every case has ended (schedules such as the daily data
      // comparison would keep the clock going for ever).
      auto over = [](const Case& c) { return c.ended != 0 || c.instance == 0; };  // ended, or never started
      if (actions_.empty() && std::all_of(cases_.begin(), cases_.end(), over)) break;
      int64_t next = actions_.empty() ? -1 : actions_.top().at;
      auto timer = engine_.store().next_timer_due();
      if (timer.ok() && *timer && (next < 0 || **timer < next)) next = **timer;
      int64_t retry = 0;
      jobs_due(&retry);
      if (retry > 0 && (next < 0 || retry < next)) next = retry;
      if (next < 0) break;
      clock_.set(std::max(clock_.now_ms(), next));
      if (!settle()) break;  // fires due timers, waits for the departments' answers
      bool answered = true;
      while (answered && !actions_.empty() && actions_.top().at <= clock_.now_ms()) {
        Action a = actions_.top();
        actions_.pop();
        act(a);
        answered = settle();
      }
      if (!answered) break;
      observe();
    }
    return summary();
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  void say(const Case& c, const std::string& what) {
    if (options_.quiet) return;
    fmt::print("{}  #{:<2} {} {}  {}\n", clock_text(clock_.now_ms()), c.number, mask_name(c.applicant.name),
               mask_id_number(c.applicant.id_number), what);
  }

  Case* case_of(InstanceId id) {
    for (Case& c : cases_) {
      if (c.instance == id) return &c;
    }
    return nullptr;
  }

  // The next synthetic person the simulated population registers, alive,
  // under the registered name, so the department systems know the applicant.
  static Applicant next_applicant(ApplicantGenerator& applicants) {
    for (;;) {
      Applicant a = applicants.next();
      auto person = connectors::sim::person_of(a.id_number);
      if (!person || person->deceased) continue;
      a.name = person->name;
      return a;
    }
  }

  // Whether a department's job of a running instance may run now (or is
  // running); sets `later` to the earliest retry due after now (0: none).
  // Jobs of other types (the server's own connectors) wait for nobody here.
  bool jobs_due(int64_t* later = nullptr) {
    const int64_t now = clock_.now_ms();
    if (department_types_.empty()) {
      for (const std::string& t : departments_.runtime().types()) department_types_.insert(t);
    }
    store::InstanceQuery q;
    q.status = 1;  // active
    q.limit = 1'000'000;
    auto running = engine_.store().instances(q);
    if (!running.ok()) return false;
    bool due = false;
    for (const store::InstanceRecord& i : *running) {
      auto jobs = engine_.store().jobs_of(i.id);
      if (!jobs.ok()) continue;
      for (const store::JobRecord& j : *jobs) {
        if (j.state != 1 || !department_types_.count(j.type)) continue;  // an incident holds it, or not ours
        if (j.due_at <= now) due = true;
        else if (later && (*later == 0 || j.due_at < *later)) *later = j.due_at;
      }
    }
    return due;
  }

  // Runs the engine until nothing is left to do at this moment: every job
  // due now has been sent to its department over HTTP and its answer
  // applied. False when they stay unanswered for a minute: the run stops
  // there and the summary counts what did not finish.
  bool settle() {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      engine_.run_until_idle();
      if (departments_.runtime().in_flight() == 0 && !jobs_due()) return true;
      if (std::chrono::steady_clock::now() > give_up) {
        fmt::print(stderr, "banshi demo: the department systems left jobs unanswered for 60 s; stopping\n");
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  json::object start_variables(const Case& c) {
    json::object applicant;
    applicant["name"] = c.applicant.name;
    applicant["idNumber"] = c.applicant.id_number;
    applicant["phone"] = c.applicant.phone;
    applicant["region"] = c.applicant.region;
    json::object vars;
    vars["applicationId"] = fmt::format("A-2026-{:04}", c.number);
    vars["applicant"] = std::move(applicant);
    vars["acceptWithin"] = "P1D";
    vars["publicNoticePeriod"] = "P5D";
    vars["reviewWithin"] = "P10D";
    return vars;
  }

  void act(const Action& a) {
    Case& c = cases_[static_cast<size_t>(a.case_index)];
    if (a.task_id == 0) {
      StartRequest req;
      req.process_id = kProcess;
      req.business_key = fmt::format("A-2026-{:04}", c.number);
      req.variables = start_variables(c);
      c.started = clock_.now_ms();
      auto id = engine_.start_instance(req);
      if (!id.ok()) {
        say(c, "not started: " + id.error().message);
        return;
      }
      c.instance = *id;
      return;
    }
    // The simulated staff decide.
    json::object vars;
    if (a.element == "accept") vars["accepted"] = chance(0.9);
    if (a.element == "assess") {
      vars["meetsStandard"] = chance(0.85);
      json::object disability;
      disability["category"] = c.applicant.category;
      disability["level"] = c.applicant.level;
      vars["disability"] = std::move(disability);
    }
    if (a.element == "review") vars["approved"] = chance(0.95);
    auto done = engine_.complete_task(a.task_id, vars, "");
    if (!done.ok()) say(c, "task not completed: " + done.error().message);
  }

  // New history tells what happened; new tasks get a decision scheduled.
  void observe() {
    for (Case& c : cases_) {
      if (c.instance == 0 || c.ended != 0) continue;
      auto history = engine_.store().history(c.instance);
      if (!history.ok()) continue;
      for (const store::HistoryRecord& h : *history) {
        if (h.seq <= c.history_seen) continue;
        c.history_seen = h.seq;
        narrate(c, h);
      }
    }
    store::TaskQuery all;
    all.limit = 1000;
    auto tasks = engine_.store().tasks(all);
    if (tasks.ok()) {
      for (const store::TaskRecord& t : *tasks) {
        if (!seen_tasks_.insert(t.id).second) continue;
        Case* c = case_of(t.instance_id);
        if (!c) continue;
        std::string groups;
        for (const std::string& g : t.candidate_groups) groups += (groups.empty() ? "" : ",") + g;
        say(*c, fmt::format("{} waits for {} in {}", t.name, groups, t.region));
        int64_t delay = pick(1, 30) * kHour;
        if (t.element_id == "assess") delay = pick(24, 96) * kHour;
        // Now and then the county office lets a review slip past its limit.
        if (t.element_id == "review") delay = chance(0.25) ? pick(11 * 24, 13 * 24) * kHour : pick(2, 72) * kHour;
        actions_.push(Action{clock_.now_ms() + delay, c->number - 1, t.id, t.element_id});
      }
    }
  }

  void narrate(Case& c, const store::HistoryRecord& h) {
    boost::system::error_code ec;
    json::value records = json::parse(h.records, ec);
    if (ec || !records.is_array()) return;
    for (const json::value& v : records.as_array()) {
      const json::object& r = v.as_object();
      int kind = static_cast<int>(r.at("k").to_number<int64_t>());
      auto text = [&](const char* key) {
        const json::value* x = r.if_contains(key);
        return x && x->is_string() ? std::string(x->as_string()) : std::string();
      };
      if (kind == 4 /* element completed */ && !text("el").empty()) last_completed_[c.number] = text("el");
      if (kind == 34 /* job completed */) say(c, fmt::format("{} answered by its department system", text("el")));
      if (kind == 90 /* escalation uncaught */) {
        c.escalated = true;
        say(c, fmt::format("escalated to the city DPF ({})", text("n")));
      }
      if (kind == 20 /* incident */) say(c, "incident: " + text("t"));
      if (kind == 100 /* instance completed */) {
        c.ended = h.at;
        c.outcome = end_name(last_completed_[c.number]);
        say(c, "finished: " + c.outcome);
      }
    }
  }

  std::string end_name(const std::string& element_id) {
    static const std::map<std::string, std::string> kEnds = {
        {"issued", "已发证"}, {"notAccepted", "不予受理"}, {"notMet", "不符合评定标准"}, {"rejected", "审核未通过"}};
    auto it = kEnds.find(element_id);
    return it == kEnds.end() ? element_id : it->second;
  }

  int summary() {
    std::map<std::string, int> outcomes;
    int unfinished = 0, escalated = 0, finished = 0;
    double total_days = 0;
    for (const Case& c : cases_) {
      if (c.ended == 0) {
        ++unfinished;
        continue;
      }
      ++finished;
      outcomes[c.outcome]++;
      escalated += c.escalated;
      total_days += static_cast<double>(c.ended - c.started) / (24.0 * kHour);
    }
    const EngineMetrics& m = engine_.metrics();
    fmt::print("\n{} applications through '{}': {} finished, {} unfinished, {} escalated\n", cases_.size(), kProcess,
               finished, unfinished, escalated);
    for (const auto& [outcome, n] : outcomes) fmt::print("  {:<12} {}\n", outcome, n);
    if (finished > 0) fmt::print("  average time from application to end: {:.1f} calendar days\n", total_days / finished);
    fmt::print("  engine: {} commands in {} commits, {} timers fired\n", m.commands_applied.load(),
               m.batches_committed.load(), m.timers_fired.load());
    const connectors::RuntimeCounters& calls = departments_.runtime().counters();
    fmt::print("  department systems: {} calls over HTTP answered, {} BPMN errors, {} failed\n", calls.completed.load(),
               calls.bpmn_errors.load(), calls.failed.load());
    return unfinished == 0 ? 0 : 1;
  }

  const DemoOptions& options_;
  Engine& engine_;
  ManualClock& clock_;
  connectors::DepartmentConnectors& departments_;
  std::set<std::string> department_types_;
  std::mt19937_64 rng_;
  std::vector<Case> cases_;
  std::priority_queue<Action, std::vector<Action>, std::greater<Action>> actions_;
  std::set<int64_t> seen_tasks_;
  std::map<int, std::string> last_completed_;
};

}  // namespace

int run_demo(const DemoOptions& options) {
  spdlog::set_level(spdlog::level::warn);  // the demo narrates; the engine's own log would repeat it
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options.workflows, ec)) {
    if (entry.path().extension() == ".bpmn" || entry.path().extension() == ".dmn") files.push_back(entry.path());
  }
  if (ec || files.empty()) {
    fmt::print(stderr, "banshi demo: no workflows found in '{}'\n", options.workflows);
    return 2;
  }
  // Decisions first, so the processes that call them find them.
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    bool da = a.extension() == ".dmn", db = b.extension() == ".dmn";
    return da != db ? da : a < b;
  });
  fs::create_directories(options.data, ec);
  // Not banshi.db: that is the live demo's, which this smoke run must not replace.
  const fs::path db = fs::path(options.data) / "batch.db";
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix, ec);
  store::sqlite::SqliteOptions store_options;
  store_options.path = db.string();
  auto store = store::sqlite::SqliteStore::open(store_options);
  if (!store.ok()) {
    fmt::print(stderr, "banshi demo: {}\n", store.error().message);
    return 1;
  }
  // A Monday morning, so the first applications meet an open office.
  auto clock = std::make_shared<ManualClock>(*model::parse_date_time("2026-03-02T09:00:00+08:00"));
  EngineConfig config;
  // The shipped business calendars, for deadlines counted in working days.
  const fs::path calendars = fs::path(options.workflows) / "calendars";
  if (fs::exists(calendars, ec)) {
    auto cal = calendar::BusinessCalendar::load_directory(calendars.string());
    if (!cal.ok()) {
      fmt::print(stderr, "banshi demo: {}\n", cal.error().message);
      return 1;
    }
    config.working_days = std::make_shared<calendar::BusinessCalendar>(std::move(cal).value());
  }
  auto engine = Engine::open(config, std::move(store).value(), clock);
  if (!engine.ok()) {
    fmt::print(stderr, "banshi demo: {}\n", engine.error().message);
    return 1;
  }
  // The department systems: the simulators over HTTP on a loopback port, on
  // the demo's clock, called through the department adapters as serve does
  // (the live demo uses the same systems through serve's [connectors]).
  auto systems = DepartmentSystems::start(options.seed, "", [c = clock.get()] { return c->now_ms(); });
  if (!systems.ok()) {
    fmt::print(stderr, "banshi demo: {}\n", systems.error().message);
    return 1;
  }
  connectors::EndpointsConfig endpoints = (*systems)->endpoints();
  endpoints.runtime.poll_interval = std::chrono::milliseconds(1);  // the clock waits for the answers: poll often
  auto departments = connectors::DepartmentConnectors::create(**engine, endpoints);
  if (!departments.ok()) {
    fmt::print(stderr, "banshi demo: {}\n", departments.error().message);
    return 1;
  }
  (*departments)->start();
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    auto deployed = (*engine)->deploy(f.filename().string(), s.str(), "demo");
    if (!deployed.ok()) {
      fmt::print(stderr, "banshi demo: {} does not deploy:\n{}", f.string(), deployed.error().message);
      return 1;
    }
    for (const DeployedProcess& p : *deployed) fmt::print("deployed {} version {}\n", p.process_id, p.version);
  }
  fmt::print("database: {}\n", db.string());
  fmt::print("department systems: simulated, over HTTP at {}\n", (*systems)->url());
  fmt::print("\nrunning {} synthetic applications (names and ID numbers are made up and shown masked)\n\n",
             options.applications);
  Demo demo(options, **engine, *clock, **departments);
  const int code = demo.run();
  (*departments)->stop();
  (*systems)->stop();
  return code;
}

}  // namespace banshi::demo
