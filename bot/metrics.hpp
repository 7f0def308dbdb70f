#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace leadhatch::bot {

// Prometheus metrics without a library: counters are atomics, the text is rendered on scrape.
// Routes and named counters are registered at start-up; recording is lock-free.
class Metrics {
public:
    static constexpr std::array<double, 14> kBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                     0.1,    0.25,  0.5,    1,     2.5,   5,     10};
    static constexpr std::array<int, 22> kStatuses{100, 200, 201, 202, 204, 301, 302, 304, 400, 401, 403,
                                                   404, 405, 408, 409, 413, 415, 429, 500, 502, 503, 504};

    class Counter {
    public:
        void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
        std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

    private:
        std::atomic<std::uint64_t> v_{0};
    };

    // Registers a route label; returns its index for observe(). Not thread-safe: start-up only.
    int add_route(std::string name);
    void observe(int route, int status, double seconds);

    // A counter with a fixed label set, e.g. ("leadhatch_webhook_events_total", "platform=\"telegram\"").
    // Start-up only; the returned reference stays valid.
    Counter& counter(const std::string& name, const std::string& help, const std::string& labels = {});
    // A gauge read at scrape time.
    void gauge(const std::string& name, const std::string& help, std::function<double()> read,
               const std::string& labels = {});

    std::string render() const;

private:
    struct Route {
        std::string name;
        std::array<std::atomic<std::uint64_t>, kStatuses.size() + 1> by_status{};
        std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> buckets{};
        std::atomic<std::uint64_t> count{0};
        std::atomic<std::uint64_t> sum_us{0};
    };
    struct NamedCounter {
        std::string name, help, labels;
        Counter counter;
    };
    struct Gauge {
        std::string name, help, labels;
        std::function<double()> read;
    };
    std::vector<std::unique_ptr<Route>> routes_;
    std::vector<std::unique_ptr<NamedCounter>> counters_;
    std::vector<Gauge> gauges_;
};

}  // namespace leadhatch::bot
