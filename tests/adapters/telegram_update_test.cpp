#include "adapters/chat/telegram/telegram_update.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>

#include "core/messaging/inbound.hpp"
#include "core/types.hpp"

namespace leadhatch::adapters::telegram {
namespace {

using core::ChatType;
using core::InboundEvent;
using core::InboundKind;

constexpr std::string_view kChannel = "tg_main";
constexpr std::string_view kBotUsername = "yourbot";  // the fixtures spell it "YourBot"
constexpr std::string_view kBotId = "7012345678";
constexpr std::string_view kSupergroupId = "-1001234567890";

std::filesystem::path source_dir() {
    if (const char* env = std::getenv("LEADHATCH_SOURCE_DIR"); env != nullptr && *env != '\0') return env;
    return LEADHATCH_TEST_SOURCE_DIR;
}

std::string read_fixture(std::string_view name) {
    const auto path = source_dir() / "tests" / "fixtures" / "telegram" / name;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        ADD_FAILURE() << "cannot open fixture " << path;
        return {};
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

core::Timestamp at(std::int64_t unix_seconds) { return core::from_epoch_ms(unix_seconds * 1000); }

ParsedUpdate parse_ok(std::string_view body, std::string_view bot_username = kBotUsername,
                      std::string_view bot_id = kBotId) {
    auto result = parse_update(body, kChannel, bot_username, bot_id);
    if (const auto* err = std::get_if<ParseError>(&result)) {
        ADD_FAILURE() << "unexpected ParseError: " << err->message;
        return {};
    }
    return std::get<ParsedUpdate>(std::move(result));
}

ParsedUpdate parse_fixture(std::string_view name, std::string_view bot_username = kBotUsername,
                           std::string_view bot_id = kBotId) {
    SCOPED_TRACE(std::string(name));
    return parse_ok(read_fixture(name), bot_username, bot_id);
}

// The ParseError message, or "<parsed>" when the body parsed.
std::string parse_error(std::string_view body) {
    auto result = parse_update(body, kChannel, kBotUsername, kBotId);
    if (const auto* err = std::get_if<ParseError>(&result)) return err->message;
    return "<parsed>";
}

// A minimal private-chat message update around `message_fields` (JSON members, no braces).
std::string private_message(std::string_view message_fields) {
    return std::string(R"({"update_id": 10, "message": {"message_id": 5, "date": 1774353600,)"
                       R"( "from": {"id": 42, "is_bot": false, "first_name": "Ana"},)"
                       R"( "chat": {"id": 42, "type": "private", "first_name": "Ana"}, )") +
           std::string(message_fields) + "}}";
}

// ---- messages ---------------------------------------------------------------------------------------

TEST(TelegramUpdate, MapsPrivateText_ToMessage) {
    const auto u = parse_fixture("private_text.json");
    EXPECT_EQ(u.kind, "message");
    EXPECT_EQ(u.delivery.channel_id, kChannel);
    EXPECT_EQ(u.delivery.dedupe_key, "815632001");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kMessage);
    EXPECT_EQ(e.text, "Hi, do you offer a team plan for 20 seats?");
    EXPECT_EQ(e.occurred_at, at(1774353600));
    EXPECT_EQ(e.message_id, "1201");
    EXPECT_FALSE(e.edited);
    EXPECT_TRUE(e.command.empty());
    EXPECT_TRUE(e.media_kind.empty());
    EXPECT_EQ(e.user.external_id, "412345678");
    EXPECT_EQ(e.user.display_name, "Alice Nguyen");
    EXPECT_EQ(e.user.username, "alice_ng");
    EXPECT_EQ(e.user.language, "en");
    EXPECT_FALSE(e.user.is_bot);
    EXPECT_EQ(e.chat.external_id, "412345678");
    EXPECT_EQ(e.chat.type, ChatType::kPrivate);
    EXPECT_TRUE(e.chat.title.empty());
}

TEST(TelegramUpdate, MapsStartDeepLink_ToCommandWithArgs) {
    const auto campaign = parse_fixture("start_deeplink_campaign.json");
    ASSERT_EQ(campaign.delivery.events.size(), 1U);
    const InboundEvent& c = campaign.delivery.events[0];
    EXPECT_EQ(c.kind, InboundKind::kCommand);
    EXPECT_EQ(c.command, "start");
    EXPECT_EQ(c.command_args, "src_spring2026");
    EXPECT_EQ(c.text, "/start src_spring2026");
    EXPECT_EQ(c.user.external_id, "6012345678");  // > 32 bits
    EXPECT_EQ(c.user.display_name, "Priya Sharma");

    const auto referral = parse_fixture("start_deeplink_referral.json");
    ASSERT_EQ(referral.delivery.events.size(), 1U);
    const InboundEvent& r = referral.delivery.events[0];
    EXPECT_EQ(r.kind, InboundKind::kCommand);
    EXPECT_EQ(r.command, "start");
    EXPECT_EQ(r.command_args, "ref_ab12cd34");
    EXPECT_EQ(r.user.display_name, "Carlos");  // no last name: no trailing space
    EXPECT_EQ(r.user.language, "es");
    EXPECT_TRUE(r.user.username.empty());
}

TEST(TelegramUpdate, MapsCommandAddressedToThisBot_InSupergroup) {
    const auto u = parse_fixture("supergroup_help_command.json");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kCommand);
    EXPECT_EQ(e.command, "help");  // "@YourBot" matched case-insensitively and stripped
    EXPECT_TRUE(e.command_args.empty());
    EXPECT_EQ(e.chat.external_id, kSupergroupId);
    EXPECT_EQ(e.chat.type, ChatType::kGroup);
    EXPECT_EQ(e.chat.title, "Spring Launch Leads");
    EXPECT_EQ(e.user.external_id, "187654321");
    EXPECT_EQ(e.message_id, "58213");
}

TEST(TelegramUpdate, AcceptsBotUsername_WithAtSignAndAnyCase) {
    const auto u = parse_fixture("supergroup_help_command.json", "@YOURBOT");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    EXPECT_EQ(u.delivery.events[0].kind, InboundKind::kCommand);
}

TEST(TelegramUpdate, TreatsCommandForOtherBot_AsPlainMessage) {
    const auto u = parse_fixture("command_for_other_bot.json");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kMessage);
    EXPECT_EQ(e.text, "/start@other_bot poll_42");
    EXPECT_TRUE(e.command.empty());
    EXPECT_TRUE(e.command_args.empty());
}

