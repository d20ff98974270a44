// The HTTP transport on its own (api::Server with a handler of the test's):
// handlers run on a pool of their own, so one that waits holds neither an
// I/O thread nor another connection; a graceful stop still answers a request
// whose handler is running, and one that times out runs no queued request;
// with handler_threads = 0 the handlers hold the I/O threads again. A
// WebSocket upgrade's handler (which authenticates, a store read) runs on the
// same pool, and the handshake then goes on on the connection, unless the
// server began to stop meanwhile (503).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>

#include "api/server.h"

namespace banshi::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using namespace std::chrono_literals;

struct Reply {
  beast::error_code error;
  unsigned status = 0;
  std::string body;
  bool keep_alive = true;
};

// One GET on a connection of its own, given up after `timeout`.
Reply get(unsigned short port, const std::string& target, std::chrono::milliseconds timeout = 10s) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1");
  http::response<http::string_body> response;
  Reply reply;
  stream.expires_after(timeout);
  stream.async_connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port), [&](beast::error_code ec) {
    if (ec) {
      reply.error = ec;
      return;
    }
    http::async_write(stream, request, [&](beast::error_code written, size_t) {
      if (written) {
        reply.error = written;
        return;
      }
      http::async_read(stream, buffer, response, [&](beast::error_code read, size_t) { reply.error = read; });
    });
  });
  ioc.run();
  reply.status = response.result_int();
  reply.body = response.body();
  reply.keep_alive = response.keep_alive();
  return reply;
}

// A gate the handler of /slow waits at until the test opens it.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  bool someone_waits(std::chrono::milliseconds within) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, within, [&] { return waiting_ > 0; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool open_ = false;
};

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions o) {
    o.port = 0;
    server_ = std::make_unique<Server>(o, [this](const Request& r) {
      if (r.path == "/slow") gate_.wait();
      if (r.path == "/count") ++counted_;
      Response response;
      response.status = 200;
      response.content_type = "text/plain";
      response.body = "answered " + r.path;
      return response;
    });
    // An upgrade to /ws/slow... waits at the gate; one to /ws/...refused is
    // refused with a 403; any other is accepted, and its text frames echoed.
    server_->set_upgrade_handler([this](const Request& r) {
      if (r.path.rfind("/ws/slow", 0) == 0) gate_.wait();
      Upgrade up;
      if (r.path.size() >= 7 && r.path.compare(r.path.size() - 7, 7, "refused") == 0) {
        Response no;
        no.status = 403;
        no.content_type = "text/plain";
        no.body = "refused";
        up.refuse = no;
        return up;
      }
      auto client = std::make_shared<std::weak_ptr<WsClient>>();
      up.on_open = [client](const std::shared_ptr<WsClient>& c) { *client = c; };
      up.on_message = [client](std::string_view text) {
        if (auto c = client->lock()) c->send("echo " + std::string(text));
      };
      return up;
    });
    ASSERT_TRUE(server_->start().ok());
  }
  void TearDown() override {
    gate_.open();
    if (server_) server_->stop();
  }

  Gate gate_;
  std::atomic<int> counted_{0};
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, AHandlerThatWaitsHoldsNoOtherConnection) {
  ServerOptions o;
  o.threads = 1;  // one I/O thread: with the handlers on it, /fast would wait for /slow
  o.handler_threads = 4;
  start(o);
  auto slow = std::async(std::launch::async, [&] { return get(server_->port(), "/slow"); });
  ASSERT_TRUE(gate_.someone_waits(5s));

  Reply fast = get(server_->port(), "/fast", 3s);
  EXPECT_FALSE(fast.error) << fast.error.message();
  EXPECT_EQ(fast.status, 200u);
  EXPECT_EQ(fast.body, "answered /fast");
  EXPECT_EQ(slow.wait_for(0s), std::future_status::timeout) << "/slow must still be waiting";

  gate_.open();
  Reply answered = slow.get();
  EXPECT_FALSE(answered.error) << answered.error.message();
  EXPECT_EQ(answered.status, 200u);
  EXPECT_EQ(answered.body, "answered /slow");
}

