#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "bot/asio.hpp"
#include "bot/config.hpp"
#include "bot/http/router.hpp"
#include "core/clock.hpp"
#include "core/conversation/ingest.hpp"
#include "core/messaging/templates.hpp"
#include "core/storage/storage.hpp"

namespace leadhatch::adapters::chat {
class ChatAdapter;
}
namespace leadhatch::adapters::net {
class HttpClient;
}

namespace leadhatch::bot {

class AccessTokens;
class IngestQueue;
class Metrics;
class OutboxDispatcher;

// The messaging side of the service: one adapter per configured channel, the webhook routes
// (authenticate, parse, group-commit, answer), and the outbox dispatcher that sends replies.
class Webhooks {
public:
    struct Deps {
        const Config& config;
        asio::io_context& ioc;
        asio::thread_pool& db_pool;
        core::Storage& storage;
        IngestQueue& ingest;
        Metrics& metrics;
        const core::Clock& clock;
        const core::TemplateCatalog& templates;
        const std::atomic<bool>& ready;  // the schema is migrated: webhooks may be stored
    };

    explicit Webhooks(Deps deps);
    ~Webhooks();

    using AddRoute = std::function<void(const char* method, const char* pattern, Handler handler)>;
    void add_routes(const AddRoute& add);
    void start();
    Task<void> stop();

    adapters::net::HttpClient& client() { return *client_; }
    AccessTokens& tokens() { return *tokens_; }
    const adapters::chat::ChatAdapter* adapter(std::string_view channel_id) const;

private:
    Task<HttpResponse> handle(HttpRequest& req, const RouteParams& params);
    Task<void> requeue_late(core::IngestResult& result, const std::string& request_id, const std::string& channel_id);

    struct Counters;
    Deps deps_;
    std::map<std::string, std::unique_ptr<adapters::chat::ChatAdapter>, std::less<>> adapters_;
    std::unique_ptr<adapters::net::HttpClient> client_;
    std::unique_ptr<AccessTokens> tokens_;
    std::unique_ptr<OutboxDispatcher> dispatcher_;
    std::map<std::string, std::unique_ptr<Counters>, std::less<>> counters_;
};

}  // namespace leadhatch::bot
