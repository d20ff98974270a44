#include "core/processor.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/behavior.h"
#include "core/sla.h"
#include "expr/json_text.h"
#include "model/cron.h"
#include "model/iso8601.h"

namespace banshi::core {

namespace json = boost::json;
using model::ElementType;
using model::EventKind;
using model::FlowNode;
using model::Index;
using model::kNoIndex;

// ---------------------------------------------------------------------------
// Variables

const json::value* ScopeVariables::find(std::string_view name) const {
  std::string key(name);
  for (Key k = scope_; k != 0;) {
    const ElementInstance* ei = state_.find(k);
    if (!ei) break;
    auto it = ei->variables.find(key);
    if (it != ei->variables.end()) return &it->second;
    k = ei->scope;
  }
  return nullptr;
}

Processor::Processor(const ExecutableProcess& process, InstanceState& state, const StepEnv& env,
                     std::vector<Record>& out)
    : process_(process), state_(state), env_(env), out_(out) {}

void Processor::set_local_variable(Key scope, const std::string& name, const json::value& value) {
  ElementInstance& ei = state_.elements.at(scope);
  auto it = ei.variables.find(name);
  bool created = it == ei.variables.end();
  if (!created && it->second == value) return;
  ei.variables[name] = value;
  variables_changed_ = true;
  Record r{created ? RecordKind::kVariableCreated : RecordKind::kVariableUpdated, scope, ei.element, ei.scope};
  r.name = name;
  r.payload = value;
  emit(std::move(r));
}

void Processor::propagate_variable(Key scope, const std::string& name, const json::value& value) {
  for (Key k = scope; k != 0;) {
    const ElementInstance* ei = state_.find(k);
    if (!ei) break;
    if (ei->variables.count(name)) {
      set_local_variable(k, name, value);
      return;
    }
    k = ei->scope;
  }
  set_local_variable(state_.root, name, value);
}

void Processor::merge_completion_variables(ElementInstance& ei, const json::object& variables) {
  // With output mappings the results stay local for the mappings to pick from.
  // Without, each goes to the nearest scope that defines it, starting with the
  // element's own locals (input mappings, multi-instance items), else the root.
  const bool has_outputs = ei.element != kNoIndex && !node(ei.element).outputs.empty();
  for (const auto& [name, value] : variables) {
    if (has_outputs) set_local_variable(ei.key, std::string(name), value);
    else propagate_variable(ei.key, std::string(name), value);
  }
}

json::object Processor::visible_variables(Key scope) const {
  json::object out;
  for (Key k = scope; k != 0;) {
    const ElementInstance* ei = state_.find(k);
    if (!ei) break;
    for (const auto& [name, value] : ei->variables) {
      if (!out.contains(name)) out[name] = value;
    }
    k = ei->scope;
  }
  return out;
}

expr::Value Processor::evaluate_in(const expr::Expression& e, Key scope) const {
  ScopeVariables vars(state_, scope);
  expr::EvalContext ctx;
  ctx.variables = &vars;
  ctx.now_epoch_ms = env_.now_ms;
  ctx.utc_offset_minutes = env_.utc_offset_minutes;
  ctx.working_days = env_.working_days;
  return e.evaluate(ctx);
}

std::optional<json::value> Processor::evaluate(const model::Expr& e, Key scope, Key incident_on, const char* what) {
  if (!e.is_feel) return json::value(json::string(e.text));
  if (!e.compiled) {
    raise_incident(incident_on, IncidentKind::kExpressionFailed,
                   fmt::format("{}: the expression '{}' is not compiled", what, e.text));
    return std::nullopt;
  }
  expr::Value v = evaluate_in(*e.compiled, scope);
  if (v.is_null() && !v.null_reason().empty()) {
    raise_incident(incident_on, IncidentKind::kExpressionFailed,
                   fmt::format("{}: '{}' could not be evaluated: {}", what, e.text, v.null_reason()));
    return std::nullopt;
  }
  return expr::to_json(v);
}

std::optional<bool> Processor::evaluate_condition(const model::Expr& e, Key scope, Key incident_on) {
  if (!e.compiled) {
    raise_incident(incident_on, IncidentKind::kExpressionFailed, fmt::format("the condition '{}' is not compiled", e.text));
    return std::nullopt;
  }
  expr::Value v = evaluate_in(*e.compiled, scope);
  if (v.is_boolean()) return v.as_boolean();
  std::string why = v.is_null() && !v.null_reason().empty() ? v.null_reason()
                                                            : fmt::format("it gave {}, not a boolean", v.to_string());
  raise_incident(incident_on, IncidentKind::kExpressionFailed, fmt::format("the condition '{}' failed: {}", e.text, why));
  return std::nullopt;
}

bool Processor::apply_mappings(ElementInstance& ei, const std::vector<model::Mapping>& mappings, bool input) {
  // Both directions evaluate in the element's own scope (inputs see what was
  // set on it before, such as a multi-instance item); inputs become locals,
  // outputs propagate outwards. Nothing is written unless every source evaluates.
  std::vector<std::pair<std::string, json::value>> values;
  for (const model::Mapping& m : mappings) {
    auto v = evaluate(m.source, ei.key, input ? "input mapping" : "output mapping");
    if (!v) return false;
    values.emplace_back(m.target, std::move(*v));
  }
  for (auto& [target, value] : values) {
    if (input) set_local_variable(ei.key, target, value);
    else propagate_variable(ei.scope, target, value);
  }
  return true;
}

// ---------------------------------------------------------------------------
// Lifecycle

void Processor::lifecycle(RecordKind kind, const ElementInstance& ei) {
  Record r{kind, ei.key, ei.element, ei.scope};
  if (ei.is_mi_body) r.name = "multi-instance-body";
  emit(std::move(r));
  if (!state_.sla_clocks.empty()) sla_on_lifecycle(*this, kind, ei);
}

void Processor::enqueue_activate(Index element, Key scope, Index flow, json::object trigger_variables, bool triggered) {
  WorkItem item{WorkItem::Kind::kActivate};
  item.element = element;
  item.scope = scope;
  item.flow = flow;
  item.variables = std::move(trigger_variables);
  item.triggered = triggered;
  queue_.push_back(std::move(item));
}

void Processor::enqueue_complete(Key element_instance) {
  WorkItem item{WorkItem::Kind::kComplete};
  item.ei = element_instance;
  queue_.push_back(std::move(item));
}

void Processor::enqueue_check(Key scope) {
  WorkItem item{WorkItem::Kind::kCheckScope};
  item.scope = scope;
  queue_.push_back(std::move(item));
}

void Processor::complete(Key element_instance) { do_complete(element_instance); }

void Processor::run() {
  for (;;) {
    drain();
    // Variables changed: conditional events whose condition turned true fire,
    // which may queue more work and change more variables.
    if (!variables_changed_ || state_.conditional_subscriptions.empty() || work_done_ > env_.max_work_items) return;
    variables_changed_ = false;
    evaluate_conditionals();
    if (queue_.empty()) return;
  }
}

void Processor::evaluate_conditionals() {
  std::vector<ConditionalSubscription> subs;
  for (const auto& [k, c] : state_.conditional_subscriptions) subs.push_back(c);
  for (const ConditionalSubscription& c : subs) {
    auto it = state_.conditional_subscriptions.find(c.key);
    if (it == state_.conditional_subscriptions.end() || !state_.find(c.element_instance)) continue;
    const FlowNode& ev = node(c.element);
    const model::Expr& cond = ev.events.front().condition;
    bool value = false;
    if (cond.compiled) {
      expr::Value v = evaluate_in(*cond.compiled, c.element_instance);
      // A condition that cannot be decided yet (a variable not set) is false.
      value = v.is_boolean() && v.as_boolean();
    }
    bool fire = value && !it->second.last_value;
    it->second.last_value = value;
    if (!fire) continue;
    bool keep = !ev.interrupting &&
                (ev.type == ElementType::kBoundaryEvent || ev.type == ElementType::kStartEvent);
    if (!keep) state_.conditional_subscriptions.erase(it);
    trigger_event(c.element_instance, c.element, {});
  }
}

void Processor::drain() {
  while (!queue_.empty()) {
    if (++work_done_ > env_.max_work_items) {
      // Looping without a wait state: park every pending token behind an
      // incident so nothing is lost and an operator can see and repair it.
      park_queued_work();
      return;
    }
    WorkItem item = std::move(queue_.front());
    queue_.pop_front();
    switch (item.kind) {
      case WorkItem::Kind::kActivate: do_activate(item); break;
      case WorkItem::Kind::kComplete: do_complete(item.ei); break;
      case WorkItem::Kind::kCheckScope: check_scope(item.scope); break;
    }
  }
}

void Processor::park_queued_work() {
  const std::string why = fmt::format(
      "the instance ran more than {} steps without reaching a wait state; it may loop forever", env_.max_work_items);
  while (!queue_.empty()) {
    WorkItem item = std::move(queue_.front());
    queue_.pop_front();
    if (item.kind == WorkItem::Kind::kActivate) {
      if (!state_.find(item.scope)) continue;
      ElementInstance ei;
      ei.key = new_key();
      ei.element = item.element;
      ei.scope = item.scope;
      ei.entered_by = item.flow;
      auto& stored = state_.elements[ei.key] = std::move(ei);
      lifecycle(RecordKind::kElementActivating, stored);
      raise_incident(stored.key, IncidentKind::kLoopWithoutWait, why);
    } else if (item.kind == WorkItem::Kind::kComplete) {
      auto it = state_.elements.find(item.ei);
      if (it == state_.elements.end() || it->second.incident != 0) continue;
      // Parked as completing, so resolving the incident finishes the completion.
      if (it->second.state != ElementState::kCompleting) {
        it->second.state = ElementState::kCompleting;
        lifecycle(RecordKind::kElementCompleting, it->second);
      }
      raise_incident(item.ei, IncidentKind::kLoopWithoutWait, why);
    }
    // Scope checks are dropped: the parked tokens keep their scopes alive, and
    // every completion after a resolution checks its scope again.
  }
}

void Processor::do_activate(WorkItem& item) {
  if (!state_.find(item.scope)) return;  // the scope ended meanwhile
  const FlowNode& n = node(item.element);
  const ElementBehavior& b = behavior_for(n.type);
  if (!item.triggered && !b.accept_token(*this, item.scope, n, item.flow)) return;

  const ElementInstance* parent = state_.find(item.scope);
  const bool is_mi_inner = parent != nullptr && parent->is_mi_body && parent->element == item.element;
  ElementInstance ei;
  ei.key = new_key();
  ei.element = item.element;
  ei.scope = item.scope;
  ei.entered_by = item.flow;
  ei.is_mi_body = n.multi_instance.has_value() && !is_mi_inner;
  ei.compensation_thrower = item.compensation_thrower;
  auto& stored = state_.elements[ei.key] = std::move(ei);
  lifecycle(RecordKind::kElementActivating, stored);

  if (item.triggered) {
    // An event that already happened (boundary, event-subprocess start, a branch
    // of an event-based gateway): take its variables and pass straight through.
    for (const auto& [name, value] : item.variables) propagate_variable(stored.scope, std::string(name), value);
    stored.state = ElementState::kActivated;
    lifecycle(RecordKind::kElementActivated, stored);
    if (n.type == ElementType::kEventSubProcess) {
      b.on_activated(*this, stored, n);
    } else {
      enqueue_complete(stored.key);
    }
    return;
  }
  continue_activation(stored);
}

void Processor::continue_activation(ElementInstance& ei) {
  const FlowNode& n = node(ei.element);
  if (ei.is_mi_body) {
    // The body only spawns inner instances; mappings apply to each of those.
    ei.state = ElementState::kActivated;
    lifecycle(RecordKind::kElementActivated, ei);
    open_boundary_events(ei, n);
    if (ei.incident == 0) activate_mi_body(ei, n);
    return;
  }
  if (!apply_mappings(ei, n.inputs, true)) return;
  ei.state = ElementState::kActivated;
  lifecycle(RecordKind::kElementActivated, ei);
  if (!is_mi_inner(ei)) {
    open_boundary_events(ei, n);
    if (ei.incident != 0) return;
  }
  behavior_for(n.type).on_activated(*this, ei, n);
}

void Processor::open_boundary_events(ElementInstance& ei, const FlowNode& n) {
  for (Index b : n.boundary_events) {
    const FlowNode& bn = node(b);
    if (bn.event_kind == EventKind::kTimer || bn.event_kind == EventKind::kMessage ||
        bn.event_kind == EventKind::kSignal || bn.event_kind == EventKind::kConditional) {
      if (!subscribe_event(ei.key, bn)) return;
    }
  }
}

void Processor::do_complete(Key key) {
  auto it = state_.elements.find(key);
  if (it == state_.elements.end()) return;  // terminated meanwhile
  ElementInstance& ei = it->second;
  if (ei.incident != 0) return;
  if (ei.state != ElementState::kCompleting) {
    ei.state = ElementState::kCompleting;
    lifecycle(RecordKind::kElementCompleting, ei);
  }
  if (ei.element == kNoIndex) {
    close_subscriptions(key);
    lifecycle(RecordKind::kElementCompleted, ei);
    finish_instance(InstanceStatus::kCompleted);
    return;
  }
  const FlowNode& n = node(ei.element);
  const bool inner = is_mi_inner(ei);
  if (ei.is_mi_body && !n.multi_instance->output_collection.empty()) {
    auto out = ei.variables.find(n.multi_instance->output_collection);
    if (out != ei.variables.end()) propagate_variable(ei.scope, n.multi_instance->output_collection, out->second);
  }
  if (!ei.is_mi_body && !apply_mappings(ei, n.outputs, false)) return;
  // Everything that can fail happens before the element is gone, so a
  // resolved incident retries the completion with nothing lost.
  std::optional<json::value> mi_output;
  bool mi_done = false;  // the completion condition holds
  std::vector<Index> flows;
  if (inner) {
    const model::MultiInstanceSpec& mi = *n.multi_instance;
    if (!mi.output_collection.empty() && !mi.output_element.empty()) {
      mi_output = evaluate(mi.output_element, key, "output element");
      if (!mi_output) return;
    }
    if (!mi.completion_condition.empty()) {
      // In the inner instance's scope, with the body's counters as they are
      // once it has completed (set as values, so a retry sets the same). A
      // failure raises the incident here, and resolving it completes this
      // instance again with its variables still there.
      ElementInstance& body = state_.elements.at(ei.scope);
      set_local_variable(body.key, "numberOfCompletedInstances", body.mi_completed + 1);
      set_local_variable(body.key, "numberOfActiveInstances", body.mi_active - 1);
      auto done = evaluate_condition(mi.completion_condition, key, key);
      if (!done) return;
      mi_done = *done;
    }
  } else if (!behavior_for(n.type).select_outgoing(*this, ei, n, flows)) {
    return;
  }
  close_subscriptions(key);
  lifecycle(RecordKind::kElementCompleted, ei);
  Key scope = ei.scope;
  // Each completed instance of a multi-instance activity is compensated on
  // its own (its body registers nothing); what completed inside a
  // subprocess, or inside one instance of a multi-instance subprocess,
  // stays compensable from the enclosing scope.
  if (n.compensation_handler != kNoIndex && !ei.is_mi_body) {
    Key entry = new_key();
    state_.compensable[entry] = CompensableActivity{entry, scope, n.index};
  }
  for (auto& [k, c] : state_.compensable) {
    if (c.scope == key) c.scope = scope;
  }
  if (inner) {
    mi_inner_done(scope, key, std::move(mi_output), mi_done);
    state_.elements.erase(key);
    return;
  }
  const Key thrower = ei.compensation_thrower;
  state_.elements.erase(it);
  for (Index f : flows) take_flow(scope, f);
  behavior_for(n.type).on_left(*this, scope, n);
  if (thrower != 0) start_next_compensation(thrower);
  WorkItem check{WorkItem::Kind::kCheckScope};
  check.scope = scope;
  queue_.push_back(std::move(check));
}

bool Processor::scope_has_work(Key scope) const {
  for (const auto& [k, ei] : state_.elements) {
    if (ei.scope == scope) return true;
  }
  for (const WorkItem& w : queue_) {
    if (w.kind == WorkItem::Kind::kActivate && w.scope == scope) return true;
  }
  for (const JoinState& j : state_.joins) {
    if (j.scope != scope) continue;
    for (uint32_t a : j.arrived) {
      if (a > 0) return true;
    }
  }
  return false;
}

bool Processor::is_mi_inner(const ElementInstance& ei) const {
  const ElementInstance* parent = state_.find(ei.scope);
  return parent != nullptr && parent->is_mi_body && parent->element == ei.element;
}

bool Processor::queued_activation_can_reach(Key scope, Index element) const {
  for (const WorkItem& w : queue_) {
    if (w.kind != WorkItem::Kind::kActivate || w.scope != scope) continue;
    if (w.element == element || process_.can_reach(w.element, element)) return true;
  }
  return false;
}

void Processor::check_scope(Key scope) {
  ElementInstance* ei = state_.elements.count(scope) ? &state_.elements.at(scope) : nullptr;
  if (!ei || ei->incident != 0 || ei->state == ElementState::kCompleting) return;
  // Joins holding tokens may be able to go on now that something ended.
  std::vector<Index> waiting;
  for (const JoinState& j : state_.joins) {
    if (j.scope == scope) waiting.push_back(j.gateway);
  }
  for (Index g : waiting) behavior_for(node(g).type).on_scope_changed(*this, scope, node(g));
  if (scope_has_work(scope)) return;
  if (ei->element == kNoIndex) {
    do_complete(scope);
    return;
  }
  if (ei->is_mi_body) return;  // bodies complete through their inner instances
  behavior_for(node(ei->element).type).on_children_done(*this, *ei, node(ei->element));
}

void Processor::take_flow(Key scope, Index flow) {
  const ElementInstance* s = state_.find(scope);
  Record r{RecordKind::kSequenceFlowTaken, 0, flow, scope};
  (void)s;
  emit(std::move(r));
  enqueue_activate(process_.flow(flow).target, scope, flow);
}

bool Processor::select_default_outgoing(const ElementInstance& ei, const FlowNode& n, std::vector<Index>& flows) {
  for (Index f : n.outgoing) {
    if (f == n.default_flow) continue;
    const model::SequenceFlow& flow = process_.flow(f);
    if (flow.condition.empty()) {
      flows.push_back(f);
      continue;
    }
    auto holds = evaluate_condition(flow.condition, ei.scope, ei.key);
    if (!holds) {
      flows.clear();
      return false;
    }
    if (*holds) flows.push_back(f);
  }
  if (flows.empty() && n.default_flow != kNoIndex) flows.push_back(n.default_flow);
  return true;
}

void Processor::terminate(Key key) {
  auto it = state_.elements.find(key);
  if (it == state_.elements.end()) return;
  std::vector<Key> children;
  for (const auto& [k, ei] : state_.elements) {
    if (ei.scope == key) children.push_back(k);
  }
  for (Key c : children) terminate(c);
  // Drop tokens still queued for this scope.
  queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                              [&](const WorkItem& w) { return w.kind == WorkItem::Kind::kActivate && w.scope == key; }),
               queue_.end());
  ElementInstance& ei = state_.elements.at(key);
  lifecycle(RecordKind::kElementTerminating, ei);
  for (auto j = state_.jobs.begin(); j != state_.jobs.end();) {
    if (j->second.element_instance == key) {
      emit(Record{RecordKind::kJobCanceled, j->first, ei.element, key});
      j = state_.jobs.erase(j);
    } else {
      ++j;
    }
  }
  for (auto t = state_.user_tasks.begin(); t != state_.user_tasks.end();) {
    if (t->second.element_instance == key) {
      emit(Record{RecordKind::kUserTaskCanceled, t->first, ei.element, key});
      t = state_.user_tasks.erase(t);
    } else {
      ++t;
    }
  }
  close_subscriptions(key);
  for (auto i = state_.incidents.begin(); i != state_.incidents.end();) {
    if (i->second.element_instance == key) {
      emit(Record{RecordKind::kIncidentResolved, i->first, ei.element, key});
      i = state_.incidents.erase(i);
    } else {
      ++i;
    }
  }
  state_.joins.erase(std::remove_if(state_.joins.begin(), state_.joins.end(),
                                    [&](const JoinState& j) { return j.scope == key; }),
                     state_.joins.end());
  std::erase_if(state_.compensable, [&](const auto& entry) { return entry.second.scope == key; });
  if (ei.element != kNoIndex) behavior_for(node(ei.element).type).on_terminated(*this, ei, node(ei.element));
  lifecycle(RecordKind::kElementTerminated, ei);
  state_.elements.erase(key);
}