TEST(TelegramUpdate, AcceptsAnyBotSuffix_WhenBotUsernameUnknown) {
    const auto u = parse_fixture("command_for_other_bot.json", "");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    EXPECT_EQ(u.delivery.events[0].kind, InboundKind::kCommand);
    EXPECT_EQ(u.delivery.events[0].command, "start");
    EXPECT_EQ(u.delivery.events[0].command_args, "poll_42");
}

TEST(TelegramUpdate, LowercasesCommand_AndTrimsArgs) {
    const auto u = parse_ok(private_message(R"("text": "/START@YourBot   spring  sale \n")"));
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kCommand);
    EXPECT_EQ(e.command, "start");
    EXPECT_EQ(e.command_args, "spring  sale");

    const auto multiline = parse_ok(private_message(R"("text": "/feedback\nThe demo was great")"));
    ASSERT_EQ(multiline.delivery.events.size(), 1U);
    EXPECT_EQ(multiline.delivery.events[0].command, "feedback");
    EXPECT_EQ(multiline.delivery.events[0].command_args, "The demo was great");
}

TEST(TelegramUpdate, TreatsSlashTextThatIsNoCommand_AsMessage) {
    for (const std::string_view text :
         {R"("/")", R"("/ hello")", R"("/usr/bin is a path")", R"("/start@ x")", R"("/привет")"}) {
        SCOPED_TRACE(std::string(text));
        const auto u = parse_ok(private_message(std::string(R"("text": )") + std::string(text)));
        ASSERT_EQ(u.delivery.events.size(), 1U);
        EXPECT_EQ(u.delivery.events[0].kind, InboundKind::kMessage);
        EXPECT_TRUE(u.delivery.events[0].command.empty());
    }
}

TEST(TelegramUpdate, MarksEditedMessage_AndUsesEditDate) {
    const auto u = parse_fixture("edited_message.json");
    EXPECT_EQ(u.kind, "edited_message");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kMessage);
    EXPECT_TRUE(e.edited);
    EXPECT_EQ(e.text, "Hi, do you offer a team plan for 25 seats?");
    EXPECT_EQ(e.message_id, "1201");
    EXPECT_EQ(e.occurred_at, at(1774353905));
}

TEST(TelegramUpdate, MapsPhotoWithCaption_ToMessageWithMediaKind) {
    const auto u = parse_fixture("photo_caption.json");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kMessage);
    EXPECT_EQ(e.media_kind, "photo");
    EXPECT_EQ(e.text, "Screenshot of the pricing page error");
}