TEST_F(ServerTest, AStopAnswersTheRequestWhoseHandlerIsRunning) {
  ServerOptions o;
  o.threads = 1;
  o.handler_threads = 2;
  o.shutdown_timeout = 8s;
  start(o);
  auto slow = std::async(std::launch::async, [&] { return get(server_->port(), "/slow"); });
  ASSERT_TRUE(gate_.someone_waits(5s));

  auto started = std::chrono::steady_clock::now();
  auto stopped = std::async(std::launch::async, [&] { server_->stop(); });
  // The stop waits for the request in progress, whose handler holds no
  // operation on the I/O thread meanwhile.
  EXPECT_EQ(stopped.wait_for(300ms), std::future_status::timeout);
  gate_.open();
  Reply answered = slow.get();
  stopped.get();
  auto took = std::chrono::steady_clock::now() - started;

  EXPECT_FALSE(answered.error) << answered.error.message();
  EXPECT_EQ(answered.status, 200u);
  EXPECT_EQ(answered.body, "answered /slow");
  EXPECT_FALSE(answered.keep_alive) << "a response during a stop closes the connection";
  EXPECT_LT(took, 5s) << "the stop waited for its timeout instead of the response";
}

TEST_F(ServerTest, AStopThatTimesOutRunsNoQueuedRequest) {
  ServerOptions o;
  o.threads = 1;
  o.handler_threads = 1;  // /slow holds it; /count waits in the queue behind
  o.shutdown_timeout = 300ms;
  start(o);
  auto slow = std::async(std::launch::async, [&] { return get(server_->port(), "/slow"); });
  ASSERT_TRUE(gate_.someone_waits(5s));
  auto queued = std::async(std::launch::async, [&] { return get(server_->port(), "/count"); });
  std::this_thread::sleep_for(300ms);  // read and queued: the I/O thread is free

  auto stopped = std::async(std::launch::async, [&] { server_->stop(); });
  std::this_thread::sleep_for(600ms);  // past the shutdown timeout
  gate_.open();
  stopped.get();
  server_.reset();  // closes the connections it gave up on

  // The stop gave up on both connections: neither is answered, and the
  // queued request, whose client might take its silence for a failure and
  // send it again, was not run.
  EXPECT_EQ(counted_.load(), 0);
  EXPECT_TRUE(queued.get().error);
  EXPECT_TRUE(slow.get().error);
}

TEST_F(ServerTest, WithoutHandlerThreadsTheHandlersRunOnTheIoThreads) {
  ServerOptions o;
  o.threads = 1;
  o.handler_threads = 0;
  start(o);
  auto slow = std::async(std::launch::async, [&] { return get(server_->port(), "/slow"); });
  ASSERT_TRUE(gate_.someone_waits(5s));

  // The one I/O thread is inside /slow's handler: /fast is not read meanwhile.
  Reply fast = get(server_->port(), "/fast", 500ms);
  EXPECT_EQ(fast.error, beast::error::timeout) << fast.error.message();

  gate_.open();
  Reply answered = slow.get();
  EXPECT_FALSE(answered.error) << answered.error.message();
  EXPECT_EQ(answered.body, "answered /slow");
  Reply later = get(server_->port(), "/fast");
  EXPECT_FALSE(later.error) << later.error.message();
  EXPECT_EQ(later.body, "answered /fast");
}

// A WebSocket handshake to `target`, then one text frame and its answer; a
// refused handshake gives the HTTP status and body it was refused with.
struct WsReply {
  beast::error_code error;
  unsigned refused_status = 0;
  std::string refused_body;
  std::string echoed;
};

WsReply ws_exchange(unsigned short port, const std::string& target, std::chrono::milliseconds timeout = 10s) {
  net::io_context ioc;
  beast::websocket::stream<beast::tcp_stream> ws(ioc);
  beast::websocket::response_type handshake;
  beast::flat_buffer buffer;
  WsReply reply;
  beast::get_lowest_layer(ws).expires_after(timeout);
  beast::get_lowest_layer(ws).async_connect(
      net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port), [&](beast::error_code ec) {
        if (ec) {
          reply.error = ec;
          return;
        }
        ws.async_handshake(handshake, "127.0.0.1", target, [&](beast::error_code shook) {
          if (shook) {
            reply.error = shook;
            reply.refused_status = handshake.result_int();
            reply.refused_body = handshake.body();
            return;
          }
          ws.text(true);
          ws.async_write(net::buffer(std::string("hello")), [&](beast::error_code written, size_t) {
            if (written) {
              reply.error = written;
              return;
            }
            ws.async_read(buffer, [&](beast::error_code read, size_t) {
              reply.error = read;
              if (!read) reply.echoed = beast::buffers_to_string(buffer.data());
              beast::get_lowest_layer(ws).close();
            });
          });
        });
      });
  ioc.run();
  return reply;
}

