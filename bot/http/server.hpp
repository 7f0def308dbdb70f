#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "bot/asio.hpp"
#include "bot/config.hpp"

namespace leadhatch::bot {

class Router;
class Metrics;

// HTTP/1.1 server on Beast with C++20 coroutines: one coroutine per connection on its own strand,
// keep-alive, a body limit (413), header/body/idle timeouts against slow clients, a cap on open
// connections, and a graceful stop (no new connections; idle keep-alive connections are closed;
// requests in flight finish and are answered with "Connection: close").
// Beast stays inside server.cpp.
class HttpServer {
public:
    // The router is complete before the server is built (its routes become the metrics' labels).
    HttpServer(asio::io_context& ioc, ServerConfig config, const Router& router, Metrics& metrics);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and starts accepting. Throws std::system_error when the address cannot be bound.
    void start();
    std::uint16_t port() const;

    // Thread-safe. Stops accepting and closes idle connections.
    void stop_accepting();
    std::size_t open_connections() const;
    std::size_t requests_in_flight() const;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace leadhatch::bot
