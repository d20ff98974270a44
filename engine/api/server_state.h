// api/server_state.h — what the listener and every session share: the
// io_context, the options, the handler and the registry of open sessions
// (for the connection cap and for graceful shutdown). Internal to server.cc.
//
// Threads: the registry is guarded by a mutex; `stopping` is atomic.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/ssl/context.hpp>

#include "api/server.h"

namespace banshi::api {

// What the registry holds: an HTTP or WebSocket connection, plain or TLS.
class Connection {
 public:
  virtual ~Connection() = default;
  // Graceful shutdown, thread-safe: close now when idle, else after the
  // response in progress (HTTP); send a close frame (WebSocket).
  virtual void shutdown() = 0;
};

class ServerState {
 public:
  // The io_context belongs to the Server, not to this state: pending handlers
  // hold this state, and destroying the io_context must be able to free them.
  ServerState(ServerOptions o, RequestHandler h, boost::asio::io_context& context)
      : options(std::move(o)), handler(std::move(h)), ioc(context) {}

  const ServerOptions options;
  const RequestHandler handler;
  boost::asio::io_context& ioc;
  std::atomic<bool> stopping{false};
  // Set by a stop that timed out, before the I/O threads are stopped.
  std::atomic<bool> abandoned{false};
  UpgradeHandler upgrade;                            // set before the listener runs
  std::unique_ptr<boost::asio::ssl::context> tls;    // null: plain TCP
  // Runs the request handlers (ServerOptions::handler_threads); null: they
  // run on the I/O threads. Set before the listener runs; the Server joins
  // it after the I/O threads.
  std::unique_ptr<boost::asio::thread_pool> handlers;

  // Registers a session; false when the connection cap is reached.
  bool enter(Connection* session, const std::weak_ptr<Connection>& weak) {
    std::lock_guard lock(mu_);
    if (sessions_.size() >= options.max_connections) return false;
    sessions_.emplace(session, weak);
    return true;
  }
  void leave(Connection* session) {
    std::lock_guard lock(mu_);
    sessions_.erase(session);
  }
  size_t active() {
    std::lock_guard lock(mu_);
    return sessions_.size();
  }
  std::vector<std::shared_ptr<Connection>> sessions() {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<Connection>> out;
    for (auto& [ptr, weak] : sessions_) {
      if (auto s = weak.lock()) out.push_back(std::move(s));
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> sessions_;
};

}  // namespace banshi::api
