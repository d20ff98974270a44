// api/events.h — live events over WebSocket /api/v1/events.
//
// Contract
// - The hub subscribes to the Engine's post-commit events (Engine::subscribe)
//   and hands each, as one JSON text frame, to every connected client whose
//   principal may see it (docs/api/README.md, "Live events"):
//   {"type", "at" (ISO 8601 UTC), "instanceId", "processId", "elementId",
//    "taskId"?, "department"?, "region"?, "assignee"?, "data"?}.
// - Who sees what: admins and designers everything; task and SLA events go
//   to whoever may see the task (may_see_task: staff their department and
//   region or below, escalated tasks only when assigned to them; supervisors
//   also escalated ones; monitors their regions); instance and incident
//   events go to supervisors and to monitors of every region.
// - A client may narrow what it gets by sending {"types": ["task.created", ...]};
//   {"types": []} restores everything. Anything else is answered with an
//   {"type": "error", "detail": ...} frame and changes nothing.
// - Sending never blocks the engine: a frame is queued on the client's
//   connection, and a client whose queue is full is dropped (ws_session.h).
// Threads: on_event runs on the engine's committing thread, add/remove and
// on_message on connection strands; a mutex guards the client table.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "api/auth.h"
#include "api/server.h"
#include "banshi/engine.h"

namespace banshi::api {

class EventHub {
 public:
  explicit EventHub(Engine& engine);
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  void add(const std::shared_ptr<WsClient>& client, Principal who);
  void remove(const WsClient* client);
  // A frame the client sent; the reply (if any) is sent to it.
  void on_message(const std::shared_ptr<WsClient>& client, std::string_view text);

  size_t clients() const;
  uint64_t sent() const { return sent_; }
  uint64_t dropped() const { return dropped_; }

  static bool may_see(const Principal& who, const EngineEvent& event);
  static std::string to_json(const EngineEvent& event);

 private:
  void on_event(const EngineEvent& event);

  struct Client {
    std::weak_ptr<WsClient> client;
    Principal who;
    std::set<std::string> types;  // empty: every type
  };

  Engine& engine_;
  uint64_t subscription_ = 0;
  mutable std::mutex mu_;
  std::map<const WsClient*, Client> clients_;
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace banshi::api
