#include "model/validate.h"

#include <algorithm>
#include <initializer_list>
#include <set>

#include <fmt/format.h>

#include "model/cron.h"
#include "model/iso8601.h"

namespace banshi::model {
namespace {

class Validator {
 public:
  Validator(const Definitions& defs, std::vector<Diagnostic>& out) : defs_(defs), out_(out) {}

  void run() {
    if (defs_.processes.empty()) {
      error("BS105", {1, 1}, defs_.id, "the file defines no <process>");
    }
    for (const Process& p : defs_.processes) {
      if (!p.executable) continue;
      process_ = &p;
      check_process(p);
    }
  }

 private:
  void error(const char* code, SourcePos pos, const std::string& id, std::string message) {
    out_.push_back(Diagnostic{Severity::kError, code, pos, id, std::move(message)});
  }
  void warning(const char* code, SourcePos pos, const std::string& id, std::string message) {
    out_.push_back(Diagnostic{Severity::kWarning, code, pos, id, std::move(message)});
  }

  static bool has_kind(const FlowNode& n, const std::vector<EventKind>& kinds) {
    return std::find(kinds.begin(), kinds.end(), n.event_kind) != kinds.end();
  }

  void check_process(const Process& p) {
    if (p.start_events.empty()) {
      error("BS201", p.pos, p.id, "an executable process needs a start event");
    }
    for (const FlowNode& n : p.nodes) check_node(p, n);
    if (p.sla) check_sla(p, *p.sla, p.id, false);
    for (const FlowNode& n : p.nodes) {
      if (n.sla) check_sla(p, *n.sla, n.id, n.user_task && !n.user_task->due_date.empty());
    }
    for (const SequenceFlow& f : p.flows) {
      if (f.source == kNoIndex || f.condition.empty()) continue;
      ElementType t = p.nodes[f.source].type;
      if (t == ElementType::kParallelGateway || t == ElementType::kEventBasedGateway) {
        error("BS203", f.condition.pos, f.id,
              fmt::format("a sequence flow leaving a {} cannot have a condition", xml_name(t)));
      }
      if (f.is_default && !f.condition.empty()) {
        warning("BS204", f.condition.pos, f.id, "the condition of a default flow is ignored");
      }
    }
  }

