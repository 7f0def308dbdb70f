#pragma once

#include <map>
#include <memory>
#include <string>

#include "adapters/chat/chat_adapter.hpp"
#include "adapters/net/http_client.hpp"
#include "bot/asio.hpp"
#include "bot/config.hpp"
#include "bot/metrics.hpp"
#include "core/clock.hpp"
#include "core/messaging/send_scheduler.hpp"
#include "core/storage/storage.hpp"

namespace leadhatch::bot {

// Sends what the outbox holds. Claims due rows with a lease, queues them per channel behind the
// platform's rate limits (fair across chats), sends them with the HTTP client and records each
// result: sent; retried with exponential backoff and jitter (5xx, network); retried exactly when
// the platform asks (429 retry_after); dead-lettered after max_attempts or on a final error
// (400); the identity marked unreachable on "blocked"/"chat not found" (403). Marketing rows
// for opted-out leads and rows for unreachable identities are suppressed, not sent.
//
// Every API call carries the row's idempotency key (header Idempotency-Key). A crash between a
// send and its record means the row is sent again after its lease runs out: at least once,
// never more often than the crashes make necessary.
//
// All state lives on one strand; the storage calls run on the database pool.
class AccessTokens;

class OutboxDispatcher {
public:
    struct Channel {
        const adapters::chat::ChatAdapter* adapter = nullptr;
        core::RateLimitSettings limits;
    };
    struct Deps {
        asio::io_context& ioc;
        asio::thread_pool& db_pool;
        core::Storage& storage;
        adapters::net::HttpClient& client;
        const core::Clock& clock;
        Metrics& metrics;
        OutboxConfig config;
        std::map<std::string, Channel> channels;
        AccessTokens* tokens = nullptr;  // for platforms with access tokens
    };

    explicit OutboxDispatcher(Deps deps);
    ~OutboxDispatcher();
    OutboxDispatcher(const OutboxDispatcher&) = delete;
    OutboxDispatcher& operator=(const OutboxDispatcher&) = delete;

    void start();
    void wake();  // thread-safe: new rows were committed
    // Finishes sends in flight, records every result, hands unsent claimed rows back. Idempotent.
    Task<void> stop();

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace leadhatch::bot