void Processor::finish_instance(InstanceStatus status) {
  ElementInstance& root = state_.elements.at(state_.root);
  Record r{status == InstanceStatus::kCompleted ? RecordKind::kInstanceCompleted : RecordKind::kInstanceTerminated,
           root.key, kNoIndex, 0};
  json::object vars;
  for (const auto& [name, value] : root.variables) vars[name] = value;
  r.payload = std::move(vars);
  r.name = process_.process().id;
  emit(std::move(r));
  state_.elements.erase(state_.root);
  drop_all_sla(*this);
  state_.status = status;
  state_.joins.clear();
  state_.compensable.clear();
  queue_.clear();
}

void Processor::enter_scope(ElementInstance& scope_ei, const FlowNode* container) {
  const std::vector<Index>& esps = container ? container->event_subprocesses : process_.process().event_subprocesses;
  Key key = scope_ei.key;
  for (Index esp : esps) {
    const FlowNode& e = node(esp);
    if (e.start_events.empty()) continue;
    const FlowNode& start = node(e.start_events.front());
    if (start.event_kind == EventKind::kTimer || start.event_kind == EventKind::kMessage ||
        start.event_kind == EventKind::kSignal || start.event_kind == EventKind::kConditional) {
      if (!subscribe_event(key, start)) return;
    }
  }
  if (container) {
    for (Index s : container->start_events) {
      if (node(s).event_kind == EventKind::kNone) enqueue_activate(s, key, kNoIndex);
    }
  }
}

