#include "http/http_client.h"

#include <algorithm>
#include <optional>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>

namespace banshi::connectors::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

Result<Url> parse_url(const std::string& text) {
  Url u;
  std::string rest;
  if (text.rfind("http://", 0) == 0) {
    rest = text.substr(7);
  } else if (text.rfind("https://", 0) == 0) {
    u.tls = true;
    rest = text.substr(8);
  } else {
    return Error{"bad-url", fmt::format("'{}' is not an http:// or https:// address", text)};
  }
  if (rest.find_first_of("?#@ ") != std::string::npos) {
    return Error{"bad-url", fmt::format("'{}' may not hold user info, a query, a fragment or spaces", text)};
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) u.base_path = rest.substr(slash);
  while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
  size_t colon = authority.rfind(':');
  if (!authority.empty() && authority.front() == '[') {  // [::1]:8080
    size_t close = authority.find(']');
    if (close == std::string::npos) return Error{"bad-url", fmt::format("'{}' has an unclosed [", text)};
    u.host = authority.substr(1, close - 1);
    colon = authority.find(':', close);
  } else {
    u.host = authority.substr(0, colon);
  }
  u.port = colon == std::string::npos ? (u.tls ? "443" : "80") : authority.substr(colon + 1);
  if (u.host.empty()) return Error{"bad-url", fmt::format("'{}' names no host", text)};
  if (u.port.empty() || u.port.size() > 5 || u.port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(u.port) == 0 || std::stoi(u.port) > 65535) {
    return Error{"bad-url", fmt::format("'{}' has no valid port", text)};
  }
  return u;
}

// A connection's stream is made with the connection's strand, and everything
// that touches the stream runs there: the stream's own timeout handler, and
// the coroutines that connect, send, read and finally drop it.
struct HttpClient::Connection {
  explicit Connection(asio::strand<asio::io_context::executor_type> s) : strand(std::move(s)) {}
  asio::strand<asio::io_context::executor_type> strand;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  beast::tcp_stream& lowest() { return plain ? *plain : beast::get_lowest_layer(*tls); }
};

namespace {

Error failure(const beast::error_code& ec, const char* what) {
  if (ec == beast::error::timeout) return Error{"timeout", fmt::format("{} timed out", what)};
  return Error{"io", fmt::format("{} failed: {}", what, ec.message())};
}

template <class Stream>
asio::awaitable<Result<HttpResponse>> exchange(Stream& stream, HttpClient::Connection& c,
                                               const bhttp::request<bhttp::string_body>& msg, Clock::time_point deadline,
                                               bool& got_bytes, bool& keep_alive) {
  c.lowest().expires_at(deadline);
  auto [wec, written] = co_await bhttp::async_write(stream, msg, kTuple);
  (void)written;
  if (wec) co_return failure(wec, "sending the request");
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  auto [rec, read] = co_await bhttp::async_read(stream, c.buffer, parser, kTuple);
  got_bytes = read > 0 || parser.got_some();
  if (rec) co_return failure(rec, "reading the answer");
  c.lowest().expires_never();
  auto& res = parser.get();
  keep_alive = res.keep_alive();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  out.body = std::move(res.body());
  if (auto it = res.find(bhttp::field::content_type); it != res.end()) out.content_type = std::string(it->value());
  if (auto it = res.find(bhttp::field::retry_after); it != res.end()) {
    std::string_view v = it->value();
    int64_t seconds = 0;
    bool digits = !v.empty() && v.size() <= 6;
    for (char ch : v) {
      digits = digits && ch >= '0' && ch <= '9';
      if (digits) seconds = seconds * 10 + (ch - '0');
    }
    if (digits) out.retry_after_ms = std::min<int64_t>(seconds, 24 * 3600) * 1000;
  }
  co_return out;
}

}  // namespace

struct HttpClient::Impl {
  // Drops a connection on its strand. The stream's timeout handler runs
  // there and closes the socket; destroying the stream on another thread at
  // the same moment would race with it (the socket's reactor state).
  static void retire(std::shared_ptr<Connection> c) {
    if (!c) return;
    auto strand = c->strand;
    asio::post(strand, [c = std::move(c)]() mutable { c.reset(); });
  }

  // Runs `work` (a coroutine function) on the connection's strand and waits
  // for it. The request's own coroutine stays on the io_context, so `done`
  // (which may block, e.g. reporting a job) never holds up the strand.
  template <class Work>
  static asio::awaitable<void> on_strand(Connection& c, Work work) {
    co_await asio::co_spawn(c.strand, std::move(work), asio::use_awaitable);
  }

