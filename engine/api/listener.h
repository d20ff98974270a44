// api/listener.h — accepts connections on one endpoint and hands each to a
// new HttpSession (plain or TLS) on its own strand. Internal to the transport.
#pragma once

#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>

#include "banshi/result.h"

namespace banshi::api {

class ServerState;

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  explicit Listener(std::shared_ptr<ServerState> state);

  // Opens, binds and listens; Error{"listen", ...} when the address is bad or taken.
  Result<void> open(const boost::asio::ip::tcp::endpoint& endpoint);
  unsigned short port() const;
  void run();
  // Stops accepting (on the listener's strand). Thread-safe.
  void stop();

 private:
  void accept();
  void on_accept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);

  std::shared_ptr<ServerState> state_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace banshi::api
