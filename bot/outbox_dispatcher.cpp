#include "bot/outbox_dispatcher.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include <random>
#include <unordered_map>

#include "bot/access_tokens.hpp"
#include "core/error.hpp"
#include "core/util/json_writer.hpp"

namespace leadhatch::bot {

namespace net = boost::asio;
using adapters::chat::SendOutcome;

namespace {

constexpr std::chrono::milliseconds kFlushEvery{20};
constexpr std::chrono::milliseconds kIdlePoll{2'000};
constexpr int kMaxInFlightPerChannel = 64;

}  // namespace

struct OutboxDispatcher::Impl : std::enable_shared_from_this<Impl> {
    explicit Impl(Deps d)
        : deps(std::move(d)),
          strand(net::make_strand(deps.ioc)),
          timer(strand),
          rng(std::random_device{}()),
          sent(deps.metrics.counter("leadhatch_outbox_sent_total", "Outbound messages the platform accepted.")),
          retried(deps.metrics.counter("leadhatch_outbox_retries_total", "Sends that will be retried.")),
          rate_limited(deps.metrics.counter("leadhatch_outbox_rate_limited_total",
                                            "Sends the platform deferred with 429 retry_after.")),
          dead(deps.metrics.counter("leadhatch_outbox_dead_total", "Outbound messages dead-lettered.")),
          suppressed(deps.metrics.counter("leadhatch_outbox_suppressed_total",
                                          "Outbound messages not sent (opted out, unreachable).")) {
        for (const auto& [id, ch] : deps.channels) lanes.emplace(id, Lane{ch.adapter, core::SendScheduler(ch.limits), 0});
    }

    struct Lane {
        const adapters::chat::ChatAdapter* adapter;
        core::SendScheduler scheduler;
        int in_flight;
    };
    struct Pending {
        core::OutboxRecord row;
        core::OutboundMessage message;
    };

    Deps deps;
    net::strand<net::io_context::executor_type> strand;
    net::steady_timer timer;
    std::mt19937_64 rng;
    Metrics::Counter& sent;
    Metrics::Counter& retried;
    Metrics::Counter& rate_limited;
    Metrics::Counter& dead;
    Metrics::Counter& suppressed;

    std::map<std::string, Lane> lanes;
    std::unordered_map<std::int64_t, Pending> pending;  // claimed, waiting in a lane or being sent
    std::vector<core::OutboxResult> results;            // to record
    core::WriteSet writes;                              // recorded with them
    std::size_t in_flight = 0;
    bool stopping = false;
    bool running = false;
    bool woken = false;  // a wake() arrived while the loop was busy
    bool db_failed = false;

    core::Timestamp now() const { return deps.clock.now(); }

    void notify() {
        woken = true;
        timer.cancel();
    }

    double random01() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }

    void finish(const core::OutboxRecord& row, core::OutboxStatus status, int attempts, std::string error,
                core::Timestamp retry_at = {}) {
        results.push_back(core::OutboxResult{row.id, status, retry_at, attempts, std::move(error)});
        pending.erase(row.id.value);
    }

    void accept(core::OutboxRecord row) {
        auto msg = core::outbound_from_json(row.body);
        auto lane = lanes.find(row.channel_id);
        if (!msg) {
            dead.inc();
            finish(row, core::OutboxStatus::kDead, row.attempts, "unreadable outbox body");
            return;
        }
        if (lane == lanes.end()) {
            dead.inc();
            finish(row, core::OutboxStatus::kDead, row.attempts, "channel is not configured");
            return;
        }
        if (msg->kind == core::OutboundKind::kText && row.recipient_unreachable) {
            suppressed.inc();
            finish(row, core::OutboxStatus::kSuppressed, row.attempts, "recipient unreachable");
            return;
        }
        if (row.marketing && row.recipient_opted_out) {
            suppressed.inc();
            finish(row, core::OutboxStatus::kSuppressed, row.attempts, "recipient opted out");
            return;
        }
        msg->idem_key = row.idem_key;
        const auto t = now();
        // A row that would wait in memory past half its lease goes back to the table, due when
        // its chat's queue will have drained: no lease runs out under a row we still hold.
        const auto finish_at = lane->second.scheduler.projected_finish(row.chat_id, row.is_group, 1, t);
        if (finish_at > t + deps.config.lease / 2) {
            finish(row, core::OutboxStatus::kPending, row.attempts, row.last_error, finish_at);
            return;
        }
        lane->second.scheduler.push(row.chat_id, row.is_group, row.id.value, t);
        const auto id = row.id.value;
        pending.emplace(id, Pending{std::move(row), std::move(*msg)});
    }

