// The engine service: commands in, core::step, one store transaction per
// batch, effects acted on after the commit. See banshi/engine.h.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <queue>
#include <set>
#include <thread>
#include <unordered_map>

#include <openssl/evp.h>
#include <pthread.h>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "banshi/engine.h"
#include "core/serialize.h"
#include "core/start_timer.h"
#include "core/step.h"
#include "dmn/evaluate.h"
#include "dmn/model.h"
#include "exec/batch_builder.h"
#include "exec/case_region.h"
#include "exec/history_json.h"
#include "expr/json_text.h"
#include "model/iso8601.h"
#include "model/load.h"
#include "store/store.h"

namespace banshi::exec {
namespace {

namespace json = boost::json;
using core::Command;
using core::CommandKind;
using core::Record;
using core::RecordKind;
using store::InstanceId;

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

struct CompiledDefinition {
  store::DefinitionRecord record;  // without the XML
  std::shared_ptr<const model::Definitions> definitions;
  std::unique_ptr<core::ExecutableProcess> process;
};

struct CachedInstance {
  store::InstanceRecord record;  // state blob cleared
  core::InstanceState state;
  const CompiledDefinition* def = nullptr;
  uint64_t last_used = 0;
};

struct Outcome {
  Outcome() = default;
  explicit Outcome(Error e) : status(std::move(e)) {}
  Result<void> status;
  int64_t value = 0;
  PublishResult publish;
};

// Who hears a command's outcome: a caller blocked on a promise, or a
// callback (the asynchronous methods). Empty: nobody (timers, follow-ups).
struct Waiter {
  std::shared_ptr<std::promise<Outcome>> promise;
  std::function<void(Outcome)> callback;

  explicit operator bool() const { return promise || callback; }
  void tell(Outcome outcome) {
    if (promise) promise->set_value(std::move(outcome));
    else if (callback) callback(std::move(outcome));
  }
};

struct Pending {
  InstanceId instance = 0;
  Command command;
  Waiter waiter;
  // A new instance (command is kStart).
  bool create = false;
  int64_t definition_key = 0;
  std::string business_key;
  InstanceId parent_id = 0;
  uint64_t parent_element = 0;
  // A message publication rather than an instance command.
  std::optional<PublishRequest> publish;
  std::optional<std::pair<std::string, json::object>> signal;
  std::optional<std::vector<std::string>> signal_regions;  // a signal reaching these regions only
  int attempts = 0;  // times the batch holding it met a version conflict
  bool reloaded = false;  // applied again on the stored state after the cached one refused it
  // Written in the batch's transaction when the command is applied.
  std::optional<store::AuditRecord> audit;
  // An instance modification: these commands instead of `command`, all or none.
  std::vector<Command> modification;
  // A timer start event fired (the occurrence as armed): starts a new instance.
  std::optional<store::StartTimerRecord> start_timer;
  // Queued by fire_due_timers() and not yet taken into a batch.
  bool from_timer_heap = false;
  // Applied in a batch of its own: its batch failed, and one command's write
  // may have been the cause.
  bool alone = false;
  // Where several nodes share the store (EngineImpl::rendezvous): a message
  // this node buffered while another node's instance opened a subscription
  // for it, to publish again; or a subscription this node opened while
  // another node buffered a message for it, to give that message.
  std::optional<store::MessageRecord> redeliver;
  std::optional<store::SubscriptionRecord> rematch;
  // A user's task completion: the assignee the user was checked against
  // (store::TaskAssigneeCheck).
  std::optional<std::string> assignee_checked;
  // A worker's job report: the worker that must still hold the job's lease
  // (store::JobLeaseCheck).
  std::optional<std::string> lease_checked;
};

// Answers the callers waiting on a committed batch, on a thread of its own:
// waking them one by one (a system call each) took about a tenth of the
// processing thread's time, and the next batch can be built meanwhile. The
// answers of one batch are handed over after its commit; a batch written
// with its log sync left for later (Store::write_unsynced) is made durable
// here first, so a caller still hears only of durable work, while the next
// batch is built and written beside the sync. The batch's live events go the same way,
// and reach the listeners before its callers are answered. Not started
// (run_until_idle), it tells them on the calling thread.
class Replier {
 public:
  using Reply = std::pair<Waiter, Outcome>;
  using Deliver = std::function<void(const std::vector<EngineEvent>&)>;
  using Sync = std::function<Result<void>()>;

  Replier(Deliver deliver, Sync sync) : deliver_(std::move(deliver)), sync_(std::move(sync)) {}
  ~Replier() { stop(); }

  void start() {
    std::lock_guard lock(mu_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "banshi-answer");
      run();
    });
    thread_id_ = thread_.get_id();
  }

