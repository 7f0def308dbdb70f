// The HTTP server over real loopback sockets: routing, limits, timeouts, keep-alive, the
// connection cap and a graceful stop with a request in flight.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "bot/http/router.hpp"
#include "bot/http/server.hpp"
#include "bot/metrics.hpp"
#include "tests/support/raw_http.hpp"

namespace leadhatch::bot {
namespace {

using namespace std::chrono_literals;
using testing::RawConn;
using testing::http_request;

class HttpServerTest : public ::testing::Test {
protected:
    void start(ServerConfig cfg = {}) {
        cfg.host = "127.0.0.1";
        cfg.port = 0;
        router_.add("GET", "/ok", [](HttpRequest&, const RouteParams&) -> Task<HttpResponse> {
            co_return text_response(200, "fine\n");
        });
        router_.add("POST", "/echo", [](HttpRequest& r, const RouteParams&) -> Task<HttpResponse> {
            co_return text_response(200, r.body);
        });
        router_.add("GET", "/items/{id}", [](HttpRequest& r, const RouteParams& p) -> Task<HttpResponse> {
            co_return text_response(200, *find_param(p, "id") + "|" + r.query_param("q").value_or("-"));
        });
        router_.add("GET", "/slow", [this](HttpRequest&, const RouteParams&) -> Task<HttpResponse> {
            slow_started_.set_value();
            asio::steady_timer t(co_await asio::this_coro::executor, 400ms);
            co_await t.async_wait(asio::use_awaitable);
            co_return text_response(200, "slow done\n");
        });
        router_.add("GET", "/throw", [](HttpRequest&, const RouteParams&) -> Task<HttpResponse> {
            throw std::runtime_error("secret internal detail");
            co_return text_response(200, "");
        });
        server_ = std::make_unique<HttpServer>(ioc_, cfg, router_, metrics_);
        server_->start();
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
    }
    static ServerConfig with_timeouts(std::chrono::milliseconds header, std::chrono::milliseconds body,
                                      std::chrono::milliseconds idle) {
        ServerConfig cfg;
        cfg.header_timeout = header;
        cfg.body_timeout = body;
        cfg.idle_timeout = idle;
        return cfg;
    }
    void TearDown() override {
        if (server_) server_->stop_accepting();
        ioc_.stop();
        for (auto& t : threads_) t.join();
    }
    std::uint16_t port() const { return server_->port(); }

