// core/processor.h — the shared lifecycle logic behind every behaviour.
//
// One Processor lives for one step. It owns a FIFO of work (activate an
// element, complete an element instance, check whether a scope is done) and
// drains it, so a straight-through path runs without recursion and in a
// deterministic order. Internal to engine/core.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/state.h"
#include "core/step.h"
#include "expr/feel.h"

namespace banshi::core {

class Processor {
 public:
  Processor(const ExecutableProcess& process, InstanceState& state, const StepEnv& env, std::vector<Record>& out);

  const ExecutableProcess& process() const { return process_; }
  InstanceState& state() { return state_; }
  const StepEnv& env() const { return env_; }
  const model::FlowNode& node(model::Index i) const { return process_.node(i); }

  // --- lifecycle ---------------------------------------------------------
  // Queue a token arriving at `element` in `scope` (over `flow`, or kNoIndex).
  void enqueue_activate(model::Index element, Key scope, model::Index flow, boost::json::object trigger_variables = {},
                        bool triggered = false);
  void enqueue_complete(Key element_instance);
  // Queue a check whether a scope has finished (after an operator removed a token).
  void enqueue_check(Key scope);
  // Completes now (used by behaviours that are already inside a work item).
  void complete(Key element_instance);
  // Terminates an element instance and everything inside it, cancelling its effects.
  void terminate(Key element_instance);
  // Takes a sequence flow: a record and a queued activation of its target.
  void take_flow(Key scope, model::Index flow);
  // The default flow selection: outgoing flows whose condition holds, else the
  // default flow. False when a condition failed (an incident on `ei`).
  bool select_default_outgoing(const ElementInstance& ei, const model::FlowNode& node, std::vector<model::Index>& flows);
  // Runs the queued work until none is left (or the work limit is reached).
  void run();

  // --- variables and expressions ---------------------------------------
  // Evaluates an expression in the scope of an element instance. A failure
  // becomes an incident on `ei` and returns nullopt.
  std::optional<boost::json::value> evaluate(const model::Expr& e, Key ei, const char* what) {
    return evaluate(e, ei, ei, what);
  }
  std::optional<boost::json::value> evaluate(const model::Expr& e, Key scope, Key incident_on, const char* what);
  std::optional<bool> evaluate_condition(const model::Expr& e, Key scope, Key incident_on);
  // The raw FEEL value of a compiled expression in a scope (no incident).
  expr::Value evaluate_in(const expr::Expression& e, Key scope) const;
  // Sets a variable where it is defined on the scope chain from `scope` up, or
  // at the root when it is defined nowhere.
  void propagate_variable(Key scope, const std::string& name, const boost::json::value& value);
  void set_local_variable(Key scope, const std::string& name, const boost::json::value& value);
  // Merges completion variables of an element instance: local when the element
  // has output mappings (they read them), propagated to the flow scope otherwise.
  void merge_completion_variables(ElementInstance& ei, const boost::json::object& variables);
  // All variables visible from a scope, nearest first (for jobs and children).
  boost::json::object visible_variables(Key scope) const;

  // --- incidents and effects ------------------------------------------
  Key raise_incident(Key ei, IncidentKind kind, std::string message, Key job = 0);
  Key new_key() { return state_.next_key++; }
  void emit(Record r) { out_.push_back(std::move(r)); }
  Key create_job(ElementInstance& ei, const model::FlowNode& node);
  void create_user_task(ElementInstance& ei, const model::FlowNode& node);
  // Opens what an event waits for: a timer, a message or a signal subscription,
  // owned by `owner` and naming `event_node` as the element that reacts.
  bool subscribe_event(Key owner, const model::FlowNode& event_node);
  // Closes every timer and subscription owned by `owner`.
  void close_subscriptions(Key owner, bool event_subprocess_starts_only = false);
  // Routes an event that fired (timer, message, signal) to whoever waits for it.
  void trigger_event(Key owner, model::Index event_element, const boost::json::object& variables);

  // --- errors and escalations -----------------------------------------
  // Throws a BPMN error from an element instance: caught by the nearest
  // boundary event or event subprocess up the scope chain, else an incident.
  // `from_child`: the error came up from a called instance through its call activity.
  void throw_error(Key from, const std::string& code, const std::string& message, bool from_child = false);
  void throw_escalation(Key from, const std::string& code, bool from_child = false);
  // The start event of an event subprocess directly in a scope (kNoIndex
  // node: the process) that catches this error or escalation code; kNoIndex if none.
  model::Index catching_start(const model::FlowNode* scope_node, model::EventKind kind, const std::string& code) const;

  // Runs the compensation handlers of the activities completed in `scope` (or
  // only `activity_ref`'s), newest first, one at a time; `thrower` waits and
  // completes when the last one has.
  void compensate(Key thrower, Key scope, const std::string& activity_ref);
  void start_next_compensation(Key thrower);

  // Activates the content of a container: its none start event (or the
  // given start) and the subscriptions of its event subprocesses.
  void enter_scope(ElementInstance& scope_ei, const model::FlowNode* container);
  bool scope_has_work(Key scope) const;
  // Whether an element instance is one inner instance of a multi-instance body.
  bool is_mi_inner(const ElementInstance& ei) const;
  // Whether a queued (not yet created) token in `scope` can reach `element`.
  bool queued_activation_can_reach(Key scope, model::Index element) const;

 private:
  struct WorkItem {
    enum class Kind { kActivate, kComplete, kCheckScope };
    explicit WorkItem(Kind k) : kind(k) {}
    Kind kind;
    model::Index element = model::kNoIndex;
    Key scope = 0;
    Key ei = 0;
    model::Index flow = model::kNoIndex;
    boost::json::object variables;
    bool triggered = false;
    Key compensation_thrower = 0;
  };

  void do_activate(WorkItem& item);
  void park_queued_work();
  void drain();
  void evaluate_conditionals();
  void continue_activation(ElementInstance& ei);
  void do_complete(Key key);
  void check_scope(Key scope);
  void finish_instance(InstanceStatus status);
  bool apply_mappings(ElementInstance& ei, const std::vector<model::Mapping>& mappings, bool input);
  void open_boundary_events(ElementInstance& ei, const model::FlowNode& node);
  void lifecycle(RecordKind kind, const ElementInstance& ei);
  void activate_mi_body(ElementInstance& body, const model::FlowNode& node);
  void start_mi_inner(ElementInstance& body, const model::FlowNode& node, int64_t index,
                      const boost::json::value* item);
  void mi_inner_done(Key body_key, Key inner_key, std::optional<boost::json::value> output, bool done);
  void mi_continue(Key body_key);
  friend struct ProcessorAccess;

  const ExecutableProcess& process_;
  InstanceState& state_;
  const StepEnv& env_;
  std::vector<Record>& out_;
  std::deque<WorkItem> queue_;
  size_t work_done_ = 0;
  bool variables_changed_ = false;

 public:
  // Exposed for the step entry point.
  void start(const std::string& start_element_id, const boost::json::object& variables);
  void resume_after_incident(Key element_instance);
  void activate_at(model::Index element);
  void cancel_instance();
};

// FEEL variables of an element instance's scope chain.
class ScopeVariables final : public expr::Variables {
 public:
  ScopeVariables(const InstanceState& state, Key scope) : state_(state), scope_(scope) {}
  const boost::json::value* find(std::string_view name) const override;

 private:
  const InstanceState& state_;
  Key scope_;
};

}  // namespace banshi::core
