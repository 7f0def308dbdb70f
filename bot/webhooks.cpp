#include "bot/webhooks.hpp"

#include <spdlog/spdlog.h>

#include "adapters/chat/chat_adapter.hpp"
#include "adapters/chat/telegram/telegram_adapter.hpp"
#include "adapters/chat/wechat/wechat_oa_adapter.hpp"
#include "adapters/chat/wechat/wecom_adapter.hpp"
#include "adapters/net/http_client.hpp"
#include "bot/access_tokens.hpp"
#include "bot/ingest_queue.hpp"
#include "bot/metrics.hpp"
#include "bot/outbox_dispatcher.hpp"

namespace leadhatch::bot {

struct Webhooks::Counters {
    Metrics::Counter* accepted;
    Metrics::Counter* duplicate;
    Metrics::Counter* rejected;
    Metrics::Counter* unavailable;
    Metrics::Counter* failed;
};

namespace {

std::unique_ptr<adapters::chat::ChatAdapter> make_adapter(const ChannelConfig& ch) {
    switch (ch.platform) {
        case core::Platform::kTelegram: {
            adapters::telegram::TelegramSettings s;
            s.channel_id = ch.id;
            s.bot_token = ch.credential("bot_token");
            s.secret_token = ch.credential("secret_token");
            s.api_base = ch.api_base;
            s.bot_username = ch.bot_username;
            return std::make_unique<adapters::telegram::TelegramAdapter>(std::move(s));
        }
        case core::Platform::kWechatOa: {
            adapters::wechat::WechatOaSettings s;
            s.channel_id = ch.id;
            s.app_id = ch.credential("app_id");
            s.app_secret = ch.credential("app_secret");
            s.token = ch.credential("token");
            s.encoding_aes_key = ch.credential("encoding_aes_key");
            s.api_base = ch.api_base;
            s.replay_window = ch.replay_window;
            return std::make_unique<adapters::wechat::WechatOaAdapter>(std::move(s));
        }
        case core::Platform::kWecom: {
            adapters::wechat::WecomSettings s;
            s.channel_id = ch.id;
            s.corp_id = ch.credential("corp_id");
            s.agent_id = ch.credential("agent_id");
            s.secret = ch.credential("secret");
            s.token = ch.credential("token");
            s.encoding_aes_key = ch.credential("encoding_aes_key");
            s.api_base = ch.api_base;
            s.replay_window = ch.replay_window;
            return std::make_unique<adapters::wechat::WecomAdapter>(std::move(s));
        }
        default:
            return nullptr;
    }
}

}  // namespace

Webhooks::Webhooks(Deps deps) : deps_(deps) {
    adapters::net::HttpClient::Options co;
    co.request_timeout = deps_.config.outbox.request_timeout;
    bool verify = true;
    for (const auto& ch : deps_.config.channels) verify = verify && ch.verify_tls;
    co.verify_tls = verify;
    client_ = std::make_unique<adapters::net::HttpClient>(deps_.ioc, co);

    tokens_ = std::make_unique<AccessTokens>(
        AccessTokens::Deps{deps_.ioc, deps_.db_pool, deps_.storage, *client_, deps_.clock});
    OutboxDispatcher::Deps dd{deps_.ioc, deps_.db_pool, deps_.storage, *client_, deps_.clock, deps_.metrics,
                              deps_.config.outbox, {}, tokens_.get()};
    for (const auto& ch : deps_.config.channels) {
        auto adapter = make_adapter(ch);
        if (!adapter) continue;  // config validation only lets supported platforms through
        auto c = std::make_unique<Counters>();
        const std::string labels = "channel=\"" + ch.id + "\",outcome=";
        const char* help = "Webhook deliveries by channel and outcome.";
        c->accepted = &deps_.metrics.counter("leadhatch_webhook_deliveries_total", help, labels + "\"accepted\"");
        c->duplicate = &deps_.metrics.counter("leadhatch_webhook_deliveries_total", help, labels + "\"duplicate\"");
        c->rejected = &deps_.metrics.counter("leadhatch_webhook_deliveries_total", help, labels + "\"rejected\"");
        c->unavailable = &deps_.metrics.counter("leadhatch_webhook_deliveries_total", help, labels + "\"unavailable\"");
        c->failed = &deps_.metrics.counter("leadhatch_webhook_deliveries_total", help, labels + "\"failed\"");
        counters_.emplace(ch.id, std::move(c));
        dd.channels.emplace(ch.id, OutboxDispatcher::Channel{adapter.get(),
                                                             core::RateLimitSettings{ch.rate_limits.per_second,
                                                                                     ch.rate_limits.per_chat_per_second,
                                                                                     ch.rate_limits.per_group_per_minute}});
        tokens_->add_channel(ch.id, adapter.get());
        adapters_.emplace(ch.id, std::move(adapter));
    }
    dispatcher_ = std::make_unique<OutboxDispatcher>(std::move(dd));
    deps_.ingest.on_outbox([d = dispatcher_.get()] { d->wake(); });
}

Webhooks::~Webhooks() = default;

const adapters::chat::ChatAdapter* Webhooks::adapter(std::string_view channel_id) const {
    auto it = adapters_.find(channel_id);
    return it == adapters_.end() ? nullptr : it->second.get();
}

void Webhooks::add_routes(const AddRoute& add) {
    auto h = [this](HttpRequest& req, const RouteParams& params) { return handle(req, params); };
    add("POST", "/webhooks/{channel_id}", h);
    add("GET", "/webhooks/{channel_id}", h);
}

void Webhooks::start() { dispatcher_->start(); }

Task<void> Webhooks::stop() {
    co_await dispatcher_->stop();
    client_->close_idle();
}

// The platform has stopped waiting for this answer: a passive reply in it would be lost. It goes
// through the outbox instead (its own row; the passive one stays as the record of the attempt).
Task<void> Webhooks::requeue_late(core::IngestResult& result, const std::string& request_id,
                                  const std::string& channel_id) {
    core::WriteSet w;
    w.now = deps_.clock.now();
    w.outbox = core::requeue_late_passive(result.replies, w.now);
    if (w.outbox.empty()) co_return;
    try {
        co_await offload(deps_.db_pool, [this, &w] {
            auto tx = deps_.storage.begin_write();
            tx->apply(w);
            tx->commit();
            return 0;
        });
        spdlog::info("req={} channel={} passive reply too late: sent through the outbox", request_id, channel_id);
        if (dispatcher_) dispatcher_->wake();
    } catch (const std::exception& e) {
        spdlog::warn("req={} channel={} passive reply too late and could not be queued: {}", request_id, channel_id,
                     e.what());
    }
}

Task<HttpResponse> Webhooks::handle(HttpRequest& req, const RouteParams& params) {
    const std::string* channel_id = find_param(params, "channel_id");
    auto it = channel_id ? adapters_.find(*channel_id) : adapters_.end();
    if (it == adapters_.end()) co_return text_response(404, "unknown channel\n");
    const auto& adapter = *it->second;
    const auto& counters = *counters_.find(*channel_id)->second;

    const auto started = std::chrono::steady_clock::now();
    adapters::chat::WebhookRequest view{req.method, req.query(), req.body, &req.headers};
    auto parsed = adapter.parse_webhook(view, deps_.clock.now());
    if (parsed.status != 0) {
        if (parsed.status >= 400) {
            counters.rejected->inc();
            spdlog::info("req={} platform={} channel={} rejected: {} {}", req.request_id, core::to_string(adapter.platform()),
                         *channel_id, parsed.status, parsed.reason);
        }
        HttpResponse r = text_response(parsed.status, std::move(parsed.body));
        r.content_type = parsed.content_type;
        co_return r;
    }
    core::IngestResult result;
    if (!deps_.ready.load()) result.status = core::IngestStatus::kUnavailable;
    if (!parsed.delivery.events.empty() && result.status != core::IngestStatus::kUnavailable) {
        // Events the platform does not date (a button press) happened when we received them.
        const auto received = deps_.clock.now();
        for (auto& e : parsed.delivery.events) {
            if (e.occurred_at == core::Timestamp{}) e.occurred_at = received;
        }
        result = co_await deps_.ingest.submit(std::move(parsed.delivery));
    }
    switch (result.status) {
        case core::IngestStatus::kAccepted:
        case core::IngestStatus::kDuplicate: {
            (result.status == core::IngestStatus::kAccepted ? counters.accepted : counters.duplicate)->inc();
            if (const auto budget = adapter.reply_budget();
                budget && std::chrono::steady_clock::now() - started > *budget) {
                co_await requeue_late(result, req.request_id, *channel_id);
            }
            auto answer = adapter.answer(parsed, result);
            HttpResponse r = text_response(answer.status, std::move(answer.body));
            r.content_type = answer.content_type;
            co_return r;
        }
        case core::IngestStatus::kUnavailable: {
            counters.unavailable->inc();
            HttpResponse r = text_response(503, "storage unavailable, retry later\n");
            r.headers.emplace_back("Retry-After", "1");
            co_return r;
        }
        case core::IngestStatus::kFailed:
            counters.failed->inc();
            co_return text_response(500, "could not store the update\n");
    }
    co_return text_response(500, "unexpected\n");
}

}  // namespace leadhatch::bot
