// api/events.h — live events over WebSocket /api/v1/events.
//
// Contract
// - The hub subscribes to the Engine's post-commit events (Engine::subscribe)
//   and hands each, as one JSON text frame, to every connected client whose
//   principal may see it (docs/api/README.md, "Live events"):
//   {"type", "position", "at" (ISO 8601 UTC), "instanceId", "processId",
//    "elementId", "taskId"?, "department"?, "region"?, "assignee"?, "data"?}.
// - Who sees what: admins and designers everything; task and SLA events go
//   to whoever may see the task (may_see_task: staff their department and
//   region or below, escalated tasks only when assigned to them; supervisors
//   also escalated ones; monitors their regions); instance and incident
//   events go to supervisors and to monitors of every region.
// - A client may narrow what it gets by sending {"types": ["task.created", ...]};
//   {"types": []} restores everything. Anything else is answered with an
//   {"type": "error", "detail": ...} frame and changes nothing.
// - Every event gets a position, one more than the event before it; the
//   hub keeps the last kept_limit() (ApiOptions::ws_replay_events, server.ws_replay_events)
//   with their positions; 0 keeps none, and then only a resume from the
//   newest position is served. Positions of a
//   server run start at its start time in microseconds, so they grow across
//   restarts and a position from an earlier run is older than what is kept.
// - Replay: a client that connects with `since` first gets every kept event
//   after that position that it may see, then the live ones; add() holds the
//   hub's lock for both, so nothing falls between them and nothing comes
//   twice. replay_refusal() says at upgrade why a `since` cannot be served.
// - Sending never blocks the engine: a frame is queued on the client's
//   connection, and a client whose queue is full is dropped (ws_session.h).
// - A client's rights are those of its session as it is now: the hub asks
//   again (set_recheck) at most every kRecheckMs before it sends a client an
//   event, takes the user's present roles and regions, and closes the
//   connection with an error frame once the session has ended (logout,
//   expiry, a password change) or the user is disabled. end_sessions()
//   closes a user's connections at once.
// Threads: on_event runs on the engine's committing thread, add/remove and
// on_message on connection strands; a mutex guards the client table.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "api/auth.h"
#include "api/server.h"
#include "banshi/engine.h"

namespace banshi::api {

class EventHub {
 public:
  explicit EventHub(Engine& engine, size_t kept = kDefaultKeptEvents);
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // Below the connection's frame queue (ServerOptions::ws_max_queue), so a
  // whole replay fits in it.
  static constexpr size_t kDefaultKeptEvents = 512;
  size_t kept_limit() const { return kept_limit_; }

  // Registers a client; with `since`, first sends the kept events after it
  // (or an error frame and closes, when they are no longer all kept).
  void add(const std::shared_ptr<WsClient>& client, Principal who, std::optional<uint64_t> since = std::nullopt);
  // Why a client cannot resume after `since` (gone: older than what is kept;
  // bad: a position not reached yet), or nothing when it can.
  struct Refusal {
    bool gone = false;
    std::string detail;
  };
  std::optional<Refusal> replay_refusal(uint64_t since) const;
  void remove(const WsClient* client);
  // A frame the client sent; the reply (if any) is sent to it.
  void on_message(const std::shared_ptr<WsClient>& client, std::string_view text);

  // How a client's session is looked at again: its principal as it is now,
  // or nothing when it has ended. Unset: never (tests of the hub alone).
  using Recheck = std::function<std::optional<Principal>(const Principal&)>;
  void set_recheck(Recheck recheck, int64_t every_ms = kRecheckMs);
  static constexpr int64_t kRecheckMs = 10'000;
  // Closes the connections of `user` (of its session `session_hash` only,
  // when given), after an error frame saying why.
  void end_sessions(const std::string& user, const std::string& session_hash, const std::string& why);

  size_t clients() const;
  uint64_t sent() const { return sent_; }
  uint64_t dropped() const { return dropped_; }

  static bool may_see(const Principal& who, const EngineEvent& event);
  static std::string to_json(const EngineEvent& event, uint64_t position = 0);

 private:
  void on_event(const EngineEvent& event);
  std::optional<Refusal> refusal_locked(uint64_t since) const;

  struct Kept {
    uint64_t position;
    EngineEvent event;
    std::string text;
  };

  struct Client {
    std::weak_ptr<WsClient> client;
    Principal who;
    std::set<std::string> types;  // empty: every type
    std::chrono::steady_clock::time_point checked;
  };
  Recheck recheck_;
  std::chrono::milliseconds recheck_every_{kRecheckMs};

  Engine& engine_;
  const size_t kept_limit_;
  uint64_t subscription_ = 0;
  mutable std::mutex mu_;
  std::map<const WsClient*, Client> clients_;
  std::deque<Kept> kept_;       // the last kept_limit_, oldest first
  uint64_t next_position_ = 0;  // the position the next event gets
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace banshi::api
