// banshi/engine.h — the embeddable engine service.
//
// An Engine owns a Store, a Clock and the connectors registered with it. It
// turns API calls, fired timers and finished jobs into commands, applies them
// with the pure state machine (core::step), and commits each batch of
// commands — instance states, effect rows and history — in ONE store
// transaction (the outbox). Only after the commit does it act on effects: jobs
// go to connectors, timers are armed, child instances and messages follow.
//
// Threading: every public method may be called from any thread. Commands run
// on the engine's processing thread once start() was called; a call that
// changes state returns after its command has been committed (durable). Without
// start(), tests drive the engine with run_until_idle() on their own thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "banshi/clock.h"
#include "banshi/metrics.h"
#include "banshi/result.h"

namespace banshi {

namespace store {
class Store;
}
namespace expr {
class WorkingDays;
}

struct EngineConfig {
  std::string node_id = "banshi-1";  // unique per node when several share a database
  std::string node_address;          // where this node's API listens (shown by `banshi cluster status`)
  // Nodes sharing a database (PostgreSQL) record a heartbeat this often, and
  // lease the timers they fire for timer_lease_ms past their due time (a dead
  // node's timers fire elsewhere after that).
  int64_t heartbeat_ms = 2000;
  int64_t timer_lease_ms = 30 * 1000;
  size_t max_batch = 1000;          // commands per group commit
  size_t instance_cache = 10000;    // instance states kept in memory
  int job_workers = 2;              // threads running in-process connectors
  int64_t job_lease_ms = 5 * 60 * 1000;
  int64_t default_retry_backoff_ms = 10 * 1000;  // doubled per failed attempt
  int32_t utc_offset_minutes = 480; // the zone timers and today() use
  // The business calendar behind FEEL's `add working days` and `working days
  // between` (calendar::BusinessCalendar); none: those give null with a reason.
  std::shared_ptr<const expr::WorkingDays> working_days;
};

using InstanceId = int64_t;

// What a connector gets for one attempt of a job. The idempotency key is the
// same for every attempt of the same job, so a department system can ignore
// a repeat of work it already did.
struct JobContext {
  int64_t job_id = 0;
  InstanceId instance_id = 0;
  std::string type;
  std::string element_id;
  std::string idempotency_key;
  int32_t retries_left = 0;
  int64_t timeout_ms = 0;         // the task's bs:timeout for one attempt; 0: the connector's default
  boost::json::object variables;  // everything visible from the job's element
  boost::json::object headers;
};

struct JobOutcome {
  enum class Kind : uint8_t { kCompleted, kFailed, kBpmnError } kind = Kind::kCompleted;
  boost::json::object variables;  // kCompleted: results; kBpmnError: error variables
  std::string error_code;         // kBpmnError
  std::string message;            // kFailed / kBpmnError
  bool no_retry = false;          // kFailed: retrying cannot help; raise the incident now
  int64_t retry_after_ms = -1;    // kFailed: due again this long after now; -1: the task's backoff
  static JobOutcome completed(boost::json::object vars = {}) {
    return {Kind::kCompleted, std::move(vars), {}, {}, false, -1};
  }
  static JobOutcome failed(std::string why) { return {Kind::kFailed, {}, {}, std::move(why), false, -1}; }
  static JobOutcome bpmn_error(std::string code, std::string why = {}) {
    return {Kind::kBpmnError, {}, std::move(code), std::move(why), false, -1};
  }
};

// An in-process connector: called on a worker thread, must be thread-safe.
using Connector = std::function<JobOutcome(const JobContext&)>;

struct DeployedProcess {
  std::string process_id;
  int32_t version = 0;
  int64_t definition_key = 0;
  bool new_version = false;  // false when the same file was deployed before
};

// A decision of a deployed DMN file; business rule tasks call the latest
// version of a decision id.
struct DeployedDecision {
  std::string decision_id;
  std::string name;
  int32_t version = 0;
  int64_t key = 0;
  bool new_version = false;  // false when the same file was deployed before
};

// One file of a deployment: BPMN, or DMN (a name ending in .dmn or a DMN
// `definitions` root).
struct DeploymentResource {
  std::string name;
  std::string xml;
};

struct Deployment {
  std::vector<DeployedProcess> processes;
  std::vector<DeployedDecision> decisions;
};

// The value of a decision evaluated outside a process (Engine::evaluate_decision).
struct DecisionOutcome {
  boost::json::value result;
  std::string decision_id;
  int32_t version = 0;
  std::vector<std::string> matched;  // "decision id: rules 1, 3" for each table that ran
};

// An audit row for a change made through the engine: written to the audit
// trail (store/auth_store.h) in the same store transaction as the change, so
// there is never a change without its row nor a row without its change. A
// command the state machine refuses writes no row.
struct AuditNote {
  int64_t at = 0;             // ms since the epoch (the server's real clock)
  std::string actor;
  std::string action;         // claim, complete, deploy, cancel, modify, ...
  std::string target;         // "task 42", "instance 7", "resource x.bpmn"
  std::string address;
  std::string detail;
};

// One step of an instance modification (Engine::modify_instance), applied in
// order; all of them or none.
struct ModifyInstruction {
  enum class Kind : uint8_t { kStartBefore, kCancel, kSetVariables } kind = Kind::kStartBefore;
  std::string element_id;      // kStartBefore: the element to start a token at;
                               // kCancel: every active instance of this element (unless element_instance)
  uint64_t element_instance = 0;  // kCancel: one element instance (its key)
  boost::json::object variables;  // kSetVariables: set on the process scope
};

struct StartRequest {
  std::string process_id;
  int32_t version = 0;        // 0: the latest
  std::string business_key;
  std::string start_event;    // empty: the none start event
  boost::json::object variables;
};

struct PublishRequest {
  std::string name;
  std::string correlation_key;
  boost::json::object variables;
  int64_t time_to_live_ms = 0;  // how long an uncorrelated message waits for a subscription
  // Optional. A second message with the id is refused while the first one is
  // buffered (until it is correlated or its time to live ends), as the
  // message's de-duplication window; one correlated at once leaves nothing
  // to compare a later one with.
  std::string message_id;
  // Optional. For a publisher limited to regions: the message reaches only
  // the waiting instances whose region (their applicant's) starts with one
  // of these codes (none when the list is empty); it starts no instance by
  // a message start event and is never buffered, so time_to_live_ms must
  // be 0 (else the publish is refused as bad input).
  std::optional<std::vector<std::string>> regions;
};

struct PublishResult {
  int correlated = 0;           // instances the message reached now
  int started = 0;              // instances started by message start events
  bool buffered = false;
};

// A change published to subscribers AFTER it was committed (Engine::subscribe).
// `type` is one of task.created, task.claimed, task.unclaimed, task.assigned,
// task.completed, instance.started, instance.ended, incident.raised,
// incident.resolved, sla.warning, sla.overdue, sla.escalated, sla.breached.
// Task and SLA events carry the task's candidates and region, instance and
// incident events the case's region (its applicant's, "" when none), so a receiver
// can decide who may see them.
struct EngineEvent {
  std::string type;
  int64_t at = 0;                 // ms since the epoch, the engine's clock
  InstanceId instance_id = 0;
  std::string process_id;
  std::string element_id;
  int64_t task_id = 0;            // task and SLA events; 0 otherwise
  std::vector<std::string> candidate_groups;
  std::vector<std::string> candidate_users;
  std::string region;
  std::string assignee;
  boost::json::object data;       // kind-specific details
};
// Events are heard in commit order on the engine's answering thread (while
// the engine runs): a batch's before its callers are answered, and a claim's
// or publish_event()'s behind those committed before it (publish_event()
// returns once they are delivered). Other nodes' events are heard on the
// same thread, in the order they arrive. A listener must be quick, must not
// block, must not wait on the engine and must not call subscribe()/
// unsubscribe() (queue the event elsewhere and return); it may publish an
// event (publish_event(), as a claim does), which every listener then hears
// after the events being delivered (publish_event() returns at once).
using EventListener = std::function<void(const EngineEvent&)>;

// What is happening inside an instance now (Engine::inspect_instance).
struct ActiveElement {
  std::string element_id;
  int64_t count = 0;           // element instances at it (several in loops and parallel paths)
  bool incident = false;       // one of them is blocked by an open incident
};
struct InstanceView {
  boost::json::object variables;       // the process scope's variables
  std::vector<ActiveElement> active;   // in the order of the process's elements
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> open(EngineConfig config, std::unique_ptr<store::Store> store,
                                              std::shared_ptr<Clock> clock);
  virtual ~Engine() = default;

