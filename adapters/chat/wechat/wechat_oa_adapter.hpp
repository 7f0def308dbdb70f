#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "adapters/chat/chat_adapter.hpp"
#include "adapters/chat/wechat/wechat_crypto.hpp"

namespace leadhatch::adapters::wechat {

struct XmlElement;

struct WechatOaSettings {
    std::string channel_id;
    std::string app_id;
    std::string app_secret;
    std::string token;
    std::string encoding_aes_key;  // set: safe mode (encrypted messages only)
    std::string api_base = "https://api.weixin.qq.com";
    // WeChat documents no freshness window for `timestamp`; retries are caught by deduplication.
    // When set, a request whose timestamp is further than this from now is refused (401).
    std::optional<std::chrono::seconds> replay_window;
};

// A parametric QR code to create (/cgi-bin/qrcode/create with a string scene).
struct QrCodeRequest {
    std::string scene;  // 1-64 characters: "src_<campaign>", "ref_<code>", "rep_<owner>"
    bool permanent = false;
    std::int64_t expire_seconds = 2'592'000;  // temporary codes only; at most 30 days
};

struct QrCode {
    std::string ticket;
    std::string content_url;  // what the code encodes ("http://weixin.qq.com/q/...")
    std::optional<std::int64_t> expire_seconds;  // temporary codes
};

// The WeChat Official Account (公众号): XML messages and events in (plaintext or safe mode), passive
// XML replies in the webhook's answer, customer-service messages (/cgi-bin/message/custom/send)
// out, access tokens from /cgi-bin/token, parametric QR codes.
//
//   GET  /webhooks/{id}?signature&timestamp&nonce&echostr   server verification: echostr back
//   POST /webhooks/{id}?signature&timestamp&nonce[&encrypt_type=aes&msg_signature]
//
// Signature inputs come from the query string only. In safe mode (encoding_aes_key set) only
// encrypted messages are accepted and passive replies are encrypted and signed the same way.
class WechatOaAdapter final : public chat::ChatAdapter {
public:
    // Throws std::invalid_argument when encoding_aes_key is set but malformed.
    explicit WechatOaAdapter(WechatOaSettings settings);

    core::Platform platform() const override { return core::Platform::kWechatOa; }
    chat::WebhookParse parse_webhook(const chat::WebhookRequest& request, core::Timestamp now) const override;
    // The passive reply (XML; encrypted in safe mode), or "success" when there is none.
    chat::WebhookAnswer answer(const chat::WebhookParse& parsed, const core::IngestResult& result) const override;
    // WeChat waits 5 s for an answer and then retries; 4 s leaves room for the network.
    std::optional<std::chrono::milliseconds> reply_budget() const override { return std::chrono::milliseconds(4000); }

    net::ApiRequest build_send(const core::OutboundMessage& message, std::string_view access_token) const override;
    chat::SendOutcome interpret_send(const core::OutboundMessage& message,
                                     const net::ApiResponse& response) const override;
    std::optional<net::ApiRequest> build_token_request() const override;
    std::optional<AccessToken> parse_token_response(const net::ApiResponse& response) const override;

    bool safe_mode() const { return crypto_.has_value(); }

    // Parametric QR codes.
    net::ApiRequest build_qrcode_request(const QrCodeRequest& request, std::string_view access_token) const;
    // The code, or how WeChat refused (kTokenExpired: refresh the token and ask again).
    static std::variant<QrCode, chat::SendOutcome> parse_qrcode_response(const net::ApiResponse& response);
    // https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=<percent-encoded ticket>: the image.
    static std::string showqrcode_url(std::string_view ticket);

private:
    chat::WebhookParse parse_message(const XmlElement& message, std::string nonce, core::Timestamp now) const;

    WechatOaSettings settings_;
    std::optional<MessageCrypto> crypto_;
};

}  // namespace leadhatch::adapters::wechat
