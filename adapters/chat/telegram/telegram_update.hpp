#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "core/messaging/inbound.hpp"

namespace leadhatch::adapters::telegram {

// Why a webhook body could not be turned into a delivery. `message` names the JSON path when one is at
// fault, e.g. "update_id: required integer" or "message.chat.id: required integer". Safe to log; it
// never quotes values from the body.
struct ParseError {
    std::string message;
};

// One Telegram Update mapped to platform-neutral events.
struct ParsedUpdate {
    core::InboundDelivery delivery;
    // The Update field that carried the payload: "message", "edited_message", "callback_query",
    // "my_chat_member", "chat_member", "channel_post", ..., the field name of an update kind we ignore
    // (e.g. "message_reaction", "poll"), or "unknown" when the update carries nothing recognisable.
    std::string kind;
};

// JSON nesting allowed in a webhook body (the Update object itself is depth 1). Telegram updates use
// about 8 levels; anything past this is rejected before the DOM is built.
inline constexpr std::size_t kMaxJsonDepth = 64;

// Parses one Telegram Bot API Update (a webhook body).
//
// - channel_id: copied into delivery.channel_id.
// - bot_username: the bot's @username, with or without the '@' (may be empty). "/cmd@<bot_username>"
//   is accepted case-insensitively; "/cmd@other_bot" becomes a plain kMessage. When bot_username is
//   empty the suffix cannot be checked and every "/cmd@name" is accepted as a command.
// - bot_user_id: the bot's numeric user id as text (the part of the bot token before ':'), may be
//   empty. Used to recognise the bot itself in new_chat_members / left_chat_member.
//
// delivery.dedupe_key is update_id in decimal. Update kinds we do not map yield zero events, never an
// error. Errors: the body is not a JSON object, nests deeper than kMaxJsonDepth, lacks an integer
// update_id, or a part we map lacks a required id / field. Never throws on hostile input.
std::variant<ParsedUpdate, ParseError> parse_update(std::string_view body, std::string_view channel_id,
                                                    std::string_view bot_username, std::string_view bot_user_id);

}  // namespace leadhatch::adapters::telegram