TEST_F(ServerTest, AnUpgradeHandlerThatWaitsHoldsNoIoThread) {
  ServerOptions o;
  o.threads = 1;  // with the upgrade handler on it, /fast would wait for the handshake
  o.handler_threads = 4;
  start(o);
  auto slow = std::async(std::launch::async, [&] { return ws_exchange(server_->port(), "/ws/slow"); });
  ASSERT_TRUE(gate_.someone_waits(5s));

  Reply fast = get(server_->port(), "/fast", 3s);
  EXPECT_FALSE(fast.error) << fast.error.message();
  EXPECT_EQ(fast.body, "answered /fast");
  EXPECT_EQ(slow.wait_for(0s), std::future_status::timeout) << "the handshake must still be waiting";

  // Back on the connection, the upgrade is accepted and the socket serves
  // frames.
  gate_.open();
  WsReply answered = slow.get();
  EXPECT_FALSE(answered.error) << answered.error.message();
  EXPECT_EQ(answered.echoed, "echo hello");
}

TEST_F(ServerTest, ARefusedUpgradeIsAnsweredFromThePool) {
  ServerOptions o;
  o.threads = 1;
  o.handler_threads = 2;
  start(o);
  auto slow = std::async(std::launch::async, [&] { return ws_exchange(server_->port(), "/ws/slow-refused"); });
  ASSERT_TRUE(gate_.someone_waits(5s));
  Reply fast = get(server_->port(), "/fast", 3s);
  EXPECT_FALSE(fast.error) << fast.error.message();
  EXPECT_EQ(fast.body, "answered /fast");

  gate_.open();
  WsReply refused = slow.get();
  EXPECT_EQ(refused.error, beast::websocket::error::upgrade_declined) << refused.error.message();
  EXPECT_EQ(refused.refused_status, 403u);
  EXPECT_EQ(refused.refused_body, "refused");
}

TEST_F(ServerTest, WithoutHandlerThreadsAnUpgradeIsDecidedOnTheIoThread) {
  ServerOptions o;
  o.threads = 1;
  o.handler_threads = 0;
  start(o);
  WsReply echoed = ws_exchange(server_->port(), "/ws/echo");
  EXPECT_FALSE(echoed.error) << echoed.error.message();
  EXPECT_EQ(echoed.echoed, "echo hello");
  WsReply refused = ws_exchange(server_->port(), "/ws/refused");
  EXPECT_EQ(refused.refused_status, 403u);

  auto slow = std::async(std::launch::async, [&] { return ws_exchange(server_->port(), "/ws/slow"); });
  ASSERT_TRUE(gate_.someone_waits(5s));
  // The one I/O thread is inside the upgrade handler: /fast is not read meanwhile.
  Reply fast = get(server_->port(), "/fast", 500ms);
  EXPECT_EQ(fast.error, beast::error::timeout) << fast.error.message();
  gate_.open();
  EXPECT_EQ(slow.get().echoed, "echo hello");
}

TEST_F(ServerTest, AnUpgradeDecidedWhileTheServerStopsIsAnswered503) {
  ServerOptions o;
  o.threads = 1;
  o.handler_threads = 2;
  o.shutdown_timeout = 8s;
  start(o);
  auto slow = std::async(std::launch::async, [&] { return ws_exchange(server_->port(), "/ws/slow"); });
  ASSERT_TRUE(gate_.someone_waits(5s));

  auto started = std::chrono::steady_clock::now();
  auto stopped = std::async(std::launch::async, [&] { server_->stop(); });
  // The stop waits for the upgrade being decided...
  EXPECT_EQ(stopped.wait_for(300ms), std::future_status::timeout);
  gate_.open();
  WsReply answered = slow.get();
  stopped.get();
  // ...which, decided now, opens no socket that would be closed at once.
  EXPECT_EQ(answered.error, beast::websocket::error::upgrade_declined) << answered.error.message();
  EXPECT_EQ(answered.refused_status, 503u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "the stop waited for its timeout";
}

}  // namespace
}  // namespace banshi::api