// ---------------------------------------------------------------------------
// Incidents and effects

Key Processor::raise_incident(Key ei_key, IncidentKind kind, std::string message, Key job) {
  Key key = new_key();
  ElementInstance* ei = state_.elements.count(ei_key) ? &state_.elements.at(ei_key) : nullptr;
  state_.incidents[key] = Incident{key, ei_key, kind, message, job};
  if (ei) ei->incident = key;
  Record r{RecordKind::kIncidentCreated, key, ei ? ei->element : kNoIndex, ei_key};
  r.name = std::string(incident_kind_name(kind));
  r.text = std::move(message);
  emit(std::move(r));
  return key;
}

namespace {
std::optional<int64_t> as_int(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() < (1ull << 62)) return static_cast<int64_t>(v.as_uint64());
  if (v.is_double() && v.as_double() == static_cast<double>(static_cast<int64_t>(v.as_double()))) {
    return static_cast<int64_t>(v.as_double());
  }
  if (v.is_string()) {
    const json::string& s = v.as_string();
    int64_t out = 0;
    if (s.empty() || s.size() > 12) return std::nullopt;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      out = out * 10 + (c - '0');
    }
    return out;
  }
  return std::nullopt;
}

json::value as_list(const json::value& v) {
  if (v.is_array()) return v;
  json::array out;
  if (v.is_string()) {
    std::string_view s = v.as_string();
    size_t start = 0;
    while (start <= s.size()) {
      size_t comma = s.find(',', start);
      std::string_view part = s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
      if (!part.empty()) out.emplace_back(json::string(part));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  } else if (!v.is_null()) {
    out.push_back(v);
  }
  return out;
}
}  // namespace

