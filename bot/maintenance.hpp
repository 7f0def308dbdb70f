#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "bot/asio.hpp"
#include "core/clock.hpp"
#include "core/leads/lead_service.hpp"
#include "core/storage/storage.hpp"

namespace leadhatch::bot {

// Background upkeep that costs O(work due), never a sweep of every row: grades that decay has
// brought down (leads whose grade_expires_at has passed), and inbound ids old enough that no
// platform retries them any more.
class Maintenance {
public:
    struct Deps {
        asio::io_context& ioc;
        asio::thread_pool& db_pool;
        core::Storage& storage;
        const core::LeadService& leads;
        const core::Clock& clock;
        const std::atomic<bool>& ready;
        std::chrono::milliseconds every{60'000};
        std::chrono::hours keep_processed{24 * 7};
    };

    explicit Maintenance(Deps deps);
    ~Maintenance();
    void start();
    Task<void> stop();

    // One pass of each job (blocking: call off the network threads). Return how many rows changed.
    int refresh_grades(core::Timestamp now, int limit = 500);
    std::int64_t prune_processed(core::Timestamp now);

private:
    struct Impl;
    static Task<void> loop(std::shared_ptr<Impl> impl, Maintenance* self);
    std::shared_ptr<Impl> impl_;
};

}  // namespace leadhatch::bot