  // Connectors are registered before start(); a job whose type has no
  // connector waits for an external worker.
  virtual void register_connector(const std::string& type, Connector connector) = 0;

  // An inline connector runs on the processing thread, inside the batch that
  // creates its job: the job is created and completed in one transaction, with
  // no job row, lease or worker hand-off (a synchronous delegate, in other
  // engines' words). For in-process work that returns at once and touches
  // nothing outside the engine: it must not block, must not call the engine,
  // and may run again if the batch is not committed (a crash, a conflict). It
  // may see the work of earlier batches not yet synced to disk
  // (docs/storage.md, Durability); as it touches nothing outside, a crash
  // that loses them loses what it made of them too. A failure takes the
  // ordinary path: the job is stored with its retry time and later attempts
  // run on the job workers.
  virtual void register_inline_connector(const std::string& type, Connector connector) {
    register_connector(type, std::move(connector));
  }

  // Called at deploy with every job type (connector name or topic) the file's
  // processes name; an error refuses the whole deployment, so an unknown
  // connector fails at deploy rather than at run time. None set: any type.
  using JobTypeCheck = std::function<Result<void>(const std::string& type)>;
  virtual void set_job_type_check(JobTypeCheck check) { (void)check; }

  // Starts the processing thread, the timer service and the job workers;
  // stop() finishes the batch in progress and joins them.
  virtual void start() = 0;
  virtual void stop() = 0;

