// api/server_options.h — what the HTTP transport is configured with.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace banshi::api {

struct ServerOptions {
  std::string address = "127.0.0.1";
  unsigned short port = 8080;         // 0: any free port (see Server::port())
  int threads = 4;                    // I/O threads: reading, writing, TLS, WebSockets
  // Threads that run the request handlers. A handler may block (the engine
  // answers a command after its commit), and the commands that wait at once
  // share the engine's next commit; the I/O threads meanwhile serve the
  // other connections. 0: handlers run on the I/O threads.
  int handler_threads = 32;
  size_t max_connections = 1024;      // more are answered 503 and closed
  size_t max_header_bytes = 16 * 1024;        // request line and headers; more is a 431
  size_t max_body_bytes = 10 * 1024 * 1024;   // more is a 413
  std::chrono::milliseconds read_timeout{30'000};   // from the first byte to the last of one request
  std::chrono::milliseconds idle_timeout{60'000};   // a kept-alive connection waiting for its next request
  std::chrono::milliseconds write_timeout{30'000};  // sending one response
  std::chrono::milliseconds shutdown_timeout{10'000};  // in-flight requests get this long to finish
  // WebSocket connections (/api/v1/events): the server pings a quiet client
  // every half of ws_idle_timeout and closes it when no pong comes back; a
  // client whose unsent frames reach ws_max_queue is dropped, never waited for.
  // It must hold a whole replay (ApiOptions::ws_replay_events) with room for
  // live frames.
  std::chrono::milliseconds ws_idle_timeout{60'000};
  size_t ws_max_queue = 1024;
  size_t ws_max_message_bytes = 64 * 1024;   // frames a client sends
  // TLS: both set → every connection is TLS (HTTPS and WSS) with this PEM
  // certificate chain and private key; both empty → plain TCP.
  std::string tls_cert_file;
  std::string tls_key_file;
};

}  // namespace banshi::api