  void check_node(const Process& p, const FlowNode& n) {
    check_events(p, n);
    check_connections(p, n);
    switch (n.type) {
      case ElementType::kExclusiveGateway:
      case ElementType::kInclusiveGateway:
        if (n.outgoing.size() > 1) {
          for (Index fi : n.outgoing) {
            const SequenceFlow& f = p.flows[fi];
            if (fi != n.default_flow && f.condition.empty()) {
              error("BS202", f.pos, f.id,
                    fmt::format("the sequence flow leaves the {} '{}' without a condition and is not its default flow",
                                xml_name(n.type), n.id));
            }
          }
        }
        break;
      case ElementType::kEventBasedGateway: check_event_gateway(p, n); break;
      case ElementType::kComplexGateway:
        error("BS211", n.pos, n.id, "complex gateways cannot be executed; use an inclusive gateway");
        break;
      case ElementType::kAdHocSubProcess:
        error("BS211", n.pos, n.id, "ad-hoc subprocesses cannot be executed");
        break;
      case ElementType::kUserTask: check_user_task(n); break;
      case ElementType::kServiceTask:
        if (!n.job || n.job->type.empty()) {
          error("BS206", n.pos, n.id,
                "the service task names no connector or job type (set bs:connector, bs:topic or "
                "<zeebe:taskDefinition type=...>)");
        }
        break;
      case ElementType::kSendTask:
        if ((!n.job || n.job->type.empty()) && n.message_ref == kNoIndex) {
          error("BS206", n.pos, n.id, "the send task names no connector, job type or message to publish");
        }
        break;
      case ElementType::kBusinessRuleTask:
        if (n.decision_id.empty() && (!n.job || n.job->type.empty())) {
          error("BS220", n.pos, n.id, "the business rule task names no decision (bs:decisionRef) or job type");
        }
        if (!n.decision_id.empty() && n.result_variable.empty()) {
          error("BS220", n.pos, n.id, "the business rule task needs a result variable (bs:resultVariable)");
        }
        break;
      case ElementType::kScriptTask:
        if (n.script.empty()) {
          error("BS221", n.pos, n.id,
                n.script_format.empty() || n.script_format == "feel"
                    ? "the script task has no FEEL expression (bs:expression or a <script> body)"
                    : fmt::format("script format '{}' is not supported; script tasks run FEEL", n.script_format));
        } else if (n.result_variable.empty()) {
          error("BS221", n.pos, n.id, "the script task needs a result variable (bs:resultVariable)");
        }
        break;
      case ElementType::kReceiveTask:
        check_message(n, n.message_ref, n.message_ref_id, n.pos, true);
        break;
      case ElementType::kCallActivity:
        if (!n.call || n.call->process_id.empty()) {
          error("BS210", n.pos, n.id, "the call activity names no process (calledElement or bs:processId)");
        } else if (n.call->binding == VersionBinding::kVersion && !n.call->version) {
          error("BS210", n.pos, n.id, "versionBinding=\"version\" needs bs:version");
        }
        break;
      case ElementType::kSubProcess:
      case ElementType::kTransaction: {
        size_t none_starts = 0;
        for (Index s : n.start_events) {
          if (p.nodes[s].event_kind == EventKind::kNone) ++none_starts;
          else error("BS213", p.nodes[s].pos, p.nodes[s].id, "a start event inside a subprocess must be a none start event");
        }
        if (none_starts != 1) {
          error("BS213", n.pos, n.id,
                fmt::format("an embedded subprocess needs exactly one none start event; it has {}", none_starts));
        }
        break;
      }
      case ElementType::kEventSubProcess: {
        if (n.start_events.size() != 1) {
          error("BS224", n.pos, n.id,
                fmt::format("an event subprocess needs exactly one start event; it has {}", n.start_events.size()));
        } else if (p.nodes[n.start_events.front()].event_kind == EventKind::kNone) {
          error("BS224", p.nodes[n.start_events.front()].pos, p.nodes[n.start_events.front()].id,
                "the start event of an event subprocess needs a trigger (timer, message, signal, error, escalation, "
                "conditional or compensation)");
        }
        break;
      }
      default: break;
    }
    if (n.has_standard_loop) {
      error("BS211", n.pos, n.id, "standard loops cannot be executed; use multi-instance or a gateway loop");
    }
    if (n.multi_instance) {
      const MultiInstanceSpec& mi = *n.multi_instance;
      if (mi.cardinality.empty() && mi.input_collection.empty()) {
        error("BS222", mi.pos, n.id,
              "the multi-instance activity needs a loop cardinality or an input collection (bs:collection)");
      }
      if (!mi.output_collection.empty() && mi.output_element.empty()) {
        error("BS222", mi.pos, n.id, "an output collection needs an output element (bs:outputElement)");
      }
    }
    if (n.job) check_job(n);
    for (const Mapping& m : n.inputs) {
      if (m.target.empty()) error("BS219", m.pos, n.id, "an input mapping has no target variable");
    }
    for (const Mapping& m : n.outputs) {
      if (m.target.empty()) error("BS219", m.pos, n.id, "an output mapping has no target variable");
    }
  }

  void check_connections(const Process& p, const FlowNode& n) {
    if (n.type == ElementType::kStartEvent && !n.incoming.empty()) {
      error("BS216", n.pos, n.id, "a start event cannot have incoming sequence flows");
    }
    if (n.type == ElementType::kEndEvent && !n.outgoing.empty()) {
      error("BS216", n.pos, n.id, "an end event cannot have outgoing sequence flows");
    }
    if (n.type == ElementType::kBoundaryEvent && !n.incoming.empty()) {
      error("BS216", n.pos, n.id, "a boundary event cannot have incoming sequence flows");
    }
    if (n.type == ElementType::kEventSubProcess && (!n.incoming.empty() || !n.outgoing.empty())) {
      error("BS216", n.pos, n.id, "an event subprocess cannot have sequence flows");
    }
    bool entered_otherwise = n.type == ElementType::kStartEvent || n.type == ElementType::kBoundaryEvent ||
                             n.type == ElementType::kEventSubProcess || n.is_for_compensation ||
                             (n.type == ElementType::kIntermediateCatchEvent && n.event_kind == EventKind::kLink);
    if (n.incoming.empty() && !entered_otherwise) {
      warning("BS215", n.pos, n.id, fmt::format("'{}' has no incoming sequence flow and is never reached",
                                                n.name.empty() ? n.id : n.name));
    }
    if (n.type == ElementType::kBoundaryEvent && n.event_kind != EventKind::kCompensate && n.outgoing.empty()) {
      warning("BS215", n.pos, n.id, "the boundary event has no outgoing sequence flow");
    }
    (void)p;
  }