TEST(TelegramUpdate, MapsMediaWithoutCaption_ToMessageWithEmptyText) {
    const auto voice = parse_ok(private_message(
        R"("voice": {"file_id": "AwACAgIAAxkBAAIE", "file_unique_id": "AgAD", "duration": 4, "mime_type": "audio/ogg"})"));
    ASSERT_EQ(voice.delivery.events.size(), 1U);
    EXPECT_EQ(voice.delivery.events[0].media_kind, "voice");
    EXPECT_TRUE(voice.delivery.events[0].text.empty());

    // Animations also carry "document" for old clients; the animation wins.
    const auto gif = parse_ok(private_message(R"("animation": {"file_id": "CgAC", "file_unique_id": "AgAD"},)"
                                              R"( "document": {"file_id": "CgAC", "file_unique_id": "AgAD"})"));
    ASSERT_EQ(gif.delivery.events.size(), 1U);
    EXPECT_EQ(gif.delivery.events[0].media_kind, "animation");

    const auto sticker = parse_ok(private_message(R"("sticker": {"file_id": "CAAC", "emoji": "😀"})"));
    ASSERT_EQ(sticker.delivery.events.size(), 1U);
    EXPECT_EQ(sticker.delivery.events[0].media_kind, "sticker");
}

TEST(TelegramUpdate, MapsContact_ToContactShared) {
    const auto u = parse_fixture("contact_shared.json");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kContactShared);
    EXPECT_EQ(e.contact.phone, "+14155550123");
    EXPECT_EQ(e.contact.first_name, "Alice");
    EXPECT_EQ(e.contact.last_name, "Nguyen");
    EXPECT_EQ(e.contact.user_id, "412345678");
    EXPECT_EQ(e.user.external_id, "412345678");
    EXPECT_EQ(e.message_id, "1210");
}

TEST(TelegramUpdate, MapsContactOfNonUser_WithEmptyUserId) {
    const auto u = parse_ok(private_message(R"("contact": {"phone_number": "+8613800138000", "first_name": "李"})"));
    ASSERT_EQ(u.delivery.events.size(), 1U);
    EXPECT_EQ(u.delivery.events[0].contact.phone, "+8613800138000");
    EXPECT_EQ(u.delivery.events[0].contact.first_name, "李");
    EXPECT_TRUE(u.delivery.events[0].contact.user_id.empty());
}

TEST(TelegramUpdate, IgnoresChannelPost_AndServiceMessages) {
    const auto post = parse_fixture("channel_post.json");
    EXPECT_EQ(post.kind, "channel_post");
    EXPECT_EQ(post.delivery.dedupe_key, "815632024");
    EXPECT_TRUE(post.delivery.events.empty());

    const auto title = parse_fixture("service_new_chat_title.json");
    EXPECT_EQ(title.kind, "message");
    EXPECT_TRUE(title.delivery.events.empty());
}

// ---- callback queries -------------------------------------------------------------------------------

TEST(TelegramUpdate, MapsCallbackQuery_ToButtonPress) {
    const auto u = parse_fixture("callback_query.json");
    EXPECT_EQ(u.kind, "callback_query");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kButtonPress);
    EXPECT_EQ(e.button_data, "book_demo");
    EXPECT_EQ(e.reply_token, "1770918272645237154");
    EXPECT_EQ(e.user.external_id, "412345678");
    EXPECT_EQ(e.chat.external_id, "412345678");
    EXPECT_EQ(e.chat.type, ChatType::kPrivate);
    EXPECT_EQ(e.message_id, "1211");
    EXPECT_EQ(e.occurred_at, core::Timestamp{});  // a press carries no date of its own
}

TEST(TelegramUpdate, MapsInlineCallbackQuery_ToPresserPrivateChat) {
    const auto u = parse_fixture("callback_query_inline.json");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kButtonPress);
    EXPECT_EQ(e.button_data, "pricing");
    EXPECT_EQ(e.chat.external_id, "298765432");
    EXPECT_EQ(e.chat.type, ChatType::kPrivate);
    EXPECT_TRUE(e.message_id.empty());
}

TEST(TelegramUpdate, MapsCallbackQueryInGroup_ToGroupChat) {
    const auto u = parse_ok(R"({"update_id": 11, "callback_query": {"id": "99", "data": "join",
        "from": {"id": 42, "is_bot": false, "first_name": "Ana"},
        "message": {"message_id": 7, "date": 1774353600,
                    "chat": {"id": -1001234567890, "type": "supergroup", "title": "Spring Launch Leads"}}}})");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    EXPECT_EQ(u.delivery.events[0].chat.external_id, kSupergroupId);
    EXPECT_EQ(u.delivery.events[0].chat.type, ChatType::kGroup);
    EXPECT_EQ(u.delivery.events[0].chat.title, "Spring Launch Leads");
}

