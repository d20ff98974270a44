#include "core/step.h"

#include <algorithm>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "core/processor.h"
#include "core/sla.h"
#include "model/cron.h"

namespace banshi::core {

using model::Index;
using model::kNoIndex;

namespace {

// When a repeating timer that has just fired is due again: a cron cycle at its
// next match after the firing (so a late timer fires once, not once per match
// missed, as timer start events do); any other cycle one interval on.
// The next occurrence of a repeating timer that fired, with the repetitions
// left after it; none when its series is over. A timer that fired late (the
// engine was down) fires once, not once per occurrence it missed: its next
// occurrence is the first of its series after now, and the ones skipped
// count towards its repetitions, as for a timer start event; a cron cycle's
// next is its first match after now.
std::optional<std::pair<int64_t, int64_t>> next_occurrence(const Timer& t, const StepEnv& env) {
  int64_t left = t.repetitions_left > 0 ? t.repetitions_left - 1 : t.repetitions_left;
  if (!t.cron.empty()) {
    auto cron = model::parse_cron(t.cron);
    if (!cron.ok()) return std::nullopt;
    auto due = model::next_cron(*cron, std::max(t.due_at, env.now_ms), env.utc_offset_minutes);
    if (!due) return std::nullopt;
    return std::make_pair(*due, left);
  }
  if (t.interval_ms <= 0) return std::nullopt;
  int64_t due = t.due_at + t.interval_ms;
  if (due <= env.now_ms) {
    const int64_t skipped = (env.now_ms - due) / t.interval_ms + 1;
    if (left >= 0 && skipped > left) return std::nullopt;  // the series ended meanwhile
    due += skipped * t.interval_ms;
    if (left > 0) left -= skipped;
  }
  return std::make_pair(due, left);
}

}  // namespace

ExecutableProcess::ExecutableProcess(std::shared_ptr<const model::Definitions> definitions,
                                     const model::Process& process)
    : definitions_(std::move(definitions)), process_(&process) {
  // Reachability between nodes of the same scope, following sequence flows and
  // the flows out of boundary events (a token at an activity may leave that way).
  const size_t n = process.nodes.size();
  reach_.assign(n, std::vector<bool>(n, false));
  for (size_t start = 0; start < n; ++start) {
    std::vector<Index> stack{static_cast<Index>(start)};
    std::vector<bool>& seen = reach_[start];
    while (!stack.empty()) {
      Index at = stack.back();
      stack.pop_back();
      const model::FlowNode& node = process.nodes[at];
      auto visit = [&](Index target) {
        if (target != kNoIndex && !seen[target]) {
          seen[target] = true;
          stack.push_back(target);
        }
      };
      for (Index f : node.outgoing) visit(process.flows[f].target);
      for (Index b : node.boundary_events) {
        for (Index f : process.nodes[b].outgoing) visit(process.flows[f].target);
      }
    }
  }
}

bool ExecutableProcess::can_reach(Index from, Index to) const {
  return from < reach_.size() && to < reach_.size() && reach_[from][to];
}

namespace {

Error reject(std::string message) { return Error{"rejected", std::move(message)}; }

}  // namespace

Result<void> step(const ExecutableProcess& process, InstanceState& state, const Command& command, const StepEnv& env,
                  std::vector<Record>& out) {
  Processor p(process, state, env, out);
  const bool started = state.root != 0;
  if (command.kind != CommandKind::kStart && (!started || state.status != InstanceStatus::kActive)) {
    return reject("the instance is not active");
  }
  switch (command.kind) {
    case CommandKind::kStart: {
      if (started) return reject("the instance has already started");
      const model::Process& def = process.process();
      bool found = false;
      for (Index s : def.start_events) {
        const model::FlowNode& n = process.node(s);
        if (command.name.empty() ? n.event_kind == model::EventKind::kNone : n.id == command.name) found = true;
      }
      if (!found) {
        return reject(command.name.empty()
                          ? fmt::format("process '{}' has no none start event; name the start event", def.id)
                          : fmt::format("'{}' is not a start event of process '{}'", command.name, def.id));
      }
      state.parent_element = command.key;
      p.start(command.name, command.variables);
      return {};
    }
    case CommandKind::kCompleteJob: {
      auto it = state.jobs.find(command.key);
      if (it == state.jobs.end()) return reject(fmt::format("job {} does not exist", command.key));
      Job job = it->second;
      ElementInstance& ei = state.elements.at(job.element_instance);
      if (ei.incident != 0) return reject(fmt::format("job {} has an open incident; resolve it first", command.key));
      state.jobs.erase(it);
      Record r{RecordKind::kJobCompleted, job.key, ei.element, ei.key};
      r.name = job.type;
      p.emit(std::move(r));
      p.merge_completion_variables(ei, command.variables);
      p.enqueue_complete(ei.key);
      p.run();
      return {};
    }
    case CommandKind::kFailJob: {
      auto it = state.jobs.find(command.key);
      if (it == state.jobs.end()) return reject(fmt::format("job {} does not exist", command.key));
      Job& job = it->second;
      if (job.failed) return reject(fmt::format("job {} has no retries left; resolve its incident", command.key));
      int32_t retries = command.retries >= 0 ? command.retries : job.retries - 1;
      job.retries = retries;
      job.last_error = command.message;
      const ElementInstance& ei = state.elements.at(job.element_instance);
      Record r{RecordKind::kJobFailed, job.key, ei.element, ei.key};
      r.name = job.type;
      r.text = command.message;
      r.due_at = command.retry_at;
      boost::json::object payload;
      payload["retries"] = retries;
      r.payload = std::move(payload);
      p.emit(std::move(r));
      if (retries <= 0) {
        job.failed = true;
        p.raise_incident(job.element_instance, IncidentKind::kJobNoRetries,
                         fmt::format("job '{}' failed and has no retries left: {}", job.type, command.message), job.key);
      }
      return {};
    }
    case CommandKind::kThrowJobError: {
      auto it = state.jobs.find(command.key);
      if (it == state.jobs.end()) return reject(fmt::format("job {} does not exist", command.key));
      Job job = it->second;
      state.jobs.erase(it);
      const ElementInstance& ei = state.elements.at(job.element_instance);
      Record r{RecordKind::kJobErrorThrown, job.key, ei.element, ei.key};
      r.name = command.name;
      r.text = command.message;
      p.emit(std::move(r));
      p.throw_error(job.element_instance, command.name, command.message);
      p.run();
      return {};
    }
    case CommandKind::kCompleteUserTask: {
      auto it = state.user_tasks.find(command.key);
      if (it == state.user_tasks.end()) return reject(fmt::format("user task {} does not exist", command.key));
      UserTask task = it->second;
      ElementInstance& ei = state.elements.at(task.element_instance);
      if (ei.incident != 0) return reject("the task's element has an open incident");
      state.user_tasks.erase(it);
      Record r{RecordKind::kUserTaskCompleted, task.key, ei.element, ei.key};
      r.payload = command.variables;
      p.emit(std::move(r));
      p.merge_completion_variables(ei, command.variables);
      p.enqueue_complete(ei.key);
      p.run();
      return {};
    }
    case CommandKind::kCorrelateMessage: {
      auto it = state.message_subscriptions.find(command.key);
      if (it == state.message_subscriptions.end()) {
        return reject(fmt::format("message subscription {} does not exist", command.key));
      }
      MessageSubscription sub = it->second;
      const model::FlowNode& ev = process.node(sub.element);
      // Non-interrupting boundary and event-subprocess starts keep listening.
      bool keep = (ev.type == model::ElementType::kBoundaryEvent || ev.type == model::ElementType::kStartEvent) &&
                  !ev.interrupting;
      Record r{RecordKind::kMessageCorrelated, sub.key, sub.element, sub.element_instance};
      r.name = sub.name;
      r.text = sub.correlation_key;
      r.payload = command.variables;
      p.emit(std::move(r));
      if (!keep) state.message_subscriptions.erase(it);
      p.trigger_event(sub.element_instance, sub.element, command.variables);
      p.run();
      return {};
    }
    case CommandKind::kFireTimer: {
      auto it = state.timers.find(command.key);
      if (it == state.timers.end()) return reject(fmt::format("timer {} does not exist", command.key));
      if (command.due_at != 0 && it->second.due_at != command.due_at) {
        return reject(fmt::format("timer {} is armed for {}, not {}: that occurrence has fired", command.key,
                                  it->second.due_at, command.due_at));
      }
      if (fire_sla_timer(p, command.key)) {
        p.run();
        return {};
      }
      Timer timer = it->second;
      const model::FlowNode& ev = process.node(timer.element);
      Record fired{RecordKind::kTimerFired, timer.key, timer.element, timer.element_instance};
      fired.due_at = timer.due_at;
      p.emit(std::move(fired));
      bool repeats = timer.repetitions_left != 0 && !ev.interrupting &&
                     (ev.type == model::ElementType::kBoundaryEvent || ev.type == model::ElementType::kStartEvent);
      auto next = repeats ? next_occurrence(timer, env) : std::nullopt;
      if (next) {
        Timer& t = it->second;
        t.due_at = next->first;
        t.repetitions_left = next->second;
        Record again{RecordKind::kTimerScheduled, t.key, t.element, t.element_instance};
        again.due_at = t.due_at;
        p.emit(std::move(again));
      } else {
        state.timers.erase(it);
      }
      p.trigger_event(timer.element_instance, timer.element, {});
      p.run();
      return {};
    }
    case CommandKind::kThrowSignal: {
      std::vector<SignalSubscription> hits;
      for (const auto& [k, s] : state.signal_subscriptions) {
        if (s.name == command.name) hits.push_back(s);
      }
      if (hits.empty()) return reject(fmt::format("the instance does not wait for signal '{}'", command.name));
      for (const SignalSubscription& s : hits) {
        if (!state.signal_subscriptions.count(s.key)) continue;  // closed by an earlier hit
        const model::FlowNode& ev = process.node(s.element);
        bool keep = (ev.type == model::ElementType::kBoundaryEvent || ev.type == model::ElementType::kStartEvent) &&
                    !ev.interrupting;
        if (!keep) {
          // Closed like any other subscription, so its stored row goes too.
          Record closed{RecordKind::kSignalSubscriptionClosed, s.key, s.element, s.element_instance};
          closed.name = s.name;
          p.emit(std::move(closed));
          state.signal_subscriptions.erase(s.key);
        }
        p.trigger_event(s.element_instance, s.element, command.variables);
      }
      p.run();
      return {};
    }
    case CommandKind::kCancel:
      p.cancel_instance();
      return {};
    case CommandKind::kResolveIncident: {
      auto it = state.incidents.find(command.key);
      if (it == state.incidents.end()) return reject(fmt::format("incident {} does not exist", command.key));
      Incident incident = it->second;
      state.incidents.erase(it);
      ElementInstance* ei = state.elements.count(incident.element_instance) ? &state.elements.at(incident.element_instance)
                                                                              : nullptr;
      if (ei) ei->incident = 0;
      p.emit(Record{RecordKind::kIncidentResolved, incident.key, ei ? ei->element : kNoIndex, incident.element_instance});
      if (incident.job != 0) {
        Job& job = state.jobs.at(incident.job);
        job.failed = false;
        job.retries = command.retries > 0 ? command.retries : 1;
        Record r{RecordKind::kJobRetriesUpdated, job.key, ei ? ei->element : kNoIndex, job.element_instance};
        r.name = job.type;
        boost::json::object payload;
        payload["retries"] = job.retries;
        r.payload = std::move(payload);
        p.emit(std::move(r));
        return {};
      }
      if (!state.sla_clocks.empty() && retry_sla_stage(p, incident.key)) {
        // The case deadline's incident held the root: the instance may have
        // finished meanwhile, or a join may go on now.
        if (incident.element_instance == state.root) p.enqueue_check(state.root);
        p.run();
        return {};
      }
      p.resume_after_incident(incident.element_instance);
      return {};
    }
    case CommandKind::kSetVariables: {
      Key scope = command.key == 0 ? state.root : command.key;
      if (!state.elements.count(scope)) return reject(fmt::format("element instance {} does not exist", command.key));
      for (const auto& [name, value] : command.variables) p.set_local_variable(scope, std::string(name), value);
      p.run();  // conditional events may fire
      return {};
    }
    case CommandKind::kChildCompleted: {
      auto it = state.elements.find(command.key);
      if (it == state.elements.end() || it->second.element == kNoIndex ||
          process.node(it->second.element).type != model::ElementType::kCallActivity) {
        return reject(fmt::format("element instance {} is not a waiting call activity", command.key));
      }
      ElementInstance& ei = it->second;
      const model::FlowNode& n = process.node(ei.element);
      if (n.call && n.call->propagate_all_child_variables) {
        p.merge_completion_variables(ei, command.variables);
      } else {
        // Only what the output mappings pick: keep the child's variables local.
        for (const auto& [name, value] : command.variables) p.set_local_variable(ei.key, std::string(name), value);
      }
      p.enqueue_complete(ei.key);
      p.run();
      return {};
    }
    case CommandKind::kChildError: {
      if (!state.elements.count(command.key)) {
        return reject(fmt::format("element instance {} does not exist", command.key));
      }
      p.throw_error(command.key, command.name, command.message, /*from_child=*/true);
      p.run();
      return {};
    }
    case CommandKind::kChildEscalation: {
      auto it = state.elements.find(command.key);
      if (it == state.elements.end() || it->second.element == kNoIndex ||
          process.node(it->second.element).type != model::ElementType::kCallActivity) {
        return reject(fmt::format("element instance {} is not a waiting call activity", command.key));
      }
      p.throw_escalation(command.key, command.name, /*from_child=*/true);
      p.run();
      return {};
    }
    case CommandKind::kRaiseIncident: {
      auto it = state.elements.find(command.key);
      if (it == state.elements.end() || it->second.incident != 0) {
        return reject(fmt::format("element instance {} does not exist or already has an incident", command.key));
      }
      p.raise_incident(command.key, IncidentKind::kCalledProcessFailed, command.message);
      return {};
    }
    case CommandKind::kErrorNotCaught: {
      if (!state.elements.count(command.key)) {
        return reject(fmt::format("element instance {} does not exist", command.key));
      }
      p.raise_incident(command.key, IncidentKind::kUncaughtError,
                       fmt::format("error '{}' was thrown and nothing catches it{}", command.name,
                                   command.message.empty() ? std::string() : ": " + command.message));
      return {};
    }
    case CommandKind::kActivateElement: {
      const model::FlowNode* n = process.process().find(command.name);
      if (!n) return reject(fmt::format("'{}' is not an element of process '{}'", command.name, process.process().id));
      if (n->type == model::ElementType::kBoundaryEvent || n->type == model::ElementType::kEventSubProcess) {
        return reject("boundary events and event subprocesses start by their events, not by modification");
      }
      if (n->scope != kNoIndex) {
        bool scope_active = false;
        for (const auto& [k, e] : state.elements) {
          if (e.element == n->scope && !e.is_mi_body) scope_active = true;
        }
        if (!scope_active) return reject(fmt::format("the subprocess around '{}' is not active", command.name));
      }
      p.activate_at(n->index);
      return {};
    }
    case CommandKind::kTerminateElement: {
      auto it = state.elements.find(command.key);
      if (it == state.elements.end() || it->second.element == kNoIndex) {
        return reject(fmt::format("element instance {} does not exist or is the process itself; cancel the instance",
                                  command.key));
      }
      Key scope = it->second.scope;
      p.terminate(command.key);
      p.enqueue_check(scope);
      p.run();
      return {};
    }
  }
  return reject("unknown command");
}

}  // namespace banshi::core
