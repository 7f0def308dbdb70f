#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "adapters/net/asio.hpp"
#include "adapters/net/http_types.hpp"

namespace leadhatch::adapters::net {

// An asynchronous HTTP/1.1 client on Beast for platform APIs: http:// and https:// (OpenSSL,
// certificate and host name verification on by default, SNI), keep-alive connections reused per
// scheme+host+port, connect and whole-request timeouts, a response size limit. Beast stays in the
// .cpp. Thread-safe: send() may be called from any thread/strand concurrently.
class HttpClient {
public:
    struct Options {
        bool verify_tls = true;
        std::string ca_file;  // extra CA bundle (PEM); the system store is always used
        std::chrono::milliseconds connect_timeout{5000};
        std::chrono::milliseconds request_timeout{10000};
        std::size_t max_idle_per_host = 16;
        std::size_t max_response_bytes = 8 * 1024 * 1024;
    };

    HttpClient(boost::asio::io_context& ioc, Options options);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Never throws for network or protocol failures: they come back as status 0 with
    // transport_error set (timed_out for timeouts). A reused keep-alive connection that turns out
    // to be closed by the server is retried once on a fresh connection.
    boost::asio::awaitable<ApiResponse> send(ApiRequest request,
                                             std::optional<std::chrono::milliseconds> timeout = std::nullopt);

    // Closes pooled idle connections (shutdown).
    void close_idle();

    std::size_t idle_connections() const;
    std::size_t connections_opened() const;  // total fresh connections made (tests check reuse)

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace leadhatch::adapters::net