Key Processor::create_job(ElementInstance& ei, const FlowNode& n) {
  const model::JobDefinition& def = *n.job;
  int64_t retries = 3;
  if (!def.retries.empty()) {
    auto v = evaluate(def.retries, ei.key, "retries");
    if (!v) return 0;
    auto r = as_int(*v);
    if (!r || *r < 0) {
      raise_incident(ei.key, IncidentKind::kExpressionFailed, "retries must be a whole number of at least 0");
      return 0;
    }
    retries = *r;
  }
  Key key = new_key();
  state_.jobs[key] = Job{key, ei.key, def.type, static_cast<int32_t>(retries), {}, false};
  Record r{RecordKind::kJobCreated, key, ei.element, ei.key};
  r.name = def.type;
  json::object payload;
  payload["retries"] = retries;
  payload["elementId"] = n.id;
  if (!def.timeout.empty()) payload["timeout"] = def.timeout.text;
  if (!def.retry_backoff.empty()) payload["retryBackoff"] = def.retry_backoff.text;
  if (!def.headers.empty()) {
    json::object headers;
    for (const auto& [k, v] : def.headers) headers[k] = v;
    payload["headers"] = std::move(headers);
  }
  r.payload = std::move(payload);
  emit(std::move(r));
  return key;
}

void Processor::create_user_task(ElementInstance& ei, const FlowNode& n) {
  const model::UserTaskSpec& spec = *n.user_task;
  json::object payload;
  payload["name"] = n.name;
  payload["elementId"] = n.id;
  int64_t due_at = 0;
  struct Field {
    const char* name;
    const model::Expr* expr;
    bool list;
  };
  const Field fields[] = {{"assignee", &spec.assignee, false},        {"candidateGroups", &spec.candidate_groups, true},
                          {"candidateUsers", &spec.candidate_users, true}, {"dueDate", &spec.due_date, false},
                          {"followUpDate", &spec.follow_up_date, false},  {"formKey", &spec.form_key, false},
                          {"priority", &spec.priority, false},           {"region", &spec.region, false}};
  for (const Field& f : fields) {
    if (f.expr->empty()) continue;
    auto v = evaluate(*f.expr, ei.key, f.name);
    if (!v) return;
    payload[f.name] = f.list ? as_list(*v) : *v;
  }
  for (const char* date_field : {"dueDate", "followUpDate"}) {
    if (!payload.contains(date_field) || payload[date_field].is_null()) continue;
    if (!payload[date_field].is_string()) {
      raise_incident(ei.key, IncidentKind::kExpressionFailed, fmt::format("{} must be a date and time", date_field));
      return;
    }
    auto parsed = model::parse_date_time(std::string_view(payload[date_field].as_string()), env_.utc_offset_minutes);
    if (!parsed.ok()) {
      raise_incident(ei.key, IncidentKind::kExpressionFailed, fmt::format("{}: {}", date_field, parsed.error().message));
      return;
    }
    // A date without a time of day is due by the end of that day.
    const bool date_only = payload[date_field].as_string().size() == 10;
    if (std::string_view(date_field) == "dueDate") due_at = date_only ? *parsed + 86'400'000 - 1 : *parsed;
  }
  bool working_days = false;
  if (n.sla && !n.sla->due.empty() && !compute_task_due(*this, ei, *n.sla, due_at, working_days)) return;
  std::string region;
  if (const json::value* rv = payload.if_contains("region"); rv && rv->is_string()) region = rv->as_string();
  Key key = new_key();
  state_.user_tasks[key] = UserTask{key, ei.key};
  Record r{RecordKind::kUserTaskCreated, key, ei.element, ei.key};
  r.due_at = due_at;
  r.name = n.id;
  r.payload = std::move(payload);
  emit(std::move(r));
  if (n.sla && due_at != 0) start_task_sla(*this, ei, n, key, due_at, working_days, region);
}

