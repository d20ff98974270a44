// model/definition.h — the immutable, executable form of a BPMN 2.0 file.
//
// load_bpmn() (model/load.h) turns XML into a Definitions value once, at
// deploy; afterwards nothing changes it, so a Definitions may be shared by any
// number of threads without locks. Elements refer to each other by index into
// their process's `nodes` and `flows` vectors, never by pointer, so the state
// machine can store positions compactly.
//
// ElementType, EventKind and TimerKind values are persisted in instance state
// and history: DO NOT CHANGE OR REUSE THEIR NUMBERS; add new ones at the end.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "expr/feel.h"
#include "model/diagnostic.h"

namespace banshi::model {

using Index = uint32_t;
inline constexpr Index kNoIndex = std::numeric_limits<Index>::max();

enum class ElementType : uint8_t {
  kUnknown = 0,
  kStartEvent = 1,
  kEndEvent = 2,
  kIntermediateCatchEvent = 3,
  kIntermediateThrowEvent = 4,
  kBoundaryEvent = 5,
  kTask = 10,
  kUserTask = 11,
  kServiceTask = 12,
  kSendTask = 13,
  kReceiveTask = 14,
  kBusinessRuleTask = 15,
  kScriptTask = 16,
  kManualTask = 17,
  kExclusiveGateway = 30,
  kParallelGateway = 31,
  kInclusiveGateway = 32,
  kEventBasedGateway = 33,
  kComplexGateway = 34,
  kSubProcess = 40,
  kEventSubProcess = 41,  // <subProcess triggeredByEvent="true">
  kTransaction = 42,
  kAdHocSubProcess = 43,
  kCallActivity = 44,
};

// The BPMN XML local name of an element type ("userTask"; "subProcess" for an
// event subprocess).
std::string_view xml_name(ElementType type);
bool is_activity(ElementType type);
bool is_gateway(ElementType type);
bool is_event(ElementType type);
bool is_container(ElementType type);  // holds child flow elements

enum class EventKind : uint8_t {
  kNone = 0,
  kMessage = 1,
  kTimer = 2,
  kError = 3,
  kEscalation = 4,
  kCancel = 5,
  kCompensate = 6,
  kConditional = 7,
  kLink = 8,
  kSignal = 9,
  kTerminate = 10,
  kMultiple = 11,          // several definitions, any one triggers
  kParallelMultiple = 12,  // several definitions, all must trigger
};
std::string_view event_kind_name(EventKind kind);

enum class TimerKind : uint8_t { kNone = 0, kDate = 1, kDuration = 2, kCycle = 3 };

// A value from the model that is either a literal or a FEEL expression
// (an attribute starting with '=' in the Camunda 8 convention; condition and
// script bodies are always FEEL). `compiled` is set for FEEL that compiled.
struct Expr {
  std::string text;  // as written, without the leading '='
  bool is_feel = false;
  std::optional<expr::Expression> compiled;
  SourcePos pos;

  bool empty() const { return text.empty() && !is_feel; }
};

struct TimerSpec {
  TimerKind kind = TimerKind::kNone;
  Expr value;  // ISO 8601 date-time, duration or repeating interval; or FEEL
};

struct EventDefinition {
  EventKind kind = EventKind::kNone;
  std::string id;
  SourcePos pos;
  Index ref = kNoIndex;   // into Definitions::messages/signals/errors/escalations
  std::string ref_id;     // the reference as written (for diagnostics)
  TimerSpec timer;        // kTimer
  Expr condition;         // kConditional
  std::string link_name;  // kLink
  std::string activity_ref;        // kCompensate: the activity to compensate (empty: all)
  bool wait_for_completion = true;  // kCompensate
  Expr error_code_variable;         // kError catch: where to store the code (optional)
};

// A service/send task or message throw event handled as a job: by a built-in
// or plugin connector of that name, or fetched by an external worker.
struct JobDefinition {
  std::string type;  // connector name or external-task topic
  Expr retries;      // default 3
  Expr timeout;      // ISO 8601 duration or FEEL; empty: the engine's default
  Expr retry_backoff;
  std::map<std::string, std::string> headers;  // static task headers
};

struct UserTaskSpec {
  Expr assignee;
  Expr candidate_groups;  // comma-separated list or a FEEL list
  Expr candidate_users;
  Expr due_date;          // ISO 8601 date-time or FEEL
  Expr follow_up_date;
  Expr form_key;
  Expr priority;
  Expr region;  // administrative region code the task belongs to (for routing)
};

// An SLA policy (<bs:sla>, docs/designer-guide.md "SLA policies") on a user
// task, or on a process for the whole case's deadline.
struct SlaSpec {
  Expr due;                    // period ("P3D", "PT4H", "5WD") or FEEL giving a period, a
                               // number of working days or a date-time; empty: the task's dueDate
  int remind_percent = 0;      // remind at this share of the time to the due date; 0: never
  std::string escalate_to;     // the supervisor group the due time escalates to; empty: none
  std::string escalate_after;  // period after which each next administrative level is asked
  std::string breach_after;    // period after the due time at which the case is breached
  std::vector<std::string> pause_while;  // element ids whose activity stops the clock
  Expr region;                 // the region escalation starts from (default: the task's region)
  SourcePos pos;
};

struct Mapping {
  Expr source;         // FEEL (or a literal)
  std::string target;  // variable name, may be a path "a.b"
  SourcePos pos;
};

enum class VersionBinding : uint8_t { kLatest = 0, kDeployment = 1, kVersion = 2 };

struct CallSpec {
  Expr process_id;
  VersionBinding binding = VersionBinding::kLatest;
  std::optional<int> version;
  bool propagate_all_child_variables = true;
  bool propagate_all_parent_variables = true;
};

struct MultiInstanceSpec {
  bool sequential = false;
  Expr cardinality;           // <loopCardinality>
  Expr input_collection;      // FEEL list
  std::string input_element;  // variable holding the current item
  std::string output_collection;
  Expr output_element;
  Expr completion_condition;
  SourcePos pos;
};

struct FlowNode {
  Index index = kNoIndex;
  ElementType type = ElementType::kUnknown;
  std::string id;
  std::string name;
  SourcePos pos;
  Index scope = kNoIndex;  // containing subprocess; kNoIndex at process level
  std::vector<Index> incoming;  // into Process::flows
  std::vector<Index> outgoing;
  Index default_flow = kNoIndex;

