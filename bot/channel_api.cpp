#include "bot/channel_api.hpp"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "adapters/chat/wechat/wechat_oa_adapter.hpp"
#include "adapters/net/http_client.hpp"
#include "bot/access_tokens.hpp"
#include "bot/webhooks.hpp"
#include "core/leads/referral.hpp"

namespace leadhatch::bot {

namespace {

using nlohmann::json;
using adapters::chat::SendOutcome;

constexpr std::int64_t kMaxExpireSeconds = 2'592'000;  // 30 days, WeChat's limit for temporary codes
constexpr std::int64_t kMinExpireSeconds = 60;

HttpResponse bad_request(std::string_view message, std::string_view field) {
    return json_error(400, "invalid", message, field);
}

// The bearer token's role, or the answer that refuses the request (401 / 403).
std::variant<const AdminToken*, HttpResponse> authorize(const Config& config, const HttpRequest& req,
                                                         std::initializer_list<Role> roles) {
    const std::string_view* h = req.header("authorization");
    std::string_view token;
    if (h && h->size() > 7 && adapters::net::iequals(h->substr(0, 7), "bearer ")) token = h->substr(7);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    const AdminToken* found = nullptr;
    if (!token.empty()) {
        const auto digest = sha256(token);
        for (const auto& t : config.admin_tokens) {  // always all of them
            if (CRYPTO_memcmp(t.sha256.data(), digest.data(), digest.size()) == 0) found = &t;
        }
    }
    if (!found) {
        auto r = json_error(401, "unauthorized", "a valid bearer token is required");
        r.headers.emplace_back("WWW-Authenticate", "Bearer");
        return r;
    }
    for (Role r : roles) {
        if (found->role == r) return found;
    }
    return json_error(403, "forbidden", "role " + std::string(to_string(found->role)) + " may not do this");
}

// scene_str: 1-64 characters; ours are "src_<campaign>", "ref_<referral code>", "rep_<owner>".
std::optional<std::string> scene_problem(const std::string& scene) {
    if (scene.empty() || scene.size() > 64) return "1-64 characters";
    for (char c : scene) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '-' || c == '.' || c == '@';
        if (!ok) return "letters, digits, '_', '-', '.' and '@' only";
    }
    const std::string_view v(scene);
    if (v.size() > 4 && (v.starts_with("src_") || v.starts_with("rep_"))) return std::nullopt;
    if (v.size() > 4 && v.starts_with("ref_")) {
        if (!core::parse_referral_code(v.substr(4))) return "ref_ needs a lead's referral code";
        return std::nullopt;
    }
    return "src_<campaign>, ref_<referral code> or rep_<owner>";
}

}  // namespace

ChannelApi::ChannelApi(Deps deps) : deps_(deps) {}

void ChannelApi::add_routes(const AddRoute& add) {
    add("POST", "/api/v1/channels/{id}/qrcodes",
        [this](HttpRequest& req, const RouteParams& params) { return create_qrcode(req, params); });
}

Task<HttpResponse> ChannelApi::create_qrcode(HttpRequest& req, const RouteParams& params) {
    auto who = authorize(deps_.config, req, {Role::kAdmin, Role::kMarketer});
    if (auto* deny = std::get_if<HttpResponse>(&who)) co_return std::move(*deny);
    const std::string* id = find_param(params, "id");
    const ChannelConfig* channel = id ? deps_.config.channel(*id) : nullptr;
    if (!channel) co_return json_error(404, "not_found", "no such channel", "id");
    const auto* adapter = dynamic_cast<const adapters::wechat::WechatOaAdapter*>(deps_.webhooks.adapter(*id));
    if (channel->platform != core::Platform::kWechatOa || !adapter) {
        co_return json_error(409, "conflict",
                             "channel '" + *id + "' is a " + std::string(core::to_string(channel->platform)) +
                                 " channel; parametric QR codes need a wechat_oa channel",
                             "id");
    }

    if (req.body.size() > 16 * 1024) co_return bad_request("body too large", "");
    const json body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) co_return bad_request("body must be a JSON object", "");
    adapters::wechat::QrCodeRequest q;
    std::optional<std::int64_t> expire;
    for (const auto& [key, v] : body.items()) {
        if (key == "scene") {
            if (!v.is_string()) co_return bad_request("a string", "scene");
            q.scene = v.get<std::string>();
        } else if (key == "permanent") {
            if (!v.is_boolean()) co_return bad_request("true or false", "permanent");
            q.permanent = v.get<bool>();
        } else if (key == "expire_seconds") {
            if (!v.is_number_integer()) co_return bad_request("an integer", "expire_seconds");
            expire = v.get<std::int64_t>();
        } else {
            co_return bad_request("unknown field", key);
        }
    }
    if (!body.contains("scene")) co_return bad_request("required", "scene");
    if (auto problem = scene_problem(q.scene)) co_return bad_request(*problem, "scene");
    if (expire) {
        if (q.permanent) co_return bad_request("permanent codes do not expire", "expire_seconds");
        if (*expire < kMinExpireSeconds || *expire > kMaxExpireSeconds) {
            co_return bad_request("from 60 to 2592000 (30 days)", "expire_seconds");
        }
        q.expire_seconds = *expire;
    }

    // One retry after a refresh when WeChat says the token is no longer valid.
    auto& tokens = deps_.webhooks.tokens();
    std::variant<adapters::wechat::QrCode, SendOutcome> result = SendOutcome{SendOutcome::Kind::kRetry, {}, ""};
    for (int round = 0; round < 2; ++round) {
        auto token = co_await tokens.get(*id);
        if (!token) {
            spdlog::warn("req={} channel={} qrcode: no access token", req.request_id, *id);
            co_return json_error(503, "unavailable", "no access token from the platform; try again later");
        }
        auto response = co_await deps_.webhooks.client().send(adapter->build_qrcode_request(q, *token));
        result = adapters::wechat::WechatOaAdapter::parse_qrcode_response(response);
        const auto* outcome = std::get_if<SendOutcome>(&result);
        if (!outcome || outcome->kind != SendOutcome::Kind::kTokenExpired) break;
        co_await tokens.invalidate(*id, *token);
    }
    if (const auto* outcome = std::get_if<SendOutcome>(&result)) {
        spdlog::warn("req={} channel={} qrcode refused: {}", req.request_id, *id, outcome->error);
        const bool transient = outcome->kind == SendOutcome::Kind::kRetry || outcome->kind == SendOutcome::Kind::kTokenExpired;
        co_return json_error(transient ? 503 : 502, transient ? "unavailable" : "platform_error", outcome->error);
    }
    const auto& code = std::get<adapters::wechat::QrCode>(result);
    json expires_at = nullptr;
    if (!q.permanent) {
        const auto seconds = code.expire_seconds.value_or(q.expire_seconds);
        expires_at = core::format_iso8601(deps_.clock.now() + std::chrono::seconds(seconds));
    }
    spdlog::info("req={} channel={} qrcode created ({})", req.request_id, *id, q.permanent ? "permanent" : "temporary");
    co_return json_response(201, json{{"ticket", code.ticket},
                                      {"url", adapters::wechat::WechatOaAdapter::showqrcode_url(code.ticket)},
                                      {"content_url", code.content_url},
                                      {"scene", q.scene},
                                      {"permanent", q.permanent},
                                      {"expires_at", expires_at}}
                                     .dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace leadhatch::bot
