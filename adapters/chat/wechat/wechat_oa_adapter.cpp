#include "adapters/chat/wechat/wechat_oa_adapter.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

#include "adapters/chat/wechat/wechat_common.hpp"
#include "adapters/chat/wechat/xml.hpp"
#include "adapters/net/url.hpp"
#include "core/util/json_writer.hpp"

namespace leadhatch::adapters::wechat {
namespace {

using nlohmann::json;

constexpr std::size_t kFieldMax = 255;  // EventKey, scene: WeChat's own limits are 64-128 bytes

// What answer() needs from the request: who wrote, to which account, and the nonce to sign with.
struct OaReply final : chat::ReplyContext {
    std::string user;     // FromUserName (openid)
    std::string account;  // ToUserName (the account's original id, gh_...)
    std::string nonce;
    core::Timestamp now{};
};

std::string seconds_of(core::Timestamp t) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

std::string cut(std::string_view s) { return core::truncate_utf8(s, kFieldMax); }

// "/start src_x", "/help", "/stop": the same commands as on Telegram (the templates name them).
void command_of(core::InboundEvent& e) {
    std::string_view t(e.text);
    if (t.size() < 2 || t.front() != '/') return;
    t.remove_prefix(1);
    const auto end = t.find_first_of(" \n\t");
    const std::string_view word = t.substr(0, end);
    if (word.empty() || word.size() > 32) return;
    std::string command;
    for (char c : word) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return;
        command += c;
    }
    std::string_view args = end == std::string_view::npos ? std::string_view{} : t.substr(end);
    while (!args.empty() && (args.front() == ' ' || args.front() == '\n' || args.front() == '\t')) args.remove_prefix(1);
    while (!args.empty() && (args.back() == ' ' || args.back() == '\n' || args.back() == '\t')) args.remove_suffix(1);
    e.kind = core::InboundKind::kCommand;
    e.command = std::move(command);
    e.command_args = std::string(args);
}

}  // namespace

WechatOaAdapter::WechatOaAdapter(WechatOaSettings settings) : settings_(std::move(settings)) {
    if (!settings_.encoding_aes_key.empty()) {
        auto created = MessageCrypto::create(settings_.token, settings_.encoding_aes_key, settings_.app_id);
        if (auto* error = std::get_if<std::string>(&created)) {
            throw std::invalid_argument("wechat_oa " + settings_.channel_id + ": " + *error);
        }
        crypto_.emplace(std::get<MessageCrypto>(std::move(created)));
    }
}

chat::WebhookParse WechatOaAdapter::parse_webhook(const chat::WebhookRequest& request, core::Timestamp now) const {
    using chat::WebhookParse;
    const auto timestamp = raw_query_param(request.query, "timestamp");
    const auto nonce = raw_query_param(request.query, "nonce");
    if (request.method == "GET") {
        // Server verification (always plaintext, also in safe mode): echo echostr back.
        const auto signature = raw_query_param(request.query, "signature");
        const auto echostr = raw_query_param(request.query, "echostr");
        if (!signature || !timestamp || !nonce || !echostr) {
            return WebhookParse::reply(401, "missing signature parameters\n", "bad_signature");
        }
        if (!constant_time_equal(*signature, sha1_signature({settings_.token, *timestamp, *nonce}))) {
            return WebhookParse::reply(401, "bad signature\n", "bad_signature");
        }
        return WebhookParse::reply(200, *echostr, "handshake");
    }
    if (request.method != "POST") return WebhookParse::reply(405, "use GET or POST\n", "method");
    if (!timestamp || !nonce) return WebhookParse::reply(401, "missing signature parameters\n", "bad_signature");
    if (!within_replay_window(*timestamp, now, settings_.replay_window)) {
        return WebhookParse::reply(401, "timestamp outside the replay window\n", "replay_window");
    }
    XmlElement message;
    if (crypto_) {
        // Safe mode: only encrypted messages, authenticated by msg_signature over the ciphertext.
        const auto encrypt_type = raw_query_param(request.query, "encrypt_type");
        const auto msg_signature = raw_query_param(request.query, "msg_signature");
        if (!encrypt_type || *encrypt_type != "aes" || !msg_signature) {
            return WebhookParse::reply(401, "safe mode: encrypted messages only\n", "bad_signature");
        }
        auto opened = open_envelope(*crypto_, request.body, *msg_signature, *timestamp, *nonce);
        if (auto* reply = std::get_if<WebhookParse>(&opened)) return std::move(*reply);
        message = std::move(std::get<XmlElement>(opened));
    } else {
        const auto signature = raw_query_param(request.query, "signature");
        if (!signature) return WebhookParse::reply(401, "missing signature parameters\n", "bad_signature");
        if (!constant_time_equal(*signature, sha1_signature({settings_.token, *timestamp, *nonce}))) {
            return WebhookParse::reply(401, "bad signature\n", "bad_signature");
        }
        auto parsed = parse_body(request.body);
        if (auto* reply = std::get_if<WebhookParse>(&parsed)) return std::move(*reply);
        message = std::move(std::get<XmlElement>(parsed));
    }
    return parse_message(message, *nonce, now);
}