  static asio::awaitable<Result<void>> open(std::shared_ptr<HttpClient> self, Connection& c, const Url& url,
                                            Clock::time_point deadline) {
    tcp::resolver resolver(self->ioc_);
    auto [ec, results] = co_await resolver.async_resolve(url.host, url.port, kTuple);
    if (ec) co_return Error{"connect", fmt::format("cannot resolve {}: {}", url.host, ec.message())};
    if (Clock::now() >= deadline) co_return Error{"timeout", "resolving the host timed out"};
    if (url.tls) {
      c.tls.emplace(c.strand, *self->tls_);
      // SSL_set_tlsext_host_name, without the macro's C cast.
      if (!SSL_ctrl(c.tls->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                    static_cast<void*>(const_cast<char*>(url.host.c_str())))) {
        co_return Error{"connect", fmt::format("cannot set the TLS server name {}", url.host)};
      }
      if (self->options_.verify_peer) c.tls->set_verify_callback(asio::ssl::host_name_verification(url.host));
    } else {
      c.plain.emplace(c.strand);
    }
    c.lowest().expires_at(deadline);
    auto [cec, ep] = co_await c.lowest().async_connect(results, kTuple);
    (void)ep;
    if (cec) {
      if (cec == beast::error::timeout) co_return Error{"timeout", fmt::format("connecting to {} timed out", url.key())};
      co_return Error{"connect", fmt::format("cannot connect to {}: {}", url.key(), cec.message())};
    }
    {
      std::lock_guard lock(self->mu_);
      ++self->opened_;
    }
    if (url.tls) {
      auto [hec] = co_await c.tls->async_handshake(asio::ssl::stream_base::client, kTuple);
      if (hec) co_return Error{"connect", fmt::format("the TLS handshake with {} failed: {}", url.key(), hec.message())};
    }
    co_return Result<void>{};
  }

  static asio::awaitable<void> run(std::shared_ptr<HttpClient> self, Url url, HttpRequest req, Handler done) {
    Result<HttpResponse> result = Error{"io", "no attempt was made"};
    try {
      bhttp::request<bhttp::string_body> msg;
      msg.method_string(req.method);
      msg.target(url.base_path + req.target);
      msg.version(11);
      msg.set(bhttp::field::host, url.host + ":" + url.port);
      msg.set(bhttp::field::user_agent, self->options_.user_agent);
      msg.keep_alive(true);
      for (const auto& [k, v] : req.headers) msg.set(k, v);
      if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
        msg.body() = req.body;
        msg.prepare_payload();
      }
      for (int attempt = 0; attempt < 2; ++attempt) {
        if (Clock::now() >= req.deadline) {
          result = Error{"timeout", "the deadline passed before the request was sent"};
          break;
        }
        std::shared_ptr<Connection> conn = self->take_idle(url.key());
        const bool reused = conn != nullptr;
        if (!conn) {
          conn = std::make_shared<Connection>(asio::make_strand(self->ioc_));
          Result<void> opened;
          co_await on_strand(*conn, [&]() -> asio::awaitable<void> {
            opened = co_await open(self, *conn, url, req.deadline);
          });
          if (!opened.ok()) {
            result = opened.error();
            retire(std::move(conn));
            break;
          }
        }
        bool got_bytes = false;
        bool keep_alive = false;
        co_await on_strand(*conn, [&]() -> asio::awaitable<void> {
          if (conn->tls) {
            result = co_await exchange(*conn->tls, *conn, msg, req.deadline, got_bytes, keep_alive);
          } else {
            result = co_await exchange(*conn->plain, *conn, msg, req.deadline, got_bytes, keep_alive);
          }
        });
        if (!result.ok() && reused && !got_bytes && result.error().code == "io") {
          retire(std::move(conn));
          continue;  // a stale kept-alive connection
        }
        if (result.ok() && keep_alive) {
          self->give_back(url.key(), std::move(conn));
        } else {
          retire(std::move(conn));
        }
        break;
      }
    } catch (const std::exception& e) {
      result = Error{"io", fmt::format("the request failed: {}", e.what())};
    }
    done(std::move(result));
  }
};

Result<std::shared_ptr<HttpClient>> HttpClient::create(asio::io_context& ioc, ClientOptions options) {
  std::shared_ptr<HttpClient> c(new HttpClient(ioc, std::move(options)));
  c->tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  boost::system::error_code ec;
  if (!c->options_.ca_file.empty()) {
    c->tls_->load_verify_file(c->options_.ca_file, ec);
    if (ec) return Error{"bad-config", fmt::format("cannot read the CA bundle {}: {}", c->options_.ca_file, ec.message())};
  } else {
    c->tls_->set_default_verify_paths(ec);
    if (ec) return Error{"bad-config", fmt::format("cannot use the system CA bundle: {}", ec.message())};
  }
  c->tls_->set_verify_mode(c->options_.verify_peer ? asio::ssl::verify_peer : asio::ssl::verify_none);
  return c;
}

HttpClient::HttpClient(asio::io_context& ioc, ClientOptions options) : ioc_(ioc), options_(std::move(options)) {}
HttpClient::~HttpClient() = default;

void HttpClient::request(const Url& endpoint, HttpRequest request, Handler done) {
  asio::co_spawn(ioc_, Impl::run(shared_from_this(), endpoint, std::move(request), std::move(done)), asio::detached);
}

std::shared_ptr<HttpClient::Connection> HttpClient::take_idle(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = idle_.find(key);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  auto c = std::move(it->second.back());
  it->second.pop_back();
  return c;
}

void HttpClient::give_back(const std::string& key, std::shared_ptr<Connection> c) {
  std::lock_guard lock(mu_);
  auto& v = idle_[key];
  if (v.size() < options_.max_idle_per_endpoint) v.push_back(std::move(c));
}

size_t HttpClient::connections_opened() const {
  std::lock_guard lock(mu_);
  return opened_;
}

}  // namespace banshi::connectors::http