bool Processor::subscribe_event(Key owner, const FlowNode& ev) {
  const model::Definitions& defs = process_.definitions();
  EventKind kind = ev.type == ElementType::kReceiveTask ? EventKind::kMessage : ev.event_kind;
  if (kind == EventKind::kTimer) {
    const model::TimerSpec& t = ev.events.front().timer;
    auto v = evaluate(t.value, owner, "timer");
    if (!v) return false;
    std::string text = v->is_string() ? std::string(v->as_string()) : expr::json_text(*v);
    Timer timer;
    timer.key = new_key();
    timer.element_instance = owner;
    timer.element = ev.index;
    std::string error;
    if (t.kind == model::TimerKind::kDate) {
      auto at = model::parse_date_time(text, env_.utc_offset_minutes);
      if (at.ok()) timer.due_at = *at;
      else error = at.error().message;
    } else if (t.kind == model::TimerKind::kDuration) {
      auto d = model::parse_duration(text);
      if (d.ok()) timer.due_at = model::add_duration(env_.now_ms, *d, env_.utc_offset_minutes);
      else error = d.error().message;
    } else if (model::is_cron_cycle(text)) {
      auto cron = model::parse_cron(text);
      auto first = cron.ok() ? model::next_cron(*cron, env_.now_ms, env_.utc_offset_minutes) : std::nullopt;
      if (first) {
        timer.due_at = *first;
        timer.repetitions_left = -1;
        timer.cron = cron->text;
      } else {
        error = cron.ok() ? fmt::format("'{}' matches no instant after now", cron->text) : cron.error().message;
      }
    } else {
      auto c = model::parse_cycle(text, env_.utc_offset_minutes);
      if (c.ok()) {
        int64_t first = c->start_ms ? *c->start_ms : model::add_duration(env_.now_ms, c->interval, env_.utc_offset_minutes);
        timer.due_at = first;
        timer.repetitions_left = c->repetitions < 0 ? -1 : c->repetitions - 1;
        timer.interval_ms = model::add_duration(first, c->interval, env_.utc_offset_minutes) - first;
      } else {
        error = c.error().message;
      }
    }
    if (!error.empty()) {
      raise_incident(owner, IncidentKind::kExpressionFailed, fmt::format("timer of '{}': {}", ev.id, error));
      return false;
    }
    state_.timers[timer.key] = timer;
    Record r{RecordKind::kTimerScheduled, timer.key, ev.index, owner};
    r.due_at = timer.due_at;
    emit(std::move(r));
    return true;
  }
  if (kind == EventKind::kMessage) {
    Index ref = ev.type == ElementType::kReceiveTask ? ev.message_ref : ev.events.front().ref;
    if (ref == kNoIndex) return true;
    const model::Message& m = defs.messages[ref];
    const model::Expr& key_expr = !ev.correlation_key.empty() ? ev.correlation_key : m.correlation_key;
    std::string correlation;
    if (!key_expr.empty()) {
      auto v = evaluate(key_expr, owner, "correlation key");
      if (!v) return false;
      correlation = v->is_string() ? std::string(v->as_string()) : expr::json_text(*v);
    }
    Key key = new_key();
    state_.message_subscriptions[key] = MessageSubscription{key, owner, ev.index, m.name, correlation};
    Record r{RecordKind::kMessageSubscriptionOpened, key, ev.index, owner};
    r.name = m.name;
    r.text = correlation;
    emit(std::move(r));
    return true;
  }
  if (kind == EventKind::kConditional) {
    // Checked once this step's work is done, and again whenever variables change.
    Key key = new_key();
    state_.conditional_subscriptions[key] = ConditionalSubscription{key, owner, ev.index, false};
    variables_changed_ = true;
    return true;
  }
  if (kind == EventKind::kSignal) {
    Index ref = ev.events.front().ref;
    if (ref == kNoIndex) return true;
    Key key = new_key();
    state_.signal_subscriptions[key] = SignalSubscription{key, owner, ev.index, defs.signals[ref].name};
    Record r{RecordKind::kSignalSubscriptionOpened, key, ev.index, owner};
    r.name = defs.signals[ref].name;
    emit(std::move(r));
    return true;
  }
  return true;
}

