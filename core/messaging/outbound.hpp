#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace leadhatch::core {

struct Button {
    std::string text;
    std::string data;  // callback data (pressed -> InboundKind::kButtonPress)
    std::string url;   // or a link
};

enum class OutboundKind {
    kText,            // a message to a chat
    kCallbackAnswer,  // acknowledge a button press (Telegram answerCallbackQuery)
};

std::string_view to_string(OutboundKind k);

// A message to send, as a value. It is written to the outbox first and sent later by a dispatcher.
struct OutboundMessage {
    std::string channel_id;
    std::string chat_id;  // platform chat/user id to send to
    LeadId lead_id;       // the recipient lead, when there is one
    OutboundKind kind = OutboundKind::kText;
    std::string text;
    std::string parse_mode;                    // "", "HTML", "MarkdownV2"
    std::vector<std::vector<Button>> buttons;  // rows of buttons
    std::string reply_token;                   // for kCallbackAnswer
    bool marketing = false;  // marketing messages are suppressed for opted-out leads
    std::string idem_key;    // unique per logical message: retries and crashes never duplicate it
    bool is_group = false;   // group chats have their own rate limit
    // Delivered in the webhook's HTTP answer (WeChat passive reply), not by the dispatcher: its
    // outbox row is written as already sent.
    bool passive = false;
};

}  // namespace leadhatch::core

namespace leadhatch::core {

// The outbox body: the message as JSON, and back. parse fails (nullopt) on a body we did not write.
std::string outbound_to_json(const OutboundMessage& m);
std::optional<OutboundMessage> outbound_from_json(std::string_view body);

// Numbered menus, for platforms without inline keyboards (WeChat, WeCom): the buttons that carry
// data become "1. Pricing", "2. Book a demo" under the text; link buttons are listed as
// "Text: URL" without a number. numbered_options() gives the data of the numbered buttons in
// that order (an inbound "2" means the second).
std::vector<std::string> numbered_options(const std::vector<std::vector<Button>>& buttons);
std::string render_numbered(std::string_view text, const std::vector<std::vector<Button>>& buttons);
// A remembered menu (the options' data) as stored on the identity, and back ("" = no menu).
std::string encode_menu(const std::vector<std::string>& options);
std::vector<std::string> decode_menu(std::string_view stored);

}  // namespace leadhatch::core
