// connectors/http/http_client.h — an asynchronous HTTP/1.1 client (Beast)
// with a pool of kept-alive connections per endpoint and TLS through OpenSSL.
//
// Contract
// - request() never throws and never blocks: `done` is called exactly once,
//   on one of the io_context's threads, with the response (any status) or an
//   Error: "bad-url", "connect" (resolve/connect/TLS handshake failed),
//   "timeout" (the deadline passed), "io" (the connection broke).
// - A request that fails on a connection reused from the pool before any
//   byte of the answer came is sent once more on a fresh connection (the
//   server may have closed the idle connection meanwhile).
// - https endpoints verify the server's certificate and host name against
//   the CA bundle (`ca_file`, or the system's default paths when empty).
// Thread-safe: any thread may call request() at once.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "banshi/result.h"

namespace boost::asio::ssl {
class context;
}

namespace banshi::connectors::http {

struct Url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string base_path;  // without a trailing slash; "" for the root
  std::string key() const { return (tls ? "https://" : "http://") + host + ":" + port; }
};
// "http://host[:port][/base]" or "https://..."; no user info, query or fragment.
Result<Url> parse_url(const std::string& text);

struct ClientOptions {
  std::string ca_file;           // PEM bundle for https; empty: the system's
  bool verify_peer = true;
  size_t max_idle_per_endpoint = 32;
  std::string user_agent = "banshi-connector";
};

struct HttpRequest {
  std::string method = "GET";
  std::string target;  // path and query, already percent-encoded
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::steady_clock::time_point deadline;
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  // Retry-After in seconds (its delta-seconds form, at most a day), in ms;
  // -1 when absent or not a number.
  int64_t retry_after_ms = -1;
};

class HttpClient : public std::enable_shared_from_this<HttpClient> {
 public:
  static Result<std::shared_ptr<HttpClient>> create(boost::asio::io_context& ioc, ClientOptions options = {});
  ~HttpClient();

  using Handler = std::function<void(Result<HttpResponse>)>;
  void request(const Url& endpoint, HttpRequest request, Handler done);

  struct Connection;  // one kept-alive connection (defined in the implementation)

  // Connections opened so far (a pool that works opens few).
  size_t connections_opened() const;

 private:
  HttpClient(boost::asio::io_context& ioc, ClientOptions options);
  std::shared_ptr<Connection> take_idle(const std::string& key);
  void give_back(const std::string& key, std::shared_ptr<Connection> c);

  struct Impl;
  boost::asio::io_context& ioc_;
  ClientOptions options_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::shared_ptr<Connection>>> idle_;
  size_t opened_ = 0;
};

}  // namespace banshi::connectors::http
