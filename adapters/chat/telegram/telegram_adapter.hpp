#pragma once

#include <string>

#include "adapters/chat/chat_adapter.hpp"

namespace leadhatch::adapters::telegram {

struct TelegramSettings {
    std::string channel_id;
    std::string bot_token;
    std::string secret_token;  // must equal X-Telegram-Bot-Api-Secret-Token
    std::string api_base = "https://api.telegram.org";
    std::string bot_username;  // optional: "/help@this_bot" is ours, "/help@other_bot" is not
};

// The Telegram Bot API: webhook updates in, sendMessage / answerCallbackQuery out.
class TelegramAdapter final : public chat::ChatAdapter {
public:
    explicit TelegramAdapter(TelegramSettings settings);

    core::Platform platform() const override { return core::Platform::kTelegram; }
    chat::WebhookParse parse_webhook(const chat::WebhookRequest& request, core::Timestamp now) const override;
    net::ApiRequest build_send(const core::OutboundMessage& message, std::string_view access_token) const override;
    chat::SendOutcome interpret_send(const core::OutboundMessage& message,
                                     const net::ApiResponse& response) const override;

    // The bot's own user id: the digits before ':' in its token.
    const std::string& bot_user_id() const { return bot_user_id_; }

private:
    TelegramSettings settings_;
    std::string bot_user_id_;
};

}  // namespace leadhatch::adapters::telegram
