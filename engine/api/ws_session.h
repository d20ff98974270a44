// api/ws_session.h — one WebSocket connection after its upgrade: accepts the
// handshake, reads what the client sends (control frames, small text frames
// for the application) and writes queued text frames in order. Internal to
// the transport.
//
// - Keep-alive: the server pings when the connection has been quiet for half
//   of ServerOptions::ws_idle_timeout and closes it when nothing (not even a
//   pong) arrives within the whole timeout.
// - Back-pressure: send() never blocks; a client with ws_max_queue frames not
//   yet written is dropped (closed with "try again later").
// - Frames larger than ws_max_message_bytes from the client close it.
// Threads: send() and close() may be called from any thread; everything else
// runs on the connection's strand.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <string>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "api/http_session.h"
#include "api/server.h"
#include "api/server_state.h"

namespace banshi::api {

template <class Stream>
class WsSession : public Connection, public WsClient, public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(Stream&& stream, std::shared_ptr<ServerState> state, Upgrade upgrade);
  ~WsSession() override;

  // Accepts the upgrade request (already read) on the connection's strand.
  void run(boost::beast::http::request<boost::beast::http::string_body> request);

  bool send(std::string text) override;
  void close() override;
  void close_after_sent() override;
  void shutdown() override { close(); }

 private:
  void on_accept(boost::beast::error_code ec);
  void read();
  void on_read(boost::beast::error_code ec, size_t bytes);
  void write_next();
  void on_write(boost::beast::error_code ec, size_t bytes);
  void close_with(boost::beast::websocket::close_code code);
  void finish();

  boost::beast::websocket::stream<Stream> ws_;
  boost::beast::flat_buffer read_buffer_;
  std::deque<std::string> queue_;       // strand only
  std::atomic<size_t> queued_{0};       // frames accepted by send() and not yet written
  std::atomic<bool> open_{false};
  std::shared_ptr<ServerState> state_;
  Upgrade upgrade_;
  bool registered_ = false;
  bool accepted_ = false;  // the handshake is done: frames may be written
  bool writing_ = false;
  bool closing_ = false;
  bool close_when_sent_ = false;  // close_after_sent(): close once the queue is written
  bool finished_ = false;
};

extern template class WsSession<PlainStream>;
extern template class WsSession<TlsStream>;

}  // namespace banshi::api
