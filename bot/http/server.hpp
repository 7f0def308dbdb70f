#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "bot/asio.hpp"
#include "bot/config.hpp"

namespace leadhatch::bot {

class Router;
class Metrics;

// HTTP/1.1 server on Beast with C++20 coroutines: `threads` network threads, each with its own
// io_context (connections are spread over them, so a connection needs no strand), one coroutine
// per connection, keep-alive, a body limit (413), header/body/idle timeouts against slow clients, a cap on open
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

    // Binds, starts the network threads and accepts on `ioc`. Throws std::system_error when the
    // address cannot be bound. The destructor stops the network threads.
    void start();
    std::uint16_t port() const;

    // Thread-safe. Stops accepting and closes idle connections.
    void stop_accepting();
    // Stops the network threads and closes every connection still open (the destructor does
    // this too). Not concurrent with start().
    void stop();
    std::size_t open_connections() const;
    std::size_t requests_in_flight() const;

private:
    struct Impl;
    struct Worker;
    std::shared_ptr<Impl> impl_;
    std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace leadhatch::bot