void Processor::close_subscriptions(Key owner, bool event_subprocess_starts_only) {
  // With event_subprocess_starts_only, a subscription of `owner` is closed
  // only when it is the start event of one of its event subprocesses (not a
  // boundary event of `owner`).
  auto closes = [&](Key element_instance, Index element) {
    return element_instance == owner && (!event_subprocess_starts_only || node(element).type == ElementType::kStartEvent);
  };
  for (auto t = state_.timers.begin(); t != state_.timers.end();) {
    if (closes(t->second.element_instance, t->second.element)) {
      emit(Record{RecordKind::kTimerCanceled, t->first, t->second.element, owner});
      t = state_.timers.erase(t);
    } else {
      ++t;
    }
  }
  for (auto m = state_.message_subscriptions.begin(); m != state_.message_subscriptions.end();) {
    if (closes(m->second.element_instance, m->second.element)) {
      Record r{RecordKind::kMessageSubscriptionClosed, m->first, m->second.element, owner};
      r.name = m->second.name;
      r.text = m->second.correlation_key;
      emit(std::move(r));
      m = state_.message_subscriptions.erase(m);
    } else {
      ++m;
    }
  }
  std::erase_if(state_.conditional_subscriptions,
                [&](const auto& entry) { return closes(entry.second.element_instance, entry.second.element); });
  for (auto s = state_.signal_subscriptions.begin(); s != state_.signal_subscriptions.end();) {
    if (closes(s->second.element_instance, s->second.element)) {
      Record r{RecordKind::kSignalSubscriptionClosed, s->first, s->second.element, owner};
      r.name = s->second.name;
      emit(std::move(r));
      s = state_.signal_subscriptions.erase(s);
    } else {
      ++s;
    }
  }
  if (!event_subprocess_starts_only && !state_.sla_clocks.empty()) drop_task_sla(*this, owner);
}

void Processor::trigger_event(Key owner_key, Index event_element, const json::object& variables) {
  auto it = state_.elements.find(owner_key);
  if (it == state_.elements.end()) return;
  ElementInstance& owner = it->second;
  const FlowNode& ev = node(event_element);
  if (ev.type == ElementType::kBoundaryEvent) {
    Key scope = owner.scope;
    if (ev.interrupting) terminate(owner_key);
    enqueue_activate(event_element, scope, kNoIndex, variables, true);
    return;
  }
  if (ev.type == ElementType::kStartEvent && ev.scope != kNoIndex &&
      node(ev.scope).type == ElementType::kEventSubProcess) {
    if (owner.interrupted) return;
    if (ev.interrupting) {
      owner.interrupted = true;
      // The scope's other event subprocesses stop listening; the boundary
      // events of a subprocess stay armed, as the subprocess still runs.
      close_subscriptions(owner_key, /*event_subprocess_starts_only=*/true);
      std::vector<Key> children;
      for (const auto& [k, e] : state_.elements) {
        if (e.scope == owner_key) children.push_back(k);
      }
      for (Key c : children) terminate(c);
      // Tokens this step queued in the scope but did not yet enter end too.
      queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                                  [&](const WorkItem& w) {
                                    return w.kind == WorkItem::Kind::kActivate && w.scope == owner_key;
                                  }),
                   queue_.end());
      state_.joins.erase(std::remove_if(state_.joins.begin(), state_.joins.end(),
                                        [&](const JoinState& j) { return j.scope == owner_key; }),
                         state_.joins.end());
    }
    WorkItem item{WorkItem::Kind::kActivate};
    item.element = ev.scope;
    item.scope = owner_key;
    item.variables = variables;
    item.triggered = true;
    queue_.push_back(std::move(item));
    return;
  }
  if (owner.element != kNoIndex && node(owner.element).type == ElementType::kEventBasedGateway) {
    // The first event wins: the gateway completes and only its branch goes on.
    Key scope = owner.scope;
    const FlowNode& gw = node(owner.element);
    close_subscriptions(owner_key);
    owner.state = ElementState::kCompleting;
    lifecycle(RecordKind::kElementCompleting, owner);
    lifecycle(RecordKind::kElementCompleted, owner);
    state_.elements.erase(it);
    for (Index f : gw.outgoing) {
      if (process_.flow(f).target != event_element) continue;
      emit(Record{RecordKind::kSequenceFlowTaken, 0, f, scope});
      enqueue_activate(event_element, scope, f, variables, true);
    }
    return;
  }
  if (owner.element == event_element) {
    behavior_for(ev.type).on_triggered(*this, owner, ev, variables);
  }
}

// ---------------------------------------------------------------------------
// Errors and escalations

namespace {
bool catches(const model::Definitions& defs, const FlowNode& n, EventKind kind, const std::string& code) {
  if (n.event_kind != kind || n.events.empty()) return false;
  Index ref = n.events.front().ref;
  if (ref == kNoIndex) return true;  // catch-all
  return kind == EventKind::kError ? defs.errors[ref].code == code : defs.escalations[ref].code == code;
}
}  // namespace

Index Processor::catching_start(const FlowNode* scope_node, EventKind kind, const std::string& code) const {
  const auto& esps = scope_node ? scope_node->event_subprocesses : process_.process().event_subprocesses;
  for (Index esp : esps) {
    const FlowNode& e = node(esp);
    if (e.start_events.empty()) continue;
    const FlowNode& start = node(e.start_events.front());
    if (catches(process_.definitions(), start, kind, code)) return start.index;
  }
  return kNoIndex;
}

void Processor::throw_error(Key from, const std::string& code, const std::string& message, bool from_child) {
  const model::Definitions& defs = process_.definitions();
  for (Key k = from; k != 0;) {
    const ElementInstance* ei = state_.find(k);
    if (!ei) break;
    const FlowNode* n = ei->element == kNoIndex ? nullptr : &node(ei->element);
    // The innermost handler first: a scope's own event subprocesses, then
    // the boundary events on it. A scope that an interrupting event
    // subprocess already runs in listens no more (an error rethrown from
    // the handler goes outwards).
    bool is_scope = !n || model::is_container(n->type);
    if (is_scope && k != from && !ei->is_mi_body && !ei->interrupted) {
      if (Index start = catching_start(n, EventKind::kError, code); start != kNoIndex) {
        trigger_event(k, start, {});
        return;
      }
    }
    if (n && (n->type != ElementType::kEndEvent && n->type != ElementType::kIntermediateThrowEvent)) {
      // Boundary events catch on the activity (on the body for multi-instance).
      if (!is_mi_inner(*ei)) {
        for (int pass = 0; pass < 2; ++pass) {  // a matching code first, then catch-all
          for (Index b : n->boundary_events) {
            const FlowNode& bn = node(b);
            if (!catches(defs, bn, EventKind::kError, code)) continue;
            if ((pass == 0) != (bn.events.front().ref != kNoIndex)) continue;
            json::object vars;
            if (!bn.events.front().error_code_variable.text.empty()) {
              vars[bn.events.front().error_code_variable.text] = code;
            }
            Key scope = ei->scope;
            terminate(k);
            enqueue_activate(b, scope, kNoIndex, std::move(vars), true);
            return;
          }
        }
      }
    }
    k = ei->scope;
  }
  const ElementInstance* thrower = state_.find(from);
  Record r{RecordKind::kErrorUncaught, from, thrower != nullptr ? thrower->element : kNoIndex, 0};
  r.name = code;
  r.text = message;
  json::object payload;
  payload["fromChild"] = from_child;
  r.payload = std::move(payload);
  emit(std::move(r));
  // One incident, at the element that threw (as Zeebe does): a called instance
  // leaves it to its parent chain, and an error that came up from a child is
  // reported back down to the thrower by the engine service (kErrorNotCaught).
  if (state_.parent_element != 0 || from_child) return;
  raise_incident(from, IncidentKind::kUncaughtError,
                 fmt::format("error '{}' was thrown and nothing catches it{}", code,
                             message.empty() ? std::string() : ": " + message));
}