// ---- joins and leaves via service messages ----------------------------------------------------------

TEST(TelegramUpdate, MapsNewChatMembers_ToOneJoinPerMember) {
    const auto u = parse_fixture("new_chat_members_two.json");
    ASSERT_EQ(u.delivery.events.size(), 2U);
    const InboundEvent& a = u.delivery.events[0];
    const InboundEvent& b = u.delivery.events[1];
    EXPECT_EQ(a.kind, InboundKind::kMemberJoined);
    EXPECT_EQ(a.user.external_id, "5123456789");
    EXPECT_EQ(a.user.display_name, "伟 王");
    EXPECT_EQ(b.kind, InboundKind::kMemberJoined);
    EXPECT_EQ(b.user.external_id, "298765432");
    for (const auto& e : u.delivery.events) {
        EXPECT_EQ(e.chat.external_id, kSupergroupId);
        EXPECT_EQ(e.chat.type, ChatType::kGroup);
        EXPECT_EQ(e.chat.title, "Spring Launch Leads");
        EXPECT_EQ(e.occurred_at, at(1774354300));
    }
}

TEST(TelegramUpdate, MapsBotInNewChatMembers_ToBotAddedByInviter) {
    const auto u = parse_fixture("new_chat_members_bot.json");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kBotAdded);
    EXPECT_EQ(e.user.external_id, "187654321");  // who added the bot
    EXPECT_EQ(e.user.display_name, "Marta Kowalska");
    EXPECT_EQ(e.chat.external_id, "-4012345678");
    EXPECT_EQ(e.chat.type, ChatType::kGroup);
    EXPECT_EQ(e.chat.title, "Sales Team");
}

TEST(TelegramUpdate, RecognisesBot_ByUsernameWhenIdUnknown_AndByIdWhenUsernameUnknown) {
    const auto by_name = parse_fixture("new_chat_members_bot.json", kBotUsername, "");
    ASSERT_EQ(by_name.delivery.events.size(), 1U);
    EXPECT_EQ(by_name.delivery.events[0].kind, InboundKind::kBotAdded);

    const auto by_id = parse_fixture("new_chat_members_bot.json", "", kBotId);
    ASSERT_EQ(by_id.delivery.events.size(), 1U);
    EXPECT_EQ(by_id.delivery.events[0].kind, InboundKind::kBotAdded);

    // Another bot joining is just a member.
    const auto other = parse_fixture("new_chat_members_bot.json", "some_other_bot", "123");
    ASSERT_EQ(other.delivery.events.size(), 1U);
    EXPECT_EQ(other.delivery.events[0].kind, InboundKind::kMemberJoined);
    EXPECT_EQ(other.delivery.events[0].user.external_id, "7012345678");
    EXPECT_TRUE(other.delivery.events[0].user.is_bot);
}

TEST(TelegramUpdate, MapsLeftChatMember_ToMemberLeft) {
    const auto u = parse_fixture("left_chat_member.json");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kMemberLeft);
    EXPECT_EQ(e.user.external_id, "298765432");
    EXPECT_EQ(e.chat.external_id, kSupergroupId);
}

TEST(TelegramUpdate, MapsBotAsLeftChatMember_ToBotRemovedByRemover) {
    const auto u = parse_fixture("left_chat_member_bot.json");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kBotRemoved);
    EXPECT_EQ(e.user.external_id, "187654321");
    EXPECT_EQ(e.chat.external_id, "-4012345678");
}

// ---- my_chat_member ---------------------------------------------------------------------------------

TEST(TelegramUpdate, MapsMyChatMemberKickedInPrivate_ToUserBlockedBot) {
    const auto u = parse_fixture("my_chat_member_private_kicked.json");
    EXPECT_EQ(u.kind, "my_chat_member");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kUserBlockedBot);
    EXPECT_EQ(e.user.external_id, "412345678");
    EXPECT_EQ(e.chat.external_id, "412345678");
    EXPECT_EQ(e.chat.type, ChatType::kPrivate);
    EXPECT_EQ(e.occurred_at, at(1774354700));
}

