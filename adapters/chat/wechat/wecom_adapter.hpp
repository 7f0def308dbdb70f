#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "adapters/chat/chat_adapter.hpp"
#include "adapters/chat/wechat/wechat_crypto.hpp"

namespace leadhatch::adapters::wechat {

struct XmlElement;

struct WecomSettings {
    std::string channel_id;
    std::string corp_id;
    std::string agent_id;  // the self-built app's AgentId (digits)
    std::string secret;    // the app's Secret (gettoken corpsecret)
    std::string token;
    std::string encoding_aes_key;
    std::string api_base = "https://qyapi.weixin.qq.com";
    std::optional<std::chrono::seconds> replay_window;  // see WechatOaSettings
};

// WeCom (企业微信) through a self-built app's callback: every callback is encrypted (receive id =
// CorpID).
//
//   GET  /webhooks/{id}?msg_signature&timestamp&nonce&echostr   URL verification: the decrypted echostr
//   POST /webhooks/{id}?msg_signature&timestamp&nonce           <xml><Encrypt>...</Encrypt></xml>
//
// What becomes what:
//   change_external_contact add_external_contact / add_half_external_contact
//       -> follow of the external contact (ExternalUserID), owned by the employee (UserID), with
//          State as the scene; a WelcomeCode lets the welcome be sent (send_welcome_msg)
//   change_external_contact del_external_contact / del_follow_user -> unfollow
//   change_external_chat create / dismiss -> the group is recorded as live / gone
//   change_external_chat update add_member / del_member -> a join / leave per external member in
//       MemChangeList (employees in the list are not leads and are skipped; a callback without
//       the list records the change on the group only)
//   an employee's text to the app -> a rep command ("claim 123"), answered by app message
// Outbound: /cgi-bin/message/send (app messages to employees) and
// /cgi-bin/externalcontact/send_welcome_msg (when the message carries a welcome code).
class WecomAdapter final : public chat::ChatAdapter {
public:
    // Throws std::invalid_argument when the EncodingAESKey is malformed.
    explicit WecomAdapter(WecomSettings settings);

    core::Platform platform() const override { return core::Platform::kWecom; }
    chat::WebhookParse parse_webhook(const chat::WebhookRequest& request, core::Timestamp now) const override;
    // WeCom takes an empty 200 as "received, nothing to reply" (the default answer).

    net::ApiRequest build_send(const core::OutboundMessage& message, std::string_view access_token) const override;
    chat::SendOutcome interpret_send(const core::OutboundMessage& message,
                                     const net::ApiResponse& response) const override;
    std::optional<net::ApiRequest> build_token_request() const override;
    std::optional<AccessToken> parse_token_response(const net::ApiResponse& response) const override;

    // External contacts' userids start with "wo"/"wm"; employees' UserIDs are chosen by the company.
    static bool looks_external(std::string_view user_id);

private:
    chat::WebhookParse parse_message(const XmlElement& message) const;

    WecomSettings settings_;
    MessageCrypto crypto_;
};

}  // namespace leadhatch::adapters::wechat