  // Deploys every process of a BPMN file, all or nothing; the error lists
  // the validation diagnostics.
  // A DMN file given here deploys its decisions (and lists no process).
  virtual Result<std::vector<DeployedProcess>> deploy(const std::string& resource, const std::string& xml,
                                                      const std::string& deployed_by,
                                                      const AuditNote* audit = nullptr) = 0;
  // Deploys BPMN and DMN files together: every file is validated first and
  // nothing is stored unless all of them are valid.
  virtual Result<Deployment> deploy_resources(const std::vector<DeploymentResource>& resources,
                                              const std::string& deployed_by, const AuditNote* audit = nullptr) = 0;
  // Evaluates the latest version of a deployed decision ("id"), or a given
  // one ("id:3"), as a business rule task would; an error when it is not
  // deployed or DMN reports an error.
  virtual Result<DecisionOutcome> evaluate_decision(const std::string& decision_id,
                                                    const boost::json::object& variables) = 0;
  virtual Result<InstanceId> start_instance(const StartRequest& request) = 0;
  // `audit`, when given, is written in the same transaction as the change
  // (AuditNote); so for every method below that takes one.
  virtual Result<void> complete_task(int64_t task_id, const boost::json::object& variables,
                                     const std::string& user, const AuditNote* audit = nullptr) = 0;
  // Asynchronous forms of start_instance() and complete_task(), for callers
  // that keep many commands in flight without a thread each (group commit
  // shares a transaction among the commands that arrive while one is being
  // written). The request is checked at once on the calling thread (a task
  // completion reads the task; a start may read the definition, and reserves
  // a block of instance ids in the store once every thousand starts); `done`
  // then hears the same outcome the blocking form returns, once the
  // command's batch has committed. It is called on an engine thread (the
  // answering thread; the processing thread when the batch could not be
  // committed) or, when the request is refused at once or the engine is not
  // started, on the calling thread. It must be quick and must not block; it
  // may queue further commands, but the checks above then delay the other
  // callers' answers, so a busy caller hands them to a thread of its own.
  virtual void start_instance_async(const StartRequest& request, std::function<void(Result<InstanceId>)> done) = 0;
  virtual void complete_task_async(int64_t task_id, const boost::json::object& variables, const std::string& user,
                                   std::function<void(Result<void>)> done, const AuditNote* audit = nullptr) = 0;
  virtual Result<void> claim_task(int64_t task_id, const std::string& user, const AuditNote* audit = nullptr) = 0;
  virtual Result<void> unclaim_task(int64_t task_id, const std::string& user, const AuditNote* audit = nullptr) = 0;
  // With `audit`, a message or signal is audited unless it is refused; what
  // it reached is added to the row's detail.
  virtual Result<PublishResult> publish_message(const PublishRequest& request,
                                                const AuditNote* audit = nullptr) = 0;
  // With `regions`, the signal reaches only the waiting instances whose
  // region starts with one of those prefixes, and starts no process (a
  // supervisor's signal); without, every waiting instance and every signal
  // start event. Returns how many instances it reached or started.
  virtual Result<int> throw_signal(const std::string& name, const boost::json::object& variables,
                                   const AuditNote* audit = nullptr,
                                   const std::vector<std::string>* regions = nullptr) = 0;
  virtual Result<void> cancel_instance(InstanceId id, const std::string& reason, const AuditNote* audit = nullptr) = 0;
  virtual Result<void> resolve_incident(int64_t incident_id, int32_t retries, const AuditNote* audit = nullptr) = 0;
  virtual Result<void> set_variables(InstanceId id, const boost::json::object& variables,
                                     const AuditNote* audit = nullptr) = 0;
  // Applies the instructions to a running instance in one command: the
  // element instances to cancel are those active before it, starts and
  // variable changes run in the order given, then the cancellations (so the
  // instance never ends in between). If the state machine refuses any of
  // them, none is applied (conflict or bad-request with the reason). An
  // operator's repair; always audited.
  virtual Result<void> modify_instance(InstanceId id, const std::vector<ModifyInstruction>& instructions,
                                       const AuditNote& audit) = 0;

