#include "adapters/chat/telegram/telegram_adapter.hpp"

#include <nlohmann/json.hpp>

#include <variant>

#include "adapters/chat/telegram/telegram_update.hpp"

namespace leadhatch::adapters::telegram {
namespace {

using nlohmann::json;

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    std::size_t i = s.front() == '-' ? 1 : 0;
    if (i == s.size()) return false;
    for (; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
}

// chat_id goes out as a number when it is one (Telegram accepts both; numbers avoid surprises
// with 64-bit ids in strict clients).
json chat_id_json(const std::string& id) {
    if (all_digits(id) && id.size() < 19) return json(std::stoll(id));
    return json(id);
}

json keyboard(const std::vector<std::vector<core::Button>>& rows) {
    json kb = json::array();
    for (const auto& row : rows) {
        json r = json::array();
        for (const auto& b : row) {
            json jb{{"text", b.text}};
            if (!b.url.empty()) {
                jb["url"] = b.url;
            } else {
                jb["callback_data"] = b.data;
            }
            r.push_back(std::move(jb));
        }
        kb.push_back(std::move(r));
    }
    return json{{"inline_keyboard", std::move(kb)}};
}

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }

}  // namespace

TelegramAdapter::TelegramAdapter(TelegramSettings settings) : settings_(std::move(settings)) {
    const auto colon = settings_.bot_token.find(':');
    if (colon != std::string::npos && all_digits(std::string_view(settings_.bot_token).substr(0, colon))) {
        bot_user_id_ = settings_.bot_token.substr(0, colon);
    }
}

chat::WebhookParse TelegramAdapter::parse_webhook(const chat::WebhookRequest& request, core::Timestamp now) const {
    (void)now;
    if (request.method != "POST") return chat::WebhookParse::reply(405, "use POST\n", "method");
    const std::string_view* secret = request.header("x-telegram-bot-api-secret-token");
    if (!secret || !chat::constant_time_equal(*secret, settings_.secret_token)) {
        return chat::WebhookParse::reply(401, "bad secret token\n", "bad_secret");
    }
    auto parsed = parse_update(request.body, settings_.channel_id, settings_.bot_username, bot_user_id_);
    if (const auto* err = std::get_if<ParseError>(&parsed)) {
        return chat::WebhookParse::reply(400, "malformed update: " + err->message + "\n", "malformed");
    }
    chat::WebhookParse out;
    out.delivery = std::move(std::get<ParsedUpdate>(parsed).delivery);
    return out;
}

net::ApiRequest TelegramAdapter::build_send(const core::OutboundMessage& m, std::string_view access_token) const {
    (void)access_token;
    net::ApiRequest req;
    req.method = "POST";
    json body;
    if (m.kind == core::OutboundKind::kCallbackAnswer) {
        req.url = settings_.api_base + "/bot" + settings_.bot_token + "/answerCallbackQuery";
        req.log_label = "telegram answerCallbackQuery";
        body = json{{"callback_query_id", m.reply_token}};
        if (!m.text.empty()) body["text"] = m.text;
    } else {
        req.url = settings_.api_base + "/bot" + settings_.bot_token + "/sendMessage";
        req.log_label = "telegram sendMessage";
        body = json{{"chat_id", chat_id_json(m.chat_id)}, {"text", m.text}};
        if (!m.parse_mode.empty()) body["parse_mode"] = m.parse_mode;
        if (!m.buttons.empty()) body["reply_markup"] = keyboard(m.buttons);
    }
    req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    if (!m.idem_key.empty()) req.headers.emplace_back("Idempotency-Key", m.idem_key);
    return req;
}

chat::SendOutcome TelegramAdapter::interpret_send(const core::OutboundMessage& m, const net::ApiResponse& r) const {
    using Kind = chat::SendOutcome::Kind;
    if (r.transport_failed()) return {Kind::kRetry, {}, r.timed_out ? "timeout" : "network: " + r.transport_error};
    json body = json::parse(r.body, nullptr, false);
    std::string description;
    if (body.is_object()) {
        if (auto it = body.find("description"); it != body.end() && it->is_string()) description = it->get<std::string>();
        if (auto ok = body.find("ok"); r.status == 200 && ok != body.end() && ok->is_boolean() && ok->get<bool>()) {
            return {Kind::kSent, {}, {}};
        }
    }
    const std::string error = "telegram " + std::to_string(r.status) + (description.empty() ? "" : ": " + description);
    if (r.status == 429) {
        std::int64_t seconds = 1;
        if (body.is_object()) {
            if (auto p = body.find("parameters"); p != body.end() && p->is_object()) {
                if (auto ra = p->find("retry_after"); ra != p->end() && ra->is_number_integer()) {
                    seconds = std::max<std::int64_t>(0, ra->get<std::int64_t>());
                }
            }
        }
        return {Kind::kRetryAfter, std::chrono::seconds(seconds), error};
    }
    if (r.status >= 500 || r.status == 200) return {Kind::kRetry, {}, error};
    if (r.status == 403 || (r.status == 400 && (contains(description, "chat not found") ||
                                                contains(description, "user is deactivated") ||
                                                contains(description, "bot was kicked") ||
                                                contains(description, "PEER_ID_INVALID")))) {
        // 403: "bot was blocked by the user", "user is deactivated", "bot can't initiate conversation".
        return {m.kind == core::OutboundKind::kCallbackAnswer ? Kind::kFailed : Kind::kUnreachable, {}, error};
    }
    if (r.status == 401 || r.status == 404) {
        // A wrong bot token: nothing is wrong with the message; it may go out once the token is fixed.
        return {Kind::kRetry, {}, error};
    }
    return {Kind::kFailed, {}, error};
}

}  // namespace leadhatch::adapters::telegram
