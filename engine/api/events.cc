#include "api/events.h"

#include <chrono>
#include <ctime>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "api/mask.h"
#include "api/roles.h"
#include "expr/json_text.h"

namespace banshi::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kEventTypes[] = {
    "task.created",     "task.claimed",      "task.unclaimed", "task.assigned", "task.completed",
    "instance.started", "instance.ended",    "incident.raised", "incident.resolved", "sla.warning",
    "sla.overdue",      "sla.escalated",     "sla.breached"};

bool known_type(std::string_view t) {
  for (std::string_view k : kEventTypes) {
    if (k == t) return true;
  }
  return false;
}

std::string iso_utc(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
}

// The department a task belongs to: its first candidate group up to the first '-'.
std::string department_of(const EngineEvent& e) {
  for (const std::string& g : e.candidate_groups) {
    std::string d = g.substr(0, g.find('-'));
    if (valid_department(d)) return d;
  }
  return {};
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

EventHub::EventHub(Engine& engine, size_t kept) : engine_(engine), kept_limit_(kept) {
  auto start = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  next_position_ = static_cast<uint64_t>(start.count());
  subscription_ = engine_.subscribe([this](const EngineEvent& e) { on_event(e); });
}

EventHub::~EventHub() { engine_.unsubscribe(subscription_); }

void EventHub::add(const std::shared_ptr<WsClient>& client, Principal who, std::optional<uint64_t> since) {
  std::lock_guard lock(mu_);
  if (since) {
    // Checked again under the lock: events may have been dropped from the
    // window since the upgrade was accepted.
    if (auto refused = refusal_locked(*since)) {
      client->send(expr::json_text(json::object{{"type", "error"}, {"detail", refused->detail}}));
      client->close_after_sent();
      return;
    }
    for (const Kept& k : kept_) {
      if (k.position <= *since || !may_see(who, k.event)) continue;
      if (client->send(k.text)) {
        ++sent_;
      } else {
        ++dropped_;
      }
    }
  }
  clients_[client.get()] = Client{client, std::move(who), {}, std::chrono::steady_clock::now()};
}

void EventHub::set_recheck(Recheck recheck, int64_t every_ms) {
  std::lock_guard lock(mu_);
  recheck_ = std::move(recheck);
  recheck_every_ = std::chrono::milliseconds(every_ms);
}

void EventHub::end_sessions(const std::string& user, const std::string& session_hash, const std::string& why) {
  std::lock_guard lock(mu_);
  const std::string frame = expr::json_text(json::object{{"type", "error"}, {"detail", why}});
  for (auto it = clients_.begin(); it != clients_.end();) {
    const Client& c = it->second;
    if (c.who.kind != Principal::Kind::kUser || c.who.name != user ||
        (!session_hash.empty() && c.who.session_hash != session_hash)) {
      ++it;
      continue;
    }
    if (auto client = c.client.lock()) {
      client->send(frame);
      client->close_after_sent();
    }
    it = clients_.erase(it);
  }
}

std::optional<EventHub::Refusal> EventHub::replay_refusal(uint64_t since) const {
  std::lock_guard lock(mu_);
  return refusal_locked(since);
}

std::optional<EventHub::Refusal> EventHub::refusal_locked(uint64_t since) const {
  uint64_t last = next_position_ - 1;
  if (since > last) {
    return Refusal{false, fmt::format("No event has position {} yet; the latest is {}.", since, last)};
  }
  // Every event after `since` must still be kept: the first kept one (or the
  // next one, when none is kept) comes right after it at the latest.
  uint64_t first = kept_.empty() ? next_position_ : kept_.front().position;
  if (since + 1 < first) {
    return Refusal{true, fmt::format("Events after position {} are no longer kept (the oldest kept is {}); "
                                     "reload the state over REST and connect without since.",
                                     since, first)};
  }
  return std::nullopt;
}

void EventHub::remove(const WsClient* client) {
  std::lock_guard lock(mu_);
  clients_.erase(client);
}

size_t EventHub::clients() const {
  std::lock_guard lock(mu_);
  return clients_.size();
}

void EventHub::on_message(const std::shared_ptr<WsClient>& client, std::string_view text) {
  auto refuse = [&](const std::string& detail) {
    client->send(expr::json_text(json::object{{"type", "error"}, {"detail", detail}}));
  };
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object() || v.as_object().size() != 1 || !v.as_object().contains("types") ||
      !v.as_object().at("types").is_array()) {
    return refuse(R"(Send {"types": [...]} with event types to narrow the stream, or [] for all.)");
  }
  std::set<std::string> types;
  for (const json::value& t : v.as_object().at("types").as_array()) {
    if (!t.is_string() || !known_type(t.as_string())) {
      return refuse("Unknown event type; see docs/api/README.md for the list.");
    }
    types.emplace(t.as_string());
  }
  std::lock_guard lock(mu_);
  auto it = clients_.find(client.get());
  if (it != clients_.end()) it->second.types = std::move(types);
}

