#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "adapters/chat/chat_adapter.hpp"
#include "adapters/chat/wechat/wechat_crypto.hpp"
#include "adapters/chat/wechat/xml.hpp"

// What the WeChat Official Account and WeCom adapters share: query parameters, the signed and
// encrypted envelope, API error codes and access-token answers.
namespace leadhatch::adapters::wechat {

// Limits for callback bodies: WeChat messages are small and flat.
XmlLimits callback_xml_limits();

// A query parameter, percent-decoded with '+' kept as '+': signatures, nonces and Base64 values
// never contain spaces, and an echostr whose '+' was not encoded must still decode.
std::optional<std::string> raw_query_param(std::string_view query, std::string_view name);

// CreateTime / timestamp (seconds since the epoch) as a time; nullopt when it is not a number.
std::optional<core::Timestamp> seconds_to_time(std::string_view seconds);

// True when `timestamp` is within `window` of `now` (both directions). No window: always true.
bool within_replay_window(std::string_view timestamp, core::Timestamp now,
                          const std::optional<std::chrono::seconds>& window);

// The encrypted envelope (safe mode / WeCom): <xml>...<Encrypt>...</Encrypt></xml>, authenticated
// by msg_signature over (token, timestamp, nonce, Encrypt), then decrypted and parsed. On failure
// the WebhookParse to answer with: 401 for a bad signature or a message for another AppID/CorpID,
// 400 for anything malformed.
std::variant<XmlElement, chat::WebhookParse> open_envelope(const MessageCrypto& crypto, std::string_view body,
                                                           std::string_view msg_signature,
                                                           std::string_view timestamp, std::string_view nonce);

// Parses a plaintext body; on failure a 400.
std::variant<XmlElement, chat::WebhookParse> parse_body(std::string_view body);

// A WeChat/WeCom API answer ({"errcode": 0, "errmsg": "ok"} and friends) as a send outcome:
//   errcode 0 -> kSent; 40001/40014/42001 (access token invalid/expired) -> kTokenExpired;
//   45015 (outside the 48-hour window) and 45047 (too many messages without an answer) ->
//   kWindowClosed; 43004 (not a follower) and 40003 (invalid openid) -> kUnreachable; -1 (system
//   busy), 5xx, other non-200 answers, unreadable bodies and transport failures -> kRetry; any
//   other errcode -> kFailed. `api` names the call in the error text ("wechat custom/send").
chat::SendOutcome outcome_of(const net::ApiResponse& response, std::string_view api);

// {"access_token": "...", "expires_in": 7200} (WeCom adds "errcode": 0). Any errcode other than
// 0, or a missing token, is nullopt.
std::optional<chat::ChatAdapter::AccessToken> access_token_of(const net::ApiResponse& response);

// The text of a message as it goes out where there are no inline keyboards: numbered options.
std::string outgoing_text(const core::OutboundMessage& message);

}  // namespace leadhatch::adapters::wechat
