// ws_probe — a small WebSocket client for serve_test.sh: connects to
// /api/v1/events of a running `banshi serve`, prints "OPEN" once the
// handshake is done, then every text frame it receives, one per line.
//
// Usage: ws_probe HOST PORT [--tls] [--cookie C] [--bearer T] [--origin O]
//                 [--send TEXT] [--count N] [--timeout-ms MS] [--since POSITION]
// --since resumes after an event position (sent as ?since=POSITION).
// Exit codes: 0 after N frames (default 1); 1 on timeout or a closed
// connection; 2 when the handshake is refused ("REFUSED <status>" printed).
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

struct Options {
  std::string host;
  std::string port;
  bool tls = false;
  std::string cookie;
  std::string bearer;
  std::string origin;
  std::string send;
  std::string since;
  int count = 1;
  int timeout_ms = 10'000;
};

template <class Ws>
int talk(net::io_context& ioc, Ws& ws, const Options& o) {
  ws.set_option(websocket::stream_base::decorator([&o](websocket::request_type& req) {
    if (!o.cookie.empty()) req.set(beast::http::field::cookie, o.cookie);
    if (!o.bearer.empty()) req.set(beast::http::field::authorization, "Bearer " + o.bearer);
    if (!o.origin.empty()) req.set(beast::http::field::origin, o.origin);
  }));
  websocket::response_type res;
  beast::error_code ec;
  std::string target = "/api/v1/events";
  if (!o.since.empty()) target += "?since=" + o.since;
  ws.handshake(res, o.host + ":" + o.port, target, ec);
  if (ec) {
    std::cout << "REFUSED " << res.result_int() << std::endl;
    return 2;
  }
  std::cout << "OPEN" << std::endl;
  if (!o.send.empty()) ws.write(net::buffer(o.send));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.timeout_ms);
  int got = 0;
  while (got < o.count) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::milliseconds(0)) return 1;
    // Read asynchronously: a blocking read would wait past the deadline
    // when nothing comes.
    beast::flat_buffer buffer;
    bool read = false;
    ws.async_read(buffer, [&](beast::error_code e, size_t) {
      ec = e;
      read = true;
    });
    ioc.restart();
    ioc.run_for(std::chrono::duration_cast<std::chrono::milliseconds>(left));
    if (!read) {
      std::cout << "TIMEOUT" << std::endl;
      return 1;
    }
    if (ec) {
      std::cout << "CLOSED " << ec.message() << std::endl;
      return 1;
    }
    std::cout << beast::buffers_to_string(buffer.data()) << std::endl;
    ++got;
  }
  ws.close(websocket::close_code::normal, ec);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: ws_probe HOST PORT [--tls] [--cookie C] [--bearer T] [--origin O] [--send TEXT] "
                 "[--count N] [--timeout-ms MS] [--since POSITION]\n";
    return 64;
  }
  Options o;
  o.host = argv[1];
  o.port = argv[2];
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(64);
      }
      return argv[++i];
    };
    if (a == "--tls") o.tls = true;
    else if (a == "--cookie") o.cookie = next();
    else if (a == "--bearer") o.bearer = next();
    else if (a == "--origin") o.origin = next();
    else if (a == "--send") o.send = next();
    else if (a == "--count") o.count = std::atoi(next().c_str());
    else if (a == "--timeout-ms") o.timeout_ms = std::atoi(next().c_str());
    else if (a == "--since") o.since = next();
    else {
      std::cerr << "unknown option " << a << "\n";
      return 64;
    }
  }
  try {
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    auto endpoints = resolver.resolve(o.host, o.port);
    if (o.tls) {
      // The test's certificate is self-signed: the probe checks the server
      // speaks TLS, not who signed it.
      net::ssl::context ctx(net::ssl::context::tls_client);
      ctx.set_verify_mode(net::ssl::verify_none);
      websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ioc, ctx);
      beast::get_lowest_layer(ws).expires_after(std::chrono::milliseconds(o.timeout_ms));
      beast::get_lowest_layer(ws).connect(endpoints);
      ws.next_layer().handshake(net::ssl::stream_base::client);
      return talk(ioc, ws, o);
    }
    websocket::stream<beast::tcp_stream> ws(ioc);
    beast::get_lowest_layer(ws).expires_after(std::chrono::milliseconds(o.timeout_ms));
    beast::get_lowest_layer(ws).connect(endpoints);
    return talk(ioc, ws, o);
  } catch (const std::exception& e) {
    std::cout << "ERROR " << e.what() << std::endl;
    return 1;
  }
}