  // An SLA policy needs exactly one due time, and what pauses it must exist.
  void check_sla(const Process& p, const SlaSpec& sla, const std::string& owner, bool task_has_due_date) {
    if (sla.due.empty() && !task_has_due_date) {
      error("BS243", sla.pos, owner,
            "the SLA policy has no due time: set due on it (P3D, 5WD or FEEL), or the user task's dueDate");
    } else if (!sla.due.empty() && task_has_due_date) {
      error("BS243", sla.pos, owner, "the user task has both a dueDate and an SLA policy with due; keep one");
    }
    for (const std::string& id : sla.pause_while) {
      const FlowNode* n = p.find(id);
      if (!n) {
        error("BS242", sla.pos, owner, fmt::format("pauseWhile names '{}', which is no element of this process", id));
      } else if (n->id == owner) {
        error("BS242", sla.pos, owner, "pauseWhile names the task itself; it would never run");
      }
    }
  }

  void check_event_gateway(const Process& p, const FlowNode& n) {
    if (n.outgoing.size() < 2) {
      error("BS214", n.pos, n.id, "an event-based gateway needs at least two outgoing sequence flows");
    }
    for (Index fi : n.outgoing) {
      const SequenceFlow& f = p.flows[fi];
      if (f.target == kNoIndex) continue;
      const FlowNode& t = p.nodes[f.target];
      bool ok = t.type == ElementType::kReceiveTask ||
                (t.type == ElementType::kIntermediateCatchEvent &&
                 has_kind(t, {EventKind::kTimer, EventKind::kMessage, EventKind::kSignal, EventKind::kConditional}));
      if (!ok) {
        error("BS214", f.pos, f.id,
              fmt::format("an event-based gateway may only lead to catching events or receive tasks, not to '{}'", t.id));
      }
    }
  }

  void check_user_task(const FlowNode& n) {
    const UserTaskSpec* u = n.user_task ? &*n.user_task : nullptr;
    if (!u || (u->assignee.empty() && u->candidate_groups.empty() && u->candidate_users.empty())) {
      error("BS205", n.pos, n.id,
            "the user task has no assignment: set bs:candidateGroups, bs:candidateUsers or bs:assignee");
      return;
    }
    for (const Expr* date : {&u->due_date, &u->follow_up_date}) {
      if (date->empty() || date->is_feel) continue;
      auto parsed = parse_date_time(date->text);
      if (!parsed.ok()) error("BS207", date->pos, n.id, parsed.error().message);
    }
  }

  void check_job(const FlowNode& n) {
    const JobDefinition& job = *n.job;
    if (!job.retries.empty() && !job.retries.is_feel) {
      const std::string& r = job.retries.text;
      bool digits = !r.empty() && r.size() < 6 && std::all_of(r.begin(), r.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits) error("BS219", job.retries.pos, n.id, fmt::format("retries must be a whole number, not '{}'", r));
    }
    for (const Expr* d : {&job.timeout, &job.retry_backoff}) {
      if (d->empty() || d->is_feel) continue;
      auto parsed = parse_duration(d->text);
      if (!parsed.ok()) error("BS207", d->pos, n.id, parsed.error().message);
    }
  }

