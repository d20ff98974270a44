#include "demo/demo.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <queue>
#include <random>
#include <sstream>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/step.h"
#include "demo/synthetic.h"
#include "model/iso8601.h"
#include "model/load.h"

namespace banshi::demo {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using core::Command;
using core::CommandKind;
using core::Key;
using core::Record;
using core::RecordKind;

constexpr int32_t kZone = 480;
constexpr int64_t kMinute = 60000;
constexpr int64_t kHour = 60 * kMinute;

std::string clock_text(int64_t ms) {
  int64_t local = ms + int64_t{kZone} * kMinute;
  int64_t days = local / 86400000;
  int64_t rest = local % 86400000;
  int64_t y;
  unsigned m, d;
  model::civil_from_days(days, y, m, d);
  return fmt::format("{:02}-{:02} {:02}:{:02}", m, d, rest / kHour, rest / kMinute % 60);
}

// The national card number: the ID number, then the category and level digits.
std::string certificate_number(const Applicant& a) {
  static const std::vector<std::string> kCategories = {"视力", "听力", "言语", "肢体", "智力", "精神", "多重"};
  static const std::vector<std::string> kLevels = {"一级", "二级", "三级", "四级"};
  size_t category = std::find(kCategories.begin(), kCategories.end(), a.category) - kCategories.begin() + 1;
  size_t level = std::find(kLevels.begin(), kLevels.end(), a.level) - kLevels.begin() + 1;
  return fmt::format("{}{}{}", a.id_number, category, level);
}

struct Case {
  int number = 0;
  Applicant applicant;
  core::InstanceState state;
  std::string outcome;
  int64_t started = 0;
  int64_t ended = 0;
  bool escalated = false;
};

struct Action {
  int64_t at = 0;
  int case_index = 0;
  Command command;
  bool operator>(const Action& other) const { return at > other.at; }
};

class Demo {
 public:
  Demo(const DemoOptions& options, const core::ExecutableProcess& process, int64_t start)
      : options_(options), process_(process), rng_(options.seed), now_(start) {}

