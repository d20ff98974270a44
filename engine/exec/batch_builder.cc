#include "exec/batch_builder.h"

#include "expr/json_text.h"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace banshi::exec {

namespace json = boost::json;
using core::Record;
using core::RecordKind;

namespace {

std::string text(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::vector<std::string> strings(const json::object& o, const char* key) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_array()) return out;
  for (const json::value& item : v->as_array()) {
    if (item.is_string()) out.emplace_back(item.as_string());
    else out.push_back(expr::json_text(item));
  }
  return out;
}

std::string element_id(const InstanceContext& ctx, model::Index i) {
  return i == model::kNoIndex ? ctx.process->process().id : ctx.process->node(i).id;
}

}  // namespace

json::object visible_variables(const core::InstanceState& state, core::Key element_instance) {
  json::object out;
  for (core::Key k = element_instance; k != 0;) {
    const core::ElementInstance* ei = state.find(k);
    if (!ei) break;
    for (const auto& [name, value] : ei->variables) {
      if (!out.contains(name)) out[name] = value;
    }
    k = ei->scope;
  }
  return out;
}

void BatchBuilder::add(const InstanceContext& ctx, const std::vector<Record>& records, int64_t now) {
  const store::InstanceId id = ctx.id;
  for (const Record& r : records) {
    const Key key{id, r.key};
    switch (r.kind) {
      case RecordKind::kUserTaskCreated: {
        const json::object& p = r.payload.as_object();
        store::TaskRecord t;
        t.instance_id = id;
        t.key = r.key;
        t.process_id = ctx.process->process().id;
        t.element_id = element_id(ctx, r.element);
        t.name = text(p, "name");
        t.business_key = ctx.business_key;
        t.assignee = text(p, "assignee");
        t.candidate_groups = strings(p, "candidateGroups");
        t.candidate_users = strings(p, "candidateUsers");
        t.region = text(p, "region");
        t.form_key = text(p, "formKey");
        if (const json::value* pr = p.if_contains("priority"); pr && pr->is_number()) {
          t.priority = static_cast<int32_t>(pr->to_number<double>());
        }
        t.created_at = now;
        t.due_at = r.due_at;
        t.payload = expr::json_text(r.payload);
        if (!t.candidate_groups.empty()) t.department = t.candidate_groups.front().substr(0, t.candidate_groups.front().find('-'));
        tasks_[key] = std::move(t);
        break;
      }
      case RecordKind::kUserTaskCompleted:
        if (auto it = tasks_.find(key); it == tasks_.end() || !it->second) {
          completions_.push_back(store::TaskCompletion{id, r.key, now});
        }
        tasks_[key] = std::nullopt;
        sla_updates_.erase(key);
        break;
      case RecordKind::kUserTaskCanceled:
        tasks_[key] = std::nullopt;
        sla_updates_.erase(key);
        break;
      case RecordKind::kSlaWarning:
      case RecordKind::kSlaOverdue:
      case RecordKind::kSlaEscalated:
      case RecordKind::kSlaBreached:
      case RecordKind::kSlaPaused:
      case RecordKind::kSlaResumed: {
        const json::object& p = r.payload.as_object();
        const json::value* is_task = p.if_contains("task");
        if (!is_task || !is_task->is_bool() || !is_task->as_bool()) break;  // the process deadline: history only
        static constexpr std::string_view kStates[] = {"on_time", "due_soon", "escalated", "breached", "overdue"};
        uint8_t state = 0;
        const std::string word = text(p, "slaState");
        for (uint8_t i = 0; i < 5; ++i) {
          if (kStates[i] == word) state = i;
        }
        const int32_t level = static_cast<int32_t>(p.contains("level") ? p.at("level").to_number<int64_t>() : 0);
        const int64_t paused_at = p.contains("pausedAt") ? p.at("pausedAt").to_number<int64_t>() : 0;
        if (auto it = tasks_.find(key); it != tasks_.end()) {
          if (it->second) {
            it->second->sla_state = state;
            it->second->escalation_level = level;
            it->second->escalated_to = r.name;
            it->second->escalated_region = level > 0 ? r.text : std::string();
            it->second->due_at = r.due_at;
            it->second->sla_paused_at = paused_at;
          }
          break;
        }
        sla_updates_[key] = store::TaskSlaUpdate{id,     r.key,
                                                 state,  level,
                                                 r.name, level > 0 ? r.text : std::string(),
                                                 r.due_at, paused_at};
        break;
      }
      case RecordKind::kJobCreated: {
        const json::object& p = r.payload.as_object();
        store::JobRecord j;
        j.instance_id = id;
        j.key = r.key;
        j.type = r.name;
        j.element_id = element_id(ctx, r.element);
        j.retries = p.contains("retries") ? static_cast<int32_t>(p.at("retries").to_number<int64_t>()) : 3;
        j.due_at = now;
        j.idempotency_key = fmt::format("{}-{}", id, r.key);
        json::object payload = p;
        payload["initialRetries"] = j.retries;
        j.payload = expr::json_text(payload);
        if (ctx.local_types && ctx.local_types->count(j.type)) {
          j.lease_owner = ctx.node_id;
          j.lease_until = now + ctx.lease_ms;
          local_jobs_.push_back(key);
        }
        jobs_[key] = JobOp{JobOp::Kind::kAdd, std::move(j)};
        jobs_created_ = true;
        break;
      }
      case RecordKind::kJobFailed:
      case RecordKind::kJobRetriesUpdated: {
        const json::object& p = r.payload.as_object();
        int32_t retries = static_cast<int32_t>(p.at("retries").to_number<int64_t>());
        auto [it, fresh] = jobs_.try_emplace(key);
        JobOp& op = it->second;
        if (fresh || op.kind != JobOp::Kind::kAdd) {
          op.kind = JobOp::Kind::kUpdate;
          op.record.instance_id = id;
          op.record.key = r.key;
        }
        op.record.retries = retries;
        op.record.due_at = r.kind == RecordKind::kJobFailed && r.due_at > 0 ? r.due_at : now;
        if (op.kind == JobOp::Kind::kAdd && r.kind == RecordKind::kJobFailed) {
          // Created and failed in this batch (an inline connector): the retry
          // waits for its time and any worker, not a hand-off to this node's.
          op.record.lease_owner.clear();
          op.record.lease_until = 0;
        }
        if (r.kind == RecordKind::kJobFailed) op.record.last_error = r.text;
        // No retries left: an incident holds the job until someone resolves it.
        op.record.state = retries > 0 || r.kind == RecordKind::kJobRetriesUpdated ? 1 : 2;
        jobs_created_ |= op.record.state == 1;
        break;
      }
      case RecordKind::kJobCompleted:
      case RecordKind::kJobCanceled:
      case RecordKind::kJobErrorThrown: {
        auto it = jobs_.find(key);
        if (it != jobs_.end() && it->second.kind == JobOp::Kind::kAdd) {
          jobs_.erase(it);  // created and gone within the batch
        } else {
          jobs_[key] = JobOp{JobOp::Kind::kRemove, {}};
        }
        break;
      }
      case RecordKind::kTimerScheduled: {
        store::TimerRecord t{id, r.key, element_id(ctx, r.element), r.due_at};
        timers_[key] = t;
        armed_.push_back(t);
        break;
      }
      case RecordKind::kTimerCanceled:
      case RecordKind::kTimerFired: timers_[key] = std::nullopt; break;
      case RecordKind::kMessageSubscriptionOpened:
        messages_[key] = store::SubscriptionRecord{id, r.key, r.name, r.text, element_id(ctx, r.element)};
        break;
      case RecordKind::kMessageSubscriptionClosed: messages_[key] = std::nullopt; break;
      case RecordKind::kMessageCorrelated:
        // Non-interrupting catchers keep listening; the state says which.
        if (!ctx.state->message_subscriptions.count(r.key)) messages_[key] = std::nullopt;
        break;
      case RecordKind::kSignalSubscriptionOpened:
        signals_[key] = store::SubscriptionRecord{id, r.key, r.name, {}, element_id(ctx, r.element)};
        break;
      case RecordKind::kSignalSubscriptionClosed: signals_[key] = std::nullopt; break;
      case RecordKind::kIncidentCreated: {
        store::IncidentRecord inc;
        inc.instance_id = id;
        inc.key = r.key;
        inc.process_id = ctx.process->process().id;
        inc.element_id = element_id(ctx, r.element);
        inc.message = r.text;
        inc.created_at = now;
        if (auto it = ctx.state->incidents.find(r.key); it != ctx.state->incidents.end()) {
          inc.kind = static_cast<uint8_t>(it->second.kind);
          inc.job_key = it->second.job;
        }
        incidents_[key] = std::move(inc);
        break;
      }
      case RecordKind::kIncidentResolved: incidents_[key] = std::nullopt; break;
      default: break;
    }
  }
  // Signal subscriptions consumed by a delivery disappear from the state.
  for (auto& [k, sub] : signals_) {
    if (k.first == id && sub && !ctx.state->signal_subscriptions.count(k.second)) sub = std::nullopt;
  }
}

