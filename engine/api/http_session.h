// api/http_session.h — one HTTP/1.1 connection: read a request (within the
// limits), call the handler, write the response, repeat while keep-alive. A
// WebSocket upgrade hands the connection to a WsSession (ws_session.h).
// Internal to the transport.
//
// Stream is boost::beast::tcp_stream (plain) or
// boost::beast::ssl_stream<tcp_stream> (TLS: the handshake runs first, under
// the read timeout). Both are instantiated in http_session.cc.
//
// Every handler of an asynchronous operation holds a shared_ptr to the
// session (shared_from_this), and all of them run on the connection's strand,
// so the session lives exactly as long as an operation is pending and is
// never touched by two threads at once. The request handler runs on the
// server's handler pool when there is one: it gets a copy of the request and
// the shared_ptr, touches nothing else of the session, and posts the response
// back to the strand.
#pragma once

#include <memory>
#include <optional>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "api/http_types.h"
#include "api/server_state.h"

namespace banshi::api {

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <class Stream>
class HttpSession : public Connection, public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(boost::asio::ip::tcp::socket&& socket, std::shared_ptr<ServerState> state);
  ~HttpSession() override;

  // Starts serving; with `over_capacity` answers 503 once and closes.
  void run(bool over_capacity);
  // Graceful shutdown: closes the connection now if it is between requests,
  // else after the response in progress. Thread-safe.
  void shutdown() override;

 private:
  void start(bool over_capacity);
  void wait_for_request();
  void on_first_bytes(boost::beast::error_code ec, size_t bytes);
  void read_request();
  void on_read(boost::beast::error_code ec, size_t bytes);
  template <class Work, class Then>
  void off_strand(Work work, Then then);
  void upgrade(Request request);
  void open_websocket(Upgrade up);
  void handle(Request request, bool keep_alive);
  void answer(Response response, bool head, bool keep_alive);
  void respond(const Response& response, bool keep_alive);
  void on_write(bool keep_alive, boost::beast::error_code ec, size_t bytes);
  void close();

  Stream stream_;
  // The connection's strand, kept apart from the stream: shutdown() posts to
  // it from other threads, and an upgrade moves the stream away.
  typename Stream::executor_type executor_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::beast::http::response<boost::beast::http::string_body> response_;
  std::shared_ptr<ServerState> state_;
  bool registered_ = false;
  bool busy_ = false;    // between the first byte of a request and its response's last
  bool closed_ = false;
};

extern template class HttpSession<PlainStream>;
extern template class HttpSession<TlsStream>;

}  // namespace banshi::api
