#include "core/start_timer.h"

#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "expr/feel.h"
#include "expr/json_text.h"
#include "expr/value.h"
#include "model/cron.h"
#include "model/iso8601.h"

namespace banshi::core {
namespace {

// Guards a series whose period is tiny against a start far in the past.
constexpr int kMaxSkipped = 1000000;

// The timer's value as text: the literal, or the FEEL expression evaluated
// without variables.
Result<std::string> timer_text(const model::Expr& value, const StartTimerEnv& env) {
  if (!value.is_feel) return value.text;
  if (!value.compiled) return Error{"BS207", fmt::format("the expression '{}' is not compiled", value.text)};
  expr::EvalContext ctx;
  ctx.now_epoch_ms = env.now_ms;
  ctx.utc_offset_minutes = env.utc_offset_minutes;
  ctx.working_days = env.working_days;
  expr::Value v = value.compiled->evaluate(ctx);
  if (v.is_null()) {
    return Error{"BS207", fmt::format("'{}' gives no value without variables{}", value.text,
                                      v.null_reason().empty() ? "" : ": " + v.null_reason())};
  }
  boost::json::value j = expr::to_json(v);
  return j.is_string() ? std::string(j.as_string()) : expr::json_text(j);
}

// Moves a cycle's occurrence on to the first one at or after `not_before`
// (strictly after when `strictly`); false when the series ends first.
bool skip_to(StartTimerSchedule& s, const model::IsoDuration& period, int64_t not_before, bool strictly,
             int32_t offset) {
  for (int i = 0; i < kMaxSkipped; ++i) {
    if (strictly ? s.due_at > not_before : s.due_at >= not_before) return true;
    if (s.repetitions_left == 0) return false;
    s.due_at = model::add_duration(s.due_at, period, offset);
    if (s.repetitions_left > 0) --s.repetitions_left;
  }
  return false;
}

// A schedule's interval is an ISO 8601 period (P...) or a cron expression,
// which never starts with P.
bool interval_is_cron(const std::string& interval) { return !interval.empty() && interval.front() != 'P'; }

}  // namespace

std::vector<StartTimerSchedule> schedule_start_timers(const model::Process& process, const StartTimerEnv& env,
                                                      std::vector<model::Diagnostic>& errors) {
  std::vector<StartTimerSchedule> out;
  if (!process.executable) return out;
  for (model::Index index : process.start_events) {
    const model::FlowNode& n = process.nodes[index];
    if (n.event_kind != model::EventKind::kTimer || n.events.empty()) continue;
    const model::TimerSpec& t = n.events.front().timer;
    auto error = [&](const std::string& message) {
      model::SourcePos pos = t.value.pos.line != 0 ? t.value.pos : n.events.front().pos;
      errors.push_back(model::Diagnostic{model::Severity::kError, "BS207", pos, n.id,
                                         "the timer start event cannot be scheduled: " + message});
    };
    auto text = timer_text(t.value, env);
    if (!text.ok()) {
      error(text.error().message);
      continue;
    }
    StartTimerSchedule s;
    s.element_id = n.id;
    if (t.kind == model::TimerKind::kDate) {
      auto at = model::parse_date_time(*text, env.utc_offset_minutes);
      if (!at.ok()) {
        error(at.error().message);
        continue;
      }
      s.due_at = *at;
    } else if (t.kind == model::TimerKind::kDuration) {
      auto d = model::parse_duration(*text);
      if (!d.ok() || d->negative) {
        error(d.ok() ? fmt::format("'{}' is negative", *text) : d.error().message);
        continue;
      }
      s.due_at = model::add_duration(env.now_ms, *d, env.utc_offset_minutes);
    } else if (t.kind == model::TimerKind::kCycle && model::is_cron_cycle(*text)) {
      auto cron = model::parse_cron(*text);
      if (!cron.ok()) {
        error(cron.error().message);
        continue;
      }
      auto first = model::next_cron(*cron, env.now_ms, env.utc_offset_minutes);
      if (!first) {
        error(fmt::format("'{}' matches no instant after now", cron->text));
        continue;
      }
      s.due_at = *first;
      s.repetitions_left = -1;
      s.interval = cron->text;
    } else if (t.kind == model::TimerKind::kCycle) {
      auto c = model::parse_cycle(*text, env.utc_offset_minutes);
      if (!c.ok()) {
        error(c.error().message);
        continue;
      }
      if (c->repetitions == 0) {
        error(fmt::format("'{}' repeats zero times and would never fire", *text));
        continue;
      }
      s.due_at = c->start_ms ? *c->start_ms : model::add_duration(env.now_ms, c->interval, env.utc_offset_minutes);
      s.repetitions_left = c->repetitions < 0 ? -1 : c->repetitions - 1;
      // The period as written ("R/2026-01-01T06:00/P1D" keeps "P1D").
      s.interval = text->substr(text->rfind('/') + 1);
      if (!skip_to(s, c->interval, env.now_ms, false, env.utc_offset_minutes)) {
        error(fmt::format("every occurrence of '{}' lies before now", *text));
        continue;
      }
    } else {
      error("it has no timeDate, timeDuration or timeCycle");
      continue;
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<model::Diagnostic> check_start_timers(const model::Definitions& definitions, const StartTimerEnv& env) {
  std::vector<model::Diagnostic> errors;
  for (const model::Process& p : definitions.processes) schedule_start_timers(p, env, errors);
  return errors;
}

std::optional<StartTimerSchedule> next_start_timer(const StartTimerSchedule& fired, int64_t now_ms,
                                                   int32_t utc_offset_minutes) {
  if (fired.interval.empty() || fired.repetitions_left == 0) return std::nullopt;
  if (interval_is_cron(fired.interval)) {
    auto cron = model::parse_cron(fired.interval);
    if (!cron.ok()) return std::nullopt;
    auto due = model::next_cron(*cron, std::max(fired.due_at, now_ms), utc_offset_minutes);
    if (!due) return std::nullopt;
    StartTimerSchedule next = fired;
    next.due_at = *due;
    return next;
  }
  auto period = model::parse_duration(fired.interval);
  if (!period.ok() || period->is_zero() || period->negative) return std::nullopt;
  StartTimerSchedule next = fired;
  next.due_at = model::add_duration(fired.due_at, *period, utc_offset_minutes);
  if (next.repetitions_left > 0) --next.repetitions_left;
  if (!skip_to(next, *period, now_ms, true, utc_offset_minutes)) return std::nullopt;
  return next;
}

}  // namespace banshi::core
