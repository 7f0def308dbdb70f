#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "bot/config.hpp"
#include "core/clock.hpp"

namespace leadhatch::bot {

// The composition root: builds storage, the HTTP server, the ingest queue and the outbox
// dispatcher from the config, runs them on one io_context, and stops them in order on SIGTERM,
// SIGINT or stop(). Only this class knows all the components.
class App {
public:
    struct Options {
        const core::Clock* clock = nullptr;  // nullptr: the system clock
        bool handle_signals = true;
    };

    App(Config config, Options options);
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    // Runs until stopped; returns the process exit code (0 after a clean drain).
    int run();
    // Thread-safe: begins a graceful stop.
    void stop();
    // Blocks until the server listens (true) or run() failed (false).
    bool wait_listening(std::chrono::milliseconds timeout);
    std::uint16_t port() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace leadhatch::bot