  int run() {
    ApplicantGenerator applicants(options_.seed);
    for (int i = 0; i < options_.applications; ++i) {
      Case c;
      c.number = i + 1;
      c.applicant = applicants.next();
      cases_.push_back(std::move(c));
      // Applications arrive at the window through the morning, minutes apart.
      Action a;
      a.at = now_ + i * 25 * kMinute + pick(0, 20) * kMinute;
      a.case_index = i;
      a.command = Command{CommandKind::kStart};
      a.command.variables = start_variables(cases_.back());
      actions_.push(std::move(a));
    }
    while (!actions_.empty()) {
      Action a = actions_.top();
      actions_.pop();
      now_ = std::max(now_, a.at);
      apply(a.case_index, a.command);
    }
    return summary();
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

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

  void say(const Case& c, const std::string& what) {
    if (options_.quiet) return;
    fmt::print("{}  #{:<2} {} {}  {}\n", clock_text(now_), c.number, mask_name(c.applicant.name),
               mask_id_number(c.applicant.id_number), what);
  }

  void apply(int index, const Command& command) {
    Case& c = cases_[static_cast<size_t>(index)];
    // A timer withdrawn meanwhile (its task was done in time) simply does not fire.
    if (command.kind == CommandKind::kFireTimer &&
        (c.state.status != core::InstanceStatus::kActive || !c.state.timers.count(command.key))) {
      return;
    }
    if (command.kind == CommandKind::kStart) c.started = now_;
    std::vector<Record> out;
    core::StepEnv env;
    env.now_ms = now_;
    env.utc_offset_minutes = kZone;
    Result<void> r = core::step(process_, c.state, command, env, out);
    if (!r.ok()) {
      say(c, "rejected: " + r.error().message);
      return;
    }
    for (const Record& rec : out) react(index, c, rec);
  }

  std::string element_name(model::Index i) const {
    const model::FlowNode& n = process_.node(i);
    return n.name.empty() ? n.id : n.name;
  }

  void schedule(int index, int64_t at, Command command) {
    Action a;
    a.at = at;
    a.case_index = index;
    a.command = std::move(command);
    actions_.push(std::move(a));
  }

  // The simulated departments and staff.
  void react(int index, Case& c, const Record& rec) {
    switch (rec.kind) {
      case RecordKind::kJobCreated: {
        Command done{CommandKind::kCompleteJob};
        done.key = rec.key;
        if (rec.name == "data-sharing.verify-identity") {
          done.variables["identityVerified"] = id_number_valid(c.applicant.id_number);
        } else if (rec.name == "dpf.issue-certificate") {
          done.variables["certificateNumber"] = certificate_number(c.applicant);
        }
        say(c, fmt::format("{} → {}", element_name(rec.element), rec.name));
        schedule(index, now_ + pick(1, 20) * kMinute, std::move(done));
        break;
      }
      case RecordKind::kUserTaskCreated: {
        const json::object& task = rec.payload.as_object();
        std::string groups;
        if (const json::value* g = task.if_contains("candidateGroups")) groups = json::serialize(*g);
        say(c, fmt::format("{} waits for {} in {}", element_name(rec.element), groups,
                           task.if_contains("region") ? json::value_to<std::string>(task.at("region")) : "-"));
        Command done{CommandKind::kCompleteUserTask};
        done.key = rec.key;
        const std::string& id = process_.node(rec.element).id;
        int64_t delay = pick(1, 30) * kHour;
        if (id == "accept") done.variables["accepted"] = chance(0.9);
        if (id == "assess") {
          done.variables["meetsStandard"] = chance(0.85);
          json::object disability;
          disability["category"] = c.applicant.category;
          disability["level"] = c.applicant.level;
          done.variables["disability"] = std::move(disability);
          delay = pick(24, 96) * kHour;
        }
        if (id == "review") {
          done.variables["approved"] = chance(0.95);
          // Now and then the county office lets a review slip past its limit.
          delay = chance(0.25) ? pick(11 * 24, 13 * 24) * kHour : pick(2, 72) * kHour;
        }
        schedule(index, now_ + delay, std::move(done));
        break;
      }
      case RecordKind::kTimerScheduled: {
        Command fire{CommandKind::kFireTimer};
        fire.key = rec.key;
        schedule(index, rec.due_at, std::move(fire));
        break;
      }
      case RecordKind::kEscalationUncaught:
        c.escalated = true;
        say(c, fmt::format("escalated: {} ({})", element_name(rec.element), rec.name));
        break;
      case RecordKind::kIncidentCreated:
        say(c, "incident: " + rec.text);
        break;
      case RecordKind::kElementCompleted:
        if (rec.element != model::kNoIndex && process_.node(rec.element).type == model::ElementType::kEndEvent) {
          c.outcome = element_name(rec.element);
        }
        break;
      case RecordKind::kInstanceCompleted:
        c.ended = now_;
        say(c, fmt::format("finished: {}", c.outcome));
        break;
      default: break;
    }
  }

  int summary() {
    std::map<std::string, int> outcomes;
    int unfinished = 0, escalated = 0;
    double total_days = 0;
    int finished = 0;
    for (const Case& c : cases_) {
      if (c.state.status != core::InstanceStatus::kCompleted) {
        ++unfinished;
        continue;
      }
      ++finished;
      outcomes[c.outcome]++;
      escalated += c.escalated;
      total_days += static_cast<double>(c.ended - c.started) / (24.0 * kHour);
    }
    fmt::print("\n{} applications through '{}': {} finished, {} unfinished, {} escalated\n", cases_.size(),
               process_.process().id, finished, unfinished, escalated);
    for (const auto& [outcome, n] : outcomes) fmt::print("  {:<12} {}\n", outcome, n);
    if (finished > 0) fmt::print("  average time from application to end: {:.1f} calendar days\n", total_days / finished);
    return unfinished == 0 ? 0 : 1;
  }

  const DemoOptions& options_;
  const core::ExecutableProcess& process_;
  std::mt19937_64 rng_;
  int64_t now_;
  std::vector<Case> cases_;
  std::priority_queue<Action, std::vector<Action>, std::greater<Action>> actions_;
};

}  // namespace

int run_demo(const DemoOptions& options) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options.workflows, ec)) {
    if (entry.path().extension() == ".bpmn") files.push_back(entry.path());
  }
  if (ec || files.empty()) {
    fmt::print(stderr, "banshi demo: no workflows found in '{}'\n", options.workflows);
    return 2;
  }
  std::sort(files.begin(), files.end());
  std::map<std::string, std::shared_ptr<const model::Definitions>> deployed;
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    model::LoadResult r = model::load_bpmn(s.str());
    if (!r.ok()) {
      fmt::print(stderr, "banshi demo: {} does not deploy; run banshi validate {}\n", f.string(), f.string());
      return 1;
    }
    for (const model::Process& p : r.definitions->processes) {
      if (!p.executable) continue;
      deployed[p.id] = r.definitions;
      fmt::print("deployed {} ({}, {} elements, {} flows)\n", p.id, p.name, p.nodes.size(), p.flows.size());
    }
  }
  auto it = deployed.find("certificate-new-issue");
  if (it == deployed.end()) {
    fmt::print(stderr, "banshi demo: the workflow 'certificate-new-issue' is not among the shipped workflows\n");
    return 1;
  }
  const model::Process* process = it->second->find_process("certificate-new-issue");
  core::ExecutableProcess executable(it->second, *process);
  // A Monday morning, so the first applications meet an open office.
  int64_t start = *model::parse_date_time("2026-03-02T09:00:00+08:00");
  fmt::print("\nrunning {} synthetic applications (names and ID numbers are made up and shown masked)\n\n",
             options.applications);
  Demo demo(options, executable, start);
  return demo.run();
}

}  // namespace banshi::demo