    asio::io_context ioc_;
    asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
    Router router_;
    Metrics metrics_;
    std::unique_ptr<HttpServer> server_;
    std::vector<std::thread> threads_;
    std::promise<void> slow_started_;
};

TEST_F(HttpServerTest, RoutesRequests_WithParamsAndQuery) {
    start();
    auto r = http_request(port(), "GET", "/ok");
    EXPECT_EQ(RawConn::status_of(r), 200);
    EXPECT_EQ(RawConn::body_of(r), "fine\n");
    EXPECT_NE(RawConn::lower(r).find("x-request-id: "), std::string::npos);
    auto p = http_request(port(), "GET", "/items/a%20b?q=x%2By+z");
    EXPECT_EQ(RawConn::body_of(p), "a b|x+y z");
    EXPECT_EQ(RawConn::status_of(http_request(port(), "GET", "/nope")), 404);
    auto m = http_request(port(), "DELETE", "/ok");
    EXPECT_EQ(RawConn::status_of(m), 405);
    EXPECT_NE(RawConn::lower(m).find("allow: get"), std::string::npos);
    auto e = http_request(port(), "POST", "/echo", "héllo 你好");
    EXPECT_EQ(RawConn::body_of(e), "héllo 你好");
}

TEST_F(HttpServerTest, HidesHandlerErrors_Behind500) {
    start();
    auto r = http_request(port(), "GET", "/throw");
    EXPECT_EQ(RawConn::status_of(r), 500);
    EXPECT_EQ(r.find("secret internal detail"), std::string::npos);
}

TEST_F(HttpServerTest, Answers413_ForBodiesOverTheLimit) {
    ServerConfig cfg;
    cfg.max_body_bytes = 1024;
    start(cfg);
    EXPECT_EQ(RawConn::status_of(http_request(port(), "POST", "/echo", std::string(1024, 'x'))), 200);
    // Declared too large: refused before the body is read.
    EXPECT_EQ(RawConn::status_of(http_request(port(), "POST", "/echo", std::string(1025, 'x'))), 413);
    // Chunked, growing past the limit while it is read.
    RawConn c(port());
    std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) req += "200\r\n" + std::string(512, 'y') + "\r\n";
    req += "0\r\n\r\n";
    c.send(req);
    EXPECT_EQ(RawConn::status_of(c.read_all(3s)), 413);
    EXPECT_TRUE(c.closed());
}

TEST_F(HttpServerTest, Answers100Continue_ThenTheResponse) {
    start();
    RawConn c(port());
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    auto interim = c.read_response(2s);
    EXPECT_EQ(RawConn::status_of(interim), 100);
    c.send("hello");
    auto r = c.read_response(2s);
    EXPECT_EQ(RawConn::status_of(r), 200);
    EXPECT_EQ(RawConn::body_of(r), "hello");
}

TEST_F(HttpServerTest, KeepsConnectionsAlive_AcrossRequests) {
    start();
    RawConn c(port());
    for (int i = 0; i < 3; ++i) {
        c.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
        auto r = c.read_response(2s);
        EXPECT_EQ(RawConn::status_of(r), 200) << i;
    }
    EXPECT_FALSE(c.closed());
}

TEST_F(HttpServerTest, ClosesSlowClients_AfterTheHeaderTimeout) {
    ServerConfig cfg;
    cfg.header_timeout = 300ms;
    cfg.body_timeout = 300ms;
    start(cfg);
    RawConn slow_header(port());
    slow_header.send("GET /ok HTTP/1.1\r\nHost: x\r\n");  // never finishes the header
    const auto t0 = std::chrono::steady_clock::now();
    auto r = slow_header.read_all(3s);
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(slow_header.closed());
    EXPECT_LT(waited, 2s);
    EXPECT_GE(waited, 250ms);

    RawConn slow_body(port());
    slow_body.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a bit");
    slow_body.read_all(3s);
    EXPECT_TRUE(slow_body.closed());
    // The server is still fine for everyone else.
    EXPECT_EQ(RawConn::status_of(http_request(port(), "GET", "/ok")), 200);
}

TEST_F(HttpServerTest, ClosesIdleKeepAliveConnections_AfterTheIdleTimeout) {
    start(with_timeouts(5s, 5s, 300ms));
    RawConn conn(port());
    conn.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(RawConn::status_of(conn.read_response(2s)), 200);
    const auto t0 = std::chrono::steady_clock::now();
    conn.read_all(4s);
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(conn.closed());
    EXPECT_GE(waited, 250ms);
    EXPECT_LT(waited, 2s);  // the idle timeout, not the header timeout of 5 s
}

TEST_F(HttpServerTest, ClosesClientsThatTrickleTheHeader_AtTheHeaderTimeout) {
    ServerConfig cfg;
    cfg.header_timeout = 400ms;
    start(cfg);
    RawConn conn(port());
    const auto t0 = std::chrono::steady_clock::now();
    const std::string request = "GET /ok HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    // A byte every 50 ms: each read succeeds, but the header as a whole is late.
    for (char c : request) {
        if (!conn.send(std::string(1, c))) break;
        std::this_thread::sleep_for(50ms);
        if (std::chrono::steady_clock::now() - t0 > 3s) break;
    }
    conn.read_all(2s);
    EXPECT_TRUE(conn.closed());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST_F(HttpServerTest, KeepsBusyConnectionsOpen_LongPastEveryTimeout) {
    start(with_timeouts(100ms, 100ms, 100ms));
    RawConn conn(port());
    const auto t0 = std::chrono::steady_clock::now();
    int answered = 0;
    while (std::chrono::steady_clock::now() - t0 < 800ms) {
        ASSERT_TRUE(conn.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
        const auto r = conn.read_response(2s);
        ASSERT_EQ(RawConn::status_of(r), 200) << "request " << answered;
        ASSERT_EQ(RawConn::body_of(r), "hello");
        ++answered;
        std::this_thread::sleep_for(20ms);  // well inside the idle timeout
    }
    EXPECT_GT(answered, 10);
    EXPECT_FALSE(conn.closed());
}

TEST_F(HttpServerTest, RejectsMalformedRequests_With400) {
    start();
    RawConn c(port());
    c.send("THIS IS NOT HTTP\r\n\r\n");
    EXPECT_EQ(RawConn::status_of(c.read_all(2s)), 400);
    RawConn big(port());
    big.send("GET /ok HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
    EXPECT_EQ(RawConn::status_of(big.read_all(2s)), 431);
}

TEST_F(HttpServerTest, CapsOpenConnections_With503) {
    ServerConfig cfg;
    cfg.max_connections = 2;
    start(cfg);
    RawConn a(port());
    RawConn b(port());
    a.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
    b.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(RawConn::status_of(a.read_response(2s)), 200);
    ASSERT_EQ(RawConn::status_of(b.read_response(2s)), 200);
    auto third = http_request(port(), "GET", "/ok");
    EXPECT_EQ(RawConn::status_of(third), 503);
}

TEST_F(HttpServerTest, StopsGracefully_FinishingTheRequestInFlight) {
    start();
    RawConn idle(port());  // an idle keep-alive connection: closed at once on stop
    idle.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(RawConn::status_of(idle.read_response(2s)), 200);

    auto in_flight = std::async(std::launch::async, [&] { return http_request(port(), "GET", "/slow"); });
    slow_started_.get_future().wait();
    server_->stop_accepting();
    // The idle connection is closed without waiting for its timeout.
    idle.read_all(2s);
    EXPECT_TRUE(idle.closed());
    // New connections are refused.
    std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(http_request(port(), "GET", "/ok").empty());
    // The request in flight completes normally, told that the connection closes.
    auto r = in_flight.get();
    EXPECT_EQ(RawConn::status_of(r), 200);
    EXPECT_EQ(RawConn::body_of(r), "slow done\n");
    EXPECT_NE(RawConn::lower(r).find("connection: close"), std::string::npos);
    for (int i = 0; i < 100 && server_->open_connections() > 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(server_->open_connections(), 0u);
}

TEST_F(HttpServerTest, CountsRequestsByRouteAndStatus) {
    start();
    http_request(port(), "GET", "/ok");
    http_request(port(), "GET", "/ok");
    http_request(port(), "GET", "/missing");
    const auto text = metrics_.render();
    EXPECT_NE(text.find("leadhatch_http_requests_total{route=\"/ok\",status=\"200\"} 2"), std::string::npos) << text;
    EXPECT_NE(text.find("leadhatch_http_requests_total{route=\"unmatched\",status=\"404\"} 1"), std::string::npos);
    EXPECT_NE(text.find("leadhatch_http_request_duration_seconds_count{route=\"/ok\"} 2"), std::string::npos);
}

}  // namespace
}  // namespace leadhatch::bot