bool EventHub::may_see(const Principal& who, const EngineEvent& e) {
  if (who.kind != Principal::Kind::kUser) return false;
  if (who.has("admin") || who.has("designer")) return true;
  if (starts_with(e.type, "task.") || starts_with(e.type, "sla.")) {
    store::TaskRecord t;
    t.candidate_groups = e.candidate_groups;
    t.candidate_users = e.candidate_users;
    t.region = e.region;
    t.assignee = e.assignee;
    if (const json::value* s = e.data.if_contains("slaState"); s && s->is_int64()) {
      t.sla_state = static_cast<uint8_t>(s->as_int64());
    }
    // An escalation or breach is for supervisors (and the assignee).
    if (e.type == "sla.escalated" || e.type == "sla.breached") {
      t.sla_state = store::TaskQuery::Visibility::kEscalatedState;
    }
    return may_see_task(who, t);
  }
  // Instances and incidents carry the case's region when it has one:
  // supervisors and monitors see those of their regions, and the ones
  // without a region as before (supervisors, and monitors of every region).
  if (e.region.empty()) return who.has("supervisor") || (who.has("monitor") && who.regions.empty());
  if (who.has("monitor") && regions_cover(who.regions, e.region, true)) return true;
  return who.has("supervisor") && regions_cover(who.regions, e.region, false);
}

std::string EventHub::to_json(const EngineEvent& e, uint64_t position) {
  json::object o;
  o["type"] = e.type;
  if (position != 0) o["position"] = position;
  o["at"] = iso_utc(e.at);
  o["instanceId"] = e.instance_id;
  o["processId"] = e.process_id;
  o["elementId"] = e.element_id;
  if (e.task_id != 0) o["taskId"] = e.task_id;
  if (std::string d = department_of(e); !d.empty()) o["department"] = d;
  if (!e.region.empty()) o["region"] = e.region;
  if (!e.assignee.empty()) o["assignee"] = e.assignee;
  if (!e.data.empty()) {
    json::object data = e.data;
    if (json::value* key = data.if_contains("businessKey"); key && key->is_string()) {
      *key = mask_key(key->get_string());
    }
    o["data"] = std::move(data);
  }
  return expr::json_text(o);
}

void EventHub::on_event(const EngineEvent& e) {
  std::lock_guard lock(mu_);
  uint64_t position = next_position_++;
  Kept kept{position, e, to_json(e, position)};
  const std::string& text = kept.text;
  for (auto it = clients_.begin(); it != clients_.end();) {
    auto client = it->second.client.lock();
    if (!client) {
      it = clients_.erase(it);
      continue;
    }
    Client& c = it->second;
    if (recheck_ && std::chrono::steady_clock::now() - c.checked >= recheck_every_) {
      c.checked = std::chrono::steady_clock::now();
      std::optional<Principal> now = recheck_(c.who);
      if (!now) {
        client->send(expr::json_text(json::object{{"type", "error"}, {"detail", "Your session has ended; log in again."}}));
        client->close_after_sent();
        it = clients_.erase(it);
        continue;
      }
      c.who = std::move(*now);
    }
    ++it;
    if (!c.types.empty() && !c.types.count(e.type)) continue;
    if (!may_see(c.who, e)) continue;
    if (client->send(text)) {
      ++sent_;
    } else {
      ++dropped_;
    }
  }
  if (kept_limit_ == 0) return;
  if (kept_.size() >= kept_limit_) kept_.pop_front();
  kept_.push_back(std::move(kept));
}

}  // namespace banshi::api
