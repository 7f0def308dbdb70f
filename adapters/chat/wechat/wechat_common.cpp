#include "adapters/chat/wechat/wechat_common.hpp"

#include <nlohmann/json.hpp>

#include <charconv>

#include "adapters/net/url.hpp"

namespace leadhatch::adapters::wechat {
namespace {

using nlohmann::json;

std::optional<std::int64_t> to_int(std::string_view s) {
    std::int64_t v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

XmlLimits callback_xml_limits() {
    XmlLimits l;
    l.max_bytes = 512 * 1024;
    l.max_depth = 8;
    l.max_elements = 20000;  // a group change may list many members
    return l;
}

std::optional<std::string> raw_query_param(std::string_view q, std::string_view name) {
    while (!q.empty()) {
        const auto amp = q.find('&');
        const std::string_view pair = q.substr(0, amp);
        const auto eq = pair.find('=');
        if (net::percent_decode(pair.substr(0, eq), true) == name) {
            return eq == std::string_view::npos ? std::string{} : net::percent_decode(pair.substr(eq + 1), false);
        }
        if (amp == std::string_view::npos) break;
        q.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

std::optional<core::Timestamp> seconds_to_time(std::string_view seconds) {
    auto v = to_int(seconds);
    if (!v || *v < 0 || *v > 100'000'000'000) return std::nullopt;
    return core::Timestamp{std::chrono::seconds{*v}};
}

bool within_replay_window(std::string_view timestamp, core::Timestamp now,
                          const std::optional<std::chrono::seconds>& window) {
    if (!window) return true;
    auto t = seconds_to_time(timestamp);
    if (!t) return false;
    const auto d = *t > now ? *t - now : now - *t;
    return d <= *window;
}

std::variant<XmlElement, chat::WebhookParse> parse_body(std::string_view body) {
    auto parsed = parse_xml(body, callback_xml_limits());
    if (std::holds_alternative<std::string>(parsed)) return chat::WebhookParse::reply(400, "malformed XML\n", "malformed");
    auto& root = std::get<XmlElement>(parsed);
    if (root.name != "xml") return chat::WebhookParse::reply(400, "malformed XML\n", "malformed");
    return std::move(root);
}

std::variant<XmlElement, chat::WebhookParse> open_envelope(const MessageCrypto& crypto, std::string_view body,
                                                           std::string_view msg_signature,
                                                           std::string_view timestamp, std::string_view nonce) {
    auto outer = parse_body(body);
    if (auto* reply = std::get_if<chat::WebhookParse>(&outer)) return std::move(*reply);
    const XmlElement* encrypt = std::get<XmlElement>(outer).child("Encrypt");
    if (!encrypt || encrypt->text.empty()) return chat::WebhookParse::reply(400, "no Encrypt element\n", "malformed");
    // Only the signature authenticates the ciphertext: nothing is decrypted before it is checked.
    if (!crypto.verify(msg_signature, timestamp, nonce, encrypt->text)) {
        return chat::WebhookParse::reply(401, "bad signature\n", "bad_signature");
    }
    auto plain = crypto.decrypt(encrypt->text);
    if (const auto* err = std::get_if<CryptoError>(&plain)) {
        if (*err == CryptoError::kReceiveIdMismatch) {
            return chat::WebhookParse::reply(401, "message for another account\n", "wrong_receive_id");
        }
        return chat::WebhookParse::reply(400, "undecryptable message\n", std::string("crypto: ") + std::string(to_string(*err)));
    }
    return parse_body(std::get<std::string>(plain));
}

chat::SendOutcome outcome_of(const net::ApiResponse& r, std::string_view api) {
    using Kind = chat::SendOutcome::Kind;
    const std::string prefix(api);
    if (r.transport_failed()) return {Kind::kRetry, {}, r.timed_out ? prefix + ": timeout" : prefix + ": network error"};
    if (r.status != 200) return {Kind::kRetry, {}, prefix + ": HTTP " + std::to_string(r.status)};
    const json body = json::parse(r.body, nullptr, false);
    if (!body.is_object()) return {Kind::kRetry, {}, prefix + ": unreadable answer"};
    std::int64_t code = 0;
    if (auto it = body.find("errcode"); it != body.end()) {
        if (!it->is_number_integer()) return {Kind::kRetry, {}, prefix + ": unreadable answer"};
        code = it->get<std::int64_t>();
    }
    std::string error = prefix + ": errcode " + std::to_string(code);
    if (auto it = body.find("errmsg"); it != body.end() && it->is_string() && code != 0) {
        // errmsg is Tencent's own short text ("invalid credential, access_token is invalid or not
        // latest rid: ..."); keep only the part before the request id.
        std::string msg = it->get<std::string>();
        if (auto rid = msg.find(" rid:"); rid != std::string::npos) msg.resize(rid);
        if (msg.size() > 120) msg.resize(120);
        error += " " + msg;
    }
    switch (code) {
        case 0: return {Kind::kSent, {}, {}};
        case 40001:
        case 40014:
        case 42001: return {Kind::kTokenExpired, {}, error};
        case 45015:
        case 45047: return {Kind::kWindowClosed, {}, error};
        case 43004:
        case 40003: return {Kind::kUnreachable, {}, error};
        case -1: return {Kind::kRetry, {}, error};
        default: return {Kind::kFailed, {}, error};
    }
}

std::optional<chat::ChatAdapter::AccessToken> access_token_of(const net::ApiResponse& r) {
    if (r.status != 200) return std::nullopt;
    const json body = json::parse(r.body, nullptr, false);
    if (!body.is_object()) return std::nullopt;
    if (auto it = body.find("errcode"); it != body.end() && (!it->is_number_integer() || it->get<std::int64_t>() != 0)) {
        return std::nullopt;
    }
    auto tok = body.find("access_token");
    auto exp = body.find("expires_in");
    if (tok == body.end() || !tok->is_string() || tok->get<std::string>().empty()) return std::nullopt;
    std::int64_t seconds = 7200;
    if (exp != body.end() && exp->is_number_integer()) seconds = exp->get<std::int64_t>();
    if (seconds <= 0) return std::nullopt;
    return chat::ChatAdapter::AccessToken{tok->get<std::string>(), std::chrono::seconds{seconds}};
}

std::string outgoing_text(const core::OutboundMessage& m) {
    return m.buttons.empty() ? m.text : core::render_numbered(m.text, m.buttons);
}

}  // namespace leadhatch::adapters::wechat
