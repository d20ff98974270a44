#include "scenario/scenario.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "calendar/business_calendar.h"
#include "core/serialize.h"
#include "core/start_timer.h"
#include "core/step.h"
#include "dmn/evaluate.h"
#include "dmn/model.h"
#include "expr/json_text.h"
#include "expr/value.h"
#include "model/iso8601.h"
#include "model/load.h"

namespace banshi::scenario {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// The decisions of the DMN files a scenario deployed, for business rule tasks;
// a later deploy of the same decision id replaces it, as for processes.
class ScenarioDecisions final : public core::DecisionEvaluator {
 public:
  void add(std::shared_ptr<const dmn::Definitions> model) {
    for (const dmn::Decision& d : model->decisions) models_[d.id] = model;
  }
  void set_now(int64_t now_ms) { now_ms_ = now_ms; }
  Result<json::value> evaluate(const std::string& decision_id, const json::object& variables) const override {
    auto it = models_.find(decision_id);
    if (it == models_.end()) return Error{"not-found", fmt::format("no decision '{}' is deployed", decision_id)};
    expr::JsonVariables vars(variables);
    dmn::EvalOptions options;
    options.now_epoch_ms = now_ms_;
    dmn::DecisionResult r = dmn::evaluate(*it->second, decision_id, vars, options);
    if (!r.errors.empty()) return Error{"decision-failed", r.errors.front()};
    return expr::to_json(r.value);
  }

 private:
  std::map<std::string, std::shared_ptr<const dmn::Definitions>> models_;
  int64_t now_ms_ = 0;
};
using core::Command;
using core::CommandKind;
using core::Key;
using core::Record;
using core::RecordKind;

constexpr int32_t kZone = 480;  // scenarios run in China Standard Time

struct Deployed {
  std::shared_ptr<const model::Definitions> definitions;
  std::unique_ptr<core::ExecutableProcess> process;
  std::string file;
  std::string xml;  // the file's bytes: the same bytes again make no new version
};

// A timer start event's next firing (core/start_timer.h), as the engine keeps it.
struct StartTimer {
  const Deployed* deployed = nullptr;
  core::StartTimerSchedule schedule;
};

struct Instance {
  int id = 0;
  const Deployed* deployed = nullptr;
  core::InstanceState state;
  int parent = 0;         // 0: top level
  Key parent_element = 0; // the call activity in the parent
};

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

std::string format_time(int64_t ms) {
  int64_t local = ms + int64_t{kZone} * 60000;
  int64_t days = local >= 0 ? local / 86400000 : -((-local + 86399999) / 86400000);
  int64_t rest = local - days * 86400000;
  int64_t y;
  unsigned m, d;
  model::civil_from_days(days, y, m, d);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+08:00", y, m, d, rest / 3600000, rest / 60000 % 60,
                     rest / 1000 % 60);
}

// Whether `actual` contains everything `expected` says (objects by key, the rest equal).
bool contains(const json::value& actual, const json::value& expected) {
  if (expected.is_object()) {
    if (!actual.is_object()) return false;
    for (const auto& [k, v] : expected.as_object()) {
      const json::value* a = actual.as_object().if_contains(k);
      if (!a || !contains(*a, v)) return false;
    }
    return true;
  }
  if (expected.is_number() && actual.is_number()) return expected.to_number<double>() == actual.to_number<double>();
  return actual == expected;
}

class Session {
 public:
  Session(fs::path file, std::map<std::string, ProcessCoverage>& coverage, RunnerOptions options)
      : file_(std::move(file)), coverage_(coverage), options_(options) {
    now_ = *model::parse_date_time("2026-03-02T09:00:00+08:00");  // a Monday
  }

  ScenarioResult run() {
    result_.file = file_.string();
    std::ifstream in(file_);
    if (!in) {
      result_.failures.push_back(fmt::format("{}: cannot open the scenario", file_.string()));
      return result_;
    }
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    for (size_t i = 0; i < lines.size(); ++i) {
      line_ = i + 1;
      std::string line = trim(lines[i]);
      if (line.empty() || line[0] == '#') continue;
      if (line.rfind("expect events:", 0) == 0) {
        std::vector<std::string> block;
        while (i + 1 < lines.size() && !trim(lines[i + 1]).empty()) block.push_back(trim(lines[++i]));
        expect_events(block);
        continue;
      }
      execute(line);
      if (fatal_) break;
    }
    return result_;
  }

 private:
  void fail(std::string message) { result_.failures.push_back(fmt::format("{}:{}: {}", file_.string(), line_, message)); }

  void execute(const std::string& line) {
    auto w = words(line);
    const std::string& verb = w[0];
    bool reject = false;
    std::string text = line;
    if (verb == "reject") {
      reject = true;
      text = trim(std::string_view(line).substr(6));
      w.erase(w.begin());
      if (w.empty()) return fail("'reject' needs a command after it");
    }
    if (w[0] == "expect") {
      ++result_.expectations;
      expect(trim(std::string_view(text).substr(6)));
      return;
    }
    ++result_.commands;
    last_.clear();
    rejected_.reset();
    rejecting_ = reject;
    command(w, text);
    rejecting_ = false;
    deliver();
    last_rejection_ = rejected_.value_or("");
    if (reject && !rejected_) fail(fmt::format("'{}' was accepted; the scenario expected it to be rejected", text));
    if (!reject && rejected_) fail(fmt::format("'{}' was rejected: {}", text, *rejected_));
  }

