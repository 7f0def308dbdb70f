#include "core/messaging/inbound.hpp"
#include "core/messaging/outbound.hpp"
#include "core/storage/storage.hpp"

namespace leadhatch::core {

std::string_view to_string(InboundKind k) {
    switch (k) {
        case InboundKind::kMessage: return "message";
        case InboundKind::kCommand: return "command";
        case InboundKind::kButtonPress: return "button_press";
        case InboundKind::kContactShared: return "contact_shared";
        case InboundKind::kMemberJoined: return "member_joined";
        case InboundKind::kMemberLeft: return "member_left";
        case InboundKind::kBotAdded: return "bot_added";
        case InboundKind::kBotRemoved: return "bot_removed";
        case InboundKind::kUserBlockedBot: return "user_blocked_bot";
        case InboundKind::kUserUnblockedBot: return "user_unblocked_bot";
        case InboundKind::kFollow: return "follow";
        case InboundKind::kUnfollow: return "unfollow";
        case InboundKind::kLinkClicked: return "link_clicked";
    }
    return "unknown";
}

std::string_view to_string(ChatType t) {
    switch (t) {
        case ChatType::kPrivate: return "private";
        case ChatType::kGroup: return "group";
        case ChatType::kChannel: return "channel";
    }
    return "unknown";
}

std::string_view to_string(OutboundKind k) {
    switch (k) {
        case OutboundKind::kText: return "text";
        case OutboundKind::kCallbackAnswer: return "callback_answer";
    }
    return "unknown";
}

std::string_view to_string(OutboxStatus s) {
    switch (s) {
        case OutboxStatus::kPending: return "pending";
        case OutboxStatus::kSent: return "sent";
        case OutboxStatus::kDead: return "dead";
        case OutboxStatus::kSuppressed: return "suppressed";
    }
    return "unknown";
}

}  // namespace leadhatch::core
