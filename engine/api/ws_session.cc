#include "api/ws_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <spdlog/spdlog.h>

namespace banshi::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;

template <class Stream>
WsSession<Stream>::WsSession(Stream&& stream, std::shared_ptr<ServerState> state, Upgrade upgrade)
    : ws_(std::move(stream)), state_(std::move(state)), upgrade_(std::move(upgrade)) {}

template <class Stream>
WsSession<Stream>::~WsSession() {
  if (registered_) state_->leave(this);
  finish();
}

template <class Stream>
void WsSession<Stream>::run(http::request<http::string_body> request) {
  net::dispatch(ws_.get_executor(), [self = this->shared_from_this(), request = std::move(request)] {
    if (!self->state_->enter(self.get(), self->weak_from_this())) {
      // Over the connection cap: the handshake is refused with a 503.
      beast::get_lowest_layer(self->ws_).close();
      return;
    }
    self->registered_ = true;
    // The WebSocket stream keeps its own timeouts from here on.
    beast::get_lowest_layer(self->ws_).expires_never();
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = self->state_->options.read_timeout;
    timeouts.idle_timeout = self->state_->options.ws_idle_timeout;
    timeouts.keep_alive_pings = true;
    self->ws_.set_option(timeouts);
    self->ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "banshi"); }));
    self->ws_.read_message_max(self->state_->options.ws_max_message_bytes);
    // The client may act as soon as it reads the 101 (start a case, say),
    // before on_accept runs here: so frames are taken from before the
    // handshake, and wait in the queue until it is done. Otherwise an event
    // committed in between would be lost.
    self->open_ = true;
    if (self->upgrade_.on_open) self->upgrade_.on_open(self);
    self->ws_.async_accept(request, beast::bind_front_handler(&WsSession::on_accept, self));
  });
}

template <class Stream>
void WsSession<Stream>::on_accept(beast::error_code ec) {
  if (ec) return finish();
  accepted_ = true;
  if (state_->stopping) return close_with(websocket::close_code::going_away);
  if (!writing_) write_next();  // what was sent during the handshake
  read();
}

template <class Stream>
void WsSession<Stream>::read() {
  ws_.async_read(read_buffer_, beast::bind_front_handler(&WsSession::on_read, this->shared_from_this()));
}

template <class Stream>
void WsSession<Stream>::on_read(beast::error_code ec, size_t) {
  if (ec) return finish();  // closed by the peer, timed out, too large, or shut down
  if (ws_.got_text() && upgrade_.on_message) {
    auto data = read_buffer_.data();
    upgrade_.on_message(std::string_view(static_cast<const char*>(data.data()), data.size()));
  }
  read_buffer_.consume(read_buffer_.size());
  read();
}

template <class Stream>
bool WsSession<Stream>::send(std::string text) {
  if (!open_) return false;
  if (queued_.fetch_add(1) >= state_->options.ws_max_queue) {
    queued_.fetch_sub(1);
    open_ = false;
    net::post(ws_.get_executor(), [self = this->shared_from_this()] {
      spdlog::info("dropping a WebSocket client that does not keep up with its events");
      self->close_with(websocket::close_code::try_again_later);
    });
    return false;
  }
  net::post(ws_.get_executor(), [self = this->shared_from_this(), text = std::move(text)]() mutable {
    if (self->closing_ || self->finished_) {
      self->queued_.fetch_sub(1);
      return;
    }
    self->queue_.push_back(std::move(text));
    if (!self->writing_) self->write_next();
  });
  return true;
}

template <class Stream>
void WsSession<Stream>::write_next() {
  if (!accepted_) return;  // on_accept starts the writes
  if (queue_.empty() || closing_ || finished_) {
    writing_ = false;
    if (queue_.empty() && close_when_sent_) close_with(websocket::close_code::policy_error);
    return;
  }
  writing_ = true;
  ws_.text(true);
  ws_.async_write(net::buffer(queue_.front()), beast::bind_front_handler(&WsSession::on_write, this->shared_from_this()));
}

template <class Stream>
void WsSession<Stream>::on_write(beast::error_code ec, size_t) {
  queue_.pop_front();
  queued_.fetch_sub(1);
  writing_ = false;
  if (ec) return finish();
  write_next();
}

template <class Stream>
void WsSession<Stream>::close() {
  net::post(ws_.get_executor(),
            [self = this->shared_from_this()] { self->close_with(websocket::close_code::going_away); });
}

template <class Stream>
void WsSession<Stream>::close_after_sent() {
  net::post(ws_.get_executor(), [self = this->shared_from_this()] {
    self->close_when_sent_ = true;
    if (!self->writing_) self->write_next();
  });
}

template <class Stream>
void WsSession<Stream>::close_with(websocket::close_code code) {
  open_ = false;
  if (closing_ || finished_) return;
  closing_ = true;
  if (!accepted_) {
    // The handshake is still running: cancelling it finishes the session.
    beast::get_lowest_layer(ws_).cancel();
    return;
  }
  if (writing_) {
    // A write is in flight; cancelling the socket ends it and the read.
    beast::get_lowest_layer(ws_).cancel();
    return;
  }
  ws_.async_close(websocket::close_reason(code), [self = this->shared_from_this()](beast::error_code) {
    // The pending read ends with `closed`, which finishes the session.
  });
}

template <class Stream>
void WsSession<Stream>::finish() {
  if (finished_) return;
  finished_ = true;
  open_ = false;
  if (upgrade_.on_close) {
    auto on_close = std::move(upgrade_.on_close);
    upgrade_.on_close = nullptr;
    on_close();
  }
  if (registered_) {
    state_->leave(this);
    registered_ = false;
  }
}

template class WsSession<PlainStream>;
template class WsSession<TlsStream>;

}  // namespace banshi::api
