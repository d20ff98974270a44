#include "api/http_session.h"

#include <string>
#include <type_traits>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>

#include "api/problem.h"
#include "api/ws_session.h"

namespace banshi::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

template <class Stream>
Stream make_stream(net::ip::tcp::socket&& socket, ServerState& state);

template <>
PlainStream make_stream<PlainStream>(net::ip::tcp::socket&& socket, ServerState&) {
  return PlainStream(std::move(socket));
}

template <>
TlsStream make_stream<TlsStream>(net::ip::tcp::socket&& socket, ServerState& state) {
  return TlsStream(std::move(socket), *state.tls);
}

}  // namespace

template <class Stream>
HttpSession<Stream>::HttpSession(net::ip::tcp::socket&& socket, std::shared_ptr<ServerState> state)
    : stream_(make_stream<Stream>(std::move(socket), *state)),
      executor_(stream_.get_executor()),
      state_(std::move(state)) {}

template <class Stream>
HttpSession<Stream>::~HttpSession() {
  if (registered_) state_->leave(this);
}

template <class Stream>
void HttpSession<Stream>::run(bool over_capacity) {
  net::dispatch(stream_.get_executor(), [self = this->shared_from_this(), over_capacity] {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      // The handshake counts as reading: it must finish within the read timeout.
      beast::get_lowest_layer(self->stream_).expires_after(self->state_->options.read_timeout);
      self->stream_.async_handshake(net::ssl::stream_base::server, [self, over_capacity](beast::error_code ec) {
        if (ec) {
          self->closed_ = true;  // nothing was said; drop the connection
          beast::error_code ignored;
          beast::get_lowest_layer(self->stream_).socket().close(ignored);
          return;
        }
        self->start(over_capacity);
      });
    } else {
      self->start(over_capacity);
    }
  });
}

template <class Stream>
void HttpSession<Stream>::start(bool over_capacity) {
  if (!over_capacity && state_->enter(this, this->weak_from_this())) {
    registered_ = true;
    wait_for_request();
    return;
  }
  busy_ = true;
  respond(problem(ProblemKind::kUnavailable, "The server has too many connections; try again shortly."), false);
}

template <class Stream>
void HttpSession<Stream>::shutdown() {
  net::post(executor_, [self = this->shared_from_this()] {
    if (!self->busy_) self->close();  // an in-flight request closes after its response
  });
}