  // Events.
  std::vector<EventDefinition> events;  // empty for none events
  EventKind event_kind = EventKind::kNone;
  bool interrupting = true;           // boundary cancelActivity / event subprocess start isInterrupting
  bool parallel_multiple = false;
  Index attached_to = kNoIndex;       // boundary event: the activity
  std::string attached_to_id;

  // Activities.
  std::vector<Index> boundary_events;
  std::optional<MultiInstanceSpec> multi_instance;
  bool has_standard_loop = false;
  bool is_for_compensation = false;
  Index compensation_handler = kNoIndex;  // via a compensation boundary event's association
  std::vector<Mapping> inputs;
  std::vector<Mapping> outputs;
  std::optional<JobDefinition> job;       // service/send/business-rule-as-job tasks
  std::optional<UserTaskSpec> user_task;
  std::optional<SlaSpec> sla;             // user tasks: the SLA policy
  std::optional<CallSpec> call;
  Expr script;                 // script task: FEEL expression
  std::string script_format;   // as written
  std::string result_variable; // script and business rule tasks
  Expr decision_id;            // business rule task
  Index message_ref = kNoIndex;  // receive and send tasks
  std::string message_ref_id;
  Expr correlation_key;         // on receive tasks / catch events overriding the message's

  // Containers (subprocess, event subprocess, transaction, ad-hoc).
  std::vector<Index> children;            // direct child flow nodes
  std::vector<Index> start_events;        // direct child start events (not of event subprocesses)
  std::vector<Index> event_subprocesses;  // direct child event subprocesses

  // banshi extension attributes kept as written for later subsystems (SLA policy etc.).
  std::map<std::string, std::string> properties;
};

struct SequenceFlow {
  Index index = kNoIndex;
  std::string id;
  std::string name;
  SourcePos pos;
  Index source = kNoIndex;
  Index target = kNoIndex;
  Expr condition;
  bool is_default = false;
};

struct Lane {
  std::string id;
  std::string name;
  std::vector<std::string> flow_node_refs;
  std::vector<Lane> children;
};

struct Process {
  std::string id;
  std::string name;
  bool executable = false;
  SourcePos pos;
  std::vector<FlowNode> nodes;        // every node, nested ones included
  std::vector<SequenceFlow> flows;    // every flow, nested ones included
  std::vector<Index> top_level;       // nodes directly in the process
  std::vector<Index> start_events;    // top-level start events
  std::vector<Index> event_subprocesses;  // top-level event subprocesses
  std::vector<Lane> lanes;
  std::unordered_map<std::string, Index> node_by_id;
  std::optional<SlaSpec> sla;  // the whole case's deadline (<bs:sla> on the process)

  const FlowNode* find(std::string_view id) const;
  // The container's children (kNoIndex = the process itself).
  const std::vector<Index>& children_of(Index scope) const;
};

struct Message {
  std::string id;
  std::string name;
  Expr correlation_key;  // zeebe:subscription / bs:correlationKey
  SourcePos pos;
};
struct Signal {
  std::string id;
  std::string name;
  SourcePos pos;
};
struct ErrorDef {
  std::string id;
  std::string name;
  std::string code;
  SourcePos pos;
};
struct Escalation {
  std::string id;
  std::string name;
  std::string code;
  SourcePos pos;
};

struct Participant {
  std::string id;
  std::string name;
  std::string process_ref;
};
struct MessageFlow {
  std::string id;
  std::string name;
  std::string source_ref;
  std::string target_ref;
  std::string message_ref;
};
struct Collaboration {
  std::string id;
  std::vector<Participant> participants;
  std::vector<MessageFlow> message_flows;
};

// The diagram interchange (DI) part, kept so the console can draw the model
// and highlight elements without reparsing.
struct Bounds {
  double x = 0, y = 0, width = 0, height = 0;
};
struct Shape {
  std::string id;
  std::string element_id;
  Bounds bounds;
  bool expanded = true;
};
struct Edge {
  std::string id;
  std::string element_id;
  std::vector<std::pair<double, double>> waypoints;
};
struct Diagram {
  std::string id;
  std::string name;
  std::vector<Shape> shapes;
  std::vector<Edge> edges;
};

struct Definitions {
  std::string id;
  std::string name;
  std::string target_namespace;
  std::vector<Process> processes;
  std::vector<Message> messages;
  std::vector<Signal> signals;
  std::vector<ErrorDef> errors;
  std::vector<Escalation> escalations;
  std::vector<Collaboration> collaborations;
  std::vector<Diagram> diagrams;

  const Process* find_process(std::string_view id) const;
};

}  // namespace banshi::model
