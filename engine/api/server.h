// api/server.h — the HTTP/1.1 transport: a listener, one session per
// connection, keep-alive, limits and graceful shutdown. It knows nothing of
// the application: it turns each request into an api::Request, calls the
// handler and writes the api::Response back.
//
// Contract
// - start() binds and listens (or fails with Error{"listen", ...}) and runs
//   `threads` I/O threads. Each connection is served on its own strand: one
//   request at a time, in order; the handler runs on an I/O thread and may
//   block (the Engine does, until its commit).
// - Limits are applied where reading happens: header size (431), body size
//   (413, answered as soon as the header announces too much), the read
//   timeout from the first byte of a request to its last (a request that
//   never finishes is closed without an answer), the idle timeout between
//   kept-alive requests, and the connection cap (503, then closed).
// - stop() is graceful: it stops accepting, closes idle connections, lets
//   in-flight requests finish and answers them with "Connection: close",
//   waits at most shutdown_timeout, then joins the threads. Safe to call
//   from any thread, more than once; the destructor calls it.
#pragma once

#include <functional>
#include <memory>
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

class ServerState;
class Listener;

class Server {
 public:
  Server(ServerOptions options, RequestHandler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

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
