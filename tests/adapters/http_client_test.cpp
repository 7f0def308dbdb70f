// First: Boost 1.74's awaitable.hpp needs <utility> before it (see adapters/net/asio.hpp).
#include "adapters/net/asio.hpp"

#include "adapters/net/http_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace lh = leadhatch::adapters::net;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// --- a self-signed certificate made at test time ---------------------------------------------------

struct TestCert {
    std::string cert_pem;
    std::string key_pem;
};

std::string bio_to_string(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

// Self-signed, CN `common_name`, subjectAltName `san` (OpenSSL config syntax).
TestCert make_self_signed(EVP_PKEY* key, const std::string& common_name, const std::string& san, long serial) {
    std::unique_ptr<X509, decltype(&X509_free)> x509(X509_new(), X509_free);
    X509_set_version(x509.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x509.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(x509.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x509.get()), 24L * 3600);
    X509_set_pubkey(x509.get(), key);
    X509_NAME* name = X509_get_subject_name(x509.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                               -1, -1, 0);
    X509_set_issuer_name(x509.get(), name);

    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x509.get(), x509.get(), nullptr, nullptr, 0);
    for (const auto& [nid, value] : std::vector<std::pair<int, std::string>>{
             {NID_subject_alt_name, san}, {NID_basic_constraints, "critical,CA:TRUE"}}) {
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
        if (ext == nullptr) throw std::runtime_error("X509V3_EXT_conf_nid failed");
        X509_add_ext(x509.get(), ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (X509_sign(x509.get(), key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");

    TestCert out;
    std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_X509(cert_bio.get(), x509.get());
    out.cert_pem = bio_to_string(cert_bio.get());
    std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_PrivateKey(key_bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
    out.key_pem = bio_to_string(key_bio.get());
    return out;
}

// --- a tiny Beast server on 127.0.0.1:0, on its own thread --------------------------------------------

enum class Mode {
    kEcho,                // answers every request (echoes method, target, headers, body), keeps the connection
    kCloseAfterResponse,  // answers one request with keep-alive, then closes the connection anyway
    kNeverRespond,        // reads the request and never answers
    kAnswerOnceThenDrop,  // answers the first request of all with keep-alive, then closes every connection
                          // (that one too) without answering
    kLargeBody,           // answers with a body of `large_body` bytes, with Content-Length
    kLargeChunked,        // the same body, chunked
    kLargeUntilClose,     // the same body, delimited by closing the connection
};

class TestServer {
public:
    explicit TestServer(Mode mode, const TestCert* cert = nullptr, std::size_t large_body = 0)
        : mode_(mode), large_body_(large_body), acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
        if (cert != nullptr) {
            tls_.emplace(ssl::context::tls_server);
            tls_->use_certificate_chain(asio::buffer(cert->cert_pem));
            tls_->use_private_key(asio::buffer(cert->key_pem), ssl::context::pem);
        }
        port_ = acceptor_.local_endpoint().port();
        asio::co_spawn(ioc_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~TestServer() {
        ioc_.stop();
        thread_.join();
    }
    TestServer(const TestServer&) = delete;
    TestServer& operator=(const TestServer&) = delete;

    std::string url(const std::string& path, const std::string& host = "127.0.0.1") const {
        return std::string(tls_ ? "https" : "http") + "://" + host + ":" + std::to_string(port_) + path;
    }
    unsigned short port() const { return port_; }
    int accepted() const { return accepted_.load(); }
    int handshakes_failed() const { return handshakes_failed_.load(); }
    std::string last_sni() const {
        std::lock_guard lock(mu_);
        return last_sni_;
    }

private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            error_code ec;
            tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            ++accepted_;
            if (tls_) {
                asio::co_spawn(ioc_, tls_session(std::move(socket)), asio::detached);
            } else {
                asio::co_spawn(ioc_, plain_session(std::move(socket)), asio::detached);
            }
        }
    }

    asio::awaitable<void> plain_session(tcp::socket socket) {
        beast::tcp_stream stream(std::move(socket));
        co_await serve(stream);
    }

    asio::awaitable<void> tls_session(tcp::socket socket) {
        beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls_);
        error_code ec;
        co_await stream.async_handshake(ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            ++handshakes_failed_;
            co_return;
        }
        const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
        {
            std::lock_guard lock(mu_);
            last_sni_ = sni != nullptr ? sni : "";
        }
        co_await serve(stream);
    }

    template <class Stream>
    asio::awaitable<void> serve(Stream& stream) {
        beast::flat_buffer buffer;
        for (;;) {
            http::request<http::string_body> req;
            error_code ec;
            co_await http::async_read(stream, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            if (mode_ == Mode::kAnswerOnceThenDrop && answered_ > 0) {
                beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
                beast::get_lowest_layer(stream).socket().close(ec);
                co_return;
            }
            ++answered_;
            if (mode_ == Mode::kNeverRespond) {
                // Hold the connection without answering until the client goes away.
                co_await http::async_read(stream, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
                co_return;
            }
            http::response<http::string_body> res{http::status::ok, req.version()};
            res.set("X-Custom-Header", "Value");
            res.set("X-Seen-Method", req.method_string());
            res.set("X-Seen-Target", req.target());
            res.set("X-Seen-Host", req[http::field::host]);
            res.set("X-Seen-User-Agent", req[http::field::user_agent]);
            res.set("X-Seen-Content-Type", req[http::field::content_type]);
            res.set("X-Seen-Content-Length", req[http::field::content_length]);
            res.set("X-Seen-Authorization", req[http::field::authorization]);
            const bool large =
                mode_ == Mode::kLargeBody || mode_ == Mode::kLargeChunked || mode_ == Mode::kLargeUntilClose;
            res.body() = large ? std::string(large_body_, 'x') : req.body();
            res.keep_alive(req.keep_alive());
            if (mode_ == Mode::kLargeChunked) {
                res.chunked(true);
            } else if (mode_ == Mode::kLargeUntilClose) {
                res.keep_alive(false);  // neither Content-Length nor chunked: the body ends at close
            } else {
                res.prepare_payload();
            }
            co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
            if (ec || mode_ == Mode::kCloseAfterResponse || mode_ == Mode::kAnswerOnceThenDrop || !res.keep_alive()) {
                // Abrupt close (no TLS close_notify), like servers that drop idle keep-alive connections.
                beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
                beast::get_lowest_layer(stream).socket().close(ec);
                co_return;
            }
        }
    }

    Mode mode_;
    std::size_t large_body_;
    asio::io_context ioc_;
    std::optional<ssl::context> tls_;
    tcp::acceptor acceptor_;
    unsigned short port_ = 0;
    std::atomic<int> accepted_{0};
    std::atomic<int> handshakes_failed_{0};
    int answered_ = 0;  // server thread only
    mutable std::mutex mu_;
    std::string last_sni_;  // guarded by mu_
    std::thread thread_;
};

// Runs `aw` to completion on `ioc` from the calling thread.
template <class T>
T run_on(asio::io_context& ioc, asio::awaitable<T> aw) {
    std::optional<T> out;
    std::exception_ptr error;
    asio::co_spawn(ioc, std::move(aw), [&](std::exception_ptr e, T value) {
        error = e;
        out = std::move(value);
    });
    ioc.restart();
    ioc.run();
    if (error) std::rethrow_exception(error);
    return std::move(*out);
}

lh::ApiRequest get(std::string url) {
    lh::ApiRequest r;
    r.method = "GET";
    r.url = std::move(url);
    r.log_label = "test.get";
    return r;
}

std::string header_or_empty(const lh::ApiResponse& r, std::string_view name) {
    const std::string* v = r.header(name);
    return v != nullptr ? *v : std::string{};
}

class HttpClientTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        key_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
        ASSERT_NE(key_, nullptr);
        cert_ = new TestCert(make_self_signed(key_, "localhost", "DNS:localhost,IP:127.0.0.1", 1));
        wrong_host_cert_ = new TestCert(make_self_signed(key_, "other.example", "DNS:other.example", 2));
        const auto dir = std::filesystem::temp_directory_path();
        ca_file_ = new std::string((dir / ("lh_http_client_test_ca_" + std::to_string(::getpid()) + ".pem")).string());
        wrong_ca_file_ =
            new std::string((dir / ("lh_http_client_test_wrong_ca_" + std::to_string(::getpid()) + ".pem")).string());
        std::ofstream(*ca_file_) << cert_->cert_pem;
        std::ofstream(*wrong_ca_file_) << wrong_host_cert_->cert_pem;
    }
    static void TearDownTestSuite() {
        std::remove(ca_file_->c_str());
        std::remove(wrong_ca_file_->c_str());
        delete ca_file_;
        delete wrong_ca_file_;
        delete cert_;
        delete wrong_host_cert_;
        EVP_PKEY_free(key_);
    }

    lh::ApiResponse send(lh::HttpClient& client, lh::ApiRequest request,
                         std::optional<milliseconds> timeout = std::nullopt) {
        return run_on(ioc_, client.send(std::move(request), timeout));
    }

    static lh::HttpClient::Options insecure() {
        lh::HttpClient::Options o;
        o.verify_tls = false;
        return o;
    }

    static inline EVP_PKEY* key_ = nullptr;
    static inline TestCert* cert_ = nullptr;
    static inline TestCert* wrong_host_cert_ = nullptr;
    static inline std::string* ca_file_ = nullptr;
    static inline std::string* wrong_ca_file_ = nullptr;

    asio::io_context ioc_;
};

// --- plain HTTP ----------------------------------------------------------------------------------------

TEST_F(HttpClientTest, Get_RoundTripsTargetHeadersAndLowerCasesResponseHeaders) {
    TestServer server(Mode::kEcho);
    lh::HttpClient client(ioc_, {});
    auto req = get(server.url("/bot123/getMe?x=1&y=two"));
    req.headers = {{"Authorization", "Bearer secret"}};

    const auto res = send(client, req);

    ASSERT_EQ(res.status, 200) << res.transport_error;
    EXPECT_FALSE(res.timed_out);
    EXPECT_TRUE(res.transport_error.empty());
    EXPECT_EQ(header_or_empty(res, "x-seen-method"), "GET");
    EXPECT_EQ(header_or_empty(res, "x-seen-target"), "/bot123/getMe?x=1&y=two");
    EXPECT_EQ(header_or_empty(res, "x-seen-host"), "127.0.0.1:" + std::to_string(server.port()));
    EXPECT_EQ(header_or_empty(res, "x-seen-user-agent"), "leadhatch/0.1");
    EXPECT_EQ(header_or_empty(res, "x-seen-authorization"), "Bearer secret");
    EXPECT_EQ(header_or_empty(res, "x-seen-content-type"), "");  // no body, no Content-Type
    EXPECT_EQ(header_or_empty(res, "x-custom-header"), "Value");
    for (const auto& [name, value] : res.headers) {
        for (const char c : name) EXPECT_FALSE(c >= 'A' && c <= 'Z') << name;
    }
    EXPECT_EQ(res.body, "");
}

TEST_F(HttpClientTest, Post_SendsBodyContentTypeAndContentLength) {
    TestServer server(Mode::kEcho);
    lh::HttpClient client(ioc_, {});
    lh::ApiRequest req;
    req.url = server.url("/sendMessage");
    req.body = R"({"chat_id":42,"text":"hi"})";
    req.headers = {{"X-Extra", "1"}};

    const auto res = send(client, req);

    ASSERT_EQ(res.status, 200) << res.transport_error;
    EXPECT_EQ(header_or_empty(res, "x-seen-method"), "POST");
    EXPECT_EQ(header_or_empty(res, "x-seen-content-type"), "application/json");
    EXPECT_EQ(header_or_empty(res, "x-seen-content-length"), std::to_string(req.body.size()));
    EXPECT_EQ(res.body, req.body);
}

TEST_F(HttpClientTest, ExtraHeader_ReplacesDefaultOfSameName) {
    TestServer server(Mode::kEcho);
    lh::HttpClient client(ioc_, {});
    auto req = get(server.url("/"));
    req.headers = {{"user-agent", "custom/2"}};

    const auto res = send(client, req);

    ASSERT_EQ(res.status, 200) << res.transport_error;
    EXPECT_EQ(header_or_empty(res, "x-seen-user-agent"), "custom/2");
}

TEST_F(HttpClientTest, KeepAlive_SequentialRequestsReuseOneConnection) {
    TestServer server(Mode::kEcho);
    lh::HttpClient client(ioc_, {});

    const auto first = send(client, get(server.url("/one")));
    EXPECT_EQ(client.idle_connections(), 1U);
    const auto second = send(client, get(server.url("/two")));

    ASSERT_EQ(first.status, 200) << first.transport_error;
    ASSERT_EQ(second.status, 200) << second.transport_error;
    EXPECT_EQ(header_or_empty(second, "x-seen-target"), "/two");
    EXPECT_EQ(client.connections_opened(), 1U);
    EXPECT_EQ(server.accepted(), 1);
    EXPECT_EQ(client.idle_connections(), 1U);
}

TEST_F(HttpClientTest, CloseIdle_DropsPooledConnections) {
    TestServer server(Mode::kEcho);
    lh::HttpClient client(ioc_, {});

    ASSERT_EQ(send(client, get(server.url("/"))).status, 200);
    ASSERT_EQ(client.idle_connections(), 1U);
    client.close_idle();
    EXPECT_EQ(client.idle_connections(), 0U);
    ASSERT_EQ(send(client, get(server.url("/"))).status, 200);

    EXPECT_EQ(client.connections_opened(), 2U);
    EXPECT_EQ(server.accepted(), 2);
}

TEST_F(HttpClientTest, MaxIdlePerHost_Zero_NeverPools) {
    TestServer server(Mode::kEcho);
    lh::HttpClient::Options o;
    o.max_idle_per_host = 0;
    lh::HttpClient client(ioc_, o);

    ASSERT_EQ(send(client, get(server.url("/"))).status, 200);
    EXPECT_EQ(client.idle_connections(), 0U);
    ASSERT_EQ(send(client, get(server.url("/"))).status, 200);
    EXPECT_EQ(client.connections_opened(), 2U);
}

TEST_F(HttpClientTest, ServerClosedIdleConnection_RetriedOnceOnFreshConnection) {
    TestServer server(Mode::kCloseAfterResponse);
    lh::HttpClient client(ioc_, {});

    const auto first = send(client, get(server.url("/one")));
    ASSERT_EQ(first.status, 200) << first.transport_error;
    ASSERT_EQ(client.idle_connections(), 1U);  // the response said keep-alive

    lh::ApiRequest post;
    post.url = server.url("/two");
    post.body = "payload";
    const auto second = send(client, post);

    ASSERT_EQ(second.status, 200) << second.transport_error;
    EXPECT_EQ(second.body, "payload");
    EXPECT_EQ(header_or_empty(second, "x-seen-target"), "/two");
    EXPECT_EQ(client.connections_opened(), 2U);
    EXPECT_EQ(server.accepted(), 2);
}

TEST_F(HttpClientTest, ServerClosedIdleConnection_RetriedOnlyOnce) {
    TestServer server(Mode::kAnswerOnceThenDrop);
    lh::HttpClient client(ioc_, {});

    ASSERT_EQ(send(client, get(server.url("/one"))).status, 200);
    ASSERT_EQ(client.idle_connections(), 1U);
    const auto second = send(client, get(server.url("/two")));

    // The pooled connection was dead; the one retry on a fresh connection is dropped too: no third try.
    EXPECT_EQ(second.status, 0);
    EXPECT_FALSE(second.transport_error.empty());
    EXPECT_EQ(client.connections_opened(), 2U);
    EXPECT_EQ(server.accepted(), 2);
}

TEST_F(HttpClientTest, FreshConnectionClosedWithoutAnswer_IsNotRetried) {
    TestServer server(Mode::kAnswerOnceThenDrop);
    lh::HttpClient::Options o;
    o.max_idle_per_host = 0;  // every request on a fresh connection
    lh::HttpClient client(ioc_, o);

    ASSERT_EQ(send(client, get(server.url("/one"))).status, 200);
    const auto second = send(client, get(server.url("/two")));

    EXPECT_EQ(second.status, 0);
    EXPECT_THAT(second.transport_error, StartsWith("read"));
    EXPECT_EQ(client.connections_opened(), 2U);
    EXPECT_EQ(server.accepted(), 2);
}

TEST_F(HttpClientTest, Timeout_ServerNeverAnswers_TimesOutWithinDeadline) {
    TestServer server(Mode::kNeverRespond);
    lh::HttpClient client(ioc_, {});

    const auto start = std::chrono::steady_clock::now();
    const auto res = send(client, get(server.url("/slow")), milliseconds(300));
    const auto elapsed = std::chrono::steady_clock::now() - start;

    EXPECT_EQ(res.status, 0);
    EXPECT_TRUE(res.timed_out);
    EXPECT_TRUE(res.transport_failed());
    EXPECT_THAT(res.transport_error, HasSubstr("timed out"));
    EXPECT_GE(elapsed, milliseconds(280));
    EXPECT_LT(elapsed, milliseconds(2000));
    EXPECT_EQ(client.idle_connections(), 0U);  // discarded
}

TEST_F(HttpClientTest, Timeout_DefaultsToOptionsRequestTimeout) {
    TestServer server(Mode::kNeverRespond);
    lh::HttpClient::Options o;
    o.request_timeout = milliseconds(200);
    lh::HttpClient client(ioc_, o);

    const auto start = std::chrono::steady_clock::now();
    const auto res = send(client, get(server.url("/slow")));
    const auto elapsed = std::chrono::steady_clock::now() - start;

    EXPECT_EQ(res.status, 0);
    EXPECT_TRUE(res.timed_out);
    EXPECT_GE(elapsed, milliseconds(180));
    EXPECT_LT(elapsed, milliseconds(2000));
}

TEST_F(HttpClientTest, ConnectRefused_ReturnsStatusZeroWithoutThrowing) {
    unsigned short port = 0;
    {
        tcp::acceptor probe(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        port = probe.local_endpoint().port();
    }  // closed: nothing listens there now
    lh::HttpClient client(ioc_, {});

    const auto res = send(client, get("http://127.0.0.1:" + std::to_string(port) + "/"));

    EXPECT_EQ(res.status, 0);
    EXPECT_FALSE(res.timed_out);
    EXPECT_THAT(res.transport_error, StartsWith("connect"));
    EXPECT_EQ(client.connections_opened(), 0U);
}

TEST_F(HttpClientTest, OversizedResponse_IsRejected_ForEveryFraming) {
    for (const Mode mode : {Mode::kLargeBody, Mode::kLargeChunked, Mode::kLargeUntilClose}) {
        SCOPED_TRACE(static_cast<int>(mode));
        TestServer server(mode, nullptr, 4096);
        lh::HttpClient::Options o;
        o.max_response_bytes = 1024;
        lh::HttpClient client(ioc_, o);

        const auto res = send(client, get(server.url("/big")));

        EXPECT_EQ(res.status, 0);
        EXPECT_FALSE(res.timed_out);
        EXPECT_EQ(res.transport_error, "response too large");
        EXPECT_EQ(client.idle_connections(), 0U);
    }
}

TEST_F(HttpClientTest, ResponseAtLimit_IsAccepted_ForEveryFraming) {
    for (const Mode mode : {Mode::kLargeBody, Mode::kLargeChunked, Mode::kLargeUntilClose}) {
        SCOPED_TRACE(static_cast<int>(mode));
        TestServer server(mode, nullptr, 1024);
        lh::HttpClient::Options o;
        o.max_response_bytes = 1024;
        lh::HttpClient client(ioc_, o);

        const auto res = send(client, get(server.url("/big")));

        ASSERT_EQ(res.status, 200) << res.transport_error;
        EXPECT_EQ(res.body, std::string(1024, 'x'));
        // Only a keep-alive response with a known end leaves a reusable connection.
        EXPECT_EQ(client.idle_connections(), mode == Mode::kLargeUntilClose ? 0U : 1U);
    }
}

TEST_F(HttpClientTest, BadUrlOrHeaders_ReturnTransportErrorWithoutConnecting) {
    TestServer server(Mode::kEcho);
    lh::HttpClient client(ioc_, {});

    const auto ftp = send(client, get("ftp://127.0.0.1:" + std::to_string(server.port()) + "/"));
    EXPECT_EQ(ftp.status, 0);
    EXPECT_THAT(ftp.transport_error, HasSubstr("scheme"));

    EXPECT_EQ(send(client, get("not a url")).status, 0);
    EXPECT_EQ(send(client, get("http:///path")).status, 0);
    EXPECT_EQ(send(client, get("http://127.0.0.1:99999/")).status, 0);

    auto injected = get(server.url("/"));
    injected.headers = {{"X-Evil", "a\r\nX-Other: b"}};
    const auto inj = send(client, injected);
    EXPECT_EQ(inj.status, 0);
    EXPECT_FALSE(inj.transport_error.empty());

    auto bad_method = get(server.url("/"));
    bad_method.method = "GET /x HTTP/1.1\r\n";
    EXPECT_EQ(send(client, bad_method).status, 0);

    EXPECT_EQ(server.accepted(), 0);
    EXPECT_EQ(client.connections_opened(), 0U);
}

TEST_F(HttpClientTest, Destructor_WithRequestInFlight_DoesNotCrash) {
    TestServer server(Mode::kNeverRespond);
    auto client = std::make_unique<lh::HttpClient>(ioc_, lh::HttpClient::Options{});
    std::optional<lh::ApiResponse> result;
    asio::co_spawn(ioc_, client->send(get(server.url("/")), milliseconds(300)),
                   [&](std::exception_ptr, lh::ApiResponse r) { result = std::move(r); });

    ioc_.run_for(milliseconds(100));  // connected, request written, waiting for the answer
    ASSERT_FALSE(result.has_value());
    client.reset();
    ioc_.run();

    ASSERT_TRUE(result.has_value());
    EXPECT_EQ(result->status, 0);
    EXPECT_TRUE(result->timed_out);
}

// --- concurrency ---------------------------------------------------------------------------------------

struct Tally {
    std::atomic<int> ok{0};
    std::mutex mu;
    std::vector<std::string> failures;  // guarded by mu
};

// A free coroutine, not a lambda: its parameters live in its own frame.
asio::awaitable<void> worker(lh::HttpClient& client, const TestServer& server, Tally& tally, int w, int per_worker) {
    for (int i = 0; i < per_worker; ++i) {
        lh::ApiRequest req;
        req.url = server.url("/w" + std::to_string(w));
        req.body = "worker " + std::to_string(w) + " request " + std::to_string(i);
        const auto res = co_await client.send(req, milliseconds(3000));
        if (res.status == 200 && res.body == req.body) {
            ++tally.ok;
        } else {
            std::lock_guard lock(tally.mu);
            tally.failures.push_back(std::to_string(res.status) + " " + res.transport_error);
        }
    }
}

void run_concurrently(lh::HttpClient& client, asio::io_context& ioc, const TestServer& server, int workers,
                      int per_worker, Tally& tally) {
    for (int w = 0; w < workers; ++w) {
        // Half the workers run on their own strand, half directly on the multi-threaded io_context.
        if (w % 2 == 0) {
            asio::co_spawn(asio::make_strand(ioc), worker(client, server, tally, w, per_worker), asio::detached);
        } else {
            asio::co_spawn(ioc, worker(client, server, tally, w, per_worker), asio::detached);
        }
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) threads.emplace_back([&ioc] { ioc.run(); });
    for (auto& t : threads) t.join();
}

TEST_F(HttpClientTest, ConcurrentSends_OnMultiThreadedIoContext_AllSucceed) {
    TestServer server(Mode::kEcho);
    lh::HttpClient client(ioc_, {});
    Tally tally;

    run_concurrently(client, ioc_, server, 8, 10, tally);

    EXPECT_EQ(tally.ok.load(), 80);
    EXPECT_THAT(tally.failures, ::testing::IsEmpty());
    EXPECT_GE(client.connections_opened(), 1U);
    EXPECT_LE(client.connections_opened(), 8U);  // at most one per concurrent request: the rest were reused
    EXPECT_LE(client.idle_connections(), 8U);
    EXPECT_EQ(static_cast<std::size_t>(server.accepted()), client.connections_opened());
}

TEST_F(HttpClientTest, ConcurrentSends_OverTls_AllSucceed) {
    TestServer server(Mode::kEcho, cert_);
    lh::HttpClient client(ioc_, insecure());
    Tally tally;

    run_concurrently(client, ioc_, server, 6, 5, tally);

    EXPECT_EQ(tally.ok.load(), 30);
    EXPECT_THAT(tally.failures, ::testing::IsEmpty());
    EXPECT_LE(client.connections_opened(), 6U);
}

// --- HTTPS ---------------------------------------------------------------------------------------------

TEST_F(HttpClientTest, Https_WithoutVerification_WorksAndReusesConnection) {
    TestServer server(Mode::kEcho, cert_);
    lh::HttpClient client(ioc_, insecure());
    lh::ApiRequest req;
    req.url = server.url("/secure");
    req.body = "{}";

    const auto first = send(client, req);
    const auto second = send(client, req);

    ASSERT_EQ(first.status, 200) << first.transport_error;
    ASSERT_EQ(second.status, 200) << second.transport_error;
    EXPECT_EQ(second.body, "{}");
    EXPECT_EQ(client.connections_opened(), 1U);
    EXPECT_EQ(server.accepted(), 1);
    EXPECT_EQ(server.last_sni(), "");  // no SNI for IP literals
}

TEST_F(HttpClientTest, Https_VerifyOn_FailsForUntrustedSelfSignedCertificate) {
    TestServer server(Mode::kEcho, cert_);
    lh::HttpClient client(ioc_, {});

    const auto res = send(client, get(server.url("/")));

    EXPECT_EQ(res.status, 0);
    EXPECT_FALSE(res.timed_out);
    EXPECT_THAT(res.transport_error, StartsWith("tls handshake"));
    EXPECT_EQ(client.idle_connections(), 0U);
}

TEST_F(HttpClientTest, Https_VerifyOn_WithCaFile_SucceedsForIpSan) {
    TestServer server(Mode::kEcho, cert_);
    lh::HttpClient::Options o;
    o.ca_file = *ca_file_;
    lh::HttpClient client(ioc_, o);

    const auto res = send(client, get(server.url("/ip")));

    ASSERT_EQ(res.status, 200) << res.transport_error;
    EXPECT_EQ(header_or_empty(res, "x-seen-target"), "/ip");
}

TEST_F(HttpClientTest, Https_VerifyOn_WithCaFile_SucceedsForHostNameAndSendsSni) {
    TestServer server(Mode::kEcho, cert_);
    lh::HttpClient::Options o;
    o.ca_file = *ca_file_;
    lh::HttpClient client(ioc_, o);

    const auto res = send(client, get(server.url("/name", "localhost")));

    ASSERT_EQ(res.status, 200) << res.transport_error;
    EXPECT_EQ(server.last_sni(), "localhost");
    EXPECT_EQ(header_or_empty(res, "x-seen-host"), "localhost:" + std::to_string(server.port()));
}

TEST_F(HttpClientTest, Https_VerifyOn_FailsWhenCertificateIsForAnotherHost) {
    TestServer server(Mode::kEcho, wrong_host_cert_);
    lh::HttpClient::Options o;
    o.ca_file = *wrong_ca_file_;  // trusted, but issued to other.example only
    lh::HttpClient client(ioc_, o);

    const auto res = send(client, get(server.url("/")));

    EXPECT_EQ(res.status, 0);
    EXPECT_THAT(res.transport_error, StartsWith("tls handshake"));
}

TEST_F(HttpClientTest, Https_ServerClosedIdleConnection_RetriedOnceOnFreshConnection) {
    TestServer server(Mode::kCloseAfterResponse, cert_);
    lh::HttpClient client(ioc_, insecure());

    const auto first = send(client, get(server.url("/one")));
    ASSERT_EQ(first.status, 200) << first.transport_error;
    ASSERT_EQ(client.idle_connections(), 1U);
    const auto second = send(client, get(server.url("/two")));

    ASSERT_EQ(second.status, 200) << second.transport_error;
    EXPECT_EQ(header_or_empty(second, "x-seen-target"), "/two");
    EXPECT_EQ(client.connections_opened(), 2U);
}

TEST_F(HttpClientTest, Https_Timeout_ServerNeverAnswers) {
    TestServer server(Mode::kNeverRespond, cert_);
    lh::HttpClient client(ioc_, insecure());

    const auto start = std::chrono::steady_clock::now();
    const auto res = send(client, get(server.url("/slow")), milliseconds(300));
    const auto elapsed = std::chrono::steady_clock::now() - start;

    EXPECT_EQ(res.status, 0);
    EXPECT_TRUE(res.timed_out);
    EXPECT_GE(elapsed, milliseconds(280));
    EXPECT_LT(elapsed, milliseconds(2000));
}

TEST_F(HttpClientTest, ConnectTimeout_BoundsTlsHandshake) {
    // Listening but never accepting: the kernel completes the TCP handshake, nobody answers TLS.
    tcp::acceptor silent(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    lh::HttpClient::Options o;
    o.verify_tls = false;
    o.connect_timeout = milliseconds(200);
    lh::HttpClient client(ioc_, o);

    const auto start = std::chrono::steady_clock::now();
    const auto res = send(client, get("https://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/"),
                          milliseconds(5000));
    const auto elapsed = std::chrono::steady_clock::now() - start;

    EXPECT_EQ(res.status, 0);
    EXPECT_TRUE(res.timed_out);
    EXPECT_THAT(res.transport_error, HasSubstr("connect timed out"));
    EXPECT_GE(elapsed, milliseconds(180));
    EXPECT_LT(elapsed, milliseconds(2000));
    EXPECT_EQ(client.connections_opened(), 1U);  // TCP connected; the handshake timed out
}

TEST_F(HttpClientTest, Constructor_ThrowsForUnreadableCaFile) {
    lh::HttpClient::Options o;
    o.ca_file = "/nonexistent/lh-ca.pem";
    EXPECT_THROW(lh::HttpClient(ioc_, o), std::runtime_error);
}

}  // namespace