    // Starts every send the limits allow now; returns when to look again.
    std::optional<core::Timestamp> pump() {
        std::optional<core::Timestamp> wake_at;
        const auto t = now();
        for (auto& [channel, lane] : lanes) {
            while (lane.in_flight < kMaxInFlightPerChannel) {
                auto next = lane.scheduler.pop(t);
                if (!next.item) {
                    if (next.wake_at && (!wake_at || *next.wake_at < *wake_at)) wake_at = next.wake_at;
                    break;
                }
                auto it = pending.find(*next.item);
                if (it == pending.end()) continue;
                ++lane.in_flight;
                ++in_flight;
                net::co_spawn(strand, send(shared_from_this(), &lane, *next.item), [](std::exception_ptr e) {
                    if (!e) return;
                    try {
                        std::rethrow_exception(e);
                    } catch (const std::exception& ex) {
                        spdlog::error("outbox: send failed: {}", ex.what());
                    }
                });
            }
        }
        return wake_at;
    }

    static Task<void> send(std::shared_ptr<Impl> self, Lane* lane, std::int64_t id) {
        const auto message = self->pending.at(id).message;
        auto* tokens = self->deps.tokens && self->deps.tokens->uses_tokens(message.channel_id) ? self->deps.tokens
                                                                                                 : nullptr;
        SendOutcome outcome;
        // An expired token is refreshed once and the send repeated; it does not count as a try.
        for (int round = 0; round < 2; ++round) {
            std::string token;
            if (tokens) {
                auto t = co_await tokens->get(message.channel_id);
                if (!t) {
                    outcome = SendOutcome{SendOutcome::Kind::kRetry, {}, "no access token"};
                    break;
                }
                token = *t;
            }
            auto request = lane->adapter->build_send(message, token);
            auto response = co_await self->deps.client.send(std::move(request), self->deps.config.request_timeout);
            outcome = lane->adapter->interpret_send(message, response);
            if (outcome.kind != SendOutcome::Kind::kTokenExpired || !tokens) break;
            co_await tokens->invalidate(message.channel_id, token);
        }
        auto it = self->pending.find(id);
        --lane->in_flight;
        --self->in_flight;
        if (it == self->pending.end()) co_return;
        self->record(*lane, it->second, outcome);
        self->notify();
    }

    void record(Lane& lane, Pending& p, const SendOutcome& outcome) {
        const auto t = now();
        const auto& row = p.row;
        const int attempts = row.attempts + 1;
        switch (outcome.kind) {
            case SendOutcome::Kind::kSent:
                sent.inc();
                finish(row, core::OutboxStatus::kSent, attempts, {});
                return;
            case SendOutcome::Kind::kRetryAfter: {
                // The platform told us when: wait exactly that long, and hold the whole chat.
                rate_limited.inc();
                const auto at = t + outcome.retry_after;
                lane.scheduler.pause_chat(row.chat_id, at);
                spdlog::info("outbox: {} asked to wait {} ms (row {})", row.channel_id, outcome.retry_after.count(),
                             row.id.value);
                finish(row, core::OutboxStatus::kPending, row.attempts, outcome.error, at);
                return;
            }
            case SendOutcome::Kind::kRetry:
            case SendOutcome::Kind::kTokenExpired:
                if (attempts >= deps.config.max_attempts) {
                    dead.inc();
                    spdlog::warn("outbox: row {} dead after {} attempts: {}", row.id.value, attempts, outcome.error);
                    finish(row, core::OutboxStatus::kDead, attempts, outcome.error);
                } else {
                    retried.inc();
                    const auto delay = core::backoff_delay(attempts, deps.config.base_backoff, deps.config.max_backoff,
                                                           random01());
                    finish(row, core::OutboxStatus::kPending, attempts, outcome.error, t + delay);
                }
                return;
            case SendOutcome::Kind::kUnreachable:
                dead.inc();
                if (!row.is_group) {
                    core::IdentityUpdate u;
                    u.key = core::IdentityKey{row.channel_id, row.chat_id};
                    u.unreachable = true;
                    u.at = t;
                    writes.identity_updates.push_back(std::move(u));
                }
                if (row.lead_id) {
                    writes.events.push_back(core::EventRow{row.lead_id, row.channel_id, "unreachable", "system", t,
                                                           core::JsonWriter().field("error", outcome.error).finish()});
                }
                finish(row, core::OutboxStatus::kDead, attempts, outcome.error);
                return;
            case SendOutcome::Kind::kWindowClosed:
                suppressed.inc();
                finish(row, core::OutboxStatus::kSuppressed, attempts, outcome.error);
                return;
            case SendOutcome::Kind::kFailed:
                dead.inc();
                spdlog::warn("outbox: row {} failed: {}", row.id.value, outcome.error);
                finish(row, core::OutboxStatus::kDead, attempts, outcome.error);
                return;
        }
    }