  // JSON after " with ", or an empty object.
  std::optional<json::object> variables(const std::string& text) {
    size_t at = text.find(" with ");
    if (at == std::string::npos) return json::object{};
    boost::system::error_code ec;
    json::value v = json::parse(text.substr(at + 6), ec);
    if (ec || !v.is_object()) {
      fail(fmt::format("the variables after 'with' must be a JSON object: {}", text.substr(at + 6)));
      return std::nullopt;
    }
    return v.as_object();
  }

  std::string option(const std::vector<std::string>& w, const std::string& name) {
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      if (w[i] == name) return w[i + 1];
    }
    return {};
  }

  void command(const std::vector<std::string>& w, const std::string& text) {
    const std::string& verb = w[0];
    if (verb == "deploy" && w.size() >= 2) return deploy(w[1]);
    if (verb == "start" && w.size() >= 2) return start(w, text);
    if (verb == "complete" && w.size() >= 3 && w[1] == "job") return on_job(w[2], text, CommandKind::kCompleteJob);
    if (verb == "fail" && w.size() >= 3 && w[1] == "job") return on_job(w[2], text, CommandKind::kFailJob);
    if (verb == "throw" && w.size() >= 4 && w[1] == "error") return on_job(w[2], text, CommandKind::kThrowJobError);
    if (verb == "complete" && w.size() >= 3 && w[1] == "task") return complete_task(w[2], text);
    if (verb == "publish" && w.size() >= 3 && w[1] == "message") return publish(w[2], option(w, "key"), text);
    if (verb == "signal" && w.size() >= 2) return signal(w[1], text);
    if (verb == "advance" && w.size() >= 2) return advance(w[1]);
    if (verb == "cancel") return send(current(), Command{CommandKind::kCancel});
    if (verb == "resolve" && w.size() >= 3 && w[1] == "incident") return resolve(w[2], option(w, "retries"));
    if (verb == "set" && w.size() >= 2 && w[1] == "variables") {
      auto vars = variables(text);
      if (!vars) return;
      Command c{CommandKind::kSetVariables};
      c.variables = *vars;
      return send(current(), c);
    }
    if (verb == "activate" && w.size() >= 2) {
      Command c{CommandKind::kActivateElement};
      c.name = w[1];
      return send(current(), c);
    }
    if (verb == "terminate" && w.size() >= 2) {
      auto found = find_element(w[1]);
      if (!found) return;
      Command c{CommandKind::kTerminateElement};
      c.key = found->second;
      return send(found->first, c);
    }
    if (verb == "restart") return restart();
    if (verb == "switch" && w.size() >= 3 && w[1] == "to") return switch_to(w[2]);
    if (verb == "calendar" && w.size() >= 2) return load_calendar(w[1]);
    fail(fmt::format("unknown command '{}'", text));
  }

  void deploy(const std::string& relative) {
    if (!allowed_path(relative)) return;
    fs::path path = file_.parent_path() / relative;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      fatal_ = true;
      return fail(fmt::format("cannot read {}", path.string()));
    }
    std::ostringstream s;
    s << in.rdbuf();
    if (path.extension() == ".dmn" || dmn::looks_like_dmn(s.str())) {
      dmn::LoadResult d = dmn::load_dmn(s.str());
      if (!d.ok()) {
        std::string why;
        for (const auto& diag : d.diagnostics) {
          if (diag.severity == model::Severity::kError) why += "\n  " + model::format_diagnostic(diag, path.string());
        }
        return refuse_deploy(relative, why);
      }
      decisions_.add(d.definitions);
      return;
    }
    model::LoadResult r = model::load_bpmn(s.str());
    if (!r.ok()) {
      std::string why;
      for (const auto& d : r.diagnostics) {
        if (d.severity == model::Severity::kError) why += "\n  " + model::format_diagnostic(d, path.string());
      }
      return refuse_deploy(relative, why);
    }
    // Timer start events are scheduled at deploy, as the engine does; a bad
    // value refuses the file.
    std::vector<model::Diagnostic> timer_errors;
    std::map<std::string, std::vector<core::StartTimerSchedule>> schedules;
    for (const model::Process& p : r.definitions->processes) {
      schedules[p.id] = core::schedule_start_timers(p, {now_, kZone, calendar_.get()}, timer_errors);
    }
    if (!timer_errors.empty()) {
      std::string why;
      for (const auto& d : timer_errors) why += "\n  " + model::format_diagnostic(d, path.string());
      return refuse_deploy(relative, why);
    }
    for (const model::Process& p : r.definitions->processes) {
      if (!p.executable) continue;
      // The same bytes again: no new version, the start timers stay.
      if (auto same = deployed_.find(p.id); same != deployed_.end() && same->second->xml == s.str()) continue;
      auto d = std::make_unique<Deployed>();
      d->definitions = r.definitions;
      d->process = std::make_unique<core::ExecutableProcess>(r.definitions, p);
      d->file = relative;
      d->xml = s.str();
      // A new version replaces the start timers of the earlier ones.
      std::erase_if(start_timers_, [&](const StartTimer& t) { return t.deployed->process->process().id == p.id; });
      for (const core::StartTimerSchedule& t : schedules[p.id]) start_timers_.push_back(StartTimer{d.get(), t});
      ProcessCoverage& cov = coverage_[p.id];
      cov.process_id = p.id;
      cov.file = relative;
      cov.elements.clear();
      cov.flows.clear();
      for (const auto& n : p.nodes) cov.elements.push_back(n.id);
      for (const auto& f : p.flows) cov.flows.push_back(f.id);
      // Instances of the earlier version keep running on it.
      if (auto earlier = deployed_.find(p.id); earlier != deployed_.end()) retired_.push_back(std::move(earlier->second));
      deployed_[p.id] = std::move(d);
    }
  }

  // A model that does not deploy stops the scenario, unless the line was
  // `reject deploy FILE`: then the refusal is what the scenario expects.
  void refuse_deploy(const std::string& relative, const std::string& why) {
    std::string message = fmt::format("{} does not deploy:{}", relative, why);
    if (rejecting_) {
      rejected_ = std::move(message);
      return;
    }
    fatal_ = true;
    fail(std::move(message));
  }

  // Business calendars (a folder of YEAR.toml files) for FEEL's working-day built-ins.
  // Under confine_to_folder, a name must stay inside the scenario's folder.
  bool allowed_path(const std::string& relative) {
    if (!options_.confine_to_folder) return true;
    bool plain = !relative.empty() && relative.find_first_of("/\\") == std::string::npos && relative != "." &&
                 relative != ".." && relative.find('\0') == std::string::npos;
    if (!plain) {
      fatal_ = true;
      fail(fmt::format("'{}' is not one of this test's files", relative));
    }
    return plain;
  }

  void load_calendar(const std::string& relative) {
    if (!allowed_path(relative)) return;
    auto cal = calendar::BusinessCalendar::load_directory((file_.parent_path() / relative).string());
    if (!cal.ok()) {
      fatal_ = true;
      return fail(cal.error().message);
    }
    calendar_ = std::make_unique<calendar::BusinessCalendar>(std::move(cal).value());
  }

  void start(const std::vector<std::string>& w, const std::string& text) {
    auto it = deployed_.find(w[1]);
    if (it == deployed_.end()) return fail(fmt::format("process '{}' is not deployed", w[1]));
    auto vars = variables(text);
    if (!vars) return;
    Command c{CommandKind::kStart};
    c.name = option(w, "at");
    c.variables = *vars;
    int id = new_instance(it->second.get(), 0, 0);
    current_ = id;
    send(id, c);
  }

  int new_instance(const Deployed* d, int parent, Key parent_element) {
    Instance inst;
    inst.id = static_cast<int>(instances_.size()) + 1;
    inst.deployed = d;
    inst.parent = parent;
    inst.parent_element = parent_element;
    instances_.push_back(std::move(inst));
    return instances_.back().id;
  }

  Instance& instance(int id) { return instances_.at(static_cast<size_t>(id - 1)); }
  int current() const { return current_; }

  // Finds the open job, task or element instance at an element id, in any instance.
  template <typename Map>
  std::optional<std::pair<int, Key>> find_in(const std::string& element_id, Map core::InstanceState::*table,
                                              const char* what) {
    for (Instance& inst : instances_) {
      for (const auto& [key, item] : inst.state.*table) {
        const core::ElementInstance* ei = inst.state.find(item.element_instance);
        if (ei && inst.deployed->process->node(ei->element).id == element_id) return std::make_pair(inst.id, key);
      }
    }
    // Like the engine, refuse the command; the scenario decides whether that was expected.
    rejected_ = fmt::format("there is no open {} at '{}'", what, element_id);
    return std::nullopt;
  }

  std::optional<std::pair<int, Key>> find_element(const std::string& element_id) {
    for (Instance& inst : instances_) {
      for (const auto& [key, ei] : inst.state.elements) {
        if (ei.element != model::kNoIndex && !ei.is_mi_body && inst.deployed->process->node(ei.element).id == element_id) {
          return std::make_pair(inst.id, key);
        }
      }
    }
    fail(fmt::format("nothing is active at '{}'", element_id));
    return std::nullopt;
  }

  void on_job(const std::string& element_id, const std::string& text, CommandKind kind) {
    auto found = find_in(element_id, &core::InstanceState::jobs, "job");
    if (!found) return;
    auto vars = variables(text);
    if (!vars) return;
    auto w = words(text);
    Command c{kind};
    c.key = found->second;
    c.variables = *vars;
    if (kind == CommandKind::kThrowJobError) c.name = w[3];
    if (kind == CommandKind::kFailJob) {
      std::string retries = option(w, "retries");
      if (!retries.empty()) c.retries = std::stoi(retries);
      c.message = option(w, "message");
      c.retry_at = now_;
    }
    send(found->first, c);
  }

  void complete_task(const std::string& element_id, const std::string& text) {
    auto found = find_in(element_id, &core::InstanceState::user_tasks, "user task");
    if (!found) return;
    auto vars = variables(text);
    if (!vars) return;
    Command c{CommandKind::kCompleteUserTask};
    c.key = found->second;
    c.variables = *vars;
    send(found->first, c);
  }

  void publish(const std::string& name, const std::string& key, const std::string& text) {
    auto vars = variables(text);
    if (!vars) return;
    if (!correlate(name, key, *vars)) rejected_ = fmt::format("no instance waits for message '{}' with key '{}'", name, key);
  }

  // Like the engine: the message reaches every instance waiting for it with
  // that key (one subscription each), and starts the latest deployment of every
  // process with a message start event of that name.
  bool correlate(const std::string& name, const std::string& key, const json::object& vars) {
    bool any = false;
    // By index: a delivery may start children, which appends to instances_.
    for (size_t i = 0, n = instances_.size(); i < n; ++i) {
      Instance& inst = instances_[i];
      for (const auto& [sub_key, sub] : inst.state.message_subscriptions) {
        if (sub.name != name || sub.correlation_key != key) continue;
        Command c{CommandKind::kCorrelateMessage};
        c.key = sub_key;
        c.name = name;
        c.variables = vars;
        send(inst.id, c);
        any = true;
        break;
      }
    }
    return start_by_event(model::EventKind::kMessage, name, vars) || any;
  }

  // Starts an instance at each top-level message or signal start event named
  // so, in every deployed process; returns whether any started.
  bool start_by_event(model::EventKind kind, const std::string& name, const json::object& vars) {
    std::vector<std::pair<const Deployed*, std::string>> starts;
    for (const auto& [pid, d] : deployed_) {
      const model::Process& p = d->process->process();
      for (model::Index s : p.start_events) {
        const model::FlowNode& n = p.nodes[s];
        if (n.event_kind != kind || n.events.empty() || n.events.front().ref == model::kNoIndex) continue;
        const std::string& ev_name = kind == model::EventKind::kMessage ? d->definitions->messages[n.events.front().ref].name
                                                                        : d->definitions->signals[n.events.front().ref].name;
        if (ev_name == name) starts.emplace_back(d.get(), n.id);
      }
    }
    for (const auto& [d, start_event] : starts) {
      Command c{CommandKind::kStart};
      c.name = start_event;
      c.variables = vars;
      int id = new_instance(d, 0, 0);
      send(id, c);
    }
    return !starts.empty();
  }

  // Makes the newest top-level instance of a process the current one, for
  // instances started by a message or signal.
  void switch_to(const std::string& process_id) {
    for (auto it = instances_.rbegin(); it != instances_.rend(); ++it) {
      if (it->parent == 0 && it->deployed->process->process().id == process_id) {
        current_ = it->id;
        return;
      }
    }
    fail(fmt::format("no instance of '{}' has started", process_id));
  }

  void signal(const std::string& name, const std::string& text) {
    auto vars = variables(text);
    if (!vars) return;
    if (!broadcast(name, *vars)) rejected_ = fmt::format("no instance waits for signal '{}'", name);
  }

  bool broadcast(const std::string& name, const json::object& vars) {
    bool any = false;
    for (size_t i = 0, n = instances_.size(); i < n; ++i) {
      Instance& inst = instances_[i];
      bool waits = false;
      for (const auto& [k, s] : inst.state.signal_subscriptions) waits |= s.name == name;
      if (!waits) continue;
      Command c{CommandKind::kThrowSignal};
      c.name = name;
      c.variables = vars;
      send(inst.id, c);
      any = true;
    }
    return start_by_event(model::EventKind::kSignal, name, vars) || any;
  }

  void advance(const std::string& duration) {
    auto d = model::parse_duration(duration);
    if (!d.ok()) return fail(d.error().message);
    int64_t target = model::add_duration(now_, *d, kZone);
    // Fire due timers in time order, moving the clock to each one.
    for (int guard = 0; guard < 100000; ++guard) {
      int best_instance = 0;
      Key best_timer = 0;
      int64_t best_due = target + 1;
      // Timer start events first when due at the same instant.
      size_t best_start = start_timers_.size();
      for (size_t i = 0; i < start_timers_.size(); ++i) {
        if (start_timers_[i].schedule.due_at < best_due) {
          best_due = start_timers_[i].schedule.due_at;
          best_start = i;
        }
      }
      for (Instance& inst : instances_) {
        if (inst.state.status != core::InstanceStatus::kActive) continue;
        for (const auto& [k, t] : inst.state.timers) {
          if (t.due_at < best_due) {
            best_due = t.due_at;
            best_instance = inst.id;
            best_timer = k;
          }
        }
      }
      if (best_instance == 0 && best_start < start_timers_.size() && !fatal_) {
        now_ = std::max(now_, best_due);
        fire_start_timer(best_start);
        continue;
      }
      if (best_instance == 0 || fatal_) break;
      now_ = std::max(now_, best_due);
      Command c{CommandKind::kFireTimer};
      c.key = best_timer;
      send(best_instance, c);
    }
    now_ = std::max(now_, target);
  }

  // A timer start event fires: a new instance of its version starts there
  // (it does not become current; see `switch to`), and a cycle moves on.
  void fire_start_timer(size_t index) {
    StartTimer t = start_timers_[index];
    if (auto next = core::next_start_timer(t.schedule, now_, kZone)) {
      start_timers_[index].schedule = *next;
    } else {
      start_timers_.erase(start_timers_.begin() + static_cast<std::ptrdiff_t>(index));
    }
    Command c{CommandKind::kStart};
    c.name = t.schedule.element_id;
    send(new_instance(t.deployed, 0, 0), c);
  }

  void resolve(const std::string& element_id, const std::string& retries) {
    for (Instance& inst : instances_) {
      for (const auto& [key, inc] : inst.state.incidents) {
        const core::ElementInstance* ei = inst.state.find(inc.element_instance);
        std::string at = ei && ei->element != model::kNoIndex ? inst.deployed->process->node(ei->element).id
                                                              : inst.deployed->process->process().id;
        if (at != element_id) continue;
        Command c{CommandKind::kResolveIncident};
        c.key = key;
        if (!retries.empty()) c.retries = std::stoi(retries);
        send(inst.id, c);
        return;
      }
    }
    fail(fmt::format("there is no incident at '{}'", element_id));
  }

  void restart() {
    // Every state goes through the stored format and back, as after a crash.
    for (Instance& inst : instances_) {
      std::string bytes = core::encode(inst.state);
      auto decoded = core::decode(bytes);
      if (!decoded.ok()) return fail("restart: the state does not read back: " + decoded.error().message);
      if (core::encode(*decoded) != bytes) return fail("restart: the state reads back differently");
      inst.state = std::move(decoded).value();
    }
  }

  // Applies a command, then acts on the effects like the engine service would,
  // until nothing more follows.
  void send(int instance_id, const Command& first) {
    if (fatal_) return;
    if (instance_id < 1 || static_cast<size_t>(instance_id) > instances_.size()) {
      return fail("no instance has been started yet");
    }
    std::vector<std::pair<int, Command>> pending{{instance_id, first}};
    bool first_command = true;
    while (!pending.empty()) {
      if (options_.max_steps != 0 && ++steps_ > options_.max_steps) {
        fatal_ = true;
        return fail(fmt::format("the scenario ran more than {} steps", options_.max_steps));
      }
      auto [id, cmd] = std::move(pending.front());
      pending.erase(pending.begin());
      Instance& inst = instance(id);
      std::vector<Record> out;
      core::StepEnv env;
      env.now_ms = now_;
      env.utc_offset_minutes = kZone;
      env.working_days = calendar_.get();
      decisions_.set_now(now_);
      env.decisions = &decisions_;
      Result<void> r = core::step(*inst.deployed->process, inst.state, cmd, env, out);
      if (!r.ok()) {
        if (first_command) rejected_ = r.error().message;
        else fail("a follow-up command was rejected: " + r.error().message);
        return;
      }
      first_command = false;
      for (const Record& rec : out) {
        log(inst, rec);
        follow_up(inst, rec, pending);
      }
    }
  }

  void log(Instance& inst, const Record& rec) {
    const core::ExecutableProcess& p = *inst.deployed->process;
    ProcessCoverage& cov = coverage_[p.process().id];
    if (rec.kind == RecordKind::kElementActivated && rec.element != model::kNoIndex) {
      cov.elements_reached.insert(p.node(rec.element).id);
    }
    if (rec.kind == RecordKind::kSequenceFlowTaken) cov.flows_taken.insert(p.flow(rec.element).id);
    if (rec.kind == RecordKind::kUserTaskCreated) task_payloads_[p.node(rec.element).id] = rec.payload;
    if (rec.kind == RecordKind::kInstanceCompleted) ended_variables_[inst.id] = rec.payload.as_object();
    if (rec.kind == RecordKind::kElementCompleted && rec.element != model::kNoIndex && rec.name.empty()) {
      path_.push_back(p.node(rec.element).id);
    }
    last_.push_back(describe(inst, rec));
  }

  std::string describe(const Instance& inst, const Record& rec) const {
    const core::ExecutableProcess& p = *inst.deployed->process;
    std::string kind(core::record_kind_name(rec.kind));
    auto element = [&](model::Index i) {
      return i == model::kNoIndex ? p.process().id : p.node(i).id;
    };
    switch (rec.kind) {
      case RecordKind::kSequenceFlowTaken: return kind + " " + p.flow(rec.element).id;
      case RecordKind::kVariableCreated:
      case RecordKind::kVariableUpdated: return fmt::format("{} {} = {}", kind, rec.name, expr::json_text(rec.payload));
      case RecordKind::kJobCreated:
      case RecordKind::kJobCompleted:
      case RecordKind::kJobFailed: return fmt::format("{} {} {}", kind, element(rec.element), rec.name);
      case RecordKind::kTimerScheduled: return fmt::format("{} {} {}", kind, element(rec.element), format_time(rec.due_at));
      case RecordKind::kMessageSubscriptionOpened:
      case RecordKind::kMessageSubscriptionClosed:
      case RecordKind::kMessageCorrelated:
      case RecordKind::kMessagePublished:
        return fmt::format("{} {} {}{}", kind, element(rec.element), rec.name, rec.text.empty() ? "" : " key=" + rec.text);
      case RecordKind::kSignalSubscriptionOpened:
      case RecordKind::kSignalSubscriptionClosed:
      case RecordKind::kSignalThrown: return fmt::format("{} {} {}", kind, element(rec.element), rec.name);
      case RecordKind::kIncidentCreated: return fmt::format("{} {} {}", kind, element(rec.element), rec.name);
      case RecordKind::kErrorUncaught:
      case RecordKind::kEscalationUncaught:
      case RecordKind::kChildInstanceRequested: return fmt::format("{} {} {}", kind, element(rec.element), rec.name);
      case RecordKind::kInstanceCompleted:
      case RecordKind::kInstanceTerminated: return kind + " " + p.process().id;
      default: break;
    }
    std::string out = kind + " " + element(rec.element);
    if (rec.name == "multi-instance-body") out += " (body)";
    return out;
  }

  void follow_up(Instance& inst, const Record& rec, std::vector<std::pair<int, Command>>& pending) {
    switch (rec.kind) {
      case RecordKind::kChildInstanceRequested: {
        auto it = deployed_.find(rec.name);
        if (it == deployed_.end()) {
          fail(fmt::format("the called process '{}' is not deployed", rec.name));
          return;
        }
        int child = new_instance(it->second.get(), inst.id, rec.key);
        Command c{CommandKind::kStart};
        c.key = rec.key;
        c.variables = rec.payload.as_object().at("variables").as_object();
        pending.emplace_back(child, c);
        break;
      }
      case RecordKind::kChildInstanceCanceled: {
        for (Instance& other : instances_) {
          if (other.parent == inst.id && other.parent_element == rec.key &&
              other.state.status == core::InstanceStatus::kActive) {
            pending.emplace_back(other.id, Command{CommandKind::kCancel});
          }
        }
        break;
      }
      case RecordKind::kInstanceCompleted:
        if (inst.parent != 0) {
          Command c{CommandKind::kChildCompleted};
          c.key = inst.parent_element;
          c.variables = rec.payload.as_object();
          pending.emplace_back(inst.parent, c);
        }
        break;
      case RecordKind::kErrorUncaught: {
        // Where the error was first thrown: here, or further down for one that came up from a child.
        bool from_child = rec.payload.is_object() && rec.payload.as_object().if_contains("fromChild") &&
                          rec.payload.as_object().at("fromChild").as_bool();
        std::pair<int, Key> origin{inst.id, rec.key};
        if (from_child) origin = error_origin_[{inst.id, rec.key}];
        if (inst.parent != 0) {
          error_origin_[{inst.parent, inst.parent_element}] = origin;
          Command c{CommandKind::kChildError};
          c.key = inst.parent_element;
          c.name = rec.name;
          c.message = rec.text;
          pending.emplace_back(inst.parent, c);
        } else if (from_child) {
          Command c{CommandKind::kErrorNotCaught};
          c.key = origin.second;
          c.name = rec.name;
          c.message = rec.text;
          pending.emplace_back(origin.first, c);
        }
        break;
      }
      case RecordKind::kEscalationUncaught:
        if (inst.parent != 0) {
          Command c{CommandKind::kChildEscalation};
          c.key = inst.parent_element;
          c.name = rec.name;
          pending.emplace_back(inst.parent, c);
        }
        break;
      case RecordKind::kMessagePublished: {
        json::object vars = rec.payload.is_object() ? rec.payload.as_object() : json::object{};
        std::string name = rec.name, key = rec.text;
        pending_deliveries_.push_back([this, name, key, vars] { correlate(name, key, vars); });
        break;
      }
      case RecordKind::kSignalThrown: {
        json::object vars = rec.payload.is_object() ? rec.payload.as_object() : json::object{};
        std::string name = rec.name;
        pending_deliveries_.push_back([this, name, vars] { broadcast(name, vars); });
        break;
      }
      default: break;
    }
  }

  // --- expectations ---------------------------------------------------------

  std::vector<std::string> active_elements() {
    std::vector<std::string> out;
    for (Instance& inst : instances_) {
      for (const auto& [k, ei] : inst.state.elements) {
        if (ei.element == model::kNoIndex) continue;
        out.push_back(inst.deployed->process->node(ei.element).id + (ei.is_mi_body ? "(body)" : ""));
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
    return out.empty() ? "(none)" : out;
  }

  static std::vector<std::string> sorted_words(std::string_view s) {
    auto w = words(s);
    std::sort(w.begin(), w.end());
    return w;
  }

  void expect(const std::string& what) {
    deliver();
    Instance* inst = current_ ? &instance(current_) : nullptr;
    auto after = [&](const char* prefix) { return trim(std::string_view(what).substr(std::strlen(prefix))); };
    if (what.rfind("active:", 0) == 0) {
      auto want = sorted_words(after("active:"));
      auto got = active_elements();
      if (want.size() == 1 && want[0] == "(none)") want.clear();
      if (got != want) fail(fmt::format("active elements are [{}], expected [{}]", join(got), join(want)));
      return;
    }
    if (what.rfind("path:", 0) == 0) {
      auto want = words(after("path:"));
      if (path_ != want) fail(fmt::format("the path is [{}], expected [{}]", join(path_), join(want)));
      return;
    }
    if (what.rfind("jobs:", 0) == 0 || what.rfind("tasks:", 0) == 0 || what.rfind("timers:", 0) == 0) {
      bool jobs = what[0] == 'j', tasks = what[0] == 't' && what[1] == 'a';
      std::vector<std::string> got;
      for (Instance& i : instances_) {
        auto add = [&](Key ei_key, model::Index element) {
          const core::ElementInstance* ei = i.state.find(ei_key);
          (void)ei;
          // The case's own SLA deadline belongs to no element: listed under the process id.
          got.push_back(element == model::kNoIndex ? i.deployed->process->process().id
                                                   : i.deployed->process->node(element).id);
        };
        if (jobs) for (const auto& [k, j] : i.state.jobs) add(j.element_instance, i.state.find(j.element_instance)->element);
        else if (tasks) for (const auto& [k, t] : i.state.user_tasks) add(t.element_instance, i.state.find(t.element_instance)->element);
        else for (const auto& [k, t] : i.state.timers) add(t.element_instance, t.element);
      }
      std::sort(got.begin(), got.end());
      auto want = sorted_words(after(jobs ? "jobs:" : tasks ? "tasks:" : "timers:"));
      if (want.size() == 1 && want[0] == "(none)") want.clear();
      if (got != want) fail(fmt::format("{} are [{}], expected [{}]", jobs ? "jobs" : tasks ? "user tasks" : "timers", join(got), join(want)));
      return;
    }
    if (what.rfind("start timers:", 0) == 0) {
      std::vector<std::string> got;
      for (const StartTimer& t : start_timers_) got.push_back(t.schedule.element_id);
      std::sort(got.begin(), got.end());
      auto want = sorted_words(after("start timers:"));
      if (want.size() == 1 && want[0] == "(none)") want.clear();
      if (got != want) fail(fmt::format("start timers are [{}], expected [{}]", join(got), join(want)));
      return;
    }
    if (what.rfind("start timer ", 0) == 0) {
      // expect start timer ELEMENT at DATETIME
      auto w = words(after("start timer "));
      if (w.size() != 3 || w[1] != "at") return fail("write: expect start timer ELEMENT at DATETIME");
      auto at = model::parse_date_time(w[2], kZone);
      if (!at.ok()) return fail(at.error().message);
      for (const StartTimer& t : start_timers_) {
        if (t.schedule.element_id != w[0]) continue;
        if (t.schedule.due_at != *at) {
          fail(fmt::format("start timer {} is due at {}, expected {}", w[0], format_time(t.schedule.due_at),
                           format_time(*at)));
        }
        return;
      }
      return fail(fmt::format("no start timer is scheduled at '{}'", w[0]));
    }
    if (what.rfind("instances ", 0) == 0) {
      // expect instances PROCESS: N (top-level instances started so far)
      std::string rest = after("instances ");
      size_t colon = rest.find(':');
      if (colon == std::string::npos) return fail("write: expect instances PROCESS: N");
      std::string process_id = trim(std::string_view(rest).substr(0, colon));
      std::string count = trim(std::string_view(rest).substr(colon + 1));
      long got = std::count_if(instances_.begin(), instances_.end(), [&](const Instance& i) {
        return i.parent == 0 && i.deployed->process->process().id == process_id;
      });
      if (std::to_string(got) != count) {
        fail(fmt::format("{} instances of '{}' started, expected {}", got, process_id, count));
      }
      return;
    }
    if (what.rfind("rejection:", 0) == 0) {
      std::string want(after("rejection:"));
      if (last_rejection_.empty()) return fail("the last command was not rejected");
      if (last_rejection_.find(want) == std::string::npos) {
        fail(fmt::format("the last command was rejected with '{}', which does not contain '{}'", last_rejection_, want));
      }
      return;
    }
    if (!inst) return fail("no instance has been started");
    if (what == "completed" || what == "terminated" || what == "running") {
      core::InstanceStatus want = what == "completed"    ? core::InstanceStatus::kCompleted
                                  : what == "terminated" ? core::InstanceStatus::kTerminated
                                                         : core::InstanceStatus::kActive;
      if (inst->state.status != want) {
        const char* names[] = {"?", "running", "completed", "terminated"};
        fail(fmt::format("the instance is {}, expected {}", names[static_cast<int>(inst->state.status)], what));
      }
      return;
    }
    if (what.rfind("variables:", 0) == 0 || what.rfind("variable ", 0) == 0) {
      json::object root_vars = root_variables(*inst);
      if (what[8] == 's') {
        boost::system::error_code ec;
        json::value want = json::parse(after("variables:"), ec);
        if (ec) return fail("expected variables must be JSON");
        if (!contains(root_vars, want)) {
          fail(fmt::format("variables are {}, expected them to contain {}", expr::json_text(root_vars), expr::json_text(want)));
        }
        return;
      }
      std::string rest = after("variable ");
      size_t eq = rest.find('=');
      if (eq == std::string::npos) return fail("write: expect variable NAME = JSON");
      std::string name = trim(std::string_view(rest).substr(0, eq));
      boost::system::error_code ec;
      json::value want = json::parse(trim(std::string_view(rest).substr(eq + 1)), ec);
      if (ec) return fail("expected value must be JSON");
      const json::value* got = root_vars.if_contains(name);
      if (!got || !contains(*got, want)) {
        fail(fmt::format("variable {} is {}, expected {}", name, got ? expr::json_text(*got) : "undefined", expr::json_text(want)));
      }
      return;
    }
    if (what.rfind("incident:", 0) == 0 || what == "no incidents") {
      std::vector<std::string> got;
      for (Instance& i : instances_) {
        for (const auto& [k, inc] : i.state.incidents) {
          const core::ElementInstance* ei = i.state.find(inc.element_instance);
          std::string at = ei && ei->element != model::kNoIndex ? i.deployed->process->node(ei->element).id
                                                                : i.deployed->process->process().id;
          got.push_back(at + " " + std::string(core::incident_kind_name(inc.kind)));
        }
      }
      if (what == "no incidents") {
        if (!got.empty()) fail(fmt::format("there are incidents: {}", join(got)));
        return;
      }
      std::string want = after("incident:");
      if (std::find(got.begin(), got.end(), want) == got.end()) {
        fail(fmt::format("no incident '{}'; incidents: {}", want, join(got)));
      }
      return;
    }
    if (what.rfind("task ", 0) == 0) {
      // expect task ELEMENT: {partial payload}
      std::string rest = after("task ");
      size_t colon = rest.find(':');
      if (colon == std::string::npos) return fail("write: expect task ELEMENT: JSON");
      std::string element = trim(std::string_view(rest).substr(0, colon));
      boost::system::error_code ec;
      json::value want = json::parse(trim(std::string_view(rest).substr(colon + 1)), ec);
      if (ec) return fail("expected task fields must be JSON");
      auto it = task_payloads_.find(element);
      if (it == task_payloads_.end()) return fail(fmt::format("no user task was created at '{}'", element));
      if (!contains(it->second, want)) {
        fail(fmt::format("task {} is {}, expected it to contain {}", element, expr::json_text(it->second), expr::json_text(want)));
      }
      return;
    }
    fail(fmt::format("unknown expectation '{}'", what));
  }

  json::object root_variables(Instance& inst) {
    // While running: the root scope; once ended: the last instance-end payload.
    if (const core::ElementInstance* root = inst.state.find(inst.state.root)) {
      json::object out;
      for (const auto& [k, v] : root->variables) out[k] = v;
      return out;
    }
    return ended_variables_[inst.id];
  }

  void expect_events(const std::vector<std::string>& block) {
    ++result_.expectations;
    deliver();
    if (block != last_) {
      std::string got, want;
      for (const auto& l : last_) got += "\n    " + l;
      for (const auto& l : block) want += "\n    " + l;
      fail(fmt::format("the events of the last command differ.\n  got:{}\n  expected:{}", got, want));
    }
  }

  // Delivers messages and signals thrown by the last command.
  void deliver() {
    for (int guard = 0; guard < 1000 && !pending_deliveries_.empty(); ++guard) {
      auto work = std::move(pending_deliveries_);
      pending_deliveries_.clear();
      for (auto& f : work) f();
    }
  }

 private:
  fs::path file_;
  std::map<std::string, ProcessCoverage>& coverage_;
  RunnerOptions options_;
  size_t steps_ = 0;
  ScenarioResult result_;
  size_t line_ = 0;
  bool fatal_ = false;
  int64_t now_ = 0;
  std::map<std::string, std::unique_ptr<Deployed>> deployed_;
  std::vector<std::unique_ptr<Deployed>> retired_;  // earlier versions, still run by their instances
  std::vector<StartTimer> start_timers_;
  std::deque<Instance> instances_;  // references stay valid as children are added
  int current_ = 0;
  std::vector<std::string> last_;
  std::vector<std::string> path_;
  std::optional<std::string> rejected_;
  bool rejecting_ = false;      // the line being run is `reject ...`
  std::string last_rejection_;  // why the last command was refused (expect rejection:)
  // Messages and signals thrown by a command, delivered once it is done.
  std::vector<std::function<void()>> pending_deliveries_;
  std::map<std::string, json::value> task_payloads_;
  std::map<int, json::object> ended_variables_;
  std::map<std::pair<int, Key>, std::pair<int, Key>> error_origin_;
  std::unique_ptr<calendar::BusinessCalendar> calendar_;
  ScenarioDecisions decisions_;  // (instance, call activity) -> thrower
};

}  // namespace

ScenarioResult Runner::run(const std::filesystem::path& file) { return Session(file, coverage_, options_).run(); }

}  // namespace banshi::scenario
