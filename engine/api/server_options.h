// api/server_options.h — what the HTTP transport is configured with.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace banshi::api {

struct ServerOptions {
  std::string address = "127.0.0.1";  // no authentication yet: loopback by default
  unsigned short port = 8080;         // 0: any free port (see Server::port())
  int threads = 4;                    // I/O threads; handlers run on them
  size_t max_connections = 1024;      // more are answered 503 and closed
  size_t max_header_bytes = 16 * 1024;        // request line and headers; more is a 431
  size_t max_body_bytes = 10 * 1024 * 1024;   // more is a 413
  std::chrono::milliseconds read_timeout{30'000};   // from the first byte to the last of one request
  std::chrono::milliseconds idle_timeout{60'000};   // a kept-alive connection waiting for its next request
  std::chrono::milliseconds write_timeout{30'000};  // sending one response
  std::chrono::milliseconds shutdown_timeout{10'000};  // in-flight requests get this long to finish
  // TLS is a later step: it adds certificate and key paths here and a TLS
  // variant of the session (the session is written against one stream type;
  // the TLS one wraps the same tcp_stream in ssl::stream and handshakes first).
};

}  // namespace banshi::api
