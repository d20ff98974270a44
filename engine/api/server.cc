#include "api/server.h"

#include <pthread.h>

#include <chrono>

#include <boost/asio/io_context.hpp>

#include <boost/asio/ip/address.hpp>
#include <spdlog/spdlog.h>

#include <boost/asio/ssl/context.hpp>

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

void Server::set_upgrade_handler(UpgradeHandler handler) { state_->upgrade = std::move(handler); }

Result<void> Server::start() {
  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
      return Error{"tls", "TLS needs both a certificate file and a private key file"};
    }
    auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                     net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1 |
                     net::ssl::context::single_dh_use);
    boost::system::error_code tls_ec;
    ctx->use_certificate_chain_file(options_.tls_cert_file, tls_ec);
    if (tls_ec) return Error{"tls", "cannot load the certificate " + options_.tls_cert_file + ": " + tls_ec.message()};
    ctx->use_private_key_file(options_.tls_key_file, net::ssl::context::pem, tls_ec);
    if (tls_ec) return Error{"tls", "cannot load the private key " + options_.tls_key_file + ": " + tls_ec.message()};
    state_->tls = std::move(ctx);
  }
  boost::system::error_code ec;
  auto address = net::ip::make_address(options_.address, ec);
  if (ec) return Error{"listen", "'" + options_.address + "' is not an IP address"};
  listener_ = std::make_shared<Listener>(state_);
  if (auto r = listener_->open(net::ip::tcp::endpoint(address, options_.port)); !r.ok()) {
    listener_.reset();
    return r.error();
  }
  port_ = listener_->port();
  if (options_.handler_threads > 0) {
    state_->handlers = std::make_unique<net::thread_pool>(static_cast<size_t>(options_.handler_threads));
  }
  listener_->run();
  int n = options_.threads < 1 ? 1 : options_.threads;
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([state = state_] {
      pthread_setname_np(pthread_self(), "banshi-http");
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
    state_->abandoned = true;
    state_->ioc.stop();
  }
  // Otherwise the threads return by themselves once the aborted accept and the
  // last session's handlers have run.
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  // Handlers still running (only after the shutdown timeout) finish here;
  // their responses go nowhere, and the requests queued behind them are not
  // run.
  if (state_->handlers) state_->handlers->join();
  listener_.reset();
}

}  // namespace banshi::api
