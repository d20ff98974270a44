#include "api/server.h"

#include <chrono>

#include <boost/asio/io_context.hpp>

#include <boost/asio/ip/address.hpp>
#include <spdlog/spdlog.h>

#include "api/http_session.h"
#include "api/listener.h"
#include "api/server_state.h"

namespace banshi::api {

namespace net = boost::asio;

Server::Server(ServerOptions options, RequestHandler handler)
    : options_(std::move(options)),
      ioc_(std::make_unique<net::io_context>(options_.threads < 1 ? 1 : options_.threads)),
      state_(std::make_shared<ServerState>(options_, std::move(handler), *ioc_)) {}

Server::~Server() { stop(); }

Result<void> Server::start() {
  boost::system::error_code ec;
  auto address = net::ip::make_address(options_.address, ec);
  if (ec) return Error{"listen", "'" + options_.address + "' is not an IP address"};
  listener_ = std::make_shared<Listener>(state_);
  if (auto r = listener_->open(net::ip::tcp::endpoint(address, options_.port)); !r.ok()) {
    listener_.reset();
    return r.error();
  }
  port_ = listener_->port();
  listener_->run();
  int n = options_.threads < 1 ? 1 : options_.threads;
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([state = state_] {
      for (;;) {
        try {
          state->ioc.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("HTTP I/O thread: {}", e.what());
        }
      }
    });
  }
  return {};
}

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  state_->stopping = true;
  if (listener_) listener_->stop();
  for (auto& session : state_->sessions()) session->shutdown();
  auto deadline = std::chrono::steady_clock::now() + options_.shutdown_timeout;
  while (state_->active() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (state_->active() > 0) {
    spdlog::warn("{} connections still open after the shutdown timeout", state_->active());
    state_->ioc.stop();
  }
  // Otherwise the threads return by themselves once the aborted accept and the
  // last session's handlers have run.
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  listener_.reset();
}

}  // namespace banshi::api
