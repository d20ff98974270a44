// api/server.h — the HTTP/1.1 transport: a listener, one session per
// connection, keep-alive, limits and graceful shutdown. It knows nothing of
// the application: it turns each request into an api::Request, calls the
// handler and writes the api::Response back.
//
// Contract
// - start() binds and listens (or fails with Error{"listen", ...}) and runs
//   `threads` I/O threads. Each connection is served on its own strand: one
//   request at a time, in order. The handler runs on a pool of
//   `handler_threads` threads (on the I/O threads when that is 0) and may
//   block (the Engine does, until its commit): up to that many requests wait
//   at once, and the I/O threads go on serving the other connections. The
//   upgrade handler runs there too (it authenticates: a store read).
// - Limits are applied where reading happens: header size (431), body size
//   (413, answered as soon as the header announces too much), the read
//   timeout from the first byte of a request to its last (a request that
//   never finishes is closed without an answer), the idle timeout between
//   kept-alive requests, and the connection cap (503, then closed).
// - WebSocket upgrades go to the upgrade handler (set_upgrade_handler); a
//   WebSocket connection counts against the connection cap and is closed
//   (close frame "going away") by stop().
// - TLS (ServerOptions::tls_*): the handshake happens under the read timeout;
//   every request and WebSocket is then served over it.
// - stop() is graceful: it stops accepting, closes idle connections, lets
//   in-flight requests finish and answers them with "Connection: close",
//   waits at most shutdown_timeout, then joins the threads (a handler still
//   running then is waited for; a request queued behind it is dropped
//   unanswered and not run). Safe to call
//   from any thread, more than once; the destructor calls it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "api/http_types.h"
#include "api/server_options.h"
#include "banshi/result.h"

namespace boost::asio {
class io_context;
}

namespace banshi::api {

using RequestHandler = std::function<Response(const Request&)>;

// One open WebSocket connection as the application sees it.
class WsClient {
 public:
  virtual ~WsClient() = default;
  // Queues a text frame. Thread-safe and never blocks. false when the
  // connection is closed or its queue is full — a full queue drops the client
  // (it is closed), so a slow reader never holds anyone up.
  virtual bool send(std::string text) = 0;
  // Starts the closing handshake. Thread-safe.
  virtual void close() = 0;
  // Closes once the frames queued so far are written (a last error frame).
  // Thread-safe.
  virtual void close_after_sent() = 0;
};

// The application's answer to a WebSocket upgrade request.
struct Upgrade {
  std::optional<Response> refuse;  // set: answered as plain HTTP and closed
  // After the handshake; the client lives while the connection does, so keep
  // a weak_ptr. Called on the connection's strand.
  std::function<void(const std::shared_ptr<WsClient>&)> on_open;
  std::function<void(std::string_view text)> on_message;  // text frames the client sends
  std::function<void()> on_close;                          // once, when the connection ends
};
using UpgradeHandler = std::function<Upgrade(const Request&)>;

class ServerState;
class Listener;

class Server {
 public:
  Server(ServerOptions options, RequestHandler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Upgrade requests (Connection: upgrade, Upgrade: websocket) go to this
  // handler instead of the request handler. Set before start(); without one
  // they are ordinary requests.
  void set_upgrade_handler(UpgradeHandler handler);

  // Binds, listens and starts the threads; with TLS options, loads the
  // certificate and key first (Error{"tls", ...} when they do not load).
  Result<void> start();
  void stop();

  // The bound port (useful with port 0), valid after start().
  unsigned short port() const { return port_; }

 private:
  ServerOptions options_;
  // Declared before state_ so it is destroyed after it: its destructor frees
  // the handlers still pending, and with them the sessions and the listener.
  std::unique_ptr<boost::asio::io_context> ioc_;
  std::shared_ptr<ServerState> state_;
  std::shared_ptr<Listener> listener_;
  std::vector<std::thread> threads_;
  unsigned short port_ = 0;
  bool stopped_ = false;
};

}  // namespace banshi::api