  void check_message(const FlowNode& n, Index ref, const std::string& ref_id, SourcePos pos, bool needs_key) {
    if (ref_id.empty()) {
      error("BS212", pos, n.id, "the element names no message (messageRef)");
      return;
    }
    if (ref == kNoIndex) return;  // reported while reading
    const Message& m = defs_.messages[ref];
    if (m.name.empty()) {
      error("BS212", m.pos, m.id, fmt::format("the message '{}' has no name", m.id));
    }
    if (needs_key && m.correlation_key.empty() && n.correlation_key.empty()) {
      error("BS212", pos, n.id,
            fmt::format("waiting for message '{}' needs a correlation key (bs:correlationKey on the message or the "
                        "element)",
                        m.name.empty() ? m.id : m.name));
    }
  }

  void check_timer(const FlowNode& n, const EventDefinition& e) {
    const TimerSpec& t = e.timer;
    if (t.kind == TimerKind::kNone || t.value.empty()) {
      error("BS207", e.pos, n.id, "the timer has no timeDate, timeDuration or timeCycle value");
      return;
    }
    if (t.value.is_feel) return;
    Result<void> ok;
    if (t.kind == TimerKind::kDate) {
      auto r = parse_date_time(t.value.text);
      if (!r.ok()) ok = r.error();
    } else if (t.kind == TimerKind::kDuration) {
      auto r = parse_duration(t.value.text);
      if (!r.ok()) ok = r.error();
      else if (r->negative) ok = Error{"BS207", "a timer duration cannot be negative"};
    } else if (is_cron_cycle(t.value.text)) {
      auto r = parse_cron(t.value.text);
      if (!r.ok()) ok = r.error();
    } else {
      auto r = parse_cycle(t.value.text);
      if (!r.ok()) ok = r.error();
    }
    if (!ok.ok()) error("BS207", t.value.pos, n.id, ok.error().message);
  }

