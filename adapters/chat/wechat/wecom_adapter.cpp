#include "adapters/chat/wechat/wecom_adapter.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <stdexcept>

#include "adapters/chat/wechat/wechat_common.hpp"
#include "adapters/chat/wechat/xml.hpp"
#include "adapters/net/url.hpp"
#include "core/util/json_writer.hpp"

namespace leadhatch::adapters::wechat {
namespace {

using nlohmann::json;

constexpr std::size_t kIdMax = 128;

MessageCrypto make_crypto(const WecomSettings& s) {
    auto created = MessageCrypto::create(s.token, s.encoding_aes_key, s.corp_id);
    if (auto* error = std::get_if<std::string>(&created)) {
        throw std::invalid_argument("wecom " + s.channel_id + ": " + *error);
    }
    return std::get<MessageCrypto>(std::move(created));
}

// The member ids of a group change: <MemChangeList><Item>id</Item>...</MemChangeList>, or (older
// callbacks) the ids comma-separated in the element's text.
std::vector<std::string> member_ids(const XmlElement& x) {
    std::vector<std::string> out;
    const XmlElement* list = x.child("MemChangeList");
    if (!list) return out;
    const auto items = list->children_named("Item");
    if (!items.empty()) {
        for (const auto* item : items) {
            if (!item->text.empty()) out.push_back(item->text);
        }
        return out;
    }
    std::string_view rest(list->text);
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::string_view id = rest.substr(0, comma);
        while (!id.empty() && (id.front() == ' ' || id.front() == '\n' || id.front() == '\t')) id.remove_prefix(1);
        while (!id.empty() && (id.back() == ' ' || id.back() == '\n' || id.back() == '\t')) id.remove_suffix(1);
        if (!id.empty()) out.emplace_back(id);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return out;
}

}  // namespace

WecomAdapter::WecomAdapter(WecomSettings settings) : settings_(std::move(settings)), crypto_(make_crypto(settings_)) {}

bool WecomAdapter::looks_external(std::string_view id) {
    return id.size() >= 20 && (id.starts_with("wo") || id.starts_with("wm"));
}

chat::WebhookParse WecomAdapter::parse_webhook(const chat::WebhookRequest& request, core::Timestamp now) const {
    using chat::WebhookParse;
    const auto msg_signature = raw_query_param(request.query, "msg_signature");
    const auto timestamp = raw_query_param(request.query, "timestamp");
    const auto nonce = raw_query_param(request.query, "nonce");
    if (!msg_signature || !timestamp || !nonce) {
        return WebhookParse::reply(401, "missing signature parameters\n", "bad_signature");
    }
    if (request.method == "GET") {
        // URL verification: echostr is encrypted; answer its plaintext, nothing else.
        const auto echostr = raw_query_param(request.query, "echostr");
        if (!echostr) return WebhookParse::reply(401, "missing signature parameters\n", "bad_signature");
        if (!crypto_.verify(*msg_signature, *timestamp, *nonce, *echostr)) {
            return WebhookParse::reply(401, "bad signature\n", "bad_signature");
        }
        auto plain = crypto_.decrypt(*echostr);
        if (const auto* err = std::get_if<CryptoError>(&plain)) {
            if (*err == CryptoError::kReceiveIdMismatch) {
                return WebhookParse::reply(401, "message for another corp\n", "wrong_receive_id");
            }
            return WebhookParse::reply(400, "undecryptable echostr\n", std::string("crypto: ") + std::string(to_string(*err)));
        }
        return WebhookParse::reply(200, std::get<std::string>(std::move(plain)), "handshake");
    }
    if (request.method != "POST") return WebhookParse::reply(405, "use GET or POST\n", "method");
    if (!within_replay_window(*timestamp, now, settings_.replay_window)) {
        return WebhookParse::reply(401, "timestamp outside the replay window\n", "replay_window");
    }
    auto opened = open_envelope(crypto_, request.body, *msg_signature, *timestamp, *nonce);
    if (auto* reply = std::get_if<WebhookParse>(&opened)) return std::move(*reply);
    return parse_message(std::get<XmlElement>(opened));
}

chat::WebhookParse WecomAdapter::parse_message(const XmlElement& x) const {
    const std::string type = x.child_text("MsgType");
    const std::string from = x.child_text("FromUserName");
    if (type.empty()) return chat::WebhookParse::reply(400, "missing MsgType\n", "malformed");
    const std::string created = x.child_text("CreateTime");
    const auto at = seconds_to_time(created).value_or(core::Timestamp{});

    chat::WebhookParse out;
    auto& d = out.delivery;
    d.channel_id = settings_.channel_id;

    if (type == "event") {
        const std::string event = x.child_text("Event");
        const std::string change = x.child_text("ChangeType");
        if (event == "change_external_contact") {
            const std::string external = x.child_text("ExternalUserID");
            const std::string employee = x.child_text("UserID");
            d.dedupe_key = core::truncate_utf8("ext:" + change + ":" + external + ":" + employee + ":" + created, 191);
            if (external.empty() || external.size() > kIdMax || employee.size() > kIdMax) return out;
            core::InboundEvent e;
            e.occurred_at = at;
            e.user.external_id = external;
            e.chat.type = core::ChatType::kPrivate;
            e.owner_hint = employee;
            if (change == "add_external_contact" || change == "add_half_external_contact") {
                e.kind = core::InboundKind::kFollow;
                e.scene = core::truncate_utf8(x.child_text("State"), 255);
                // Only a welcome code lets us write to the new contact (within 20 s, once).
                e.reply_token = x.child_text("WelcomeCode");
                if (!e.reply_token.empty()) e.chat.external_id = external;
            } else if (change == "del_external_contact" || change == "del_follow_user") {
                e.kind = core::InboundKind::kUnfollow;
            } else {
                return out;  // edit_external_contact, transfer_fail, ...: acknowledged only
            }
            d.events.push_back(std::move(e));
            return out;
        }
        if (event == "change_external_chat") {
            const std::string chat_id = x.child_text("ChatId");
            const std::string detail = x.child_text("UpdateDetail");
            d.dedupe_key = core::truncate_utf8(
                "chat:" + chat_id + ":" + change + ":" + detail + ":" + created + ":" + x.child_text("CurMemVer"), 191);
            if (chat_id.empty() || chat_id.size() > kIdMax) return out;
            core::InboundEvent base;
            base.occurred_at = at;
            base.chat.external_id = chat_id;
            base.chat.type = core::ChatType::kGroup;
            if (change == "create" || change == "dismiss") {
                // The group itself appears or goes: recorded on the group (live or not).
                base.kind = change == "create" ? core::InboundKind::kBotAdded : core::InboundKind::kBotRemoved;
                d.events.push_back(std::move(base));
            } else if (change == "update" && (detail == "add_member" || detail == "del_member")) {
                base.kind = detail == "add_member" ? core::InboundKind::kMemberJoined : core::InboundKind::kMemberLeft;
                bool any = false;
                for (auto& id : member_ids(x)) {
                    if (!looks_external(id) || id.size() > kIdMax) continue;  // employees are not leads
                    core::InboundEvent e = base;
                    e.user.external_id = std::move(id);
                    d.events.push_back(std::move(e));
                    any = true;
                }
                // Without member ids the change is recorded on the group only.
                if (!any) d.events.push_back(std::move(base));
            }
            return out;
        }
        return out;  // enter_agent, menu clicks, contact changes, ...: acknowledged only
    }
    // A message from an employee to the app.
    d.dedupe_key = core::truncate_utf8(
        x.child("MsgId") ? "msg:" + x.child_text("MsgId") : "msg:" + from + ":" + created + ":" + type, 191);
    if (type != "text" || from.empty() || from.size() > kIdMax) return out;
    core::InboundEvent e;
    e.kind = core::InboundKind::kMessage;
    e.staff = true;
    e.occurred_at = at;
    e.owner_hint = from;
    e.user.external_id = from;
    e.chat.external_id = from;
    e.chat.type = core::ChatType::kPrivate;
    e.message_id = x.child_text("MsgId");
    e.text = x.child_text("Content");
    d.events.push_back(std::move(e));
    return out;
}

net::ApiRequest WecomAdapter::build_send(const core::OutboundMessage& m, std::string_view access_token) const {
    net::ApiRequest req;
    req.method = "POST";
    json body;
    if (!m.reply_token.empty()) {
        // A welcome message to a contact who was just added: the code from the callback.
        req.url = settings_.api_base + "/cgi-bin/externalcontact/send_welcome_msg?access_token=" +
                  net::percent_encode(access_token);
        req.log_label = "wecom send_welcome_msg";
        body = json{{"welcome_code", m.reply_token}, {"text", {{"content", outgoing_text(m)}}}};
    } else {
        // An app message to an employee.
        req.url = settings_.api_base + "/cgi-bin/message/send?access_token=" + net::percent_encode(access_token);
        req.log_label = "wecom message/send";
        std::int64_t agent = 0;
        const auto& a = settings_.agent_id;
        const auto [p, ec] = std::from_chars(a.data(), a.data() + a.size(), agent);
        const json agent_json = ec == std::errc{} && p == a.data() + a.size() ? json(agent) : json(a);
        body = json{{"touser", m.chat_id},
                    {"msgtype", "text"},
                    {"agentid", agent_json},
                    {"text", {{"content", outgoing_text(m)}}}};
    }
    req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return req;
}

chat::SendOutcome WecomAdapter::interpret_send(const core::OutboundMessage& m, const net::ApiResponse& response) const {
    const bool welcome = !m.reply_token.empty();
    auto outcome = outcome_of(response, welcome ? "wecom send_welcome_msg" : "wecom message/send");
    if (outcome.kind == chat::SendOutcome::Kind::kSent && !welcome) {
        // errcode 0 with the recipient listed as invalid: nobody got it.
        const json body = json::parse(response.body, nullptr, false);
        if (auto it = body.find("invaliduser"); it != body.end() && it->is_string() && !it->get<std::string>().empty()) {
            return {chat::SendOutcome::Kind::kUnreachable, {}, "wecom message/send: invalid user"};
        }
    }
    return outcome;
}

std::optional<net::ApiRequest> WecomAdapter::build_token_request() const {
    net::ApiRequest req;
    req.method = "GET";
    req.url = settings_.api_base + "/cgi-bin/gettoken?corpid=" + net::percent_encode(settings_.corp_id) +
              "&corpsecret=" + net::percent_encode(settings_.secret);
    req.log_label = "wecom gettoken";
    return req;
}

std::optional<chat::ChatAdapter::AccessToken> WecomAdapter::parse_token_response(const net::ApiResponse& response) const {
    return access_token_of(response);
}

}  // namespace leadhatch::adapters::wechat
