#include "bot/maintenance.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

namespace leadhatch::bot {

namespace net = boost::asio;

struct Maintenance::Impl {
    explicit Impl(Deps d) : deps(std::move(d)), strand(net::make_strand(deps.ioc)), timer(strand) {}
    Deps deps;
    net::strand<net::io_context::executor_type> strand;  // the loop and stop() meet here
    net::steady_timer timer;
    std::atomic<bool> stopping{false};
    std::atomic<bool> running{false};
};

Maintenance::Maintenance(Deps deps) : impl_(std::make_shared<Impl>(std::move(deps))) {}
Maintenance::~Maintenance() = default;

int Maintenance::refresh_grades(core::Timestamp now, int limit) {
    auto& d = impl_->deps;
    auto due = d.storage.leads_with_grade_due(now, limit);
    if (due.empty()) return 0;
    int changed = 0;
    auto tx = d.storage.begin_write();
    for (const auto& candidate : due) {
        auto lead = tx->lead_for_update(candidate.id);
        if (!lead || !lead->grade_expires_at || *lead->grade_expires_at > now || lead->merged_into) continue;
        core::WriteSet w;
        w.now = now;
        core::LeadUpdate u;
        u.id = lead->id;
        u.at = now;
        const auto s = d.leads.rescore(*lead, {}, now);
        d.leads.record_score(*lead, s, {}, core::Actor{"system"}, {}, w, u);
        w.lead_updates.push_back(std::move(u));
        tx->apply(w);
        ++changed;
    }
    tx->commit();
    return changed;
}

std::int64_t Maintenance::prune_processed(core::Timestamp now) {
    auto& d = impl_->deps;
    const auto before = now - std::chrono::duration_cast<std::chrono::milliseconds>(d.keep_processed);
    std::int64_t total = 0;
    for (int i = 0; i < 100; ++i) {  // at most 1M rows per pass, in small transactions
        const auto n = d.storage.prune_processed(before, 10'000);
        total += n;
        if (n < 10'000) break;
    }
    return total;
}

// A named coroutine, not a lambda: a coroutine lambda's captures live in the lambda object, which
// is gone long before the loop ends.
Task<void> Maintenance::loop(std::shared_ptr<Impl> impl, Maintenance* self) {
    while (!impl->stopping) {
        impl->timer.expires_after(impl->deps.every);
        boost::system::error_code ec;
        co_await impl->timer.async_wait(net::redirect_error(net::use_awaitable, ec));
        if (impl->stopping) break;
        if (!impl->deps.ready.load()) continue;
        try {
            const auto now = impl->deps.clock.now();
            const auto grades = co_await offload(impl->deps.db_pool, [&] { return self->refresh_grades(now); });
            const auto pruned = co_await offload(impl->deps.db_pool, [&] { return self->prune_processed(now); });
            if (grades > 0 || pruned > 0) {
                spdlog::info("maintenance: {} grades refreshed, {} old inbound ids forgotten", grades, pruned);
            }
        } catch (const std::exception& e) {
            spdlog::warn("maintenance: {}", e.what());
        }
    }
    impl->running = false;
}

void Maintenance::start() {
    impl_->running = true;
    net::co_spawn(impl_->timer.get_executor(), loop(impl_, this), [](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            spdlog::error("maintenance stopped: {}", ex.what());
        }
    });
}

Task<void> Maintenance::stop() {
    auto impl = impl_;
    impl->stopping = true;
    net::post(impl->timer.get_executor(), [impl] { impl->timer.cancel(); });
    net::steady_timer t(co_await net::this_coro::executor);
    while (impl->running) {
        t.expires_after(std::chrono::milliseconds(10));
        boost::system::error_code ec;
        co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
}

}  // namespace leadhatch::bot