void Processor::throw_escalation(Key from, const std::string& code, bool from_child) {
  const model::Definitions& defs = process_.definitions();
  const ElementInstance* thrower = state_.find(from);
  // From a child the call activity itself is the first place to look (its
  // boundary events); a throw event looks from its enclosing scope outwards.
  Key k = thrower == nullptr ? 0 : from_child ? from : thrower->scope;
  while (k != 0) {
    const ElementInstance* ei = state_.find(k);
    if (!ei) break;
    const FlowNode* n = ei->element == kNoIndex ? nullptr : &node(ei->element);
    if (!ei->interrupted) {
      if (Index start = catching_start(n, EventKind::kEscalation, code); start != kNoIndex) {
        trigger_event(k, start, {});
        return;
      }
    }
    if (n) {
      for (Index b : n->boundary_events) {
        if (!catches(defs, node(b), EventKind::kEscalation, code)) continue;
        trigger_event(k, b, {});
        return;
      }
    }
    k = ei->scope;
  }
  // Uncaught escalations are recorded and the flow goes on; the engine
  // service passes a called instance's on to its parent's call activity.
  Record r{RecordKind::kEscalationUncaught, from, thrower ? thrower->element : kNoIndex, 0};
  r.name = code;
  emit(std::move(r));
}

// ---------------------------------------------------------------------------
// Compensation

void Processor::compensate(Key thrower, Key scope, const std::string& activity_ref) {
  // Thrown inside an event subprocess, compensation reaches what completed
  // in the scope the event subprocess belongs to (as well as in itself).
  Key outer = scope;
  if (const ElementInstance* s = state_.find(scope);
      s && s->element != kNoIndex && node(s->element).type == ElementType::kEventSubProcess) {
    outer = s->scope;
  }
  auto selected = [&](const CompensableActivity& c) {
    return (c.scope == scope || c.scope == outer) && (activity_ref.empty() || node(c.element).id == activity_ref);
  };
  std::vector<Index> handlers;
  for (auto it = state_.compensable.rbegin(); it != state_.compensable.rend(); ++it) {
    if (selected(it->second)) handlers.push_back(node(it->second.element).compensation_handler);
  }
  std::erase_if(state_.compensable, [&](const auto& entry) { return selected(entry.second); });
  ElementInstance& t = state_.elements.at(thrower);
  t.pending_compensation = std::move(handlers);
  start_next_compensation(thrower);
}

void Processor::start_next_compensation(Key thrower) {
  auto it = state_.elements.find(thrower);
  if (it == state_.elements.end()) return;
  ElementInstance& t = it->second;
  if (t.pending_compensation.empty()) {
    enqueue_complete(thrower);
    return;
  }
  // Handlers run one at a time, most recently completed activity first.
  Index handler = t.pending_compensation.front();
  t.pending_compensation.erase(t.pending_compensation.begin());
  WorkItem item{WorkItem::Kind::kActivate};
  item.element = handler;
  item.scope = t.scope;
  item.compensation_thrower = thrower;
  queue_.push_back(std::move(item));
}

// ---------------------------------------------------------------------------
// Multi-instance

void Processor::activate_mi_body(ElementInstance& body, const FlowNode& n) {
  const model::MultiInstanceSpec& mi = *n.multi_instance;
  Key key = body.key;
  json::value collection;
  if (!mi.input_collection.empty()) {
    auto v = evaluate(mi.input_collection, key, "input collection");
    if (!v) return;
    if (!v->is_array()) {
      raise_incident(key, IncidentKind::kExpressionFailed,
                     fmt::format("the input collection '{}' is not a list", mi.input_collection.text));
      return;
    }
    collection = *v;
    body.mi_total = static_cast<int64_t>(v->as_array().size());
  } else {
    auto v = evaluate(mi.cardinality, key, "loop cardinality");
    if (!v) return;
    auto count = as_int(*v);
    if (!count || *count < 0 || *count > 100000) {
      raise_incident(key, IncidentKind::kExpressionFailed, "the loop cardinality must be a whole number from 0 to 100000");
      return;
    }
    body.mi_total = *count;
  }
  // The body's counters, for completion conditions (Zeebe's names).
  set_local_variable(key, "numberOfInstances", body.mi_total);
  set_local_variable(key, "numberOfCompletedInstances", int64_t{0});
  if (!mi.output_collection.empty()) {
    json::array results(static_cast<size_t>(body.mi_total));
    set_local_variable(key, mi.output_collection, std::move(results));
  }
  if (body.mi_total == 0) {
    enqueue_complete(key);
    return;
  }
  int64_t first_batch = mi.sequential ? 1 : body.mi_total;
  set_local_variable(key, "numberOfActiveInstances", first_batch);  // once, not per instance
  for (int64_t i = 1; i <= first_batch; ++i) {
    const json::value* item = collection.is_array() ? &collection.as_array()[static_cast<size_t>(i - 1)] : nullptr;
    start_mi_inner(state_.elements.at(key), n, i, item);
  }
}