  void check_events(const Process& p, const FlowNode& n) {
    if (!is_event(n.type)) return;
    bool in_event_subprocess = n.scope != kNoIndex && p.nodes[n.scope].type == ElementType::kEventSubProcess;
    std::vector<EventKind> allowed;
    switch (n.type) {
      case ElementType::kStartEvent:
        if (in_event_subprocess) {
          allowed = {EventKind::kTimer,      EventKind::kMessage,     EventKind::kSignal,    EventKind::kError,
                     EventKind::kEscalation, EventKind::kConditional, EventKind::kCompensate};
        } else {
          allowed = {EventKind::kNone, EventKind::kTimer, EventKind::kMessage, EventKind::kSignal,
                     EventKind::kConditional};
        }
        break;
      case ElementType::kEndEvent:
        allowed = {EventKind::kNone,    EventKind::kTerminate, EventKind::kError,      EventKind::kEscalation,
                   EventKind::kMessage, EventKind::kSignal,    EventKind::kCompensate, EventKind::kCancel};
        break;
      case ElementType::kIntermediateCatchEvent:
        allowed = {EventKind::kTimer, EventKind::kMessage, EventKind::kSignal, EventKind::kLink, EventKind::kConditional};
        break;
      case ElementType::kIntermediateThrowEvent:
        allowed = {EventKind::kNone, EventKind::kMessage, EventKind::kSignal, EventKind::kEscalation, EventKind::kLink,
                   EventKind::kCompensate};
        break;
      case ElementType::kBoundaryEvent:
        allowed = {EventKind::kTimer,       EventKind::kMessage,    EventKind::kSignal, EventKind::kError,
                   EventKind::kEscalation,  EventKind::kConditional, EventKind::kCompensate, EventKind::kCancel};
        break;
      default: return;
    }
    if (n.event_kind == EventKind::kMultiple || n.event_kind == EventKind::kParallelMultiple) {
      error("BS211", n.pos, n.id, "events with several event definitions cannot be executed; split them");
      return;
    }
    if (in_event_subprocess && n.type == ElementType::kStartEvent && n.event_kind == EventKind::kNone) {
      return;  // BS224 names this on the event subprocess's start event
    }
    if (in_event_subprocess && n.type == ElementType::kStartEvent && n.event_kind == EventKind::kCompensate) {
      error("BS211", n.pos, n.id, "compensation event subprocesses cannot be executed yet; use compensation boundary events");
      return;
    }
    if (!has_kind(n, allowed)) {
      error("BS211", n.pos, n.id,
            fmt::format("a {} {} cannot be executed", n.event_kind == EventKind::kNone ? "none" : event_kind_name(n.event_kind),
                        xml_name(n.type)));
      return;
    }
    if (n.event_kind == EventKind::kCancel) {
      bool direct = n.type == ElementType::kEndEvent ? n.scope != kNoIndex && p.nodes[n.scope].type == ElementType::kTransaction
                                                     : n.attached_to != kNoIndex &&
                                                           p.nodes[n.attached_to].type == ElementType::kTransaction;
      if (!direct) {
        error("BS211", n.pos, n.id,
              n.type == ElementType::kEndEvent ? "a cancel end event must sit directly inside a transaction subprocess"
                                               : "a cancel boundary event must be attached to a transaction subprocess");
      }
    }
    if (n.events.empty()) return;
    const EventDefinition& e = n.events.front();
    switch (e.kind) {
      case EventKind::kTimer: check_timer(n, e); break;
      case EventKind::kMessage: {
        bool catching = n.type == ElementType::kIntermediateCatchEvent || n.type == ElementType::kBoundaryEvent ||
                        (n.type == ElementType::kStartEvent && in_event_subprocess);
        bool throwing = n.type == ElementType::kEndEvent || n.type == ElementType::kIntermediateThrowEvent;
        if (throwing && n.job && !n.job->type.empty()) break;  // a connector sends it
        check_message(n, e.ref, e.ref_id, e.pos, catching);
        break;
      }
      case EventKind::kSignal:
        if (e.ref_id.empty()) error("BS212", e.pos, n.id, "the signal event names no signal (signalRef)");
        else if (e.ref != kNoIndex && defs_.signals[e.ref].name.empty()) {
          error("BS212", defs_.signals[e.ref].pos, defs_.signals[e.ref].id, "the signal has no name");
        }
        break;
      case EventKind::kError:
        if (n.type == ElementType::kEndEvent) {
          if (e.ref == kNoIndex || defs_.errors[e.ref].code.empty()) {
            error("BS212", e.pos, n.id, "an error end event must name an <error> with an errorCode");
          }
        }
        break;
      case EventKind::kEscalation:
        if (n.type == ElementType::kEndEvent || n.type == ElementType::kIntermediateThrowEvent) {
          if (e.ref == kNoIndex || defs_.escalations[e.ref].code.empty()) {
            error("BS212", e.pos, n.id, "an escalation throw event must name an <escalation> with an escalationCode");
          }
        }
        break;
      case EventKind::kConditional:
        if (e.condition.empty()) error("BS225", e.pos, n.id, "the conditional event has no condition");
        break;
      case EventKind::kLink:
        if (e.link_name.empty()) {
          error("BS223", e.pos, n.id, "the link event has no name");
        } else if (n.type == ElementType::kIntermediateThrowEvent) {
          bool found = false;
          for (const FlowNode& other : p.nodes) {
            if (other.type == ElementType::kIntermediateCatchEvent && other.scope == n.scope &&
                other.event_kind == EventKind::kLink && other.events.front().link_name == e.link_name) {
              found = true;
            }
          }
          if (!found) {
            error("BS223", e.pos, n.id, fmt::format("no link catch event named '{}' in the same scope", e.link_name));
          }
        }
        break;
      case EventKind::kCompensate:
        if (n.type == ElementType::kBoundaryEvent && n.attached_to != kNoIndex &&
            p.nodes[n.attached_to].compensation_handler == kNoIndex) {
          error("BS227", n.pos, n.id,
                "the compensation boundary event has no compensation handler (an association to an activity with "
                "isForCompensation=\"true\")");
        }
        if (!e.activity_ref.empty() && !p.find(e.activity_ref)) {
          error("BS103", e.pos, n.id, fmt::format("activityRef '{}' names no activity of this process", e.activity_ref));
        }
        break;
      default: break;
    }
  }

  const Definitions& defs_;
  std::vector<Diagnostic>& out_;
  const Process* process_ = nullptr;
};

}  // namespace

void validate(const Definitions& definitions, std::vector<Diagnostic>& out) {
  Validator(definitions, out).run();
}

}  // namespace banshi::model