TEST(TelegramUpdate, MapsMyChatMemberMemberAfterKicked_ToUserUnblockedBot) {
    const auto u = parse_fixture("my_chat_member_private_member.json");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    EXPECT_EQ(u.delivery.events[0].kind, InboundKind::kUserUnblockedBot);
    EXPECT_EQ(u.delivery.events[0].user.external_id, "412345678");
}

TEST(TelegramUpdate, MapsMyChatMemberAddedToGroup_ToBotAdded) {
    const auto u = parse_fixture("my_chat_member_group_added.json");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kBotAdded);
    EXPECT_EQ(e.user.external_id, "187654321");
    EXPECT_EQ(e.chat.external_id, kSupergroupId);
    EXPECT_EQ(e.chat.type, ChatType::kGroup);
    EXPECT_EQ(e.chat.title, "Spring Launch Leads");
}

TEST(TelegramUpdate, MapsMyChatMemberLeftGroup_ToBotRemoved) {
    const auto u = parse_fixture("my_chat_member_group_removed.json");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    EXPECT_EQ(u.delivery.events[0].kind, InboundKind::kBotRemoved);
    EXPECT_EQ(u.delivery.events[0].user.external_id, "187654321");
    EXPECT_EQ(u.delivery.events[0].chat.external_id, "-4012345678");
}

std::string my_chat_member(std::string_view chat_type, std::string_view old_status, std::string_view new_status) {
    return std::string(R"({"update_id": 12, "my_chat_member": {"date": 1774353600,)") +
           R"( "chat": {"id": -1001234567890, "type": ")" + std::string(chat_type) + R"(", "title": "G"},)" +
           R"( "from": {"id": 42, "is_bot": false, "first_name": "Ana"},)" +
           R"( "old_chat_member": {"user": {"id": 7012345678, "is_bot": true, "first_name": "B"}, "status": ")" +
           std::string(old_status) + R"("},)" +
           R"( "new_chat_member": {"user": {"id": 7012345678, "is_bot": true, "first_name": "B"}, "status": ")" +
           std::string(new_status) + R"("}}})";
}

TEST(TelegramUpdate, IgnoresMyChatMemberChanges_ThatKeepTheBotInOrOut) {
    for (const auto& [from, to] :
         {std::pair{"member", "administrator"}, std::pair{"administrator", "member"}, std::pair{"left", "kicked"}}) {
        SCOPED_TRACE(std::string(from) + " -> " + to);
        const auto u = parse_ok(my_chat_member("supergroup", from, to));
        EXPECT_EQ(u.kind, "my_chat_member");
        EXPECT_TRUE(u.delivery.events.empty());
    }
    const auto kicked_group = parse_ok(my_chat_member("group", "administrator", "kicked"));
    ASSERT_EQ(kicked_group.delivery.events.size(), 1U);
    EXPECT_EQ(kicked_group.delivery.events[0].kind, InboundKind::kBotRemoved);

    const auto channel = parse_ok(my_chat_member("channel", "left", "administrator"));
    EXPECT_TRUE(channel.delivery.events.empty());
}

// ---- chat_member ------------------------------------------------------------------------------------

TEST(TelegramUpdate, MapsChatMemberJoin_ToMemberJoined) {
    const auto u = parse_fixture("chat_member_join.json");
    EXPECT_EQ(u.kind, "chat_member");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kMemberJoined);
    EXPECT_EQ(e.user.external_id, "5123456789");
    EXPECT_EQ(e.user.display_name, "伟 王");
    EXPECT_EQ(e.user.language, "zh-hans");
    EXPECT_EQ(e.chat.external_id, kSupergroupId);
    EXPECT_EQ(e.occurred_at, at(1774355100));
}

TEST(TelegramUpdate, MapsChatMemberKicked_ToMemberLeftAboutTheMember) {
    const auto u = parse_fixture("chat_member_leave.json");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kMemberLeft);
    EXPECT_EQ(e.user.external_id, "298765432");  // the member, not the admin who removed them
}

std::string chat_member(std::string_view old_member, std::string_view new_member) {
    const std::string user = R"("user": {"id": 42, "is_bot": false, "first_name": "Ana"}, )";
    return std::string(R"({"update_id": 13, "chat_member": {"date": 1774353600,)") +
           R"( "chat": {"id": -1001234567890, "type": "supergroup", "title": "G"},)" +
           R"( "from": {"id": 1, "is_bot": false, "first_name": "Admin"},)" + R"( "old_chat_member": {)" + user +
           std::string(old_member) + R"(}, "new_chat_member": {)" + user + std::string(new_member) + "}}}";
}