void Processor::start_mi_inner(ElementInstance& body, const FlowNode& n, int64_t index, const json::value* item) {
  ElementInstance inner;
  inner.key = new_key();
  inner.element = body.element;
  inner.scope = body.key;
  inner.loop_counter = index;
  body.loop_counter = index;
  body.mi_active++;
  Key key = inner.key;
  auto& stored = state_.elements[key] = std::move(inner);
  lifecycle(RecordKind::kElementActivating, stored);
  set_local_variable(key, "loopCounter", index);
  if (item && !n.multi_instance->input_element.empty()) set_local_variable(key, n.multi_instance->input_element, *item);
  // An output element naming a plain variable gets a local null in each inner
  // instance, so results written into it stay per instance (as Zeebe does).
  const std::string& out = n.multi_instance->output_element.text;
  bool plain_name = !out.empty() && (std::isalpha(static_cast<unsigned char>(out[0])) || out[0] == '_' ||
                                     static_cast<unsigned char>(out[0]) >= 0x80);
  for (char c : out) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80)) plain_name = false;
  }
  if (plain_name && out != n.multi_instance->input_element) set_local_variable(key, out, nullptr);
  continue_activation(state_.elements.at(key));
}

void Processor::mi_inner_done(Key body_key, Key inner_key, std::optional<json::value> output, bool done) {
  ElementInstance& body = state_.elements.at(body_key);
  const ElementInstance& inner = state_.elements.at(inner_key);
  const FlowNode& n = node(body.element);
  const model::MultiInstanceSpec& mi = *n.multi_instance;
  if (output) {
    json::value& results = body.variables[mi.output_collection];
    if (results.is_array() && inner.loop_counter >= 1 &&
        static_cast<size_t>(inner.loop_counter) <= results.as_array().size()) {
      results.as_array()[static_cast<size_t>(inner.loop_counter - 1)] = std::move(*output);
    }
  }
  body.mi_active--;
  body.mi_completed++;
  if (mi.completion_condition.empty()) {  // else do_complete set them already
    set_local_variable(body_key, "numberOfActiveInstances", body.mi_active);
    set_local_variable(body_key, "numberOfCompletedInstances", body.mi_completed);
  }
  if (done) {
    // The completion condition held (do_complete): the others end.
    std::vector<Key> others;
    for (const auto& [k, e] : state_.elements) {
      if (e.scope == body_key && k != inner_key) others.push_back(k);
    }
    for (Key o : others) terminate(o);
    enqueue_complete(body_key);
    return;
  }
  mi_continue(body_key);
}

// After an inner instance completed and the body goes on, or when an
// incident raised on the body at that point (the next sequential item) is
// resolved: start the next instance, or end the body when all are done.
void Processor::mi_continue(Key body_key) {
  ElementInstance& body = state_.elements.at(body_key);
  const FlowNode& n = node(body.element);
  const model::MultiInstanceSpec& mi = *n.multi_instance;
  if (mi.sequential && body.loop_counter < body.mi_total) {
    int64_t next = body.loop_counter + 1;
    json::value collection;
    const json::value* item = nullptr;
    if (!mi.input_collection.empty()) {
      auto v = evaluate(mi.input_collection, body_key, "input collection");
      if (!v) return;
      collection = *v;
      if (collection.is_array() && static_cast<size_t>(next) <= collection.as_array().size()) {
        item = &collection.as_array()[static_cast<size_t>(next - 1)];
      }
    }
    start_mi_inner(body, n, next, item);
    set_local_variable(body_key, "numberOfActiveInstances", body.mi_active);
    return;
  }
  if (body.mi_completed >= body.mi_total) enqueue_complete(body_key);
}

// ---------------------------------------------------------------------------
// Entry points used by step()

void Processor::start(const std::string& start_element_id, const json::object& variables) {
  const model::Process& p = process_.process();
  ElementInstance root;
  root.key = new_key();
  root.element = kNoIndex;
  root.scope = 0;
  state_.root = root.key;
  state_.process_id = p.id;
  state_.status = InstanceStatus::kActive;
  auto& r = state_.elements[root.key] = std::move(root);
  lifecycle(RecordKind::kElementActivating, r);
  for (const auto& [name, value] : variables) set_local_variable(r.key, std::string(name), value);
  r.state = ElementState::kActivated;
  lifecycle(RecordKind::kElementActivated, r);
  Index start = kNoIndex;
  for (Index s : p.start_events) {
    const FlowNode& sn = node(s);
    if (start_element_id.empty() ? sn.event_kind == EventKind::kNone : sn.id == start_element_id) start = s;
  }
  enter_scope(state_.elements.at(state_.root), nullptr);
  start_process_sla(*this);
  enqueue_activate(start, state_.root, kNoIndex, {}, node(start).event_kind != EventKind::kNone);
  run();
}

void Processor::resume_after_incident(Key key) {
  auto it = state_.elements.find(key);
  if (it == state_.elements.end()) return;
  ElementInstance& ei = it->second;
  if (ei.state == ElementState::kCompleting) {
    do_complete(key);
  } else if (ei.state == ElementState::kActivating) {
    continue_activation(ei);
  } else if (ei.is_mi_body && ei.mi_completed > 0) {
    // Inner instances have completed, so the body did start: what failed is
    // the step after one of them (the next sequential item's input). Take
    // that step again; the running ones go on.
    mi_continue(key);
  } else if (ei.element != kNoIndex) {
    // The element failed while creating what it waits for: start that over.
    close_subscriptions(key);
    for (auto t = state_.user_tasks.begin(); t != state_.user_tasks.end();) {
      if (t->second.element_instance == key) {
        emit(Record{RecordKind::kUserTaskCanceled, t->first, ei.element, key});
        t = state_.user_tasks.erase(t);
      } else {
        ++t;
      }
    }
    const FlowNode& n = node(ei.element);
    open_boundary_events(ei, n);
    if (ei.incident == 0) {
      if (ei.is_mi_body) activate_mi_body(ei, n);
      else behavior_for(n.type).on_activated(*this, ei, n);
    }
  }
  run();
}

void Processor::activate_at(Index element) {
  const FlowNode& n = node(element);
  Key scope = state_.root;
  if (n.scope != kNoIndex) {
    scope = 0;
    for (const auto& [k, e] : state_.elements) {
      if (e.element == n.scope && !e.is_mi_body) scope = k;
    }
  }
  enqueue_activate(element, scope, kNoIndex);
  run();
}

void Processor::cancel_instance() {
  terminate(state_.root);
  drop_all_sla(*this);
  // terminate() erased the root; report the instance's end with no variables.
  Record r{RecordKind::kInstanceTerminated, state_.root, kNoIndex, 0};
  r.name = process_.process().id;
  emit(std::move(r));
  state_.status = InstanceStatus::kTerminated;
  queue_.clear();
}

}  // namespace banshi::core