chat::WebhookParse WechatOaAdapter::parse_message(const XmlElement& x, std::string nonce, core::Timestamp now) const {
    const std::string from = x.child_text("FromUserName");
    const std::string type = x.child_text("MsgType");
    if (from.empty() || type.empty() || from.size() > 128) {
        return chat::WebhookParse::reply(400, "missing FromUserName or MsgType\n", "malformed");
    }
    const std::string created = x.child_text("CreateTime");

    chat::WebhookParse out;
    auto ctx = std::make_unique<OaReply>();
    ctx->user = from;
    ctx->account = x.child_text("ToUserName");
    ctx->nonce = std::move(nonce);
    ctx->now = now;
    out.context = std::move(ctx);
    auto& d = out.delivery;
    d.channel_id = settings_.channel_id;

    core::InboundEvent e;
    e.user.external_id = from;
    e.chat.external_id = from;
    e.chat.type = core::ChatType::kPrivate;
    e.occurred_at = seconds_to_time(created).value_or(core::Timestamp{});
    e.message_id = x.child_text("MsgId");

    bool keep = true;
    if (type == "event") {
        const std::string event = x.child_text("Event");
        const std::string key = x.child_text("EventKey");
        std::string dedupe = from + ":" + created + ":" + event;
        if (net::iequals(event, "subscribe")) {
            // A parametric QR code: EventKey "qrscene_<scene>" (empty for a plain follow).
            e.kind = core::InboundKind::kFollow;
            constexpr std::string_view kPrefix = "qrscene_";
            e.scene = cut(std::string_view(key).starts_with(kPrefix) ? std::string_view(key).substr(kPrefix.size())
                                                                      : std::string_view{});
        } else if (net::iequals(event, "unsubscribe")) {
            e.kind = core::InboundKind::kUnfollow;
        } else if (net::iequals(event, "SCAN")) {
            // A follower scanned a parametric code: EventKey is the scene itself.
            e.kind = core::InboundKind::kFollow;
            e.scene = cut(key);
            dedupe += ":" + key;
        } else if (net::iequals(event, "CLICK")) {
            e.kind = core::InboundKind::kButtonPress;
            e.button_data = cut(key);
            dedupe += ":" + key;
        } else if (net::iequals(event, "VIEW")) {
            e.kind = core::InboundKind::kLinkClicked;
            e.text = core::truncate_utf8(key, 2048);
            dedupe += ":" + key;
        } else {
            keep = false;  // LOCATION reports, template/mass-send receipts, ...: acknowledged only
        }
        d.dedupe_key = core::truncate_utf8(dedupe, 191);
    } else {
        e.kind = core::InboundKind::kMessage;
        if (type == "text") {
            e.text = x.child_text("Content");
            command_of(e);
        } else if (type == "image") {
            e.media_kind = "photo";
        } else if (type == "voice") {
            e.media_kind = "voice";
            e.text = x.child_text("Recognition");  // speech recognition, when the account has it on
        } else if (type == "video" || type == "shortvideo") {
            e.media_kind = "video";
        } else if (type == "location") {
            e.media_kind = "location";
            e.text = x.child_text("Label");
        } else if (type == "link") {
            e.media_kind = "link";
            e.text = x.child_text("Title");
            const std::string url = x.child_text("Url");
            if (!url.empty()) e.text += (e.text.empty() ? "" : "\n") + url;
        } else if (type == "file") {
            e.media_kind = "document";
            e.text = x.child_text("Title");
        } else {
            keep = false;
        }
        d.dedupe_key = !e.message_id.empty() ? core::truncate_utf8(e.message_id, 191)
                                             : core::truncate_utf8(from + ":" + created + ":" + type, 191);
    }
    if (keep) d.events.push_back(std::move(e));
    return out;
}