TEST(TelegramUpdate, TreatsRestrictedMember_ByIsMember) {
    const auto joined = parse_ok(chat_member(R"("status": "left")", R"("status": "restricted", "is_member": true)"));
    ASSERT_EQ(joined.delivery.events.size(), 1U);
    EXPECT_EQ(joined.delivery.events[0].kind, InboundKind::kMemberJoined);

    const auto outside = parse_ok(chat_member(R"("status": "left")", R"("status": "restricted", "is_member": false)"));
    EXPECT_TRUE(outside.delivery.events.empty());

    const auto left = parse_ok(chat_member(R"("status": "restricted", "is_member": true)", R"("status": "left")"));
    ASSERT_EQ(left.delivery.events.size(), 1U);
    EXPECT_EQ(left.delivery.events[0].kind, InboundKind::kMemberLeft);

    const auto promoted = parse_ok(chat_member(R"("status": "member")", R"("status": "administrator")"));
    EXPECT_TRUE(promoted.delivery.events.empty());

    const auto creator = parse_ok(chat_member(R"("status": "kicked")", R"("status": "creator")"));
    ASSERT_EQ(creator.delivery.events.size(), 1U);
    EXPECT_EQ(creator.delivery.events[0].kind, InboundKind::kMemberJoined);
}

// ---- other update kinds -----------------------------------------------------------------------------

TEST(TelegramUpdate, ReportsUnmappedUpdateKinds_WithZeroEvents) {
    const auto reaction = parse_fixture("message_reaction.json");
    EXPECT_EQ(reaction.kind, "message_reaction");
    EXPECT_EQ(reaction.delivery.dedupe_key, "815632020");
    EXPECT_TRUE(reaction.delivery.events.empty());

    const auto poll = parse_fixture("poll.json");
    EXPECT_EQ(poll.kind, "poll");
    EXPECT_TRUE(poll.delivery.events.empty());

    const auto bare = parse_ok(R"({"update_id": 77})");
    EXPECT_EQ(bare.kind, "unknown");
    EXPECT_EQ(bare.delivery.dedupe_key, "77");
    EXPECT_TRUE(bare.delivery.events.empty());

    // A payload that is not an object is treated as absent, not as an error.
    const auto odd = parse_ok(R"({"update_id": 78, "message": "hello", "X-Weird Key!": {}})");
    EXPECT_EQ(odd.kind, "unknown");
    EXPECT_TRUE(odd.delivery.events.empty());
}

// ---- leniency ---------------------------------------------------------------------------------------

TEST(TelegramUpdate, AcceptsIdsAsNumericStrings) {
    const auto u = parse_fixture("ids_as_strings.json");
    EXPECT_EQ(u.delivery.dedupe_key, "815632022");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.user.external_id, "5123456789");
    EXPECT_EQ(e.chat.external_id, kSupergroupId);
    EXPECT_EQ(e.message_id, "1230");
    EXPECT_EQ(e.occurred_at, at(1774355400));
}

TEST(TelegramUpdate, KeepsChineseAndEmojiText) {
    const auto u = parse_fixture("chinese_emoji_text.json");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.text, "你好！我想了解一下企业版的价格 🚀🙏 谢谢");
    EXPECT_EQ(e.user.display_name, "伟 王");

    // \u escapes (including a surrogate pair) decode to UTF-8.
    const auto escaped = parse_ok(private_message(R"("text": "\u4f60\u597d \ud83d\ude80")"));
    ASSERT_EQ(escaped.delivery.events.size(), 1U);
    EXPECT_EQ(escaped.delivery.events[0].text, "你好 🚀");
}

TEST(TelegramUpdate, IgnoresUnknownAndWrongTypedOptionalFields) {
    const auto u = parse_ok(R"({"update_id": 14, "brand_new_field": {"a": [1, 2]}, "message": {
        "message_id": "not-a-number", "date": "yesterday", "some_future_field": true,
        "from": {"id": 42, "first_name": 7, "last_name": "Lee", "username": ["x"], "language_code": null,
                 "is_bot": "no"},
        "chat": {"id": 42, "type": "private", "title": {"nested": 1}},
        "text": "hello", "entities": "oops", "photo": "not-an-array"}})");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    const InboundEvent& e = u.delivery.events[0];
    EXPECT_EQ(e.kind, InboundKind::kMessage);
    EXPECT_EQ(e.text, "hello");
    EXPECT_TRUE(e.message_id.empty());
    EXPECT_EQ(e.occurred_at, core::Timestamp{});
    EXPECT_EQ(e.user.display_name, "Lee");
    EXPECT_TRUE(e.user.username.empty());
    EXPECT_TRUE(e.user.language.empty());
    EXPECT_FALSE(e.user.is_bot);
    EXPECT_TRUE(e.media_kind.empty());
}