std::vector<store::SubscriptionRecord> BatchBuilder::opened_message_subscriptions(
    const std::string& name, const std::string& correlation_key) const {
  std::vector<store::SubscriptionRecord> out;
  for (const auto& [k, s] : messages_) {
    if (s && s->name == name && s->correlation_key == correlation_key) out.push_back(*s);
  }
  return out;
}

bool BatchBuilder::message_subscription_closed(store::InstanceId instance, uint64_t key) const {
  auto it = messages_.find({instance, key});
  return it != messages_.end() && !it->second;
}

std::vector<store::JobRecord> BatchBuilder::take_local_jobs() {
  std::vector<store::JobRecord> out;
  for (const Key& k : local_jobs_) {
    auto it = jobs_.find(k);
    if (it != jobs_.end() && it->second.kind == JobOp::Kind::kAdd && !it->second.record.lease_owner.empty()) {
      out.push_back(it->second.record);
    }
  }
  local_jobs_.clear();
  return out;
}

void BatchBuilder::flush(store::WriteBatch& batch) {
  for (auto& [k, u] : sla_updates_) batch.task_sla_updates.push_back(std::move(u));
  for (auto& done : completions_) batch.tasks_completed.push_back(done);
  sla_updates_.clear();
  completions_.clear();
  for (auto& [k, t] : tasks_) {
    if (t) batch.tasks_added.push_back(std::move(*t));
    else batch.tasks_removed.push_back({k.first, k.second});
  }
  for (auto& [k, op] : jobs_) {
    switch (op.kind) {
      case JobOp::Kind::kAdd: batch.jobs_added.push_back(std::move(op.record)); break;
      case JobOp::Kind::kUpdate:
        batch.jobs_updated.push_back(
            store::JobUpdate{k.first, k.second, op.record.retries, op.record.due_at, op.record.last_error, op.record.state});
        break;
      case JobOp::Kind::kRemove: batch.jobs_removed.push_back({k.first, k.second}); break;
    }
  }
  for (auto& [k, t] : timers_) {
    if (t) batch.timers_upserted.push_back(std::move(*t));
    else batch.timers_removed.push_back({k.first, k.second});
  }
  for (auto& [k, s] : messages_) {
    if (s) batch.message_subscriptions_added.push_back(std::move(*s));
    else batch.message_subscriptions_removed.push_back({k.first, k.second});
  }
  for (auto& [k, s] : signals_) {
    if (s) batch.signal_subscriptions_added.push_back(std::move(*s));
    else batch.signal_subscriptions_removed.push_back({k.first, k.second});
  }
  for (auto& [k, i] : incidents_) {
    if (i) batch.incidents_added.push_back(std::move(*i));
    else batch.incidents_removed.push_back({k.first, k.second});
  }
  tasks_.clear();
  jobs_.clear();
  timers_.clear();
  messages_.clear();
  claimed_.clear();
  signals_.clear();
  incidents_.clear();
}

}  // namespace banshi::exec