// Waits for the first byte of the next request under the idle timeout; the
// read timeout starts when it arrives.
template <class Stream>
void HttpSession<Stream>::wait_for_request() {
  if (closed_) return;
  if (state_->stopping) return close();
  if (buffer_.size() > 0) return read_request();  // a pipelined request is already here
  beast::get_lowest_layer(stream_).expires_after(state_->options.idle_timeout);
  stream_.async_read_some(buffer_.prepare(state_->options.max_header_bytes),
                          beast::bind_front_handler(&HttpSession::on_first_bytes, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::on_first_bytes(beast::error_code ec, size_t bytes) {
  if (ec) return close();  // idle timeout, peer closed, or shutdown
  buffer_.commit(bytes);
  read_request();
}

template <class Stream>
void HttpSession<Stream>::read_request() {
  busy_ = true;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(state_->options.max_header_bytes));
  parser_->body_limit(state_->options.max_body_bytes);
  beast::get_lowest_layer(stream_).expires_after(state_->options.read_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::on_read, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::on_read(beast::error_code ec, size_t) {
  if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
      ec == net::error::connection_reset || ec == net::error::eof || ec == net::ssl::error::stream_truncated) {
    return close();  // a slow or vanished client gets no answer
  }
  if (ec == http::error::body_limit) {
    return respond(problem(ProblemKind::kPayloadTooLarge, "The body is larger than " +
                                                              std::to_string(state_->options.max_body_bytes) +
                                                              " bytes."),
                   false);
  }
  if (ec == http::error::header_limit) {
    return respond(problem(ProblemKind::kHeaderTooLarge, "The request line and headers are larger than " +
                                                             std::to_string(state_->options.max_header_bytes) +
                                                             " bytes."),
                   false);
  }
  if (ec) return respond(problem(ProblemKind::kBadRequest, "The request is not valid HTTP/1.1."), false);

  const auto& msg = parser_->get();
  Fields headers;
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (char& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    headers.emplace_back(std::move(name), std::string(field.value()));
  }
  Request request = Request::make(std::string(msg.method_string()), std::string(msg.target()), msg.body(),
                                  std::move(headers));
  beast::error_code endpoint_error;
  auto endpoint = beast::get_lowest_layer(stream_).socket().remote_endpoint(endpoint_error);
  if (!endpoint_error) request.remote_address = endpoint.address().to_string();
  if (state_->upgrade && beast::websocket::is_upgrade(msg)) return upgrade(std::move(request));
  handle(std::move(request), msg.keep_alive());
}

namespace {

Response call_handler(const ServerState& state, const Request& request) {
  try {
    return state.handler(request);
  } catch (const std::exception& e) {
    return problem_from_error(Error{"exception", e.what()});
  } catch (...) {
    return problem_from_error(Error{"exception", "an unknown exception"});
  }
}

Upgrade call_upgrade(const ServerState& state, const Request& request) {
  Upgrade up;
  try {
    up = state.upgrade(request);
  } catch (const std::exception& e) {
    up = Upgrade{};
    up.refuse = problem_from_error(Error{"exception", e.what()});
  } catch (...) {
    up = Upgrade{};
    up.refuse = problem_from_error(Error{"exception", "an unknown exception"});
  }
  return up;
}

}  // namespace

// Runs `work` (the application's handler) on the handler pool when there is
// one, so that a handler waiting for the engine holds neither an I/O thread
// nor another connection; then `then` with its result on the connection's
// strand. Without a pool both run here, on the I/O thread.
template <class Stream>
template <class Work, class Then>
void HttpSession<Stream>::off_strand(Work work, Then then) {
  if (!state_->handlers) return then(*this, work(*state_));
  // The work guard keeps the I/O threads running until the result is back
  // on the strand: while the handler runs, the session has no operation
  // pending on the io_context, which would otherwise be out of work during a
  // shutdown.
  net::post(*state_->handlers, [self = this->shared_from_this(), state = state_,
                                guard = net::make_work_guard(stream_.get_executor()), work = std::move(work),
                                then = std::move(then)]() mutable {
    // A stop that timed out has given up on the connections: a request still
    // queued is not run, as no answer could reach its client.
    if (state->abandoned) return;
    auto result = work(*state);
    // The session goes with the handler, so that its last owner lets go of it
    // on its strand.
    net::post(guard.get_executor(),
              [self = std::move(self), result = std::move(result), then = std::move(then)]() mutable {
                then(*self, std::move(result));
              });
    guard.reset();
  });
}

template <class Stream>
void HttpSession<Stream>::handle(Request request, bool keep_alive) {
  const bool head = request.method == "HEAD";
  off_strand([request = std::move(request)](const ServerState& state) { return call_handler(state, request); },
             [head, keep_alive](HttpSession& self, Response response) {
               self.answer(std::move(response), head, keep_alive);
             });
}

template <class Stream>
void HttpSession<Stream>::answer(Response response, bool head, bool keep_alive) {
  if (head) {
    size_t length = response.body.size();
    response.body.clear();
    response.headers.emplace_back("Content-Length", std::to_string(length));
  }
  respond(response, keep_alive);
}

// The upgrade handler authenticates (a store read), so it runs where request
// handlers do; the handshake then goes on on the connection's strand.
template <class Stream>
void HttpSession<Stream>::upgrade(Request request) {
  off_strand([request = std::move(request)](const ServerState& state) { return call_upgrade(state, request); },
             [](HttpSession& self, Upgrade up) { self.open_websocket(std::move(up)); });
}

template <class Stream>
void HttpSession<Stream>::open_websocket(Upgrade up) {
  if (up.refuse) return respond(*up.refuse, false);
  // Decided while the server began to stop: a socket opened now would be
  // closed at once.
  if (state_->stopping) return respond(problem(ProblemKind::kUnavailable, "The server is stopping."), false);
  // The connection becomes a WebSocket: this session gives up its slot and
  // its stream, and ends when this handler returns.
  if (registered_) {
    state_->leave(this);
    registered_ = false;
  }
  closed_ = true;
  busy_ = false;
  auto ws = std::make_shared<WsSession<Stream>>(std::move(stream_), state_, std::move(up));
  ws->run(parser_->release());
}

template <class Stream>
void HttpSession<Stream>::respond(const Response& r, bool keep_alive) {
  response_ = {};
  response_.version(11);
  response_.result(static_cast<unsigned>(r.status));
  response_.set(http::field::server, "banshi");
  if (!r.content_type.empty()) response_.set(http::field::content_type, r.content_type);
  bool explicit_length = false;
  for (const auto& [name, value] : r.headers) {
    if (beast::iequals(name, "content-length")) explicit_length = true;
    response_.insert(name, value);
  }
  response_.body() = r.body;
  if (!explicit_length) response_.prepare_payload();
  keep_alive = keep_alive && !state_->stopping;
  response_.keep_alive(keep_alive);
  beast::get_lowest_layer(stream_).expires_after(state_->options.write_timeout);
  http::async_write(stream_, response_,
                    beast::bind_front_handler(&HttpSession::on_write, this->shared_from_this(), keep_alive));
}

template <class Stream>
void HttpSession<Stream>::on_write(bool keep_alive, beast::error_code ec, size_t) {
  busy_ = false;
  if (ec || !keep_alive) return close();
  wait_for_request();
}

template <class Stream>
void HttpSession<Stream>::close() {
  if (closed_) return;
  closed_ = true;
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    // close_notify, bounded in time, then the socket.
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
      beast::get_lowest_layer(self->stream_).close();
    });
  } else {
    beast::error_code ec;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
    stream_.close();
  }
}

template class HttpSession<PlainStream>;
template class HttpSession<TlsStream>;

}  // namespace banshi::api