TEST(TelegramUpdate, HandlesInt64Extremes) {
    const auto u = parse_ok(R"({"update_id": 9223372036854775807, "message": {"message_id": 1, "date": 1,
        "from": {"id": 9223372036854775807, "first_name": "Max"},
        "chat": {"id": -9223372036854775808, "type": "supergroup", "title": "Min"}, "text": "hi"}})");
    EXPECT_EQ(u.delivery.dedupe_key, "9223372036854775807");
    ASSERT_EQ(u.delivery.events.size(), 1U);
    EXPECT_EQ(u.delivery.events[0].user.external_id, "9223372036854775807");
    EXPECT_EQ(u.delivery.events[0].chat.external_id, "-9223372036854775808");
    EXPECT_EQ(u.delivery.events[0].occurred_at, at(1));

    EXPECT_EQ(parse_error(R"({"update_id": 9223372036854775808})"), "update_id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": "9223372036854775808"})"), "update_id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": 123456789012345678901234567890})"), "update_id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": 1, "message": {"date": 1, "from": {"id": 18446744073709551615},
        "chat": {"id": 42, "type": "private"}, "text": "x"}})"),
              "message.from.id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": 1, "message": {"date": 1, "from": {"id": 42},
        "chat": {"id": "-9223372036854775809", "type": "private"}, "text": "x"}})"),
              "message.chat.id: required integer");

    // An absurd date does not overflow: it reads as absent.
    const auto date = parse_ok(R"({"update_id": 1, "message": {"date": 9223372036854775807, "from": {"id": 42},
        "chat": {"id": 42, "type": "private"}, "text": "x"}})");
    ASSERT_EQ(date.delivery.events.size(), 1U);
    EXPECT_EQ(date.delivery.events[0].occurred_at, core::Timestamp{});
}

// ---- malformed input --------------------------------------------------------------------------------

TEST(TelegramUpdate, RejectsBodiesThatAreNotJsonObjects) {
    EXPECT_EQ(parse_error(""), "body: not valid JSON");
    EXPECT_EQ(parse_error("not json"), "body: not valid JSON");
    EXPECT_EQ(parse_error(R"({"update_id": 1,})"), "body: not valid JSON");
    EXPECT_EQ(parse_error(R"({"update_id": 1} trailing)"), "body: not valid JSON");
    EXPECT_EQ(parse_error("{\"update_id\": 1, \"message\": {\"text\": \"\xff\xfe\"}}"), "body: not valid JSON");
    EXPECT_EQ(parse_error(R"([{"update_id": 1}])"), "body: required JSON object");
    EXPECT_EQ(parse_error("42"), "body: required JSON object");
    EXPECT_EQ(parse_error("null"), "body: required JSON object");
    EXPECT_EQ(parse_error(R"("update_id")"), "body: required JSON object");
}

TEST(TelegramUpdate, RejectsMissingOrNonIntegerUpdateId) {
    EXPECT_EQ(parse_error(R"({"message": {"text": "hi"}})"), "update_id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": "abc"})"), "update_id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": ""})"), "update_id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": "-5"})"), "update_id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": " 5"})"), "update_id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": "5e3"})"), "update_id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": 1.5})"), "update_id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": 1.0})"), "update_id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": 1e3})"), "update_id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": null})"), "update_id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": true})"), "update_id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": [1]})"), "update_id: required integer");
}

TEST(TelegramUpdate, RejectsMessageWithoutUsableChat) {
    EXPECT_EQ(parse_error(R"({"update_id": 1, "message": {"message_id": 1, "date": 1,
        "from": {"id": 42, "first_name": "Ana"}, "text": "hi"}})"),
              "message.chat: required object");
    EXPECT_EQ(parse_error(R"({"update_id": 1, "message": {"message_id": 1, "date": 1,
        "from": {"id": 42, "first_name": "Ana"}, "chat": {"type": "private"}, "text": "hi"}})"),
              "message.chat.id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": 1, "edited_message": {"message_id": 1, "date": 1,
        "from": {"id": 42, "first_name": "Ana"}, "chat": {"id": 4.2, "type": "private"}, "text": "hi"}})"),
              "edited_message.chat.id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": 1, "message": {"message_id": 1, "date": 1,
        "from": {"id": 42, "first_name": "Ana"}, "chat": {"id": "12ab", "type": "private"}, "text": "hi"}})"),
              "message.chat.id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": 1, "message": {"message_id": 1, "date": 1,
        "from": {"id": 42, "first_name": "Ana"}, "chat": {"id": 42}, "text": "hi"}})"),
              "message.chat.type: required string");
}