    Task<void> flush() {
        if (results.empty() && writes.empty()) co_return;
        auto batch = std::move(results);
        auto w = std::move(writes);
        results.clear();
        writes = core::WriteSet{};
        w.now = now();
        try {
            co_await offload(deps.db_pool, [this, &batch, &w] {
                deps.storage.complete_outbox(batch, w, w.now);
                return 0;
            });
            db_failed = false;
        } catch (const std::exception& e) {
            if (!db_failed) spdlog::warn("outbox: cannot record {} results yet: {}", batch.size(), e.what());
            db_failed = true;
            results.insert(results.begin(), batch.begin(), batch.end());
            writes = std::move(w);
        }
    }

    std::size_t backlog() const { return pending.size(); }

    static Task<void> stop_on_strand(std::shared_ptr<Impl> impl) {
        impl->stopping = true;
        impl->notify();
        net::steady_timer t(impl->strand);
        while (impl->running) {
            t.expires_after(std::chrono::milliseconds(10));
            boost::system::error_code ec;
            co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
        }
    }

    Task<void> loop(std::shared_ptr<Impl> self) {
        (void)self;
        while (!stopping) {
            woken = false;
            co_await flush();
            std::optional<core::Timestamp> db_next;
            if (!db_failed && backlog() < static_cast<std::size_t>(deps.config.batch)) {
                try {
                    const auto t = now();
                    auto rows = co_await offload(deps.db_pool, [this, t] {
                        return deps.storage.claim_outbox(t, t + deps.config.lease, deps.config.batch);
                    });
                    for (auto& r : rows) accept(std::move(r));
                    if (static_cast<int>(rows.size()) >= deps.config.batch) {
                        woken = true;  // more may be due
                    } else {
                        db_next = co_await offload(deps.db_pool, [this] { return deps.storage.next_outbox_due(); });
                    }
                } catch (const std::exception& e) {
                    spdlog::warn("outbox: cannot claim rows: {}", e.what());
                    db_failed = true;
                }
            }
            const auto lane_next = pump();
            if (stopping) break;
            if (woken) continue;
            // Sleep until something is due, a send finishes, results are waiting, or wake().
            auto wait = std::chrono::milliseconds(kIdlePoll);
            const auto t = now();
            auto until = [&](core::Timestamp at) {
                auto d = std::chrono::duration_cast<std::chrono::milliseconds>(at - t);
                wait = std::min(wait, std::max(d, std::chrono::milliseconds(0)));
            };
            if (lane_next) until(*lane_next);
            if (db_next) until(*db_next);
            if (!results.empty() || !writes.empty()) wait = std::min(wait, kFlushEvery);
            if (db_failed) wait = std::max(wait, std::chrono::milliseconds(500));
            timer.expires_after(wait);
            boost::system::error_code ec;
            co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
        }
        // Stopping: let sends in flight finish, hand back what we hold, record everything.
        while (in_flight > 0) {
            timer.expires_after(std::chrono::milliseconds(10));
            boost::system::error_code ec;
            co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
        }
        for (auto& [id, p] : pending) {
            results.push_back(
                core::OutboxResult{p.row.id, core::OutboxStatus::kPending, now(), p.row.attempts, p.row.last_error});
        }
        pending.clear();
        for (int attempt = 0; attempt < 3 && (!results.empty() || !writes.empty()); ++attempt) co_await flush();
        running = false;
    }
};

OutboxDispatcher::OutboxDispatcher(Deps deps) : impl_(std::make_shared<Impl>(std::move(deps))) {}
OutboxDispatcher::~OutboxDispatcher() = default;

void OutboxDispatcher::start() {
    net::post(impl_->strand, [impl = impl_] {
        if (impl->running || impl->stopping) return;
        impl->running = true;
        net::co_spawn(impl->strand, impl->loop(impl), [](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                spdlog::error("outbox: dispatcher stopped: {}", ex.what());
            }
        });
    });
}

void OutboxDispatcher::wake() {
    net::post(impl_->strand, [impl = impl_] { impl->notify(); });
}

Task<void> OutboxDispatcher::stop() {
    // Runs on the dispatcher's strand, like everything that touches its state. A coroutine function
    // with the state as its parameter, not a capturing lambda coroutine: built with g++ 12, the
    // lambda temporary in this co_await dropped one reference too many (ASan: Impl used after free
    // when the service exited after a SIGTERM).
    auto op = net::co_spawn(impl_->strand, Impl::stop_on_strand(impl_), net::use_awaitable);
    co_await std::move(op);
}

}  // namespace leadhatch::bot
