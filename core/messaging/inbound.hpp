#pragma once

#include <string>
#include <vector>

#include "core/types.hpp"

namespace leadhatch::core {

// What happened, in platform-neutral terms. Adapters map platform payloads to these.
enum class InboundKind {
    kMessage,         // text, caption or media from a person
    kCommand,         // "/start payload", "/help", also menu commands
    kButtonPress,     // inline button / menu click with its data
    kContactShared,   // the person shared a phone number
    kMemberJoined,    // the person joined a group
    kMemberLeft,      // the person left (or was removed from) a group
    kBotAdded,        // the bot was added to a group (subject: who added it)
    kBotRemoved,      // the bot was removed from a group
    kUserBlockedBot,  // private chat: the person blocked the bot / unfollowed
    kUserUnblockedBot,
    kFollow,          // the person followed an account (WeChat subscribe, ...)
    kUnfollow,
    kLinkClicked,
};

std::string_view to_string(InboundKind k);

enum class ChatType { kPrivate, kGroup, kChannel };
std::string_view to_string(ChatType t);

// A person on a platform. `external_id` is the platform's stable user id, as text (64-bit safe).
struct UserRef {
    std::string external_id;
    std::string display_name;
    std::string username;
    std::string language;  // IETF tag as the platform reports it ("en", "zh-hans", ...)
    bool is_bot = false;
};

struct ChatRef {
    std::string external_id;
    ChatType type = ChatType::kPrivate;
    std::string title;
};

struct SharedContact {
    std::string phone;
    std::string first_name;
    std::string last_name;
    std::string user_id;  // set when the contact is a platform user
};

struct InboundEvent {
    InboundKind kind = InboundKind::kMessage;
    Timestamp occurred_at{};
    UserRef user;          // the subject: the person this event is about (becomes/updates a lead)
    ChatRef chat;          // where it happened; replies go here
    std::string message_id;
    std::string text;      // message text or caption
    std::string command;   // "start" for "/start@my_bot src_x" (lower-case, no slash, no @bot)
    std::string command_args;
    std::string button_data;
    std::string reply_token;  // e.g. the Telegram callback_query id to answer
    std::string scene;        // QR scene / deep-link payload carried by follow/scan events
    SharedContact contact;
    bool edited = false;
    std::string media_kind;  // "photo", "voice", ... when the message is not text
    // The employee behind the event (WeCom: the UserID who added an external contact). A lead
    // created by the event gets this owner.
    std::string owner_hint;
    // The event comes from the business's own staff (a WeCom employee writing to the app): it may
    // carry a rep command ("claim 123") and never makes the sender a lead. owner_hint is the
    // employee.
    bool staff = false;
};

// One webhook delivery: the unit of deduplication. A delivery may carry several events (a group
// join with three new members) or none (an update kind we ignore).
struct InboundDelivery {
    std::string channel_id;
    std::string dedupe_key;
    std::vector<InboundEvent> events;
};

}  // namespace leadhatch::core