TEST(TelegramUpdate, RejectsMissingIdsInPartsItMaps) {
    EXPECT_EQ(parse_error(R"({"update_id": 1, "message": {"message_id": 1, "date": 1,
        "chat": {"id": 42, "type": "private"}, "text": "hi"}})"),
              "message.from: required object");
    EXPECT_EQ(parse_error(R"({"update_id": 1, "message": {"message_id": 1, "date": 1,
        "from": {"first_name": "Ana"}, "chat": {"id": 42, "type": "private"}, "text": "hi"}})"),
              "message.from.id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": 1, "message": {"message_id": 1, "date": 1,
        "from": {"id": 1, "first_name": "Ana"}, "chat": {"id": -100, "type": "supergroup"},
        "new_chat_members": [{"id": 2, "first_name": "B"}, {"first_name": "C"}]}})"),
              "message.new_chat_members[1].id: required integer");
    EXPECT_EQ(parse_error(private_message(R"("contact": {"first_name": "Ana"})")),
              "message.contact.phone_number: required string");
    EXPECT_EQ(parse_error(R"({"update_id": 1, "callback_query": {"from": {"id": 42}, "data": "x"}})"),
              "callback_query.id: required string");
    EXPECT_EQ(parse_error(R"({"update_id": 1, "callback_query": {"id": "9", "data": "x"}})"),
              "callback_query.from: required object");
    EXPECT_EQ(parse_error(R"({"update_id": 1, "callback_query": {"id": "9", "from": {"id": 42},
        "message": {"message_id": 3, "chat": {"type": "private"}}}})"),
              "callback_query.message.chat.id: required integer");
    EXPECT_EQ(parse_error(R"({"update_id": 1, "my_chat_member": {"chat": {"id": 42, "type": "private"},
        "from": {"id": 42}, "date": 1, "old_chat_member": {"status": "member"},
        "new_chat_member": {"user": {"id": 7}}}})"),
              "my_chat_member.new_chat_member.status: required string");
    EXPECT_EQ(parse_error(R"({"update_id": 1, "chat_member": {"chat": {"id": -100, "type": "supergroup"},
        "from": {"id": 1}, "date": 1, "old_chat_member": {"status": "left", "user": {"id": 42}},
        "new_chat_member": {"status": "member", "user": {"id": "forty-two"}}}})"),
              "chat_member.new_chat_member.user.id: required integer");
}

TEST(TelegramUpdate, RejectsDeepNesting_Quickly) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(parse_error(std::string(100000, '[')), "body: JSON nested deeper than 64 levels");
    EXPECT_EQ(parse_error(std::string(100000, '[') + std::string(100000, ']')),
              "body: JSON nested deeper than 64 levels");
    std::string objects = R"({"update_id": 1, "x": )";
    for (int i = 0; i < 100000; ++i) objects += R"({"a":)";
    EXPECT_EQ(parse_error(objects), "body: JSON nested deeper than 64 levels");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(TelegramUpdate, AcceptsNestingUpToTheLimit_AndIgnoresBracketsInStrings) {
    const auto at_limit = std::string(R"({"update_id": 1, "x": )") + std::string(kMaxJsonDepth - 1, '[') +
                          std::string(kMaxJsonDepth - 1, ']') + "}";
    EXPECT_EQ(parse_ok(at_limit).delivery.dedupe_key, "1");

    const auto over = std::string(R"({"update_id": 1, "x": )") + std::string(kMaxJsonDepth, '[') +
                      std::string(kMaxJsonDepth, ']') + "}";
    EXPECT_EQ(parse_error(over), "body: JSON nested deeper than 64 levels");

    const auto text = std::string(200, '[') + "\\\"{{{" + std::string(200, '{');
    const auto u = parse_ok(private_message(R"("text": ")" + text + R"(")"));
    ASSERT_EQ(u.delivery.events.size(), 1U);
    EXPECT_EQ(u.delivery.events[0].text, std::string(200, '[') + "\"{{{" + std::string(200, '{'));
}

}  // namespace
}  // namespace leadhatch::adapters::telegram
