#include "core/sla.h"

#include <algorithm>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/processor.h"
#include "expr/json_text.h"
#include "model/iso8601.h"

namespace banshi::core {

namespace json = boost::json;
using model::kNoIndex;

std::string_view sla_state_name(SlaState state) {
  switch (state) {
    case SlaState::kOnTime: return "on_time";
    case SlaState::kDueSoon: return "due_soon";
    case SlaState::kEscalated: return "escalated";
    case SlaState::kBreached: return "breached";
    case SlaState::kOverdue: return "overdue";
  }
  return "on_time";
}

std::optional<std::string> parent_region(std::string_view region) {
  if (region.size() != 6 || !std::all_of(region.begin(), region.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::string r(region);
  if (r.compare(4, 2, "00") != 0) {
    r.replace(4, 2, "00");
    return r;
  }
  if (r.compare(2, 2, "00") != 0) {
    r.replace(2, 2, "00");
    return r;
  }
  return std::nullopt;
}

namespace {

const model::SlaSpec& spec_of(Processor& p, const SlaClock& c) {
  return c.element == kNoIndex ? *p.process().process().sla : *p.node(c.element).sla;
}

// Adds an SLA period to an instant; nullopt with `why` when the calendar cannot.
std::optional<int64_t> add_period(const StepEnv& env, int64_t at, const model::SlaPeriod& period, std::string& why) {
  if (!period.working_days) return model::add_duration(at, period.duration, env.utc_offset_minutes);
  if (!env.working_days) {
    why = "no business calendar is configured to count working days";
    return std::nullopt;
  }
  return env.working_days->add(at, period.days, why);
}

std::optional<int64_t> add_period_text(const StepEnv& env, int64_t at, const std::string& text, std::string& why) {
  auto period = model::parse_sla_period(text);
  if (!period.ok()) {
    why = period.error().message;
    return std::nullopt;
  }
  return add_period(env, at, *period, why);
}

void emit_sla(Processor& p, RecordKind kind, const SlaClock& c) {
  Record r{kind, c.task != 0 ? c.task : c.key, c.element, c.element_instance};
  r.due_at = c.due_at;
  r.name = c.escalated_to;
  r.text = c.region;
  json::object payload;
  payload["task"] = c.task != 0;
  payload["slaState"] = sla_state_name(c.state);
  payload["level"] = c.level;
  payload["dueAt"] = c.due_at;
  payload["at"] = p.env().now_ms;
  if (!c.escalated_to.empty()) payload["group"] = c.escalated_to;
  if (!c.region.empty()) payload["region"] = c.region;
  if (c.paused_at != 0) payload["pausedAt"] = c.paused_at;
  r.payload = std::move(payload);
  p.emit(std::move(r));
}

// Arms the timer of the clock's next pending stage (none while paused).
void schedule_next(Processor& p, SlaClock& c) {
  c.timer = 0;
  if (c.paused_at != 0) return;
  int64_t next = 0;
  auto consider = [&](int64_t t) {
    if (t != 0 && (next == 0 || t < next)) next = t;
  };
  consider(c.remind_at);
  if (!c.due_passed) consider(c.due_at);
  consider(c.next_level_at);
  consider(c.breach_at);
  if (next == 0) return;
  Timer t;
  t.key = p.new_key();
  t.element_instance = c.element_instance;
  t.element = c.element;
  t.due_at = next;
  p.state().timers[t.key] = t;
  c.timer = t.key;
  Record r{RecordKind::kTimerScheduled, t.key, t.element, t.element_instance};
  r.due_at = next;
  p.emit(std::move(r));
}

void cancel_timer(Processor& p, SlaClock& c) {
  if (c.timer == 0) return;
  auto it = p.state().timers.find(c.timer);
  if (it != p.state().timers.end()) {
    p.emit(Record{RecordKind::kTimerCanceled, it->first, it->second.element, it->second.element_instance});
    p.state().timers.erase(it);
  }
  c.timer = 0;
}

// Whether an element named in the clock's pauseWhile is active, other than `except`.
bool pause_active(Processor& p, const SlaClock& c, Key except) {
  const model::SlaSpec& spec = spec_of(p, c);
  if (spec.pause_while.empty()) return false;
  for (const auto& [k, e] : p.state().elements) {
    if (k == except || e.element == kNoIndex) continue;
    const std::string& id = p.node(e.element).id;
    if (std::find(spec.pause_while.begin(), spec.pause_while.end(), id) != spec.pause_while.end()) return true;
  }
  return false;
}

void pause(Processor& p, SlaClock& c) {
  cancel_timer(p, c);
  c.paused_at = p.env().now_ms;
  emit_sla(p, RecordKind::kSlaPaused, c);
}

// The element instance an SLA incident goes to: the task's, or the root for
// the case's deadline.
Key incident_owner(Processor& p, const SlaClock& c) {
  return c.element_instance != 0 ? c.element_instance : p.state().root;
}

// A stage the calendar cannot compute: an incident whose resolution computes
// it again from `from` (retry_sla_stage). The clock's other stages go on.
void fail_stage(Processor& p, SlaClock& c, SlaRetry retry, int64_t from, std::string message) {
  c.retry = retry;
  c.retry_from = from;
  c.incident = p.raise_incident(incident_owner(p, c), IncidentKind::kExpressionFailed, std::move(message));
}

// The next level's escalation time, escalateAfter after `from`; false after
// raising an incident.
bool schedule_next_level(Processor& p, SlaClock& c, const model::SlaSpec& spec, int64_t from) {
  std::string why;
  auto next = add_period_text(p.env(), from, spec.escalate_after, why);
  if (!next) {
    fail_stage(p, c, SlaRetry::kNextLevel, from, fmt::format("SLA escalateAfter: {}", why));
    return false;
  }
  c.next_level_at = *next;
  return true;
}

// Ends a pause that ended at `end`: moves every pending time by the paused
// working days (or time) and arms the next stage. When the calendar cannot
// count them the clock stays paused, nothing moves, and an incident is raised
// (unless one is open for the clock already: resolving that one resumes the
// clock too, counting the pause until then).
void resume(Processor& p, SlaClock& c, int64_t end) {
  const StepEnv& env = p.env();
  std::string why;
  int64_t days = -1;  // -1: shift by the paused time
  if (c.working_days) {
    if (!env.working_days) {
      why = "no business calendar is configured to count working days";
    } else if (auto n = env.working_days->between(c.paused_at, end, why)) {
      days = std::max<int64_t>(*n, 0);
    }
    if (days < 0) {
      if (c.retry == SlaRetry::kNone) fail_stage(p, c, SlaRetry::kResume, end, fmt::format("SLA pause: {}", why));
      return;
    }
  }
  const int64_t paused_ms = std::max<int64_t>(end - c.paused_at, 0);
  bool ok = true;
  auto shift = [&](int64_t t) -> int64_t {
    if (t == 0 || !ok) return t;
    if (days < 0) return t + paused_ms;
    if (days == 0) return t;
    auto moved = env.working_days->add(t, days, why);
    if (!moved) ok = false;
    return moved.value_or(t);
  };
  const int64_t due = c.due_passed ? c.due_at : shift(c.due_at);
  const int64_t remind = shift(c.remind_at);
  const int64_t next_level = shift(c.next_level_at);
  const int64_t breach = shift(c.breach_at);
  if (!ok) {
    if (c.retry == SlaRetry::kNone) fail_stage(p, c, SlaRetry::kResume, end, fmt::format("SLA pause: {}", why));
    return;
  }
  c.due_at = due;
  c.remind_at = remind;
  c.next_level_at = next_level;
  c.breach_at = breach;
  c.paused_at = 0;
  emit_sla(p, RecordKind::kSlaResumed, c);
  schedule_next(p, c);
}

// The reminder of a working-day clock: the instant when `percent` of the
// working time from `from` to `to` has passed. Working time is the time that
// falls on working days (whole days, midnight to midnight), so a share skips
// nights before non-working days, weekends and holidays, and a clock started
// on a Saturday starts counting on Monday. nullopt when the calendar cannot
// say or the span is longer than five years.
std::optional<int64_t> working_share(const StepEnv& env, int64_t from, int64_t to, int64_t percent) {
  constexpr int64_t kDayMs = 86'400'000;
  if (to <= from || to - from > 5 * 366 * kDayMs) return std::nullopt;
  const int64_t offset = int64_t{env.utc_offset_minutes} * 60'000;
  const int64_t local = from + offset;
  const int64_t first_day = (local >= 0 ? local / kDayMs : -((-local + kDayMs - 1) / kDayMs)) * kDayMs - offset;
  std::vector<std::pair<int64_t, int64_t>> spans;  // the working parts of [from, to)
  int64_t total = 0;
  for (int64_t day = first_day; day < to; day += kDayMs) {
    std::string why;
    // Working days after the day before, up to this one: 1 when this one is.
    auto n = env.working_days->between(day - kDayMs, day, why);
    if (!n) return std::nullopt;
    if (*n != 1) continue;
    const int64_t start = std::max(day, from);
    const int64_t end = std::min(day + kDayMs, to);
    if (end > start) {
      spans.emplace_back(start, end);
      total += end - start;
    }
  }
  if (total == 0) return std::nullopt;
  int64_t left = total * percent / 100;
  for (const auto& [start, end] : spans) {
    if (left < end - start) return start + left;
    left -= end - start;
  }
  return to;
}

// Computes the reminder and breach times and arms the first timer.
bool arm_new_clock(Processor& p, SlaClock& c, const model::SlaSpec& spec, Key incident_on) {
  const StepEnv& env = p.env();
  if (spec.remind_percent > 0 && c.due_at > c.started_at) {
    std::optional<int64_t> at;
    if (c.working_days && env.working_days) at = working_share(env, c.started_at, c.due_at, spec.remind_percent);
    c.remind_at = at ? *at : c.started_at + (c.due_at - c.started_at) * spec.remind_percent / 100;
  }
  if (!spec.breach_after.empty()) {
    std::string why;
    auto at = add_period_text(env, c.due_at, spec.breach_after, why);
    if (!at) {
      p.raise_incident(incident_on, IncidentKind::kExpressionFailed, fmt::format("SLA breachAfter: {}", why));
      return false;
    }
    c.breach_at = *at;
  }
  if (pause_active(p, c, 0)) {
    c.paused_at = env.now_ms;
    emit_sla(p, RecordKind::kSlaPaused, c);
  } else {
    schedule_next(p, c);
  }
  return true;
}

// Interprets the value of a FEEL due expression.
bool due_from_value(const StepEnv& env, const json::value& v, int64_t& due_at, bool& working_days, std::string& why) {
  if (v.is_number()) {
    double n = v.to_number<double>();
    if (n < 1 || n > 10000 || n != static_cast<double>(static_cast<int64_t>(n))) {
      why = fmt::format("a number of working days is a whole number from 1 to 10000, not {}", expr::json_text(v));
      return false;
    }
    model::SlaPeriod period;
    period.working_days = true;
    period.days = static_cast<int64_t>(n);
    auto at = add_period(env, env.now_ms, period, why);
    if (!at) return false;
    due_at = *at;
    working_days = true;
    return true;
  }
  if (!v.is_string()) {
    why = fmt::format("the due time must be a period, a number of working days or a date-time, not {}",
                      expr::json_text(v));
    return false;
  }
  std::string_view text = v.as_string();
  if (!text.empty() && (text.front() == 'P' || text.back() == 'D')) {
    auto period = model::parse_sla_period(text);
    if (period.ok()) {
      auto at = add_period(env, env.now_ms, *period, why);
      if (!at) return false;
      due_at = *at;
      working_days = period->working_days;
      return true;
    }
  }
  auto at = model::parse_date_time(text, env.utc_offset_minutes);
  if (!at.ok()) {
    why = fmt::format("'{}' is neither a period (P3D, 5WD) nor a date-time", text);
    return false;
  }
  // A date without a time of day is due by the end of that day.
  due_at = text.size() == 10 ? *at + 86'400'000 - 1 : *at;
  working_days = false;
  return true;
}

bool evaluate_due(Processor& p, const model::Expr& due, Key scope, Key incident_on, int64_t& due_at,
                  bool& working_days) {
  json::value v;
  if (due.is_feel) {
    auto value = p.evaluate(due, scope, incident_on, "SLA due");
    if (!value) return false;
    v = std::move(*value);
  } else {
    v = json::string(due.text);
  }
  std::string why;
  if (!due_from_value(p.env(), v, due_at, working_days, why)) {
    p.raise_incident(incident_on, IncidentKind::kExpressionFailed, fmt::format("SLA due: {}", why));
    return false;
  }
  return true;
}

}  // namespace

bool compute_task_due(Processor& p, const ElementInstance& ei, const model::SlaSpec& sla, int64_t& due_at,
                      bool& working_days) {
  return evaluate_due(p, sla.due, ei.key, ei.key, due_at, working_days);
}

void start_task_sla(Processor& p, const ElementInstance& ei, const model::FlowNode& node, Key task, int64_t due_at,
                    bool working_days, const std::string& region) {
  SlaClock c;
  c.key = p.new_key();
  c.element_instance = ei.key;
  c.element = node.index;
  c.task = task;
  c.started_at = p.env().now_ms;
  c.due_at = due_at;
  c.working_days = working_days;
  c.region = region;
  if (!node.sla->region.empty()) {
    auto v = p.evaluate(node.sla->region, ei.key, "SLA region");
    if (!v) return;
    if (v->is_string()) c.region = std::string(v->as_string());
  }
  if (!arm_new_clock(p, c, *node.sla, ei.key)) return;
  p.state().sla_clocks[c.key] = std::move(c);
}

bool start_process_sla(Processor& p) {
  const model::Process& proc = p.process().process();
  if (!proc.sla) return true;
  const Key root = p.state().root;
  SlaClock c;
  c.key = p.new_key();
  c.element_instance = 0;  // not owned by an element: only the instance's end stops it
  c.element = kNoIndex;
  c.started_at = p.env().now_ms;
  if (!evaluate_due(p, proc.sla->due, root, root, c.due_at, c.working_days)) return false;
  if (!proc.sla->region.empty()) {
    auto v = p.evaluate(proc.sla->region, root, "SLA region");
    if (!v) return false;
    if (v->is_string()) c.region = std::string(v->as_string());
  }
  if (!arm_new_clock(p, c, *proc.sla, root)) return false;
  p.state().sla_clocks[c.key] = std::move(c);
  return true;
}

void drop_task_sla(Processor& p, Key element_instance) {
  auto& clocks = p.state().sla_clocks;
  for (auto it = clocks.begin(); it != clocks.end();) {
    if (it->second.task != 0 && it->second.element_instance == element_instance) {
      cancel_timer(p, it->second);
      it = clocks.erase(it);
    } else {
      ++it;
    }
  }
}

void drop_all_sla(Processor& p) {
  for (auto& [k, c] : p.state().sla_clocks) cancel_timer(p, c);
  p.state().sla_clocks.clear();
}

bool fire_sla_timer(Processor& p, Key timer) {
  SlaClock* clock = nullptr;
  for (auto& [k, c] : p.state().sla_clocks) {
    if (c.timer == timer && timer != 0) clock = &c;
  }
  if (!clock) return false;
  SlaClock& c = *clock;
  auto t = p.state().timers.find(timer);
  const int64_t at = t != p.state().timers.end() ? t->second.due_at : p.env().now_ms;
  if (t != p.state().timers.end()) {
    Record fired{RecordKind::kTimerFired, timer, t->second.element, t->second.element_instance};
    fired.due_at = at;
    p.emit(std::move(fired));
    p.state().timers.erase(t);
  }
  c.timer = 0;
  const model::SlaSpec& spec = spec_of(p, c);
  // Every stage whose time has come, in time order (a late timer catches up).
  for (int guard = 0; guard < 16; ++guard) {
    if (c.remind_at != 0 && c.remind_at <= at && (c.due_passed || c.remind_at <= c.due_at)) {
      c.remind_at = 0;
      if (c.state == SlaState::kOnTime) c.state = SlaState::kDueSoon;
      emit_sla(p, RecordKind::kSlaWarning, c);
      continue;
    }
    if (!c.due_passed && c.due_at <= at) {
      c.due_passed = true;
      c.remind_at = 0;
      if (c.state != SlaState::kBreached) c.state = SlaState::kOverdue;
      emit_sla(p, RecordKind::kSlaOverdue, c);
      if (!spec.escalate_to.empty()) {
        c.level = 1;
        c.escalated_to = spec.escalate_to;
        if (c.state != SlaState::kBreached) c.state = SlaState::kEscalated;
        emit_sla(p, RecordKind::kSlaEscalated, c);
        if (!spec.escalate_after.empty() && parent_region(c.region)) schedule_next_level(p, c, spec, c.due_at);
      }
      continue;
    }
    if (c.next_level_at != 0 && c.next_level_at <= at && (c.breach_at == 0 || c.next_level_at <= c.breach_at)) {
      auto up = parent_region(c.region);
      const int64_t from = c.next_level_at;
      c.next_level_at = 0;
      if (!up) continue;
      c.region = *up;
      ++c.level;
      if (c.state != SlaState::kBreached) c.state = SlaState::kEscalated;
      emit_sla(p, RecordKind::kSlaEscalated, c);
      if (parent_region(c.region)) schedule_next_level(p, c, spec, from);
      continue;
    }
    if (c.breach_at != 0 && c.breach_at <= at) {
      c.breach_at = 0;
      c.state = SlaState::kBreached;
      emit_sla(p, RecordKind::kSlaBreached, c);
      continue;
    }
    break;
  }
  schedule_next(p, c);
  return true;
}

void sla_on_lifecycle(Processor& p, RecordKind kind, const ElementInstance& ei) {
  if (ei.element == kNoIndex) return;
  const bool starts = kind == RecordKind::kElementActivated;
  const bool ends = kind == RecordKind::kElementCompleted || kind == RecordKind::kElementTerminated;
  if (!starts && !ends) return;
  const std::string& id = p.node(ei.element).id;
  for (auto& [k, c] : p.state().sla_clocks) {
    const model::SlaSpec& spec = spec_of(p, c);
    if (std::find(spec.pause_while.begin(), spec.pause_while.end(), id) == spec.pause_while.end()) continue;
    if (starts && c.paused_at == 0) pause(p, c);
    else if (ends && c.paused_at != 0 && c.retry != SlaRetry::kResume && !pause_active(p, c, ei.key)) {
      resume(p, c, p.env().now_ms);
    }
  }
}

bool retry_sla_stage(Processor& p, Key incident) {
  for (auto& [k, c] : p.state().sla_clocks) {
    if (c.retry == SlaRetry::kNone || c.incident != incident) continue;
    const SlaRetry retry = c.retry;
    const int64_t from = c.retry_from;
    c.retry = SlaRetry::kNone;
    c.incident = 0;
    c.retry_from = 0;
    if (retry == SlaRetry::kNextLevel) {
      if (!schedule_next_level(p, c, spec_of(p, c), from)) return true;
      if (c.paused_at == 0) {
        // A time already past arms a timer that fires at once and catches up.
        cancel_timer(p, c);
        schedule_next(p, c);
      } else if (!pause_active(p, c, 0)) {
        // The pause ended while the incident was open and the calendar
        // could not count it then (one retry at a time): it counts until now.
        resume(p, c, p.env().now_ms);
      }
    } else if (c.paused_at != 0) {
      // The pause ended at `from`. If another began since, the clock ran in
      // between: resume for the first, and pause again from now (when the
      // second began was not kept).
      resume(p, c, from);
      if (c.paused_at == 0 && pause_active(p, c, 0)) pause(p, c);
    }
    return true;
  }
  return false;
}

}  // namespace banshi::core
