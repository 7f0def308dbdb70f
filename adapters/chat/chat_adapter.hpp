#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/net/http_types.hpp"
#include "adapters/net/url.hpp"
#include "core/conversation/ingest.hpp"
#include "core/messaging/inbound.hpp"
#include "core/messaging/outbound.hpp"

namespace leadhatch::adapters::chat {

// A webhook request as a platform adapter sees it: no Beast, no server types.
struct WebhookRequest {
    std::string_view method;  // "GET" | "POST"
    std::string_view query;   // raw query string, without '?'
    std::string_view body;
    const net::HeaderViews* headers = nullptr;

    const std::string_view* header(std::string_view name) const;  // case-insensitive
    std::optional<std::string> query_param(std::string_view name) const;  // percent-decoded
};

// Platform-specific state carried from parsing to answering (e.g. WeChat's reply envelope).
struct ReplyContext {
    virtual ~ReplyContext() = default;
};

// What to do with a webhook request.
struct WebhookParse {
    // 0: store `delivery`, then call answer(). Otherwise answer at once with this status and body
    // (handshakes such as WeChat's echostr, 401 for a bad signature, 400 for a malformed body).
    int status = 0;
    std::string body;
    std::string content_type = "text/plain; charset=utf-8";
    std::string reason;  // for logs and metrics: "bad_secret", "malformed", "handshake", ...
    core::InboundDelivery delivery;
    std::unique_ptr<ReplyContext> context;

    static WebhookParse reply(int status, std::string body, std::string reason) {
        WebhookParse p;
        p.status = status;
        p.body = std::move(body);
        p.reason = std::move(reason);
        return p;
    }
};

struct WebhookAnswer {
    int status = 200;
    std::string body;
    std::string content_type = "text/plain; charset=utf-8";
};

// How a platform answered a send.
struct SendOutcome {
    enum class Kind {
        kSent,
        kRetryAfter,    // the platform said when (Telegram 429 retry_after): wait exactly that long
        kRetry,         // transient (5xx, network): exponential backoff with jitter
        kUnreachable,   // final: the person blocked us / the chat is gone; stop sending to them
        kFailed,        // final: the request itself is wrong (400); dead-letter it
        kTokenExpired,  // the access token was rejected: refresh it once, then retry
        kWindowClosed,  // final: outside the platform's reply window (WeChat 48 h)
    };
    Kind kind = Kind::kSent;
    std::chrono::milliseconds retry_after{0};
    std::string error;  // short, loggable, no secrets
};

// The part of a platform that the service talks to. Implementations are immutable after
// construction and thread-safe.
class ChatAdapter {
public:
    virtual ~ChatAdapter() = default;

    virtual core::Platform platform() const = 0;

    // Authenticates (constant-time) and parses a webhook request. Never throws on hostile input.
    virtual WebhookParse parse_webhook(const WebhookRequest& request, core::Timestamp now) const = 0;

    // The answer once the delivery is committed. `result.replies` are what the pipeline queued.
    virtual WebhookAnswer answer(const WebhookParse& parsed, const core::IngestResult& result) const {
        (void)parsed;
        (void)result;
        return WebhookAnswer{};
    }

    // How long the platform waits for the webhook's answer, for platforms whose answer can carry a
    // reply (WeChat passive replies). A passive reply that is not ready in time is sent through
    // the outbox instead, and the answer carries none.
    virtual std::optional<std::chrono::milliseconds> reply_budget() const { return std::nullopt; }

    // Outbound: the API call that sends `message`, given a current access token if the platform
    // uses one.
    virtual net::ApiRequest build_send(const core::OutboundMessage& message, std::string_view access_token) const = 0;
    virtual SendOutcome interpret_send(const core::OutboundMessage& message, const net::ApiResponse& response) const = 0;

    // Access tokens (WeChat, WeCom, ...). Platforms with static credentials return nullopt.
    virtual std::optional<net::ApiRequest> build_token_request() const { return std::nullopt; }
    struct AccessToken {
        std::string token;
        std::chrono::seconds expires_in{0};
    };
    virtual std::optional<AccessToken> parse_token_response(const net::ApiResponse& response) const {
        (void)response;
        return std::nullopt;
    }
};

// Bytes a and b are equal, in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace leadhatch::adapters::chat
