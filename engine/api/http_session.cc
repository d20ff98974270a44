#include "api/http_session.h"

#include <string>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "api/problem.h"
#include "api/server_state.h"

namespace banshi::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

HttpSession::HttpSession(net::ip::tcp::socket&& socket, std::shared_ptr<ServerState> state)
    : stream_(std::move(socket)), state_(std::move(state)) {}

HttpSession::~HttpSession() {
  if (registered_) state_->leave(this);
}

void HttpSession::run(bool over_capacity) {
  net::dispatch(stream_.get_executor(), [self = shared_from_this(), over_capacity] {
    if (!over_capacity && self->state_->enter(self.get(), self)) {
      self->registered_ = true;
      self->wait_for_request();
      return;
    }
    self->busy_ = true;
    self->respond(problem(ProblemKind::kUnavailable, "The server has too many connections; try again shortly."),
                  false);
  });
}

void HttpSession::shutdown() {
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    if (!self->busy_) self->close();  // an in-flight request closes after its response
  });
}

// Waits for the first byte of the next request under the idle timeout; the
// read timeout starts when it arrives.
void HttpSession::wait_for_request() {
  if (closed_) return;
  if (state_->stopping) return close();
  if (buffer_.size() > 0) return read_request();  // a pipelined request is already here
  stream_.expires_after(state_->options.idle_timeout);
  stream_.async_read_some(buffer_.prepare(state_->options.max_header_bytes),
                          beast::bind_front_handler(&HttpSession::on_first_bytes, shared_from_this()));
}

void HttpSession::on_first_bytes(beast::error_code ec, size_t bytes) {
  if (ec) return close();  // idle timeout, peer closed, or shutdown
  buffer_.commit(bytes);
  read_request();
}

void HttpSession::read_request() {
  busy_ = true;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(state_->options.max_header_bytes));
  parser_->body_limit(state_->options.max_body_bytes);
  stream_.expires_after(state_->options.read_timeout);
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
}

void HttpSession::on_read(beast::error_code ec, size_t) {
  if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
      ec == net::error::connection_reset || ec == net::error::eof) {
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
  auto endpoint = stream_.socket().remote_endpoint(endpoint_error);
  if (!endpoint_error) request.remote_address = endpoint.address().to_string();
  bool keep_alive = msg.keep_alive();
  Response response;
  try {
    response = state_->handler(request);
  } catch (const std::exception& e) {
    response = problem_from_error(Error{"exception", e.what()});
  }
  if (request.method == "HEAD") {
    size_t length = response.body.size();
    response.body.clear();
    response.headers.emplace_back("Content-Length", std::to_string(length));
  }
  respond(response, keep_alive);
}

void HttpSession::respond(const Response& r, bool keep_alive) {
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
  stream_.expires_after(state_->options.write_timeout);
  http::async_write(stream_, response_,
                    beast::bind_front_handler(&HttpSession::on_write, shared_from_this(), keep_alive));
}

void HttpSession::on_write(bool keep_alive, beast::error_code ec, size_t) {
  busy_ = false;
  if (ec || !keep_alive) return close();
  wait_for_request();
}

void HttpSession::close() {
  if (closed_) return;
  closed_ = true;
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  stream_.close();
}

}  // namespace banshi::api