  // External workers: lease jobs of a topic, then report back.
  virtual Result<std::vector<JobContext>> fetch_and_lock(const std::vector<std::string>& types,
                                                         const std::string& worker, size_t max_jobs,
                                                         int64_t lock_ms) = 0;
  // With `worker`, the outcome is applied only while that worker holds the
  // job's lease, checked in the transaction that applies it: a job another
  // worker fetched since is a conflict, and nothing changes.
  virtual Result<void> report_job(int64_t job_id, const JobOutcome& outcome, const std::string* worker = nullptr) = 0;
  // The lease a fetched job is held under must be `worker`'s: not-found when
  // no worker holds the job, conflict when another worker holds it. Leases
  // live in the store, so they survive a restart. Returns the job's topic.
  virtual Result<std::string> check_job_lease(int64_t job_id, const std::string& worker) = 0;
  // Moves the end of `worker`'s lease on a job to now + duration_ms.
  virtual Result<void> extend_job_lease(int64_t job_id, const std::string& worker, int64_t duration_ms) = 0;

  // Sets a task's assignee when it is `expected` now (conflict otherwise);
  // publishes task.assigned. claim/unclaim publish task.claimed/unclaimed.
  virtual Result<void> assign_task(int64_t task_id, const std::string& expected, const std::string& assignee,
                                   const AuditNote* audit = nullptr) = 0;

  // Reads an instance's committed state: its variables and active elements.
  virtual Result<InstanceView> inspect_instance(InstanceId id) = 0;

  // Live events: `listener` hears every event committed from now on. Returns
  // an id for unsubscribe(). publish_event() hands an event to every listener
  // (for changes committed outside the engine's batches).
  virtual uint64_t subscribe(EventListener listener) = 0;
  virtual void unsubscribe(uint64_t id) = 0;
  virtual void publish_event(const EngineEvent& event) = 0;

  // Without start(): apply every queued command, fire due timers and run due
  // jobs on this thread until nothing is left. Returns the commands applied.
  virtual size_t run_until_idle() = 0;

  virtual store::Store& store() = 0;
  virtual Clock& clock() = 0;
  // The business calendar of EngineConfig::working_days (null: none).
  virtual const expr::WorkingDays* working_days() const { return nullptr; }
  // EngineConfig::utc_offset_minutes: the zone timer values are read in.
  virtual int32_t utc_offset_minutes() const { return 480; }
  virtual const EngineMetrics& metrics() const = 0;
};

}  // namespace banshi