chat::WebhookAnswer WechatOaAdapter::answer(const chat::WebhookParse& parsed, const core::IngestResult& result) const {
    chat::WebhookAnswer a;
    a.body = "success";  // "nothing to reply": WeChat neither retries nor shows an error
    if (result.status != core::IngestStatus::kAccepted) return a;
    const auto* ctx = dynamic_cast<const OaReply*>(parsed.context.get());
    if (!ctx) return a;
    for (const auto& m : result.replies) {
        if (!m.passive) continue;
        if (m.chat_id != ctx->user) break;
        const std::string now = seconds_of(ctx->now);
        std::string xml = "<xml><ToUserName>" + xml_cdata(ctx->user) + "</ToUserName><FromUserName>" +
                          xml_cdata(ctx->account) + "</FromUserName><CreateTime>" + now +
                          "</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>" + xml_cdata(outgoing_text(m)) +
                          "</Content></xml>";
        if (crypto_) {
            try {
                a.body = crypto_->encrypted_reply(xml, now, ctx->nonce);
            } catch (const std::exception&) {
                return a;
            }
        } else {
            a.body = std::move(xml);
        }
        a.content_type = "application/xml; charset=utf-8";
        return a;
    }
    return a;
}

net::ApiRequest WechatOaAdapter::build_send(const core::OutboundMessage& m, std::string_view access_token) const {
    net::ApiRequest req;
    req.method = "POST";
    req.url = settings_.api_base + "/cgi-bin/message/custom/send?access_token=" + net::percent_encode(access_token);
    req.log_label = "wechat_oa custom/send";
    const json body{{"touser", m.chat_id}, {"msgtype", "text"}, {"text", {{"content", outgoing_text(m)}}}};
    req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return req;
}

chat::SendOutcome WechatOaAdapter::interpret_send(const core::OutboundMessage& message,
                                                  const net::ApiResponse& response) const {
    (void)message;
    return outcome_of(response, "wechat custom/send");
}

std::optional<net::ApiRequest> WechatOaAdapter::build_token_request() const {
    net::ApiRequest req;
    req.method = "GET";
    req.url = settings_.api_base + "/cgi-bin/token?grant_type=client_credential&appid=" +
              net::percent_encode(settings_.app_id) + "&secret=" + net::percent_encode(settings_.app_secret);
    req.log_label = "wechat_oa token";
    return req;
}

std::optional<chat::ChatAdapter::AccessToken> WechatOaAdapter::parse_token_response(
    const net::ApiResponse& response) const {
    return access_token_of(response);
}

net::ApiRequest WechatOaAdapter::build_qrcode_request(const QrCodeRequest& q, std::string_view access_token) const {
    net::ApiRequest req;
    req.method = "POST";
    req.url = settings_.api_base + "/cgi-bin/qrcode/create?access_token=" + net::percent_encode(access_token);
    req.log_label = "wechat_oa qrcode/create";
    json body{{"action_name", q.permanent ? "QR_LIMIT_STR_SCENE" : "QR_STR_SCENE"},
              {"action_info", {{"scene", {{"scene_str", q.scene}}}}}};
    if (!q.permanent) body["expire_seconds"] = q.expire_seconds;
    req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return req;
}

std::variant<QrCode, chat::SendOutcome> WechatOaAdapter::parse_qrcode_response(const net::ApiResponse& response) {
    auto outcome = outcome_of(response, "wechat qrcode/create");
    if (outcome.kind != chat::SendOutcome::Kind::kSent) return outcome;
    const json body = json::parse(response.body, nullptr, false);
    QrCode code;
    if (auto it = body.find("ticket"); it != body.end() && it->is_string()) code.ticket = it->get<std::string>();
    if (code.ticket.empty()) return chat::SendOutcome{chat::SendOutcome::Kind::kFailed, {}, "wechat qrcode/create: no ticket"};
    if (auto it = body.find("url"); it != body.end() && it->is_string()) code.content_url = it->get<std::string>();
    if (auto it = body.find("expire_seconds"); it != body.end() && it->is_number_integer()) {
        code.expire_seconds = it->get<std::int64_t>();
    }
    return code;
}

std::string WechatOaAdapter::showqrcode_url(std::string_view ticket) {
    return "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=" + net::percent_encode(ticket);
}

}  // namespace leadhatch::adapters::wechat
