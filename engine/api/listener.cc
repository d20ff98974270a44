#include "api/listener.h"

#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include "api/http_session.h"
#include "api/server_state.h"

namespace banshi::api {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Listener::Listener(std::shared_ptr<ServerState> state)
    : state_(std::move(state)), acceptor_(net::make_strand(state_->ioc)) {}

Result<void> Listener::open(const tcp::endpoint& endpoint) {
  boost::beast::error_code ec;
  auto fail = [&](const char* what) {
    return Error{"listen", std::string("cannot ") + what + " " + endpoint.address().to_string() + ":" +
                               std::to_string(endpoint.port()) + ": " + ec.message()};
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return fail("configure");
  acceptor_.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  return {};
}

unsigned short Listener::port() const {
  boost::beast::error_code ec;
  auto ep = acceptor_.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void Listener::run() { accept(); }

void Listener::stop() {
  net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::beast::error_code ec;
    self->acceptor_.close(ec);
  });
}

void Listener::accept() {
  acceptor_.async_accept(net::make_strand(state_->ioc),
                         [self = shared_from_this()](boost::beast::error_code ec, tcp::socket socket) {
                           self->on_accept(ec, std::move(socket));
                         });
}

void Listener::on_accept(boost::beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;  // stopped
  if (ec) {
    spdlog::warn("accept failed: {}", ec.message());
  } else if (!state_->stopping) {
    if (state_->tls) {
      std::make_shared<HttpSession<TlsStream>>(std::move(socket), state_)->run(false);
    } else {
      std::make_shared<HttpSession<PlainStream>>(std::move(socket), state_)->run(false);
    }
  }
  accept();
}

}  // namespace banshi::api