  // Answers everything handed over, then joins.
  void stop() {
    {
      std::lock_guard lock(mu_);
      if (!thread_.joinable()) return;
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

  // One committed batch: its events, then its answers; `unsynced`: it is
  // to be made durable first, even with nobody to tell (a job's completion
  // by a connector, a timer), so that no batch waits for the next caller's.
  void answer(std::vector<Reply> replies, std::vector<EngineEvent> events = {}, bool unsynced = false) {
    Item item{std::move(events), {}, nullptr, unsynced};
    for (Reply& r : replies) {
      if (r.first) item.replies.push_back(std::move(r));
    }
    if (item.events.empty() && item.replies.empty() && !unsynced) return;
    hand_over(std::move(item));
  }

  // Events committed outside a batch (a claim): delivered behind those
  // handed over before, and returns once they are (at once when called
  // from this thread, i.e. from a listener).
  void deliver_in_order(std::vector<EngineEvent> events) {
    if (std::this_thread::get_id() == thread_id_) {
      deliver_(events);
      return;
    }
    std::promise<void> delivered;
    std::future<void> done = delivered.get_future();
    hand_over(Item{std::move(events), {}, &delivered, false});
    done.wait();
  }

 private:
  struct Item {
    std::vector<EngineEvent> events;
    std::vector<Reply> replies;
    std::promise<void>* delivered;  // set once the events are delivered; may be null
    bool unsynced;                  // written, not yet known durable
  };

  void hand_over(Item item) {
    {
      std::unique_lock lock(mu_);
      if (!stopping_ && thread_.joinable()) {  // stop() joins outside the lock once stopping_ is set
        bool was_empty = queue_.empty();
        queue_.push_back(std::move(item));
        lock.unlock();
        if (was_empty) cv_.notify_one();
        return;
      }
    }
    tell(item);
  }

  void tell(Item& item) {
    if (item.unsynced) {
      // One sync covers every batch written by then, so the items after
      // this one mostly find theirs done.
      if (Result<void> synced = sync_(); !synced.ok()) {
        // What the batch did may be lost: nobody hears of it as done.
        spdlog::critical("a committed batch could not be made durable: {}", synced.error().message);
        for (auto& reply : item.replies) reply.second = Outcome(synced.error());
        item.events.clear();
      }
    }
    if (!item.events.empty()) deliver_(item.events);
    if (item.delivered) item.delivered->set_value();
    for (auto& [waiter, outcome] : item.replies) waiter.tell(std::move(outcome));
  }

  void run() {
    std::vector<Item> batch;
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and all answered
      batch.swap(queue_);
      lock.unlock();
      for (Item& item : batch) tell(item);
      batch.clear();
      lock.lock();
    }
  }

  Deliver deliver_;
  Sync sync_;
  std::atomic<std::thread::id> thread_id_{};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Item> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

std::optional<store::AuditRecord> audit_row(const AuditNote* note) {
  if (note == nullptr || note->action.empty()) return std::nullopt;
  store::AuditRecord a;
  a.at = note->at;
  a.actor = note->actor;
  a.action = note->action;
  a.target = note->target;
  a.address = note->address;
  a.detail = note->detail;
  return a;
}

std::vector<store::AuditRecord> audit_rows(const AuditNote* note) {
  std::vector<store::AuditRecord> rows;
  if (auto a = audit_row(note)) rows.push_back(std::move(*a));
  return rows;
}

// The applicant columns of a new instance (store::InstanceRecord) from its
// start variables: applicant.idNumber, applicant.name, applicant.region (or
// a top-level region).
void read_applicant(const json::object& vars, store::InstanceRecord& r) {
  if (const json::value* a = vars.if_contains("applicant"); a && a->is_object()) {
    r.applicant_id = string_member(a->get_object(), "idNumber");
    r.applicant_name = string_member(a->get_object(), "name");
  }
  r.region = case_region(vars);
}

class EngineImpl final : public Engine {
 public:
  EngineImpl(EngineConfig config, std::unique_ptr<store::Store> store, std::shared_ptr<Clock> clock)
      : config_(std::move(config)), store_(std::move(store)), clock_(std::move(clock)) {}

  ~EngineImpl() override { stop(); }

  Result<void> init() {
    if (auto m = store_->migrate(); !m.ok()) return m.error();
    // This node starts with nothing running: the jobs it had leased before a
    // crash can go to workers now rather than when their leases end.
    auto released = store_->release_leases(config_.node_id);
    if (!released.ok()) return released.error();
    if (*released > 0) spdlog::info("released {} job leases held by {} before it stopped", *released, config_.node_id);
    return {};
  }

  void register_connector(const std::string& type, Connector connector) override {
    std::lock_guard lock(connectors_mu_);
    connectors_[type] = std::move(connector);
  }

  void register_inline_connector(const std::string& type, Connector connector) override {
    std::lock_guard lock(connectors_mu_);
    connectors_[type] = connector;
    inline_connectors_[type] = std::move(connector);
  }

  void set_job_type_check(JobTypeCheck check) override {
    std::lock_guard lock(connectors_mu_);
    job_type_check_ = std::move(check);
  }

  void start() override {
    if (running_.exchange(true)) return;
    started_at_ = clock_->now_ms();
    beat("active");
    // Nodes sharing the store hear each other's events.
    relaying_ = store_->listen_events([this](const std::string& payload) { relayed(payload); }).ok();
    spdlog::info("engine {} started with {} job workers", config_.node_id, config_.job_workers);
    replier_.start();
    processor_ = std::thread([this] { processing_loop(); });
    for (int i = 0; i < config_.job_workers; ++i) workers_.emplace_back([this] { job_loop(); });
  }

  void stop() override {
    if (!running_.exchange(false)) return;
    queue_cv_.notify_all();
    jobs_cv_.notify_all();
    // The workers first: a connector that returns now still has its outcome
    // queued, and the processing thread's last batches, then this thread's,
    // commit it (a lost outcome would run the job again after a restart).
    for (std::thread& w : workers_) w.join();
    workers_.clear();
    if (processor_.joinable()) processor_.join();
    {
      std::lock_guard inline_lock(inline_mu_);
      drain_queue();
    }
    replier_.stop();
    if (relaying_.exchange(false)) store_->stop_events();
    beat("stopped");
    spdlog::info("engine {} stopped", config_.node_id);
  }

  store::Store& store() override { return *store_; }
  const EngineMetrics& metrics() const override { return metrics_; }
  Clock& clock() override { return *clock_; }
  const expr::WorkingDays* working_days() const override { return config_.working_days.get(); }
  int32_t utc_offset_minutes() const override { return config_.utc_offset_minutes; }

  // --- deployment ---------------------------------------------------------
  Result<std::vector<DeployedProcess>> deploy(const std::string& resource, const std::string& xml,
                                              const std::string& deployed_by, const AuditNote* audit) override {
    auto deployed = deploy_resources({DeploymentResource{resource, xml}}, deployed_by, audit);
    if (!deployed.ok()) return deployed.error();
    return std::move(deployed->processes);
  }

  // --- decisions (DMN) ------------------------------------------------------
  static bool is_dmn(const std::string& resource, const std::string& xml) {
    return resource.ends_with(".dmn") || dmn::looks_like_dmn(xml);
  }

  static Result<std::shared_ptr<const dmn::Definitions>> load_decisions(const std::string& resource,
                                                                         const std::string& xml) {
    dmn::LoadResult loaded = dmn::load_dmn(xml);
    if (!loaded.ok()) {
      std::string why;
      for (const auto& d : loaded.diagnostics) {
        if (d.severity == model::Severity::kError) why += model::format_diagnostic(d, resource) + "\n";
      }
      return Error{"invalid-model", why.empty() ? resource + " is not a deployable DMN model" : why};
    }
    if (loaded.definitions->decisions.empty()) return Error{"invalid-model", resource + " has no decision"};
    return loaded.definitions;
  }

  static std::string error_lines(const std::vector<model::Diagnostic>& diagnostics, const std::string& resource) {
    std::string why;
    for (const auto& d : diagnostics) {
      if (d.severity == model::Severity::kError) why += model::format_diagnostic(d, resource) + "\n";
    }
    return why;
  }

  // A process or decision of a deployed file, as the store keeps it; the
  // store assigns key and version.
  template <typename Record>
  static Record versioned(std::string Record::*id_field, const std::string& id, const std::string& name,
                          const DeploymentResource& file, const std::string& checksum, int64_t now,
                          const std::string& deployed_by) {
    Record rec;
    rec.*id_field = id;
    rec.name = name;
    rec.resource = file.name;
    rec.xml = file.xml;
    rec.checksum = checksum;
    rec.deployed_at = now;
    rec.deployed_by = deployed_by;
    return rec;
  }

  // Every file is validated (and the start timers of its processes computed)
  // before anything is stored; then the whole deployment is stored in one
  // store transaction (Store::deploy_all), so a failure on any file leaves
  // no trace of the others.
  Result<Deployment> deploy_resources(const std::vector<DeploymentResource>& resources,
                                      const std::string& deployed_by, const AuditNote* audit) override {
    const int64_t now = clock_->now_ms();
    store::DeploymentRecords records;
    std::vector<std::shared_ptr<const dmn::Definitions>> decision_models;  // per records.decisions
    std::map<std::string, std::shared_ptr<const model::Definitions>> process_models;
    std::set<std::string> decision_ids;
    for (const DeploymentResource& r : resources) {
      const std::string checksum = sha256_hex(r.xml);
      if (is_dmn(r.name, r.xml)) {
        auto loaded = load_decisions(r.name, r.xml);
        if (!loaded.ok()) return loaded.error();
        for (const dmn::Decision& d : (*loaded)->decisions) {
          if (!decision_ids.insert(d.id).second) {
            return Error{"invalid-model", fmt::format("decision '{}' is in two files of the deployment", d.id)};
          }
          records.decisions.push_back(
              versioned(&store::DecisionRecord::decision_id, d.id, d.name, r, checksum, now, deployed_by));
          decision_models.push_back(*loaded);
        }
        continue;
      }
      model::LoadResult loaded = model::load_bpmn(r.xml);
      if (!loaded.ok()) {
        std::string why = error_lines(loaded.diagnostics, r.name);
        return Error{"invalid-model", why.empty() ? r.name + " is not a deployable BPMN model" : why};
      }
      if (auto known = check_job_types(*loaded.definitions, r.name); !known.ok()) return known.error();
      std::vector<model::Diagnostic> timer_errors;
      const core::StartTimerEnv timer_env{now, config_.utc_offset_minutes, config_.working_days.get()};
      size_t executable = 0;
      for (const model::Process& p : loaded.definitions->processes) {
        if (!p.executable) continue;  // nothing of it is stored, its timer start events are not scheduled
        ++executable;
        if (!process_models.emplace(p.id, loaded.definitions).second) {
          return Error{"invalid-model", fmt::format("process '{}' is in two files of the deployment", p.id)};
        }
        records.processes.push_back(
            versioned(&store::DefinitionRecord::process_id, p.id, p.name, r, checksum, now, deployed_by));
        for (core::StartTimerSchedule& t : core::schedule_start_timers(p, timer_env, timer_errors)) {
          records.start_timers.push_back(
              store::StartTimerRecord{0, 0, p.id, t.element_id, t.due_at, t.repetitions_left, t.interval});
        }
      }
      if (!timer_errors.empty()) return Error{"invalid-model", error_lines(timer_errors, r.name)};
      if (executable == 0) return Error{"invalid-model", r.name + " has no executable process"};
    }
    records.audit = audit_rows(audit);
    auto stored = store_->deploy_all(std::move(records));
    if (!stored.ok()) return stored.error();
    Deployment out;
    {
      std::lock_guard lock(defs_mu_);
      for (const store::DefinitionRecord& r : stored->processes) latest_.erase(r.process_id);
      ++latest_generation_;
    }
    for (size_t i = 0; i < stored->processes.size(); ++i) {
      const store::DefinitionRecord& r = stored->processes[i];
      const bool fresh = stored->new_process[i];
      if (fresh) spdlog::info("deployed {} version {} from {}", r.process_id, r.version, r.resource);
      out.processes.push_back(DeployedProcess{r.process_id, r.version, r.key, fresh});
      compile(r, process_models[r.process_id]);
    }
    {
      std::lock_guard lock(decisions_mu_);
      for (size_t i = 0; i < stored->decisions.size(); ++i) {
        const store::DecisionRecord& r = stored->decisions[i];
        const bool fresh = stored->new_decision[i];
        if (fresh) spdlog::info("deployed decision {} version {} from {}", r.decision_id, r.version, r.resource);
        latest_decisions_[r.decision_id] = LoadedDecision{r.key, r.version, decision_models[i]};
        ++latest_decisions_generation_;
        out.decisions.push_back(DeployedDecision{r.decision_id, r.name, r.version, r.key, fresh});
      }
    }
    for (const store::StartTimerRecord& t : stored->start_timers) {
      spdlog::info("scheduled the timer start event {} of {} for {}", t.element_id, t.process_id, t.due_at);
    }
    arm_start_timers(stored->start_timers);
    return out;
  }

  struct LoadedDecision {
    int64_t key = 0;
    int32_t version = 0;
    std::shared_ptr<const dmn::Definitions> model;
  };

  // The latest version of a decision, cached until the next deployment of it.
  Result<LoadedDecision> latest_decision(const std::string& decision_id) {
    uint64_t generation = 0;
    {
      std::lock_guard lock(decisions_mu_);
      auto it = latest_decisions_.find(decision_id);
      if (it != latest_decisions_.end()) return it->second;
      generation = latest_decisions_generation_;
    }
    auto record = store_->decision(decision_id, 0);
    if (!record.ok()) return record.error();
    if (!*record) return Error{"not-found", fmt::format("decision '{}' is not deployed", decision_id)};
    auto model = load_decisions((*record)->resource, (*record)->xml);
    if (!model.ok()) return model.error();
    LoadedDecision loaded{(*record)->key, (*record)->version, *model};
    std::lock_guard lock(decisions_mu_);
    if (latest_decisions_generation_ == generation) latest_decisions_[decision_id] = loaded;  // as for processes
    return loaded;
  }

  // A decision reference is "id" (the latest version) or "id:N" (version N;
  // DMN ids are XML names and cannot contain ':').
  Result<LoadedDecision> find_decision(const std::string& ref, std::string& decision_id) {
    size_t colon = ref.rfind(':');
    if (colon == std::string::npos) {
      decision_id = ref;
      return latest_decision(ref);
    }
    decision_id = ref.substr(0, colon);
    std::string digits = ref.substr(colon + 1);
    int32_t version = 0;
    bool valid = !digits.empty() && digits.size() <= 9 && !decision_id.empty();
    for (char c : digits) valid = valid && c >= '0' && c <= '9';
    if (valid) version = static_cast<int32_t>(std::stoi(digits));
    if (!valid || version <= 0) {
      return Error{"invalid", fmt::format("'{}' is not a decision id or id:version", ref)};
    }
    {
      std::lock_guard lock(decisions_mu_);
      auto it = pinned_decisions_.find(ref);
      if (it != pinned_decisions_.end()) return it->second;
    }
    auto record = store_->decision(decision_id, version);
    if (!record.ok()) return record.error();
    if (!*record) return Error{"not-found", fmt::format("decision '{}' has no version {}", decision_id, version)};
    auto model = load_decisions((*record)->resource, (*record)->xml);
    if (!model.ok()) return model.error();
    LoadedDecision loaded{(*record)->key, (*record)->version, *model};
    std::lock_guard lock(decisions_mu_);
    pinned_decisions_[ref] = loaded;  // versions never change
    return loaded;
  }

  Result<DecisionOutcome> decide(const std::string& ref, const boost::json::object& variables, int64_t now_ms) {
    std::string decision_id;
    auto loaded = find_decision(ref, decision_id);
    if (!loaded.ok()) return loaded.error();
    expr::JsonVariables inputs(variables);
    dmn::EvalOptions options;
    options.now_epoch_ms = now_ms;
    options.utc_offset_minutes = config_.utc_offset_minutes;
    options.working_days = config_.working_days.get();
    dmn::DecisionResult r = dmn::evaluate(*loaded->model, decision_id, inputs, options);
    if (!r.errors.empty()) {
      std::string why;
      for (const auto& e : r.errors) why += (why.empty() ? "" : "; ") + e;
      return Error{"decision-failed", why};
    }
    DecisionOutcome out;
    out.result = expr::to_json(r.value);
    out.decision_id = decision_id;
    out.version = loaded->version;
    for (const auto& m : r.matched) {
      std::string rules;
      for (size_t n : m.rules) rules += (rules.empty() ? "" : ", ") + std::to_string(n);
      out.matched.push_back(fmt::format("{}: {}", m.decision_id, rules.empty() ? "no rule" : "rules " + rules));
    }
    return out;
  }

  Result<DecisionOutcome> evaluate_decision(const std::string& decision_id,
                                            const boost::json::object& variables) override {
    return decide(decision_id, variables, clock_->now_ms());
  }

  // What business rule tasks call during one step: the latest version of the
  // decision, evaluated at the step's instant.
  class StepDecisions final : public core::DecisionEvaluator {
   public:
    StepDecisions(EngineImpl& engine, int64_t now_ms) : engine_(engine), now_ms_(now_ms) {}
    Result<boost::json::value> evaluate(const std::string& decision_id,
                                        const boost::json::object& variables) const override {
      auto outcome = engine_.decide(decision_id, variables, now_ms_);
      if (!outcome.ok()) return outcome.error();
      return std::move(outcome->result);
    }

   private:
    EngineImpl& engine_;
    int64_t now_ms_;
  };

  // --- commands -------------------------------------------------------------
  Result<InstanceId> start_instance(const StartRequest& request) override {
    auto p = start_command(request);
    if (!p.ok()) return p.error();
    const InstanceId id = p->instance;
    auto outcome = submit(std::move(p).value());
    if (!outcome.status.ok()) return outcome.status.error();
    return id;
  }

  void start_instance_async(const StartRequest& request, std::function<void(Result<InstanceId>)> done) override {
    auto p = start_command(request);
    if (!p.ok()) return done(p.error());
    const InstanceId id = p->instance;
    submit_async(std::move(p).value(), [id, done = std::move(done)](Outcome outcome) {
      if (!outcome.status.ok()) return done(outcome.status.error());
      done(id);
    });
  }

  Result<void> complete_task(int64_t task_id, const json::object& variables, const std::string& user,
                             const AuditNote* audit) override {
    auto p = complete_command(task_id, variables, user, audit);
    if (!p.ok()) return p.error();
    return submit(std::move(p).value()).status;
  }

  void complete_task_async(int64_t task_id, const json::object& variables, const std::string& user,
                           std::function<void(Result<void>)> done, const AuditNote* audit) override {
    auto p = complete_command(task_id, variables, user, audit);
    if (!p.ok()) return done(p.error());
    submit_async(std::move(p).value(), [done = std::move(done)](Outcome outcome) { done(outcome.status); });
  }

  Result<void> claim_task(int64_t task_id, const std::string& user, const AuditNote* audit) override {
    return assign_and_tell(task_id, "", user, "task.claimed", audit);
  }
  Result<void> unclaim_task(int64_t task_id, const std::string& user, const AuditNote* audit) override {
    return assign_and_tell(task_id, user, "", "task.unclaimed", audit);
  }
  Result<void> assign_task(int64_t task_id, const std::string& expected, const std::string& assignee,
                           const AuditNote* audit) override {
    return assign_and_tell(task_id, expected, assignee, "task.assigned", audit);
  }

  Result<PublishResult> publish_message(const PublishRequest& request, const AuditNote* audit) override {
    if (request.name.empty()) return Error{"bad-request", "a message needs a name"};
    if (request.regions && request.time_to_live_ms > 0) {
      return Error{"bad-request", "a message limited to regions reaches the instances waiting now; it has no time to live"};
    }
    Pending p;
    p.publish = request;
    p.audit = audit_row(audit);
    auto outcome = submit(std::move(p));
    if (!outcome.status.ok()) return outcome.status.error();
    return outcome.publish;
  }

  Result<int> throw_signal(const std::string& name, const json::object& variables, const AuditNote* audit,
                           const std::vector<std::string>* regions) override {
    if (name.empty()) return Error{"bad-request", "a signal needs a name"};
    Pending p;
    p.signal = std::make_pair(name, variables);
    if (regions) p.signal_regions = *regions;
    p.audit = audit_row(audit);
    auto outcome = submit(std::move(p));
    if (!outcome.status.ok()) return outcome.status.error();
    return static_cast<int>(outcome.value);
  }

  Result<void> cancel_instance(InstanceId id, const std::string& reason, const AuditNote* audit) override {
    Pending p;
    p.instance = id;
    p.command = Command{CommandKind::kCancel};
    p.command.message = reason;
    p.audit = audit_row(audit);
    return submit(std::move(p)).status;
  }

  Result<void> modify_instance(InstanceId id, const std::vector<ModifyInstruction>& instructions,
                               const AuditNote& audit) override {
    if (instructions.empty()) return Error{"bad-request", "a modification needs at least one instruction"};
    Pending p;
    p.instance = id;
    for (const ModifyInstruction& m : instructions) {
      switch (m.kind) {
        case ModifyInstruction::Kind::kStartBefore: {
          Command c{CommandKind::kActivateElement};
          c.name = m.element_id;
          p.modification.push_back(std::move(c));
          break;
        }
        case ModifyInstruction::Kind::kCancel: {
          Command c{CommandKind::kTerminateElement};
          c.key = m.element_instance;  // 0: every instance of element_id (modify())
          c.name = m.element_id;
          p.modification.push_back(std::move(c));
          break;
        }
        case ModifyInstruction::Kind::kSetVariables: {
          Command c{CommandKind::kSetVariables};
          c.variables = m.variables;
          p.modification.push_back(std::move(c));
          break;
        }
      }
    }
    p.command = p.modification.front();
    p.audit = audit_row(&audit);
    return submit(std::move(p)).status;
  }

  Result<void> resolve_incident(int64_t incident_id, int32_t retries, const AuditNote* audit) override {
    auto found = store_->incident(incident_id);
    if (!found.ok()) return found.error();
    if (!*found) return Error{"not-found", fmt::format("incident {} does not exist or is resolved", incident_id)};
    Pending p;
    p.instance = (*found)->instance_id;
    p.command = Command{CommandKind::kResolveIncident};
    p.command.key = (*found)->key;
    p.command.retries = retries;
    p.audit = audit_row(audit);
    return submit(std::move(p)).status;
  }

  Result<void> set_variables(InstanceId id, const json::object& variables, const AuditNote* audit) override {
    Pending p;
    p.instance = id;
    p.command = Command{CommandKind::kSetVariables};
    p.command.variables = variables;
    p.audit = audit_row(audit);
    return submit(std::move(p)).status;
  }

  Result<std::vector<JobContext>> fetch_and_lock(const std::vector<std::string>& types, const std::string& worker,
                                                 size_t max_jobs, int64_t lock_ms) override {
    int64_t now = clock_->now_ms();
    auto jobs = store_->acquire_jobs(types, worker, now, now + lock_ms, max_jobs);
    if (!jobs.ok()) return jobs.error();
    std::vector<JobContext> out;
    for (const store::JobRecord& j : *jobs) out.push_back(job_context(j));
    return out;
  }

  // The lease is read from the store, not from memory: a worker's lease
  // outlives a restart of the server and holds on every node of a cluster.
  // As in Camunda, the owner may still report after the lease ran out, as
  // long as no one else has fetched the job since.
  Result<std::string> check_job_lease(int64_t job_id, const std::string& worker) override {
    auto job = store_->job(job_id);
    if (!job.ok()) return job.error();
    if (!*job || (*job)->lease_owner.empty() || (*job)->state != 1) {
      return Error{"not-found", fmt::format("job {} is not locked by any worker", job_id)};
    }
    if ((*job)->lease_owner != worker) {
      return Error{"conflict", fmt::format("job {} is locked by another worker", job_id)};
    }
    return (*job)->type;
  }

  Result<void> extend_job_lease(int64_t job_id, const std::string& worker, int64_t duration_ms) override {
    if (auto held = check_job_lease(job_id, worker); !held.ok()) return held.error();
    int64_t now = clock_->now_ms();
    if (auto r = store_->extend_lease(job_id, worker, now, now + duration_ms); !r.ok()) return r;
    std::lock_guard lock(leased_mu_);
    auto it = leased_.find(job_id);
    if (it != leased_.end() && it->second.lease_owner == worker) it->second.lease_until = now + duration_ms;
    return {};
  }

  Result<InstanceView> inspect_instance(InstanceId id) override {
    auto record = store_->instance(id);
    if (!record.ok()) return record.error();
    if (!*record) return Error{"not-found", fmt::format("instance {} does not exist", id)};
    auto state = core::decode((*record)->state);
    if (!state.ok()) return state.error();
    const CompiledDefinition* def = definition((*record)->definition_key);
    if (!def) return Error{"store", fmt::format("the definition of instance {} does not load", id)};
    InstanceView view;
    if (const core::ElementInstance* root = state->find(state->root)) {
      for (const auto& [name, value] : root->variables) view.variables[name] = value;
    }
    std::map<model::Index, ActiveElement> at;
    for (const auto& [key, ei] : state->elements) {
      if (ei.element == model::kNoIndex) continue;
      ActiveElement& a = at[ei.element];
      a.element_id = def->process->node(ei.element).id;
      ++a.count;
      a.incident = a.incident || ei.incident != 0;
    }
    for (auto& [index, a] : at) view.active.push_back(std::move(a));
    return view;
  }

  uint64_t subscribe(EventListener listener) override {
    std::lock_guard lock(listeners_mu_);
    uint64_t id = ++last_listener_;
    listeners_.emplace(id, std::move(listener));
    has_listeners_ = true;
    return id;
  }

  void unsubscribe(uint64_t id) override {
    std::lock_guard lock(listeners_mu_);
    listeners_.erase(id);
    has_listeners_ = !listeners_.empty();
  }

  // While the engine runs, behind the events of the batches committed
  // before (a task's claim is not heard before its creation).
  void publish_event(const EngineEvent& event) override {
    replier_.deliver_in_order({event});
    relay({event});
  }

  // Hands events to this node's listeners, in their order. An event a
  // listener publishes while it hears one is queued behind the events being
  // delivered, so every listener hears all of them in the same order.
  void deliver(const std::vector<EngineEvent>& events) {
    std::lock_guard lock(listeners_mu_);
    if (delivering_) {
      published_meanwhile_.insert(published_meanwhile_.end(), events.begin(), events.end());
      return;
    }
    delivering_ = true;
    hear(events);
    while (!published_meanwhile_.empty()) {
      std::vector<EngineEvent> more;
      more.swap(published_meanwhile_);
      hear(more);
    }
    delivering_ = false;
  }

  // Under listeners_mu_.
  void hear(const std::vector<EngineEvent>& events) {
    for (const EngineEvent& event : events) {
      for (auto& [id, listener] : listeners_) {
        try {
          listener(event);
        } catch (const std::exception& e) {
          spdlog::warn("an event listener failed on {}: {}", event.type, e.what());
        } catch (...) {
          spdlog::warn("an event listener failed on {}", event.type);
        }
      }
    }
  }

  Result<void> report_job(int64_t job_id, const JobOutcome& outcome, const std::string* worker) override {
    std::optional<store::JobRecord> job;
    {
      std::lock_guard lock(leased_mu_);
      auto it = leased_.find(job_id);
      if (it != leased_.end()) job = it->second;
    }
    // This node's view of the lease changes with its own fetches only: for
    // another worker's name, the store says whether it holds the lease now.
    if (job && worker && job->lease_owner != *worker) job.reset();
    if (!job) {
      // Leased before a restart, or by another node of the cluster: the
      // store still holds the lease.
      auto stored = store_->job(job_id);
      if (!stored.ok()) return stored.error();
      if (!*stored || (*stored)->lease_owner.empty() || (*stored)->state != 1) {
        return Error{"not-found", fmt::format("job {} is not locked by any worker", job_id)};
      }
      job = std::move(**stored);
    }
    if (worker && job->lease_owner != *worker) {
      return Error{"conflict", fmt::format("job {} is locked by another worker", job_id)};
    }
    Pending p = job_command(*job, outcome);
    if (worker) p.lease_checked = *worker;
    // Answered once the outcome is committed: a worker told "done" may forget the job.
    Outcome done = post(std::move(p), /*wait=*/true);
    {
      std::lock_guard lock(leased_mu_);
      leased_.erase(job_id);
    }
    return done.status;
  }

  size_t run_until_idle() override {
    // Without the processing thread, whichever thread calls does the work; one
    // at a time (recursive: an inline connector may call the engine back).
    std::lock_guard inline_lock(inline_mu_);
    sweep_expired_messages();
    size_t total = 0;
    for (int round = 0; round < 100000; ++round) {
      fire_due_timers();
      size_t applied = process_batch();
      size_t jobs = run_jobs_inline();
      total += applied;
      std::lock_guard lock(queue_mu_);
      if (applied == 0 && jobs == 0 && queue_.empty()) break;
    }
    return total;
  }

 private:
  // The command that starts an instance, its id allocated.
  Result<Pending> start_command(const StartRequest& request) {
    auto key = definition_key_for(request.process_id, request.version);
    if (!key.ok()) return key.error();
    auto id = new_instance_id();
    if (!id.ok()) return id.error();
    Pending p;
    p.instance = *id;
    p.create = true;
    p.definition_key = *key;
    p.business_key = request.business_key;
    p.command = Command{CommandKind::kStart};
    p.command.name = request.start_event;
    p.command.variables = request.variables;
    return p;
  }

  // The command that completes a task, checked against the stored task.
  Result<Pending> complete_command(int64_t task_id, const json::object& variables, const std::string& user,
                                   const AuditNote* audit) {
    // Read without waiting for the log's sync: what the completion rests on
    // is checked again when it is written (the step needs the task waiting,
    // the store its assignee), and its caller hears of it only once that
    // write is durable, with every commit before it. A refusal from this
    // read alone is told only from durable state, so it is read again.
    auto waiting_task = [&](bool durable) -> Result<std::optional<store::TaskRecord>> {
      if (durable) return store_->task(task_id);
      const store::UnsyncedReads unsynced;
      return store_->task(task_id);
    };
    auto refusal = [&](const Result<std::optional<store::TaskRecord>>& task) -> std::optional<Error> {
      if (!task.ok()) return task.error();
      if (!*task) return Error{"not-found", fmt::format("task {} does not exist or is already completed", task_id)};
      if (!(*task)->assignee.empty() && !user.empty() && (*task)->assignee != user) {
        return Error{"conflict", fmt::format("task {} is claimed by someone else", task_id)};
      }
      return std::nullopt;
    };
    auto task = waiting_task(false);
    if (refusal(task)) {
      task = waiting_task(true);
      if (auto why = refusal(task)) return *why;
    }
    Pending p;
    p.instance = (*task)->instance_id;
    p.command = Command{CommandKind::kCompleteUserTask};
    p.command.key = (*task)->key;
    p.command.variables = variables;
    p.audit = audit_row(audit);
    // Claimed or given to someone else between this read and the commit (on
    // another thread or node): the store refuses the completion.
    if (!user.empty()) p.assignee_checked = (*task)->assignee;
    return p;
  }

  // --- the queue ------------------------------------------------------------
  Outcome submit(Pending p) { return post(std::move(p), true); }

  // Queues a command whose outcome `done` hears after its batch has
  // committed (the asynchronous methods); without the processing thread the
  // caller's thread does the work, as for submit().
  void submit_async(Pending p, std::function<void(Outcome)> done) {
    p.waiter.callback = std::move(done);
    post(std::move(p), false);
    if (!running_) run_until_idle();
  }

  Outcome post(Pending p, bool wait) {
    std::future<Outcome> future;
    if (wait) {
      p.waiter.promise = std::make_shared<std::promise<Outcome>>();
      future = p.waiter.promise->get_future();
    }
    bool was_empty;
    {
      std::lock_guard lock(queue_mu_);
      was_empty = queue_.empty();
      queue_.push_back(std::move(p));
    }
    // The processing thread only sleeps on an empty queue; waking it for every
    // command of a busy stream costs a system call each.
    if (was_empty) queue_cv_.notify_one();
    if (!wait) return Outcome{};
    if (!running_) {
      // Without the processing thread the caller's thread does the work.
      run_until_idle();
    }
    return future.get();
  }

  // Tells the other nodes sharing the store that this one is alive (or has
  // stopped). A store without a cluster says "unsupported" once; then no more.
  void beat(const char* role) {
    if (!beats_) return;
    store::NodeRecord node{config_.node_id, role, config_.node_address, started_at_, clock_->now_ms(), 0};
    auto r = store_->heartbeat(node);
    if (r.ok()) return;
    if (r.error().code == "unsupported") {
      beats_ = false;
      return;
    }
    spdlog::warn("node {} could not record its heartbeat: {}", config_.node_id, r.error().message);
  }

  void processing_loop() {
    pthread_setname_np(pthread_self(), "banshi-batch");  // as top -H and perf show it
    const store::UnsyncedReads unsynced_reads;  // its reads need not wait for the last batch's sync
    auto last_sweep = std::chrono::steady_clock::now();
    auto last_beat = std::chrono::steady_clock::now();
    while (running_) {
      if (beats_ && std::chrono::steady_clock::now() - last_beat > std::chrono::milliseconds(config_.heartbeat_ms)) {
        last_beat = std::chrono::steady_clock::now();
        beat("active");
      }
      if (std::chrono::steady_clock::now() - last_sweep > std::chrono::minutes(1)) {
        last_sweep = std::chrono::steady_clock::now();
        sweep_expired_messages();
      }
      {
        // A caller that finds the engine stopping works the queue itself
        // (run_until_idle), under the same lock: never beside this thread.
        std::lock_guard inline_lock(inline_mu_);
        fire_due_timers();
        if (process_batch() > 0) continue;
      }
      std::unique_lock lock(queue_mu_);
      if (!queue_.empty()) continue;
      auto wait = std::min<std::chrono::milliseconds>(clock_->real_wait_until(next_timer_due_locked()),
                                                      std::chrono::milliseconds(200));
      queue_cv_.wait_for(lock, wait, [this] { return !queue_.empty() || !running_; });
    }
    // Finish what was accepted before stopping.
    std::lock_guard inline_lock(inline_mu_);
    drain_queue();
  }

  // Applies what is queued until nothing is (with inline_mu_ held). A batch
  // can apply nothing and leave commands queued (a failed batch whose
  // commands are queued again one by one, or one of redeliveries only), so
  // the queue, not the batch's count, says when to stop. Every failed batch
  // tells its callers, so the queue empties; should it not within the bound,
  // the callers still waiting are told the engine stopped.
  void drain_queue() {
    for (int round = 0; round < 100000; ++round) {
      process_batch();
      std::lock_guard lock(queue_mu_);
      if (queue_.empty()) return;
    }
    std::deque<Pending> left;
    {
      std::lock_guard lock(queue_mu_);
      left.swap(queue_);
    }
    spdlog::error("engine stopped with {} commands not applied", left.size());
    for (Pending& p : left) {
      if (p.waiter) p.waiter.tell(Outcome(Error{"unavailable", "the engine stopped before the command was applied"}));
    }
  }

  // Buffered messages nobody took within their time to live are dropped.
  void sweep_expired_messages() {
    auto dropped = store_->delete_expired_messages(clock_->now_ms());
    if (!dropped.ok()) spdlog::warn("could not drop expired messages: {}", dropped.error().message);
    else if (*dropped > 0) spdlog::info("dropped {} buffered messages whose time to live ended", *dropped);
  }

  // --- definitions ----------------------------------------------------------
  const CompiledDefinition* compile(const store::DefinitionRecord& r,
                                    std::shared_ptr<const model::Definitions> definitions) {
    std::lock_guard lock(defs_mu_);
    auto it = defs_.find(r.key);
    if (it != defs_.end()) return it->second.get();
    const model::Process* p = definitions->find_process(r.process_id);
    if (!p) return nullptr;
    auto c = std::make_unique<CompiledDefinition>();
    c->record = r;
    c->record.xml.clear();
    c->definitions = definitions;
    c->process = std::make_unique<core::ExecutableProcess>(definitions, *p);
    return (defs_[r.key] = std::move(c)).get();
  }

  const CompiledDefinition* definition(int64_t key) {
    {
      std::lock_guard lock(defs_mu_);
      auto it = defs_.find(key);
      if (it != defs_.end()) return it->second.get();
    }
    auto r = store_->definition_by_key(key);
    if (!r.ok()) {
      read_failed(r.error());
      return nullptr;
    }
    if (!*r) return nullptr;
    model::LoadResult loaded = model::load_bpmn((*r)->xml);
    if (!loaded.definitions) return nullptr;
    return compile(**r, loaded.definitions);
  }

  // The definition a start uses: the latest version is remembered until the
  // next deployment, so starting does not cost a store read.
  Result<int64_t> definition_key_for(const std::string& process_id, int32_t version) {
    // A deployment committed between the store read below and the write to
    // the cache would be hidden by the older version read: the read is
    // remembered only when no deployment came meanwhile.
    uint64_t generation = 0;
    if (version == 0) {
      std::lock_guard lock(defs_mu_);
      auto it = latest_.find(process_id);
      if (it != latest_.end()) return it->second;
      generation = latest_generation_;
    }
    auto def = store_->definition(process_id, version);
    if (!def.ok()) return def.error();
    if (!*def) {
      return Error{"not-found", version == 0 ? fmt::format("process '{}' is not deployed", process_id)
                                             : fmt::format("process '{}' has no version {}", process_id, version)};
    }
    if (version == 0) {
      std::lock_guard lock(defs_mu_);
      if (latest_generation_ == generation) latest_[process_id] = (*def)->key;
    }
    return (*def)->key;
  }

  Result<InstanceId> new_instance_id() {
    std::lock_guard lock(ids_mu_);
    if (next_id_ >= id_limit_) {
      auto first = store_->allocate_ids("instance", 1000);
      if (!first.ok()) return first.error();
      next_id_ = *first;
      id_limit_ = *first + 1000;
    }
    return next_id_++;
  }

  // --- instances (processing thread only) ----------------------------------
  CachedInstance* load(InstanceId id) {
    auto it = cache_.find(id);
    if (it != cache_.end()) {
      it->second.last_used = ++use_counter_;
      return &it->second;
    }
    auto r = store_->instance(id);
    if (!r.ok()) {
      read_failed(r.error());
      return nullptr;
    }
    if (!*r) return nullptr;
    auto state = core::decode((*r)->state);
    if (!state.ok()) {
      spdlog::error("instance {}: stored state does not read back: {}", id, state.error().message);
      return nullptr;
    }
    const CompiledDefinition* def = definition((*r)->definition_key);
    if (!def) return nullptr;
    CachedInstance c;
    c.record = std::move(**r);
    c.record.state.clear();
    c.state = std::move(state).value();
    c.def = def;
    c.last_used = ++use_counter_;
    return &(cache_[id] = std::move(c));
  }

  CachedInstance* create(const Pending& p) {
    const CompiledDefinition* def = definition(p.definition_key);
    if (!def) return nullptr;
    CachedInstance c;
    c.record.id = p.instance;
    c.record.definition_key = def->record.key;
    c.record.process_id = def->record.process_id;
    c.record.definition_version = def->record.version;
    c.record.business_key = p.business_key;
    if (p.command.kind == CommandKind::kStart) read_applicant(p.command.variables, c.record);
    c.record.started_at = clock_->now_ms();
    c.record.parent_id = p.parent_id;
    c.record.parent_element = p.parent_element;
    c.record.version = 0;
    c.def = def;
    c.last_used = ++use_counter_;
    return &(cache_[p.instance] = std::move(c));
  }

  void trim_cache() {
    if (cache_.size() <= config_.instance_cache) return;
    std::vector<std::pair<uint64_t, InstanceId>> by_age;
    for (const auto& [id, c] : cache_) by_age.emplace_back(c.last_used, id);
    std::sort(by_age.begin(), by_age.end());
    size_t drop = cache_.size() - config_.instance_cache;
    for (size_t i = 0; i < drop; ++i) cache_.erase(by_age[i].second);
  }

  // --- the batch --------------------------------------------------------------
  struct Touched {
    CachedInstance* instance = nullptr;
    int64_t expected_version = 0;
    std::vector<Record> records;
  };

  // Applies an instance modification to the state in hand, all or none: the
  // element instances to cancel are taken from the state as it is before
  // the modification (a cancellation by element id: every instance of it
  // active now), then starts and variable changes run in the order given,
  // then the cancellations, so cancelling the last active element while
  // starting another never ends the instance. When the state machine refuses
  // one command, the state is put back as it was.
  Result<void> modify(CachedInstance& inst, const std::vector<Command>& commands, core::StepEnv& env,
                      std::vector<Record>& out) {
    core::InstanceState before = inst.state;
    auto run = [&]() -> Result<void> {
      std::vector<core::Key> cancel;
      for (const Command& c : commands) {
        if (c.kind != CommandKind::kTerminateElement) continue;
        if (c.key != 0) {
          cancel.push_back(c.key);
          continue;
        }
        const model::FlowNode* n = inst.def->process->process().find(c.name);
        if (!n) return Error{"bad-request", fmt::format("'{}' is not an element of this process", c.name)};
        size_t found = cancel.size();
        for (const auto& [k, e] : inst.state.elements) {
          if (e.element != model::kNoIndex && inst.def->process->node(e.element).id == c.name) cancel.push_back(k);
        }
        if (cancel.size() == found) return Error{"conflict", fmt::format("no instance of '{}' is active", c.name)};
      }
      for (const Command& c : commands) {
        if (c.kind == CommandKind::kTerminateElement) continue;
        if (auto r = core::step(*inst.def->process, inst.state, c, env, out); !r.ok()) return r;
      }
      for (size_t i = 0; i < cancel.size(); ++i) {
        Command t{CommandKind::kTerminateElement};
        t.key = cancel[i];
        // One given by key must exist; one found by element id may have ended
        // with an enclosing one.
        bool by_key = false;
        for (const Command& c : commands) by_key = by_key || (c.kind == CommandKind::kTerminateElement && c.key == cancel[i]);
        if (!by_key && !inst.state.elements.count(cancel[i])) continue;
        if (auto r = core::step(*inst.def->process, inst.state, t, env, out); !r.ok()) return r;
      }
      return {};
    };
    Result<void> r = run();
    if (!r.ok()) {
      inst.state = std::move(before);
      out.clear();
    }
    return r;
  }

  size_t process_batch() {
    std::deque<Pending> work;
    {
      std::lock_guard lock(queue_mu_);
      while (!queue_.empty() && work.size() < config_.max_batch) {
        if (queue_.front().alone && !work.empty()) break;
        work.push_back(std::move(queue_.front()));
        queue_.pop_front();
        if (work.back().from_timer_heap) {
          work.back().from_timer_heap = false;
          timer_fires_queued_.fetch_sub(1, std::memory_order_relaxed);
        }
        if (work.back().alone) break;
      }
    }
    if (work.empty()) return 0;
    unmatched_subscriptions_.clear();
    read_failed_.reset();
    // Kept to be applied again if another node changed one of the instances meanwhile.
    const std::deque<Pending> originals = work;
    const int64_t now = clock_->now_ms();
    store::WriteBatch batch;
    BatchBuilder builder;
    const std::set<std::string> local_types = running_ ? connector_type_set() : std::set<std::string>{};
    std::map<std::string, Connector> inline_connectors;
    {
      std::lock_guard lock(connectors_mu_);
      inline_connectors = inline_connectors_;
    }
    std::map<InstanceId, Touched> touched;
    std::vector<Replier::Reply> results;
    std::vector<store::StartTimerRecord> start_timers_next;  // armed once committed
    size_t applied = 0;
    size_t guard = 0;
    while (!work.empty() && ++guard < config_.max_batch * 20) {
      Pending p = std::move(work.front());
      work.pop_front();
      if (p.publish || p.signal) {
        Outcome outcome = p.publish ? publish(*p.publish, now, work, batch, &builder)
                                    : broadcast(p.signal->first, p.signal->second, p.signal_regions, work);
        // The audit row says what the message or signal reached. One refused
        // here writes none, nor one the store refuses (a repeated message
        // id): the row goes with the batch that is not committed.
        if (p.audit && outcome.status.ok()) {
          std::string reached = p.publish ? fmt::format("correlated {}, started {}{}", outcome.publish.correlated,
                                                        outcome.publish.started,
                                                        outcome.publish.buffered ? ", buffered" : "")
                                          : fmt::format("triggered {}", outcome.value);
          p.audit->detail = p.audit->detail.empty() ? reached : p.audit->detail + "; " + reached;
          batch.audit.push_back(std::move(*p.audit));
        }
        results.emplace_back(std::move(p.waiter), std::move(outcome));
        continue;
      }
      if (p.redeliver) {
        redeliver(*p.redeliver, now, work, batch, builder);
        continue;
      }
      if (p.rematch) {
        rematch(*p.rematch, now, work, batch, builder);
        continue;
      }
      if (p.start_timer) {
        // A timer start event fired: once per occurrence, and only while the
        // stored row is still at it (the firing is written with the instance,
        // conditionally, so a node that lost the race writes nothing).
        const store::StartTimerRecord& st = *p.start_timer;
        bool twice = std::any_of(batch.start_timers_fired.begin(), batch.start_timers_fired.end(),
                                 [&](const store::StartTimerFiring& f) { return f.id == st.id; });
        if (twice || !start_timer_current(st)) continue;
        auto id = new_instance_id();
        if (!id.ok()) {
          spdlog::warn("the timer start event {} of {} cannot start an instance: {}", st.element_id, st.process_id,
                       id.error().message);
          continue;
        }
        p.instance = *id;
        p.create = true;
        p.definition_key = st.definition_key;
        p.command = Command{CommandKind::kStart};
        p.command.name = st.element_id;
      }
      CachedInstance* inst = p.create ? create(p) : load(p.instance);
      if (!inst) {
        results.emplace_back(std::move(p.waiter), Outcome(Error{"not-found", fmt::format("instance {} does not exist", p.instance)}));
        continue;
      }
      auto [t, fresh] = touched.try_emplace(p.instance);
      if (fresh) {
        t->second.instance = inst;
        t->second.expected_version = inst->record.version;
      }
      std::vector<Record> out;
      core::StepEnv env;
      StepDecisions decisions(*this, now);
      env.decisions = &decisions;
      env.now_ms = now;
      env.utc_offset_minutes = config_.utc_offset_minutes;
      env.working_days = config_.working_days.get();
      Result<void> r = p.modification.empty() ? core::step(*inst->def->process, inst->state, p.command, env, out)
                                              : modify(*inst, p.modification, env, out);
      if (!r.ok()) {
        if (p.create) {
          cache_.erase(p.instance);
          touched.erase(p.instance);
        } else if (!p.reloaded && t->second.records.empty() && changed_elsewhere(*inst)) {
          // Another node (or another writer) moved the instance on since this
          // node cached it: judge the command on the stored state instead.
          touched.erase(p.instance);
          cache_.erase(p.instance);
          p.reloaded = true;
          work.push_front(std::move(p));
          continue;
        }
        metrics_.commands_rejected.fetch_add(1, std::memory_order_relaxed);
        results.emplace_back(std::move(p.waiter), Outcome(r.error()));
        continue;
      }
      ++applied;
      count_records(out);
      if (p.start_timer) fired_start_timer(*p.start_timer, now, batch, start_timers_next);
      if (p.command.kind == CommandKind::kFireTimer) {
        metrics_.timers_fired.fetch_add(1, std::memory_order_relaxed);
        for (const Record& rec : out) {
          if (rec.kind == RecordKind::kTimerFired) metrics_.timer_lag.observe(static_cast<double>(now - rec.due_at));
        }
      }
      InstanceContext ctx{inst->record.id, inst->def->process.get(), &inst->state, inst->record.business_key,
                          &local_types, config_.node_id, config_.job_lease_ms};
      builder.add(ctx, out, now);
      run_inline_jobs(*inst, out, inline_connectors, work);
      follow_up(*inst, out, now, work, batch, &builder);
      t->second.records.insert(t->second.records.end(), std::make_move_iterator(out.begin()),
                               std::make_move_iterator(out.end()));
      if (p.audit) batch.audit.push_back(*p.audit);
      if (p.assignee_checked) batch.task_assignee_checks.push_back({p.instance, p.command.key, *p.assignee_checked});
      if (p.lease_checked) batch.job_lease_checks.push_back({p.instance, p.command.key, *p.lease_checked});
      results.emplace_back(std::move(p.waiter), Outcome{});
    }
    for (auto& [id, t] : touched) {
      if (t.records.empty()) continue;
      store::InstanceRecord rec = t.instance->record;
      rec.state = core::encode(t.instance->state);
      rec.status = static_cast<uint8_t>(t.instance->state.status);
      rec.version = t.expected_version + 1;
      if (t.instance->state.status != core::InstanceStatus::kActive && rec.ended_at == 0) rec.ended_at = now;
      batch.history.push_back(
          store::HistoryRecord{id, rec.version, now, history_json(*t.instance->def->process, t.records)});
      batch.instances.push_back(store::InstanceWrite{std::move(rec), t.expected_version});
    }
    std::vector<store::JobRecord> local_jobs = builder.take_local_jobs();
    builder.flush(batch);
    // The store tells which task ids it gave and which task rows it took
    // away (their ids, candidates and assignees go into the task events).
    store::WriteReport report;
    const bool eventful = has_listeners_ || relaying_;  // once: a listener may subscribe meanwhile
    if (eventful) batch.report = &report;
    if (!batch.empty() || read_failed_) {
      // A read the batch needed failed (read_failed_): what was built
      // without it is not written, and the batch fails as a refused write
      // does, so nothing is taken for absent that was merely unreadable.
      auto commit_start = std::chrono::steady_clock::now();
      // Durable once the answers go out (Replier): the next batch is built
      // and written while the log syncs.
      Result<void> w = read_failed_ ? Result<void>(*read_failed_) : store_->write_unsynced(batch);
      metrics_.commit_latency.observe(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - commit_start).count());
      if (!w.ok()) {
        metrics_.batches_failed.fetch_add(1, std::memory_order_relaxed);
        // The cached states ran ahead of the store: forget them.
        for (auto& [id, t] : touched) cache_.erase(id);
        if (w.error().code == "conflict" && originals.front().attempts < kMaxConflictRetries) {
          // Another writer got there first: reload and apply the same commands again.
          std::lock_guard lock(queue_mu_);
          for (auto it = originals.rbegin(); it != originals.rend(); ++it) {
            Pending again = *it;
            ++again.attempts;
            queue_.push_front(std::move(again));
          }
          return 1;
        }
        if (w.error().code != "conflict" && originals.size() > 1) {
          // One command's write may be what the store refused (a message id
          // published twice): apply them again one batch each, so that only
          // that command fails, and no command without a caller is lost.
          // A repeated message id is the client's doing, not the store's.
          spdlog::log(w.error().code == "duplicate" ? spdlog::level::info : spdlog::level::warn,
                      "a batch of {} commands was not committed ({}); applying them one by one", originals.size(),
                      w.error().message);
          std::lock_guard lock(queue_mu_);
          for (auto it = originals.rbegin(); it != originals.rend(); ++it) {
            Pending again = *it;
            again.alone = true;
            queue_.push_front(std::move(again));
          }
          return 1;
        }
        // A timer this command fired is still stored: look for it again in a
        // few seconds rather than when the loaded window ends (not at once:
        // a store that keeps refusing would be asked in a tight loop).
        {
          std::lock_guard lock(timers_mu_);
          timers_loaded_until_ = std::min(timers_loaded_until_, now + kRetryFailedTimersMs);
        }
        spdlog::log(w.error().code == "duplicate" ? spdlog::level::info : spdlog::level::err,
                    "a batch of {} commands was not committed: {}", results.size(), w.error().message);
        // The refusal may rest on an earlier batch that is committed but
        // not yet durable (a message id it stored): the callers hear of it
        // once that batch is.
        for (auto& reply : results) reply.second = Outcome(w.error());
        replier_.answer(std::move(results), {}, /*unsynced=*/true);
        return 0;
      }
    }
    // Anything a runaway cascade left over goes back on the queue, now that
    // what caused it is committed (after a failed commit the same commands,
    // applied again, cause it again).
    if (!work.empty()) {
      std::lock_guard lock(queue_mu_);
      for (auto it = work.rbegin(); it != work.rend(); ++it) queue_.push_front(std::move(*it));
    }
    metrics_.batches_committed.fetch_add(1, std::memory_order_relaxed);
    metrics_.commands_applied.fetch_add(applied, std::memory_order_relaxed);
    // Before ended instances leave the cache: the events read them.
    std::vector<EngineEvent> events;
    if (eventful) events = batch_events(touched, batch, report, now);
    for (auto& [id, t] : touched) {
      if (t.records.empty()) continue;
      CachedInstance& c = *t.instance;
      c.record.version = t.expected_version + 1;
      c.record.status = static_cast<uint8_t>(c.state.status);
      if (c.state.status != core::InstanceStatus::kActive) cache_.erase(id);
    }
    const bool answered = !results.empty();
    replier_.answer(std::move(results), std::move(events), /*unsynced=*/true);
    {
      std::lock_guard lock(timers_mu_);
      for (const store::TimerRecord& tr : builder.timers_armed()) {
        if (tr.due_at <= timers_loaded_until_) timers_.push({tr.due_at, tr.instance_id, tr.key, 0});
      }
    }
    arm_start_timers(start_timers_next);
    if (!local_jobs.empty()) {
      // The variables the job sees are read from the state in hand, not the store.
      std::vector<std::pair<store::JobRecord, std::optional<json::object>>> ready;
      for (store::JobRecord& j : local_jobs) {
        std::optional<json::object> vars;
        auto c = cache_.find(j.instance_id);
        if (c != cache_.end()) {
          auto job = c->second.state.jobs.find(j.key);
          if (job != c->second.state.jobs.end()) vars = visible_variables(c->second.state, job->second.element_instance);
        }
        ready.emplace_back(std::move(j), std::move(vars));
      }
      std::lock_guard lock(jobs_mu_);
      for (auto& r : ready) dispatched_.push_back(std::move(r));
    }
    if (builder.jobs_created()) jobs_cv_.notify_all();
    if (relaying_) rendezvous(batch, now);
    trim_cache();
    return std::max<size_t>(applied, answered ? 1 : 0);
  }

  // Whether the stored instance is at another version than the cached one.
  bool changed_elsewhere(const CachedInstance& inst) {
    auto stored = store_->instance(inst.record.id);
    return stored.ok() && stored->has_value() && (*stored)->version != inst.record.version;
  }

  // --- live events (after the commit) --------------------------------------------
  static EngineEvent task_event(std::string type, const store::TaskRecord& t) {
    EngineEvent e;
    e.type = std::move(type);
    e.instance_id = t.instance_id;
    e.process_id = t.process_id;
    e.element_id = t.element_id;
    e.task_id = t.id;
    e.candidate_groups = t.candidate_groups;
    e.candidate_users = t.candidate_users;
    e.region = t.region;
    e.assignee = t.assignee;
    e.data = json::object{{"name", t.name}, {"slaState", static_cast<int>(t.sla_state)}};
    return e;
  }

  Result<void> assign_and_tell(int64_t task_id, const std::string& expected, const std::string& assignee,
                               const char* type, const AuditNote* audit) {
    if (auto r = store_->assign_task_audited(task_id, expected, assignee, audit_rows(audit)); !r.ok()) return r;
    if (has_listeners_ || relaying_) {
      auto task = store_->task(task_id);
      if (task.ok() && *task) {
        EngineEvent e = task_event(type, **task);
        e.at = clock_->now_ms();
        if (assignee.empty()) e.data["previousAssignee"] = expected;
        publish_event(e);
      }
    }
    return {};
  }

  // The stored open tasks of these keys, by key (an empty map when the
  // store cannot be read: the events then leave those tasks out).
  std::map<std::pair<InstanceId, uint64_t>, store::TaskRecord> tasks_of(const std::vector<store::InstanceKey>& keys) {
    std::map<std::pair<InstanceId, uint64_t>, store::TaskRecord> out;
    if (keys.empty()) return out;
    auto found = store_->tasks_by_keys(keys);
    if (!found.ok()) {
      spdlog::warn("cannot read {} tasks for their events: {}", keys.size(), found.error().message);
      return out;
    }
    for (store::TaskRecord& t : *found) out[{t.instance_id, t.key}] = std::move(t);
    return out;
  }

  // Instances started and ended, tasks created and completed, incidents
  // raised or resolved and SLA changes of a committed batch, in the order of
  // its instances; `report` is what the store told of the batch's write.
  std::vector<EngineEvent> batch_events(const std::map<InstanceId, Touched>& touched, const store::WriteBatch& batch,
                                        const store::WriteReport& report, int64_t now) {
    const std::vector<int64_t>& added_task_ids = report.added_task_ids;
    std::map<std::pair<InstanceId, uint64_t>, const store::TaskRecord*> removed_tasks;
    for (const store::TaskRecord& t : report.removed_tasks) removed_tasks[{t.instance_id, t.key}] = &t;
    // The open tasks whose SLA state changed, in one read.
    auto is_task_sla = [](const Record& r) {
      if (r.kind != RecordKind::kSlaWarning && r.kind != RecordKind::kSlaOverdue &&
          r.kind != RecordKind::kSlaEscalated && r.kind != RecordKind::kSlaBreached) {
        return false;
      }
      const json::value* is_task = r.payload.is_object() ? r.payload.as_object().if_contains("task") : nullptr;
      return is_task && is_task->is_bool() && is_task->as_bool();
    };
    std::vector<store::InstanceKey> sla_keys;
    for (const auto& [id, t] : touched) {
      for (const Record& r : t.records) {
        if (is_task_sla(r)) sla_keys.push_back(store::InstanceKey{id, r.key});
      }
    }
    const auto sla_tasks = tasks_of(sla_keys);
    std::vector<EngineEvent> events;
    for (const auto& entry : touched) {
      // Not a structured binding: the lambda below captures `id`, which
      // clang 14 (the fuzz build) refuses for a binding.
      const InstanceId id = entry.first;
      const Touched& t = entry.second;
      if (t.records.empty()) continue;
      const CachedInstance& inst = *t.instance;
      auto base = [&](const char* type, const Record& r) {
        EngineEvent e;
        e.type = type;
        e.at = now;
        e.instance_id = id;
        e.process_id = inst.record.process_id;
        e.region = inst.record.region;  // the case's region, for whom may see it
        if (r.element != model::kNoIndex && r.kind != RecordKind::kSequenceFlowTaken) {
          e.element_id = inst.def->process->node(r.element).id;
        }
        return e;
      };
      if (t.expected_version == 0) {
        EngineEvent e = base("instance.started", Record{});
        e.data = json::object{{"businessKey", inst.record.business_key}};
        events.push_back(std::move(e));
      }
      for (const Record& r : t.records) {
        switch (r.kind) {
          case RecordKind::kUserTaskCreated:
            for (size_t i = 0; i < batch.tasks_added.size(); ++i) {
              const store::TaskRecord& added = batch.tasks_added[i];
              if (added.instance_id != id || added.key != r.key) continue;
              EngineEvent e = task_event("task.created", added);
              e.at = now;
              if (i < added_task_ids.size()) e.task_id = added_task_ids[i];
              events.push_back(std::move(e));
            }
            break;
          case RecordKind::kUserTaskCompleted: {
            auto it = removed_tasks.find({id, r.key});
            if (it == removed_tasks.end()) break;
            EngineEvent e = task_event("task.completed", *it->second);
            e.at = now;
            events.push_back(std::move(e));
            break;
          }
          case RecordKind::kInstanceCompleted:
          case RecordKind::kInstanceTerminated: {
            EngineEvent e = base("instance.ended", r);
            e.data = json::object{{"status", r.kind == RecordKind::kInstanceCompleted ? "completed" : "terminated"},
                                  {"businessKey", inst.record.business_key}};
            events.push_back(std::move(e));
            break;
          }
          case RecordKind::kIncidentCreated:
          case RecordKind::kIncidentResolved: {
            EngineEvent e = base(r.kind == RecordKind::kIncidentCreated ? "incident.raised" : "incident.resolved", r);
            e.data = json::object{{"kind", r.name}, {"message", r.text}};
            events.push_back(std::move(e));
            break;
          }
          case RecordKind::kSlaWarning:
          case RecordKind::kSlaOverdue:
          case RecordKind::kSlaEscalated:
          case RecordKind::kSlaBreached: {
            // core/sla.h records: the task's own fields say who may see the event.
            const char* type = r.kind == RecordKind::kSlaWarning   ? "sla.warning"
                               : r.kind == RecordKind::kSlaOverdue ? "sla.overdue"
                               : r.kind == RecordKind::kSlaEscalated ? "sla.escalated"
                                                                     : "sla.breached";
            EngineEvent e = base(type, r);
            const json::object& p = r.payload.as_object();
            if (is_task_sla(r)) {
              if (auto it = sla_tasks.find({id, r.key}); it != sla_tasks.end()) {
                EngineEvent te = task_event(type, it->second);
                te.at = e.at;
                e = std::move(te);
              }
            }
            static constexpr std::string_view kStates[] = {"on_time", "due_soon", "escalated", "breached", "overdue"};
            int64_t code = 0;
            if (const json::value* w = p.if_contains("slaState"); w && w->is_string()) {
              for (int64_t i = 0; i < 5; ++i) {
                if (kStates[i] == w->as_string()) code = i;
              }
            }
            json::object data = e.data;
            data["slaState"] = code;
            data["level"] = p.contains("level") ? p.at("level") : json::value(0);
            data["dueAt"] = r.due_at;
            if (!r.name.empty()) data["escalatedTo"] = r.name;
            if (!r.text.empty()) data["escalatedRegion"] = r.text;
            e.data = std::move(data);
            if (e.region.empty()) e.region = r.text;
            events.push_back(std::move(e));
            break;
          }
          default:
            break;
        }
      }
    }
    relay(events);
    return events;
  }

  // --- live events between nodes (a shared store) -------------------------------
  // Events committed here go to the other nodes' listeners through the store
  // (PostgreSQL NOTIFY), and theirs come back here; each carries the node it
  // came from, so a node does not hear its own twice. This runs before the
  // Replier syncs the batch; a store that relays commits durably in
  // write_unsynced() itself, so nothing relayed can be lost.
  void relay(const std::vector<EngineEvent>& events) {
    if (!relaying_ || events.empty()) return;
    std::vector<std::string> payloads;
    for (const EngineEvent& e : events) {
      json::object o{{"origin", config_.node_id}, {"type", e.type},       {"at", e.at},
                     {"instance", e.instance_id}, {"process", e.process_id}, {"element", e.element_id},
                     {"task", e.task_id},         {"region", e.region},     {"assignee", e.assignee},
                     {"data", e.data}};
      json::array groups, users;
      for (const auto& g : e.candidate_groups) groups.emplace_back(g);
      for (const auto& u : e.candidate_users) users.emplace_back(u);
      o["groups"] = std::move(groups);
      o["users"] = std::move(users);
      std::string text = expr::json_text(o);
      if (text.size() < 7999) payloads.push_back(std::move(text));  // NOTIFY's limit; the rest stay local
    }
    if (auto r = store_->relay_events(payloads); !r.ok()) {
      spdlog::warn("node {} could not relay {} events: {}", config_.node_id, payloads.size(), r.error().message);
    }
  }

  void relayed(const std::string& payload) {
    boost::system::error_code ec;
    json::value v = json::parse(payload, ec);
    if (ec || !v.is_object()) return;
    const json::object& o = v.as_object();
    auto text = [&](const char* k) {
      const json::value* f = o.if_contains(k);
      return f && f->is_string() ? std::string(f->as_string()) : std::string();
    };
    auto number = [&](const char* k) {
      const json::value* f = o.if_contains(k);
      return f && f->is_int64() ? f->as_int64() : int64_t{0};
    };
    if (text("origin") == config_.node_id) return;  // delivered here when it was committed
    EngineEvent e;
    e.type = text("type");
    e.at = number("at");
    e.instance_id = number("instance");
    e.process_id = text("process");
    e.element_id = text("element");
    e.task_id = number("task");
    e.region = text("region");
    e.assignee = text("assignee");
    for (const char* k : {"groups", "users"}) {
      const json::value* list = o.if_contains(k);
      if (!list || !list->is_array()) continue;
      for (const json::value& item : list->as_array()) {
        if (item.is_string()) (k[0] == 'g' ? e.candidate_groups : e.candidate_users).emplace_back(item.as_string());
      }
    }
    if (const json::value* d = o.if_contains("data"); d && d->is_object()) e.data = d->as_object();
    // Through the answering thread, as this node's own events go: a listener
    // may then publish an event itself (publish_event), which is delivered
    // at once on that thread.
    replier_.answer({}, {std::move(e)});
  }

  // Effects that become commands of other instances, applied in the same batch.
  void follow_up(CachedInstance& inst, const std::vector<Record>& out, int64_t now, std::deque<Pending>& work,
                 store::WriteBatch& batch, BatchBuilder* builder) {
    for (const Record& r : out) {
      switch (r.kind) {
        case RecordKind::kChildInstanceRequested: {
          const json::object& p = r.payload.as_object();
          std::string binding = p.contains("binding") ? std::string(p.at("binding").as_string()) : "latest";
          int32_t version = p.contains("version") ? static_cast<int32_t>(p.at("version").to_number<int64_t>()) : 0;
          std::optional<store::DefinitionRecord> def;
          if (binding == "deployment") {
            auto all = store_->definitions(r.name);
            if (!all.ok()) read_failed(all.error());
            if (all.ok()) {
              for (const auto& d : *all) {
                if (d.checksum == inst.def->record.checksum) def = d;
              }
            }
          } else {
            auto one = store_->definition(r.name, binding == "version" ? version : 0);
            if (!one.ok()) read_failed(one.error());
            if (one.ok()) def = *one;
          }
          if (read_failed_) break;  // not "not deployed": the batch fails and is applied again
          if (!def) {
            Pending fail;
            fail.instance = inst.record.id;
            fail.command = Command{CommandKind::kRaiseIncident};
            fail.command.key = r.key;
            fail.command.message = fmt::format("the called process '{}' ({} binding) is not deployed", r.name, binding);
            work.push_back(std::move(fail));
            break;
          }
          auto id = new_instance_id();
          if (!id.ok()) {
            read_failed(id.error());  // the call activity would wait for a child never started
            break;
          }
          Pending child;
          child.instance = *id;
          child.create = true;
          child.definition_key = def->key;
          child.business_key = inst.record.business_key;
          child.parent_id = inst.record.id;
          child.parent_element = r.key;
          child.command = Command{CommandKind::kStart};
          child.command.key = r.key;
          if (p.contains("variables")) child.command.variables = p.at("variables").as_object();
          work.push_back(std::move(child));
          break;
        }
        case RecordKind::kChildInstanceCanceled: {
          for (InstanceId child : children_at(inst.record.id, r.key)) {
            Pending cancel;
            cancel.instance = child;
            cancel.command = Command{CommandKind::kCancel};
            cancel.command.message = "the calling activity ended";
            work.push_back(std::move(cancel));
          }
          break;
        }
        case RecordKind::kInstanceCompleted:
          if (inst.record.parent_id != 0) {
            Pending up;
            up.instance = inst.record.parent_id;
            up.command = Command{CommandKind::kChildCompleted};
            up.command.key = inst.record.parent_element;
            up.command.variables = r.payload.as_object();
            work.push_back(std::move(up));
          }
          break;
        case RecordKind::kErrorUncaught: {
          bool from_child = r.payload.is_object() && r.payload.as_object().contains("fromChild") &&
                            r.payload.as_object().at("fromChild").as_bool();
          std::pair<InstanceId, uint64_t> origin{inst.record.id, r.key};
          if (from_child) {
            auto it = error_origin_.find({inst.record.id, r.key});
            if (it != error_origin_.end()) {
              origin = it->second;
              error_origin_.erase(it);
            }
          }
          if (inst.record.parent_id != 0) {
            // Read back only if the parent does not catch the error either:
            // bounded, as it is lost at a restart anyway (the incident is then
            // raised on the parent instead of where the error was thrown).
            if (error_origin_.size() >= kErrorOriginsKept) error_origin_.clear();
            error_origin_[{inst.record.parent_id, inst.record.parent_element}] = origin;
            Pending up;
            up.instance = inst.record.parent_id;
            up.command = Command{CommandKind::kChildError};
            up.command.key = inst.record.parent_element;
            up.command.name = r.name;
            up.command.message = r.text;
            work.push_back(std::move(up));
          } else if (from_child) {
            Pending down;
            down.instance = origin.first;
            down.command = Command{origin.first == inst.record.id ? CommandKind::kRaiseIncident : CommandKind::kErrorNotCaught};
            down.command.key = origin.second;
            down.command.name = r.name;
            down.command.message = r.text.empty() ? fmt::format("error '{}' was caught nowhere", r.name) : r.text;
            work.push_back(std::move(down));
          }
          break;
        }
        case RecordKind::kEscalationUncaught:
          if (inst.record.parent_id != 0) {
            Pending up;
            up.instance = inst.record.parent_id;
            up.command = Command{CommandKind::kChildEscalation};
            up.command.key = inst.record.parent_element;
            up.command.name = r.name;
            work.push_back(std::move(up));
          }
          break;
        case RecordKind::kMessagePublished: {
          PublishRequest req;
          req.name = r.name;
          req.correlation_key = r.text;
          if (r.payload.is_object()) req.variables = r.payload.as_object();
          Outcome sent = publish(req, now, work, batch, builder);
          if (!sent.status.ok()) read_failed(sent.status.error());
          break;
        }
        case RecordKind::kSignalThrown: {
          json::object vars = r.payload.is_object() ? r.payload.as_object() : json::object{};
          Outcome sent = broadcast(r.name, vars, std::nullopt, work);
          if (!sent.status.ok()) read_failed(sent.status.error());
          break;
        }
        case RecordKind::kMessageSubscriptionOpened: {
          // A message may have arrived before anyone waited for it — possibly
          // earlier in this very batch, so not in the store yet.
          auto pending = std::find_if(batch.messages_added.begin(), batch.messages_added.end(),
                                      [&](const store::MessageRecord& m) {
                                        return m.name == r.name && m.correlation_key == r.text &&
                                               (m.expires_at == 0 || m.expires_at > now);
                                      });
          // A subscription that takes one message is taken by the one it
          // is handed here: a message published later in this batch must
          // not count on it (publish).
          auto take = [&] {
            if (!builder) return;
            store::SubscriptionRecord s;
            s.instance_id = inst.record.id;
            s.key = r.key;
            if (takes_one_message(s)) builder->claim_message_subscription(s.instance_id, s.key);
          };
          if (pending != batch.messages_added.end()) {
            take();
            work.push_back(correlate_buffered(inst.record.id, r, pending->variables));
            batch.messages_added.erase(pending);
            break;
          }
          // The oldest not already delivered earlier in this batch: one more
          // than the batch has delivered is enough.
          auto buffered = store_->buffered_messages(r.name, r.text, now, batch.messages_removed.size() + 1);
          if (!buffered.ok()) {
            read_failed(buffered.error());  // a waiting message would be missed
            break;
          }
          bool delivered = false;
          for (const store::MessageRecord& m : *buffered) {
            if (std::find(batch.messages_removed.begin(), batch.messages_removed.end(), m.id) !=
                batch.messages_removed.end()) {
              continue;
            }
            batch.messages_removed.push_back(m.id);
            take();
            work.push_back(correlate_buffered(inst.record.id, r, m.variables));
            delivered = true;
            break;
          }
          if (!delivered && relaying_) {
            store::SubscriptionRecord s;
            s.instance_id = inst.record.id;
            s.key = r.key;
            s.name = r.name;
            s.correlation_key = r.text;
            unmatched_subscriptions_.push_back(std::move(s));
          }
          break;
        }
        default: break;
      }
    }
  }

  // Delivers a buffered message (its variables as stored JSON) to the
  // subscription that record `opened` announced.
  static Pending correlate_buffered(InstanceId instance, const Record& opened, const std::string& variables) {
    Pending c;
    c.instance = instance;
    c.command = Command{CommandKind::kCorrelateMessage};
    c.command.key = opened.key;
    c.command.name = opened.name;
    boost::system::error_code ec;
    json::value vars = json::parse(variables, ec);
    if (!ec && vars.is_object()) c.command.variables = vars.as_object();
    return c;
  }

  std::vector<InstanceId> children_at(InstanceId parent, uint64_t element) {
    std::set<InstanceId> out;
    for (const auto& [id, c] : cache_) {
      if (c.record.parent_id == parent && c.record.parent_element == element &&
          c.state.status == core::InstanceStatus::kActive) {
        out.insert(id);
      }
    }
    auto stored = store_->running_instances_of(parent);
    if (!stored.ok()) read_failed(stored.error());  // stored children would run on
    if (stored.ok()) {
      for (const auto& r : *stored) {
        if (r.parent_element == element) out.insert(r.id);
      }
    }
    return {out.begin(), out.end()};
  }

  // A read the batch being built needed failed: it is not written
  // (process_batch). The first error is kept.
  void read_failed(const Error& e) {
    if (!read_failed_) read_failed_ = Error{e.code == "conflict" ? "store" : e.code, e.message};
  }

  // Whether a message subscription closes with the message it gets: all but
  // those of non-interrupting boundary events and event subprocess starts
  // (core::step's rule). Unknown (the instance or the subscription is not
  // found): it does.
  bool takes_one_message(const store::SubscriptionRecord& s) {
    CachedInstance* inst = load(s.instance_id);
    if (inst == nullptr) return true;
    auto sub = inst->state.message_subscriptions.find(s.key);
    if (sub == inst->state.message_subscriptions.end()) return true;
    const model::FlowNode& ev = inst->def->process->node(sub->second.element);
    return !((ev.type == model::ElementType::kBoundaryEvent || ev.type == model::ElementType::kStartEvent) &&
             !ev.interrupting);
  }

  // `again`: a buffered message published again (rendezvous): it reaches
  // subscriptions only; it started what it could start when it was first
  // published, and stays buffered as it is when it reaches none.
  Outcome publish(const PublishRequest& req, int64_t now, std::deque<Pending>& work, store::WriteBatch& batch,
                  BatchBuilder* builder, bool again = false) {
    Outcome out;
    auto subs = store_->message_subscriptions(req.name, req.correlation_key);
    if (!subs.ok()) return Outcome(subs.error());
    if (builder) {
      // Closed earlier in this very batch: not waiting any more.
      subs->erase(std::remove_if(subs->begin(), subs->end(),
                                 [&](const store::SubscriptionRecord& s) {
                                   return builder->message_subscription_closed(s.instance_id, s.key);
                                 }),
                  subs->end());
      // Opened earlier in this very batch: not in the store yet.
      for (const store::SubscriptionRecord& s : builder->opened_message_subscriptions(req.name, req.correlation_key)) {
        subs->push_back(s);
      }
    }
    std::set<InstanceId> reached;
    for (const store::SubscriptionRecord& s : *subs) {
      // Taken by a message published earlier in this batch, not yet delivered.
      if (builder && builder->message_subscription_claimed(s.instance_id, s.key)) continue;
      if (req.regions && !in_regions(s.instance_id, *req.regions)) continue;
      if (!reached.insert(s.instance_id).second) continue;  // once per instance
      if (builder && takes_one_message(s)) builder->claim_message_subscription(s.instance_id, s.key);
      Pending c;
      c.instance = s.instance_id;
      c.command = Command{CommandKind::kCorrelateMessage};
      c.command.key = s.key;
      c.command.name = req.name;
      c.command.variables = req.variables;
      work.push_back(std::move(c));
    }
    out.publish.correlated = static_cast<int>(reached.size());
    if (again || req.regions) return out;
    out.publish.started = start_by_event(model::EventKind::kMessage, req.name, req.correlation_key, req.variables, work);
    if (out.publish.correlated == 0 && out.publish.started == 0 && req.time_to_live_ms > 0) {
      store::MessageRecord m;
      m.name = req.name;
      m.correlation_key = req.correlation_key;
      m.variables = expr::json_text(req.variables);
      m.message_id = req.message_id;
      m.published_at = now;
      m.expires_at = now + req.time_to_live_ms;
      batch.messages_added.push_back(std::move(m));
      out.publish.buffered = true;
    }
    return out;
  }

  // Whether the instance's region (its applicant's) starts with one of
  // `prefixes`; an instance that cannot be read is in none.
  bool in_regions(InstanceId id, const std::vector<std::string>& prefixes) {
    CachedInstance* inst = load(id);
    if (inst == nullptr) return false;
    const std::string& region = inst->record.region;
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](const std::string& p) { return region.compare(0, p.size(), p) == 0 && !region.empty(); });
  }

  // --- messages meeting across nodes ------------------------------------------
  // Where nodes share the store, a message published on one node at the
  // moment an instance on another opens its subscription can miss it: the
  // publishing batch read no subscription and buffered the message, the
  // opening batch read no buffered message and waits. Each batch looks again
  // once committed, for what it wrote: the batch that buffered a message for
  // subscriptions now stored, the batch that opened a subscription without a
  // message for a message now buffered. Of two batches committed one after
  // the other, the second one's look comes after the first one's commit, so
  // at least one of them sees the other and queues the delivery (the
  // message's removal makes a delivery happen once).
  void rendezvous(const store::WriteBatch& batch, int64_t now) {
    std::vector<Pending> again;
    for (const store::MessageRecord& m : batch.messages_added) {
      auto subs = store_->message_subscriptions(m.name, m.correlation_key);
      if (!subs.ok() || subs->empty()) continue;
      Pending p;
      p.redeliver = m;
      again.push_back(std::move(p));
    }
    for (store::SubscriptionRecord& s : unmatched_subscriptions_) {
      auto found = store_->buffered_messages(s.name, s.correlation_key, now, 1);
      if (!found.ok() || found->empty()) continue;
      Pending p;
      p.instance = s.instance_id;
      p.rematch = std::move(s);
      again.push_back(std::move(p));
    }
    unmatched_subscriptions_.clear();
    if (again.empty()) return;
    spdlog::info("{} messages and subscriptions met on another node at the same moment; delivering", again.size());
    std::lock_guard lock(queue_mu_);
    for (Pending& p : again) queue_.push_back(std::move(p));
  }

  // Publishes a message this node buffered again, to the subscriptions
  // stored since; removed from the buffer when it reached one.
  void redeliver(const store::MessageRecord& m, int64_t now, std::deque<Pending>& work, store::WriteBatch& batch,
                 BatchBuilder& builder) {
    auto stored = store_->buffered_messages(m.name, m.correlation_key, now, batch.messages_removed.size() + 100);
    if (!stored.ok()) {
      read_failed(stored.error());
      return;
    }
    for (const store::MessageRecord& s : *stored) {
      if (s.published_at != m.published_at || s.variables != m.variables || s.message_id != m.message_id) continue;
      if (std::find(batch.messages_removed.begin(), batch.messages_removed.end(), s.id) != batch.messages_removed.end()) {
        continue;
      }
      PublishRequest req;
      req.name = s.name;
      req.correlation_key = s.correlation_key;
      boost::system::error_code ec;
      json::value vars = json::parse(s.variables, ec);
      if (!ec && vars.is_object()) req.variables = vars.as_object();
      Outcome out = publish(req, now, work, batch, &builder, /*again=*/true);
      if (out.publish.correlated > 0) batch.messages_removed.push_back(s.id);
      return;
    }
  }

  // Gives a subscription this node opened the oldest message buffered for
  // it since, if it still waits.
  void rematch(const store::SubscriptionRecord& s, int64_t now, std::deque<Pending>& work, store::WriteBatch& batch,
               BatchBuilder& builder) {
    CachedInstance* inst = load(s.instance_id);
    if (inst == nullptr || !inst->state.message_subscriptions.count(s.key)) return;
    if (builder.message_subscription_closed(s.instance_id, s.key) ||
        builder.message_subscription_claimed(s.instance_id, s.key)) {
      return;
    }
    auto buffered = store_->buffered_messages(s.name, s.correlation_key, now, batch.messages_removed.size() + 1);
    if (!buffered.ok()) {
      read_failed(buffered.error());
      return;
    }
    for (const store::MessageRecord& m : *buffered) {
      if (std::find(batch.messages_removed.begin(), batch.messages_removed.end(), m.id) != batch.messages_removed.end()) {
        continue;
      }
      if (takes_one_message(s)) builder.claim_message_subscription(s.instance_id, s.key);
      batch.messages_removed.push_back(m.id);
      Record opened;
      opened.key = s.key;
      opened.name = s.name;
      work.push_back(correlate_buffered(s.instance_id, opened, m.variables));
      return;
    }
  }

  Outcome broadcast(const std::string& name, const json::object& vars,
                    const std::optional<std::vector<std::string>>& regions, std::deque<Pending>& work) {
    auto subs = store_->signal_subscriptions(name);
    if (!subs.ok()) return Outcome(subs.error());
    std::set<InstanceId> reached;
    for (const store::SubscriptionRecord& s : *subs) {
      if (reached.count(s.instance_id) || (regions && !in_regions(s.instance_id, *regions))) continue;
      reached.insert(s.instance_id);
      Pending c;
      c.instance = s.instance_id;
      c.command = Command{CommandKind::kThrowSignal};
      c.command.name = name;
      c.command.variables = vars;
      work.push_back(std::move(c));
    }
    int started = regions ? 0 : start_by_event(model::EventKind::kSignal, name, {}, vars, work);
    Outcome out;
    out.value = static_cast<int64_t>(reached.size()) + started;
    return out;
  }

  // Starts an instance of the latest version of every process with a matching
  // message or signal start event.
  int start_by_event(model::EventKind kind, const std::string& name, const std::string& business_key,
                     const json::object& vars, std::deque<Pending>& work) {
    std::vector<std::pair<int64_t, std::string>> starts;
    {
      std::lock_guard lock(defs_mu_);
      std::map<std::string, const CompiledDefinition*> latest;
      for (const auto& [key, d] : defs_) {
        auto& slot = latest[d->record.process_id];
        if (!slot || slot->record.version < d->record.version) slot = d.get();
      }
      for (const auto& [pid, d] : latest) {
        const model::Process& p = d->process->process();
        for (model::Index s : p.start_events) {
          const model::FlowNode& n = p.nodes[s];
          if (n.event_kind != kind || n.events.empty() || n.events.front().ref == model::kNoIndex) continue;
          const std::string& ev_name = kind == model::EventKind::kMessage
                                           ? d->definitions->messages[n.events.front().ref].name
                                           : d->definitions->signals[n.events.front().ref].name;
          if (ev_name == name) starts.emplace_back(d->record.key, n.id);
        }
      }
    }
    int started = 0;
    for (const auto& [key, start_event] : starts) {
      auto id = new_instance_id();
      if (!id.ok()) {
        read_failed(id.error());  // the message would be reported as starting nothing
        continue;
      }
      Pending p;
      p.instance = *id;
      p.create = true;
      p.definition_key = key;
      p.business_key = business_key;
      p.command = Command{CommandKind::kStart};
      p.command.name = start_event;
      p.command.variables = vars;
      work.push_back(std::move(p));
      ++started;
    }
    return started;
  }

  // --- timers -------------------------------------------------------------------
  struct TimerEntry {
    int64_t due;
    InstanceId instance;
    uint64_t key;
    int64_t start_timer;  // a timer start event's row (instance and key 0); 0: an instance's timer
    bool operator>(const TimerEntry& o) const { return due > o.due; }
  };

  // Start timers this node will fire, by row id (timers_mu_ held).
  void arm_start_timer_locked(const store::StartTimerRecord& t) {
    armed_start_timers_[t.id] = t;
    timers_.push({t.due_at, 0, 0, t.id});
  }

  // Start timers scheduled by a deployment or a firing go into the heap when
  // they fall within the window loaded; later ones are found by the next load.
  void arm_start_timers(const std::vector<store::StartTimerRecord>& timers) {
    std::lock_guard lock(timers_mu_);
    for (const store::StartTimerRecord& t : timers) {
      if (t.due_at <= timers_loaded_until_) arm_start_timer_locked(t);
    }
  }

  // The row of a start timer that started an instance in this batch moves on
  // to the next occurrence of its cycle, or goes.
  void fired_start_timer(const store::StartTimerRecord& st, int64_t now, store::WriteBatch& batch,
                         std::vector<store::StartTimerRecord>& next_armed) {
    metrics_.timers_fired.fetch_add(1, std::memory_order_relaxed);
    metrics_.timer_lag.observe(static_cast<double>(now - st.due_at));
    core::StartTimerSchedule fired{st.element_id, st.due_at, st.repetitions_left, st.period};
    std::optional<core::StartTimerSchedule> next = core::next_start_timer(fired, now, config_.utc_offset_minutes);
    batch.start_timers_fired.push_back(
        store::StartTimerFiring{st.id, st.due_at, next ? next->due_at : 0, next ? next->repetitions_left : 0});
    if (next) {
      store::StartTimerRecord again = st;
      again.due_at = next->due_at;
      again.repetitions_left = next->repetitions_left;
      next_armed.push_back(std::move(again));
    }
  }

  // Whether a fired start timer is still at the occurrence that fired: a
  // deployment may have replaced it, or another node fired it.
  bool start_timer_current(const store::StartTimerRecord& fired) {
    auto rows = store_->start_timers(fired.process_id);
    if (!rows.ok()) return false;
    return std::any_of(rows->begin(), rows->end(), [&](const store::StartTimerRecord& r) {
      return r.id == fired.id && r.due_at == fired.due_at;
    });
  }

  int64_t next_timer_due_locked() {
    std::lock_guard lock(timers_mu_);
    return timers_.empty() ? clock_->now_ms() + 60000 : timers_.top().due;
  }

  void fire_due_timers() {
    const int64_t now = clock_->now_ms();
    std::vector<TimerEntry> due;
    {
      std::lock_guard lock(timers_mu_);
      // Timers are loaded a window at a time, so waiting instances need not be
      // in memory, and leased, so that nodes sharing the store fire each
      // timer once. Another node's timers are looked for again every few
      // seconds: they become this node's when their owner dies. Within the
      // window, the timers this node arms join the heap as they commit, so an
      // empty heap is no reason to read the store again: that cost two reads
      // for every batch of a process without timers.
      // Not while firings of the last load wait in the queue: their timers
      // are still stored and would be loaded and fired again (a backlog
      // larger than a load would fill the queue with the same firings).
      const auto since_load = std::chrono::steady_clock::now() - timers_loaded_at_;
      const bool firing = timer_fires_queued_.load(std::memory_order_relaxed) > 0;
      if (!firing && (now >= timers_loaded_until_ - 1000 ||
                      (beats_ && since_load > std::chrono::milliseconds(config_.heartbeat_ms)))) {
        timers_loaded_at_ = std::chrono::steady_clock::now();
        const int64_t window = now + 60 * 60 * 1000;
        auto loaded = store_->acquire_timers(config_.node_id, window, now, config_.timer_lease_ms, kTimerWindow);
        auto starts =
            store_->acquire_start_timers(config_.node_id, window, now, config_.timer_lease_ms, kTimerWindow);
        if (loaded.ok() && starts.ok()) {
          timers_ = {};
          armed_start_timers_.clear();
          for (const store::TimerRecord& t : *loaded) timers_.push({t.due_at, t.instance_id, t.key, 0});
          // A full load may have left timers out: the window ends where it did.
          timers_loaded_until_ = loaded->size() >= kTimerWindow ? loaded->back().due_at : window;
          for (const store::StartTimerRecord& t : *starts) arm_start_timer_locked(t);
          if (starts->size() >= kTimerWindow) timers_loaded_until_ = std::min(timers_loaded_until_, starts->back().due_at);
        }
      }
      while (!timers_.empty() && timers_.top().due <= now) {
        due.push_back(timers_.top());
        timers_.pop();
      }
    }
    if (due.empty()) return;
    std::vector<Pending> fired;
    {
      std::lock_guard lock(timers_mu_);
      for (const TimerEntry& t : due) {
        Pending p;
        if (t.start_timer != 0) {
          auto armed = armed_start_timers_.find(t.start_timer);
          if (armed == armed_start_timers_.end() || armed->second.due_at != t.due) continue;  // re-armed since
          p.start_timer = armed->second;
          armed_start_timers_.erase(armed);
        } else {
          p.instance = t.instance;
          p.command = Command{CommandKind::kFireTimer};
          p.command.key = t.key;
          p.command.due_at = t.due;
        }
        p.from_timer_heap = true;
        fired.push_back(std::move(p));
      }
    }
    std::lock_guard lock(queue_mu_);
    timer_fires_queued_.fetch_add(fired.size(), std::memory_order_relaxed);
    for (Pending& p : fired) queue_.push_back(std::move(p));
  }

  // --- jobs ---------------------------------------------------------------------
  Result<void> check_job_types(const model::Definitions& defs, const std::string& resource) {
    JobTypeCheck check;
    std::set<std::string> in_process;
    {
      std::lock_guard lock(connectors_mu_);
      check = job_type_check_;
      for (const auto& [type, fn] : connectors_) in_process.insert(type);
    }
    if (!check) return {};
    std::string why;
    for (const model::Process& p : defs.processes) {
      if (!p.executable) continue;
      for (const model::FlowNode& n : p.nodes) {
        if (!n.job || in_process.count(n.job->type)) continue;
        if (auto r = check(n.job->type); !r.ok()) {
          why += fmt::format("{}:{}:{}: error: {} ({})\n", resource, n.pos.line, n.pos.column, r.error().message, n.id);
        }
      }
    }
    if (!why.empty()) return Error{"unknown-connector", why};
    return {};
  }

  std::set<std::string> connector_type_set() {
    std::lock_guard lock(connectors_mu_);
    std::set<std::string> out;
    for (const auto& [type, fn] : connectors_) out.insert(type);
    return out;
  }

  std::vector<std::string> connector_types() {
    std::lock_guard lock(connectors_mu_);
    std::vector<std::string> out;
    for (const auto& [type, fn] : connectors_) out.push_back(type);
    return out;
  }

  // What a connector sees of a job, but its variables: the record's fields
  // and, from the job's payload, the attempt's timeout and the task's headers.
  static JobContext context_of(const store::JobRecord& j, const json::object* payload) {
    JobContext ctx;
    ctx.job_id = j.id;
    ctx.instance_id = j.instance_id;
    ctx.type = j.type;
    ctx.element_id = j.element_id;
    ctx.idempotency_key = j.idempotency_key;
    ctx.retries_left = j.retries;
    if (!payload) return ctx;
    if (const json::value* t = payload->if_contains("timeout"); t && t->is_string()) {
      auto d = model::parse_duration(std::string_view(t->as_string()));
      if (d.ok() && !d->negative) ctx.timeout_ms = model::add_duration(0, *d, 0);
    }
    if (const json::value* h = payload->if_contains("headers"); h && h->is_object()) ctx.headers = h->as_object();
    return ctx;
  }

  JobContext job_context(const store::JobRecord& j, const json::object* variables = nullptr) {
    boost::system::error_code ec;
    json::value payload = json::parse(j.payload, ec);
    JobContext ctx = context_of(j, !ec && payload.is_object() ? &payload.as_object() : nullptr);
    if (variables) ctx.variables = *variables;
    auto inst = variables ? Result<std::optional<store::InstanceRecord>>(std::nullopt) : store_->instance(j.instance_id);
    if (inst.ok() && *inst) {
      auto state = core::decode((*inst)->state);
      if (state.ok()) {
        auto it = state->jobs.find(j.key);
        if (it != state->jobs.end()) ctx.variables = visible_variables(*state, it->second.element_instance);
      }
    }
    {
      std::lock_guard lock(leased_mu_);
      // Jobs a worker fetched and never reported (it died; the instance was
      // cancelled) are forgotten once their lease is over: the store has them.
      if (leased_.size() >= kLeasedKept) {
        const int64_t now = clock_->now_ms();
        std::erase_if(leased_, [now](const auto& entry) { return entry.second.lease_until <= now; });
      }
      leased_[j.id] = j;
    }
    return ctx;
  }

  Pending job_command(const store::JobRecord& job, const JobOutcome& outcome) {
    Pending p;
    p.instance = job.instance_id;
    switch (outcome.kind) {
      case JobOutcome::Kind::kCompleted:
        p.command = Command{CommandKind::kCompleteJob};
        p.command.variables = outcome.variables;
        break;
      case JobOutcome::Kind::kBpmnError:
        p.command = Command{CommandKind::kThrowJobError};
        p.command.name = outcome.error_code;
        p.command.message = outcome.message;
        p.command.variables = outcome.variables;
        break;
      case JobOutcome::Kind::kFailed: {
        p.command = Command{CommandKind::kFailJob};
        p.command.retries = outcome.no_retry ? 0 : std::max(0, job.retries - 1);
        p.command.message = outcome.message;
        p.command.retry_at = clock_->now_ms() + (outcome.retry_after_ms >= 0 ? outcome.retry_after_ms : backoff(job));
        break;
      }
    }
    p.command.key = job.key;
    return p;
  }

  // Exponential backoff from the task's bs:retryBackoff (or the default), doubled per failed attempt.
  int64_t backoff(const store::JobRecord& job) {
    int64_t base = config_.default_retry_backoff_ms;
    int attempt = 0;
    boost::system::error_code ec;
    json::value payload = json::parse(job.payload, ec);
    if (!ec && payload.is_object()) {
      const json::object& o = payload.as_object();
      if (const json::value* b = o.if_contains("retryBackoff"); b && b->is_string()) {
        auto d = model::parse_duration(std::string_view(b->as_string()));
        if (d.ok() && !d->negative) base = model::add_duration(0, *d, 0);
      }
      if (const json::value* init = o.if_contains("initialRetries"); init && init->is_number()) {
        attempt = std::max(0, static_cast<int>(init->to_number<int64_t>()) - job.retries);
      }
    }
    return base << std::min(attempt, 16);
  }

  JobOutcome run_connector(const Connector& fn, const JobContext& ctx) {
    auto start = std::chrono::steady_clock::now();
    JobOutcome outcome;
    try {
      outcome = fn(ctx);
    } catch (const std::exception& e) {
      outcome = JobOutcome::failed(fmt::format("the connector threw: {}", e.what()));
    }
    metrics_.job_duration.observe(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    metrics_.jobs_run.fetch_add(1, std::memory_order_relaxed);
    if (outcome.kind != JobOutcome::Kind::kCompleted) metrics_.jobs_failed.fetch_add(1, std::memory_order_relaxed);
    return outcome;
  }

  void count_records(const std::vector<Record>& out) {
    for (const Record& r : out) {
      if (r.kind == RecordKind::kIncidentCreated) metrics_.incidents_created.fetch_add(1, std::memory_order_relaxed);
      if (r.kind == RecordKind::kInstanceCompleted || r.kind == RecordKind::kInstanceTerminated) {
        metrics_.instances_ended.fetch_add(1, std::memory_order_relaxed);
      }
      if (r.kind == RecordKind::kElementActivated && r.element == model::kNoIndex) {
        metrics_.instances_started.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }

  // Runs the jobs a step just created whose type has an inline connector and
  // queues their outcomes first, so the job is done within this batch.
  void run_inline_jobs(const CachedInstance& inst, const std::vector<Record>& out,
                       const std::map<std::string, Connector>& connectors, std::deque<Pending>& work) {
    if (connectors.empty()) return;
    std::vector<Pending> outcomes;
    for (const Record& r : out) {
      if (r.kind != RecordKind::kJobCreated) continue;
      auto fn = connectors.find(r.name);
      if (fn == connectors.end()) continue;
      auto job = inst.state.jobs.find(r.key);
      if (job == inst.state.jobs.end()) continue;
      store::JobRecord j;
      j.instance_id = inst.record.id;
      j.key = r.key;
      j.type = r.name;
      j.element_id = inst.def->process->node(r.element).id;
      j.idempotency_key = fmt::format("{}-{}", j.instance_id, r.key);
      const json::object& payload = r.payload.as_object();
      j.retries = payload.contains("retries") ? static_cast<int32_t>(payload.at("retries").to_number<int64_t>()) : 3;
      JobContext ctx = context_of(j, &payload);
      ctx.variables = visible_variables(inst.state, job->second.element_instance);
      JobOutcome outcome = run_connector(fn->second, ctx);
      if (outcome.kind == JobOutcome::Kind::kFailed) {
        // The backoff reads the task's retry settings from the stored payload.
        json::object stored = payload;
        stored["initialRetries"] = j.retries;
        j.payload = expr::json_text(stored);
      }
      outcomes.push_back(job_command(j, outcome));
    }
    for (auto it = outcomes.rbegin(); it != outcomes.rend(); ++it) work.push_front(std::move(*it));
  }

  size_t run_jobs_inline() {
    std::vector<std::string> types = connector_types();
    if (types.empty()) return 0;
    int64_t now = clock_->now_ms();
    auto jobs = store_->acquire_jobs(types, config_.node_id, now, now + config_.job_lease_ms, 64);
    if (!jobs.ok() || jobs->empty()) return 0;
    for (const store::JobRecord& j : *jobs) {
      Connector fn;
      {
        std::lock_guard lock(connectors_mu_);
        fn = connectors_[j.type];
      }
      JobContext ctx = job_context(j);
      JobOutcome outcome = run_connector(fn, ctx);
      {
        std::lock_guard lock(leased_mu_);
        leased_.erase(j.id);
      }
      Pending p = job_command(j, outcome);
      std::lock_guard lock(queue_mu_);
      queue_.push_back(std::move(p));
    }
    return jobs->size();
  }

  void job_loop() {
    pthread_setname_np(pthread_self(), "banshi-jobs");
    auto last_poll = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    while (running_) {
      std::vector<std::pair<store::JobRecord, std::optional<json::object>>> work;
      {
        std::unique_lock lock(jobs_mu_);
        // Jobs leased to this node at creation come straight from the batch.
        while (!dispatched_.empty() && work.size() < 16) {
          work.push_back(std::move(dispatched_.front()));
          dispatched_.pop_front();
        }
      }
      // A connector acts on a job only once the batch that made it is
      // durable (Store::write_unsynced). If it cannot be, the job is left:
      // its lease runs out, and the store says what became of it.
      if (!work.empty()) {
        if (Result<void> synced = store_->sync_written(); !synced.ok()) {
          spdlog::error("jobs wait: {}", synced.error().message);
          std::lock_guard lock(leased_mu_);
          for (const auto& entry : work) leased_.erase(entry.first.id);
          continue;
        }
      }
      // Retries that fell due, leases that expired, jobs left from before a restart.
      if (work.empty() && std::chrono::steady_clock::now() - last_poll > std::chrono::milliseconds(100)) {
        last_poll = std::chrono::steady_clock::now();
        std::vector<std::string> types = connector_types();
        int64_t now = clock_->now_ms();
        if (!types.empty()) {
          auto leased = store_->acquire_jobs(types, config_.node_id, now, now + config_.job_lease_ms, 16);
          if (leased.ok()) {
            for (store::JobRecord& j : *leased) work.emplace_back(std::move(j), std::nullopt);
          }
        }
      }
      if (work.empty()) {
        std::unique_lock lock(jobs_mu_);
        jobs_cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return !dispatched_.empty() || !running_; });
        continue;
      }
      for (const auto& [j, vars] : work) {
        if (!running_) break;  // left leased: found again after the restart
        // A lease that ran out while the job waited its turn here may be
        // another worker's now: running it too would run it twice.
        if (j.lease_until != 0 && j.lease_until <= clock_->now_ms()) {
          std::lock_guard lock(leased_mu_);
          leased_.erase(j.id);
          continue;
        }
        Connector fn;
        {
          std::lock_guard lock(connectors_mu_);
          auto it = connectors_.find(j.type);
          if (it == connectors_.end()) continue;
          fn = it->second;
        }
        JobContext ctx = job_context(j, vars ? &*vars : nullptr);
        JobOutcome outcome = run_connector(fn, ctx);
        {
          std::lock_guard lock(leased_mu_);
          leased_.erase(j.id);
        }
        post(job_command(j, outcome), /*wait=*/false);
      }
    }
  }

  static constexpr size_t kTimerWindow = store::kMaxTimersPerLoad;
  static constexpr int64_t kRetryFailedTimersMs = 5000;
  static constexpr int kMaxConflictRetries = 5;
  static constexpr size_t kLeasedKept = 1000;        // leased_ is swept of ended leases past this size
  static constexpr size_t kErrorOriginsKept = 10000;  // error_origin_ is forgotten past this size

  EngineConfig config_;
  EngineMetrics metrics_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<Clock> clock_;
  std::atomic<bool> running_{false};
  std::recursive_mutex inline_mu_;
  std::thread processor_;
  std::vector<std::thread> workers_;

  std::mutex connectors_mu_;
  std::map<std::string, Connector> connectors_;
  std::map<std::string, Connector> inline_connectors_;  // also in connectors_, for later attempts
  JobTypeCheck job_type_check_;

  std::mutex decisions_mu_;
  std::map<std::string, LoadedDecision> latest_decisions_;  // decision id -> its latest version
  uint64_t latest_decisions_generation_ = 0;                // deployments of decisions so far (decisions_mu_)
  std::map<std::string, LoadedDecision> pinned_decisions_;  // "id:version" -> that version
  std::mutex defs_mu_;
  std::map<int64_t, std::unique_ptr<CompiledDefinition>> defs_;
  std::optional<Error> read_failed_;       // the batch being built missed a read (processing thread)
  std::map<std::string, int64_t> latest_;  // process id -> key of its latest version
  uint64_t latest_generation_ = 0;         // deployments of processes so far (defs_mu_)

  std::mutex ids_mu_;
  int64_t next_id_ = 0;
  int64_t id_limit_ = 0;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;

  std::mutex timers_mu_;
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<TimerEntry>> timers_;
  std::map<int64_t, store::StartTimerRecord> armed_start_timers_;  // in timers_, by row id
  int64_t timers_loaded_until_ = 0;
  std::atomic<size_t> timer_fires_queued_{0};  // Pending::from_timer_heap in the queue
  std::chrono::steady_clock::time_point timers_loaded_at_{};

  // Cluster: whether the store keeps heartbeats (it stops trying once told
  // "unsupported"), and when start() ran.
  std::atomic<bool> beats_{true};
  std::atomic<bool> relaying_{false};  // events go to and come from other nodes
  // Subscriptions the batch being built opened without finding a buffered
  // message (rendezvous); processing thread only.
  std::vector<store::SubscriptionRecord> unmatched_subscriptions_;
  int64_t started_at_ = 0;

  std::mutex jobs_mu_;
  std::condition_variable jobs_cv_;
  std::deque<std::pair<store::JobRecord, std::optional<json::object>>> dispatched_;
  std::mutex leased_mu_;
  std::map<int64_t, store::JobRecord> leased_;

  // Recursive: a listener may publish an event (publish_event, as a claim
  // does); deliver() queues it in published_meanwhile_ behind the events
  // being delivered.
  std::recursive_mutex listeners_mu_;
  std::map<uint64_t, EventListener> listeners_;
  bool delivering_ = false;                        // under listeners_mu_
  std::vector<EngineEvent> published_meanwhile_;  // under listeners_mu_
  uint64_t last_listener_ = 0;
  std::atomic<bool> has_listeners_{false};
  // After the listeners: it delivers to them until it is stopped.
  Replier replier_{[this](const std::vector<EngineEvent>& events) { deliver(events); },
                   [this] { return store_->sync_written(); }};

  // Processing thread only.
  std::unordered_map<InstanceId, CachedInstance> cache_;
  uint64_t use_counter_ = 0;
  std::map<std::pair<InstanceId, uint64_t>, std::pair<InstanceId, uint64_t>> error_origin_;
};

}  // namespace

}  // namespace banshi::exec

namespace banshi {

Result<std::unique_ptr<Engine>> Engine::open(EngineConfig config, std::unique_ptr<store::Store> store,
                                             std::shared_ptr<Clock> clock) {
  if (!store) return Error{"bad-config", "the engine needs a store"};
  if (!clock) clock = std::make_shared<SystemClock>();
  auto engine = std::make_unique<exec::EngineImpl>(std::move(config), std::move(store), std::move(clock));
  if (auto r = engine->init(); !r.ok()) return r.error();
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace banshi
