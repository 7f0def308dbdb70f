#include "adapters/chat/telegram/telegram_update.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/types.hpp"

namespace leadhatch::adapters::telegram {
namespace {

using Json = nlohmann::json;
using core::ChatType;
using core::InboundEvent;
using core::InboundKind;

// Message fields that carry content other than text, in the order we test them. "animation" comes
// before "document" (animations also fill "document" for old clients), "venue" before "location".
constexpr std::array<std::string_view, 16> kMediaFields{
    "animation",  "photo", "video", "video_note", "voice", "audio", "document", "sticker",
    "paid_media", "story", "venue", "location",   "poll",  "dice",  "game",     "invoice",
};

// Update fields we know; the first one present decides ParsedUpdate::kind.
constexpr std::array<std::string_view, 7> kKnownKinds{
    "message",     "edited_message", "callback_query",      "my_chat_member",
    "chat_member", "channel_post",   "edited_channel_post",
};

// What the parser needs to know about the bot itself.
struct BotIdentity {
    std::string username;                 // lower-case, without '@'; empty when unknown
    std::optional<std::int64_t> user_id;  // from the token prefix; nullopt when unknown
};

// ---- generic readers -------------------------------------------------------------------------------

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = ascii_lower(c);
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
    return s;
}

// Walks the raw text once and reports whether arrays/objects nest deeper than `max_depth`. Brackets
// inside strings do not count. For valid JSON this is exact; invalid JSON is rejected by the parser
// afterwards anyway. Runs before the DOM is built so a hostile body never allocates deep structures.
bool nests_deeper_than(std::string_view body, std::size_t max_depth) {
    std::size_t depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < body.size(); ++i) {
        const char c = body[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        switch (c) {
            case '"':
                in_string = true;
                break;
            case '[':
            case '{':
                if (++depth > max_depth) return true;
                break;
            case ']':
            case '}':
                if (depth > 0) --depth;
                break;
            default:
                break;
        }
    }
    return false;
}

// A decimal integer written as text: optional '-' (when allowed), then digits only.
std::optional<std::int64_t> parse_decimal(std::string_view s, bool allow_negative) {
    if (s.empty() || s.size() > 20) return std::nullopt;
    if (s.front() == '-' && !allow_negative) return std::nullopt;
    std::int64_t v = 0;
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, v);
    if (ec != std::errc{} || ptr != end) return std::nullopt;
    return v;
}

// A JSON integer (signed or unsigned, fitting int64) or, leniently, a numeric string. Floats never
// count: nlohmann stores integers that overflow 64 bits as floats, so this also rejects them.
std::optional<std::int64_t> as_int64(const Json& v, bool allow_negative_string = true) {
    if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
        return static_cast<std::int64_t>(u);
    }
    if (v.is_number_integer()) return v.get<std::int64_t>();
    if (v.is_string()) return parse_decimal(v.get_ref<const std::string&>(), allow_negative_string);
    return std::nullopt;
}

const Json* field(const Json& obj, std::string_view key) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

const Json* object_field(const Json& obj, std::string_view key) {
    const Json* v = field(obj, key);
    return (v && v->is_object()) ? v : nullptr;
}

std::optional<std::int64_t> int_field(const Json& obj, std::string_view key) {
    const Json* v = field(obj, key);
    return v ? as_int64(*v) : std::nullopt;
}

// Optional string: absent or wrong-typed reads as empty.
std::string string_field(const Json& obj, std::string_view key) {
    const Json* v = field(obj, key);
    return (v && v->is_string()) ? v->get<std::string>() : std::string();
}

const std::string* string_ptr(const Json& obj, std::string_view key) {
    const Json* v = field(obj, key);
    return (v && v->is_string()) ? &v->get_ref<const std::string&>() : nullptr;
}

bool bool_field(const Json& obj, std::string_view key) {
    const Json* v = field(obj, key);
    return v && v->is_boolean() && v->get<bool>();
}

std::string path_of(std::string_view base, std::string_view key) {
    std::string p(base);
    p += '.';
    p += key;
    return p;
}

ParseError required(std::string_view path, std::string_view what) {
    std::string m(path);
    m += ": required ";
    m += what;
    return ParseError{std::move(m)};
}

// Unix seconds to a Timestamp; absent, negative or absurd values read as the epoch (0).
core::Timestamp unix_seconds(std::optional<std::int64_t> secs) {
    constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / 1000;
    if (!secs || *secs < 0 || *secs > kMaxSeconds) return core::Timestamp{};
    return core::from_epoch_ms(*secs * 1000);
}

// ---- Telegram objects ------------------------------------------------------------------------------

// User: id is required, the rest optional.
std::optional<ParseError> read_user(const Json& user, std::string_view path, core::UserRef& out) {
    if (!user.is_object()) return required(path, "object");
    const auto id = int_field(user, "id");
    if (!id) return required(path_of(path, "id"), "integer");
    out.external_id = std::to_string(*id);
    std::string name = string_field(user, "first_name");
    const std::string last = string_field(user, "last_name");
    if (!last.empty()) {
        if (!name.empty()) name += ' ';
        name += last;
    }
    out.display_name = std::move(name);
    out.username = string_field(user, "username");
    out.language = string_field(user, "language_code");
    out.is_bot = bool_field(user, "is_bot");
    return std::nullopt;
}

// Reads parent[key] as a required User.
std::optional<ParseError> read_user_field(const Json& parent, std::string_view parent_path, std::string_view key,
                                          core::UserRef& out) {
    const std::string path = path_of(parent_path, key);
    const Json* user = object_field(parent, key);
    if (!user) return required(path, "object");
    return read_user(*user, path, out);
}

struct ChatInfo {
    core::ChatRef ref;
    bool mapped = false;  // false for chat types we do not map (a future type)
};

// Chat: id and type are required. "private" -> kPrivate, "group"/"supergroup" -> kGroup,
// "channel" -> kChannel; anything else leaves `mapped` false.
std::optional<ParseError> read_chat_field(const Json& parent, std::string_view parent_path, ChatInfo& out) {
    const std::string path = path_of(parent_path, "chat");
    const Json* chat = object_field(parent, "chat");
    if (!chat) return required(path, "object");
    const auto id = int_field(*chat, "id");
    if (!id) return required(path_of(path, "id"), "integer");
    const std::string* type = string_ptr(*chat, "type");
    if (!type) return required(path_of(path, "type"), "string");
    out.ref.external_id = std::to_string(*id);
    out.mapped = true;
    if (*type == "private") {
        out.ref.type = ChatType::kPrivate;
    } else if (*type == "group" || *type == "supergroup") {
        out.ref.type = ChatType::kGroup;
    } else if (*type == "channel") {
        out.ref.type = ChatType::kChannel;
    } else {
        out.mapped = false;
    }
    if (out.ref.type != ChatType::kPrivate) out.ref.title = string_field(*chat, "title");
    return std::nullopt;
}

bool is_bot_itself(const core::UserRef& user, const BotIdentity& bot) {
    if (bot.user_id && user.external_id == std::to_string(*bot.user_id)) return true;
    return user.is_bot && !bot.username.empty() && iequals(user.username, bot.username);
}

struct Command {
    std::string name;
    std::string args;
};

// "/name[@bot][ args]". The name is 1-64 of [A-Za-z0-9_]; a "@bot" suffix must name this bot (when we
// know our username). Anything else is not a command for us.
std::optional<Command> parse_command(std::string_view text, const BotIdentity& bot) {
    if (text.size() < 2 || text.front() != '/') return std::nullopt;
    std::size_t end = 1;
    while (end < text.size() && !is_ascii_space(text[end])) ++end;
    std::string_view token = text.substr(1, end - 1);
    std::string_view target;
    if (const auto at = token.find('@'); at != std::string_view::npos) {
        target = token.substr(at + 1);
        token = token.substr(0, at);
        if (target.empty()) return std::nullopt;
        if (!bot.username.empty() && !iequals(target, bot.username)) return std::nullopt;
    }
    if (token.empty() || token.size() > 64) return std::nullopt;
    const auto command_char = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    };
    if (!std::ranges::all_of(token, command_char)) return std::nullopt;
    return Command{ascii_lower(token), std::string(trim(text.substr(end)))};
}

// The first content field present with a plausible type (objects, or arrays for photo / paid_media).
std::string_view media_kind_of(const Json& msg) {
    for (const auto name : kMediaFields) {
        const Json* v = field(msg, name);
        if (v && (v->is_object() || v->is_array())) return name;
    }
    return {};
}

// message / edited_message. Channel chats and unknown chat types produce no events.
std::optional<ParseError> map_message(const Json& msg, std::string_view path, bool edited, const BotIdentity& bot,
                                      std::vector<InboundEvent>& out) {
    if (!msg.is_object()) return std::nullopt;  // wrong-typed: treated as absent by the caller
    ChatInfo chat;
    if (auto err = read_chat_field(msg, path, chat)) return err;
    if (!chat.mapped || chat.ref.type == ChatType::kChannel) return std::nullopt;

    InboundEvent base;
    base.chat = chat.ref;
    base.edited = edited;
    if (const auto id = int_field(msg, "message_id")) base.message_id = std::to_string(*id);
    std::optional<std::int64_t> when = edited ? int_field(msg, "edit_date") : std::nullopt;
    if (!when) when = int_field(msg, "date");
    base.occurred_at = unix_seconds(when);

    // The sender: required whenever an event is about them or was caused by them.
    auto from = [&](core::UserRef& user) { return read_user_field(msg, path, "from", user); };

    if (const Json* members = field(msg, "new_chat_members"); members && members->is_array()) {
        const std::string list_path = path_of(path, "new_chat_members");
        std::size_t i = 0;
        for (const auto& m : *members) {
            InboundEvent e = base;
            if (auto err = read_user(m, list_path + "[" + std::to_string(i++) + "]", e.user)) return err;
            if (is_bot_itself(e.user, bot)) {
                e.kind = InboundKind::kBotAdded;
                if (auto err = from(e.user)) return err;
            } else {
                e.kind = InboundKind::kMemberJoined;
            }
            out.push_back(std::move(e));
        }
        return std::nullopt;
    }

    if (const Json* left = object_field(msg, "left_chat_member")) {
        InboundEvent e = base;
        if (auto err = read_user(*left, path_of(path, "left_chat_member"), e.user)) return err;
        if (is_bot_itself(e.user, bot)) {
            e.kind = InboundKind::kBotRemoved;
            if (auto err = from(e.user)) return err;
        } else {
            e.kind = InboundKind::kMemberLeft;
        }
        out.push_back(std::move(e));
        return std::nullopt;
    }

    if (const Json* contact = object_field(msg, "contact")) {
        InboundEvent e = base;
        e.kind = InboundKind::kContactShared;
        if (auto err = from(e.user)) return err;
        const std::string* phone = string_ptr(*contact, "phone_number");
        if (!phone) return required(path_of(path_of(path, "contact"), "phone_number"), "string");
        e.contact.phone = *phone;
        e.contact.first_name = string_field(*contact, "first_name");
        e.contact.last_name = string_field(*contact, "last_name");
        if (const auto uid = int_field(*contact, "user_id")) e.contact.user_id = std::to_string(*uid);
        out.push_back(std::move(e));
        return std::nullopt;
    }

    if (const std::string* text = string_ptr(msg, "text")) {
        InboundEvent e = base;
        if (auto err = from(e.user)) return err;
        e.text = *text;
        if (auto cmd = parse_command(*text, bot)) {
            e.kind = InboundKind::kCommand;
            e.command = std::move(cmd->name);
            e.command_args = std::move(cmd->args);
        } else {
            e.kind = InboundKind::kMessage;
        }
        out.push_back(std::move(e));
        return std::nullopt;
    }

    if (const auto media = media_kind_of(msg); !media.empty()) {
        InboundEvent e = base;
        e.kind = InboundKind::kMessage;
        if (auto err = from(e.user)) return err;
        e.media_kind = std::string(media);
        e.text = string_field(msg, "caption");
        out.push_back(std::move(e));
        return std::nullopt;
    }

    return std::nullopt;  // a service message (title changed, pinned, ...): nothing to report
}

std::optional<ParseError> map_callback_query(const Json& cq, std::vector<InboundEvent>& out) {
    if (!cq.is_object()) return std::nullopt;
    constexpr std::string_view kPath = "callback_query";
    InboundEvent e;
    e.kind = InboundKind::kButtonPress;
    const Json* id = field(cq, "id");
    if (id && id->is_string() && !id->get_ref<const std::string&>().empty()) {
        e.reply_token = id->get<std::string>();
    } else if (const auto n = id ? as_int64(*id) : std::nullopt) {
        e.reply_token = std::to_string(*n);  // lenient: a numeric id
    } else {
        return required(path_of(kPath, "id"), "string");
    }
    if (auto err = read_user_field(cq, kPath, "from", e.user)) return err;
    e.button_data = string_field(cq, "data");

    // The message with the button, when it is known (absent for inline-mode messages). Its date is
    // when that message was sent, not when the button was pressed, so occurred_at stays 0.
    if (const Json* msg = object_field(cq, "message")) {
        ChatInfo chat;
        if (auto err = read_chat_field(*msg, path_of(kPath, "message"), chat)) return err;
        if (!chat.mapped) return std::nullopt;
        e.chat = chat.ref;
        if (const auto mid = int_field(*msg, "message_id")) e.message_id = std::to_string(*mid);
    } else {
        e.chat.external_id = e.user.external_id;
        e.chat.type = ChatType::kPrivate;
    }
    out.push_back(std::move(e));
    return std::nullopt;
}

struct MemberChange {
    std::string old_status;
    std::string new_status;
    bool was_member = false;
    bool is_member = false;
};

// creator/administrator/member are in the chat; restricted only when is_member is true; left/kicked
// (and anything unknown) are not.
bool counts_as_member(const Json& chat_member, std::string_view status) {
    if (status == "creator" || status == "administrator" || status == "member") return true;
    if (status == "restricted") return bool_field(chat_member, "is_member");
    return false;
}

std::optional<ParseError> read_member_change(const Json& upd, std::string_view path, MemberChange& out) {
    for (const bool is_new : {false, true}) {
        const std::string_view key = is_new ? "new_chat_member" : "old_chat_member";
        const std::string member_path = path_of(path, key);
        const Json* member = object_field(upd, key);
        if (!member) return required(member_path, "object");
        const std::string* status = string_ptr(*member, "status");
        if (!status) return required(path_of(member_path, "status"), "string");
        (is_new ? out.new_status : out.old_status) = *status;
        (is_new ? out.is_member : out.was_member) = counts_as_member(*member, *status);
    }
    return std::nullopt;
}

// my_chat_member: the bot's own membership changed. Private chats: blocked / unblocked by the user.
// Groups: the bot was added / removed; the subject is whoever did it.
std::optional<ParseError> map_my_chat_member(const Json& upd, std::vector<InboundEvent>& out) {
    if (!upd.is_object()) return std::nullopt;
    constexpr std::string_view kPath = "my_chat_member";
    InboundEvent e;
    ChatInfo chat;
    if (auto err = read_chat_field(upd, kPath, chat)) return err;
    MemberChange change;
    if (auto err = read_member_change(upd, kPath, change)) return err;
    if (auto err = read_user_field(upd, kPath, "from", e.user)) return err;
    e.chat = chat.ref;
    e.occurred_at = unix_seconds(int_field(upd, "date"));
    if (!chat.mapped) return std::nullopt;

    if (chat.ref.type == ChatType::kPrivate) {
        if (change.new_status == "kicked" && change.old_status != "kicked") {
            e.kind = InboundKind::kUserBlockedBot;
        } else if (change.old_status == "kicked" && change.is_member) {
            e.kind = InboundKind::kUserUnblockedBot;
        } else {
            return std::nullopt;
        }
    } else if (chat.ref.type == ChatType::kGroup) {
        if (!change.was_member && change.is_member) {
            e.kind = InboundKind::kBotAdded;
        } else if (change.was_member && !change.is_member) {
            e.kind = InboundKind::kBotRemoved;
        } else {
            return std::nullopt;  // promoted, demoted, restricted: still in the group
        }
    } else {
        return std::nullopt;  // channels: not mapped
    }
    out.push_back(std::move(e));
    return std::nullopt;
}

// chat_member: someone else's membership changed (the bot must be an admin and ask for these).
std::optional<ParseError> map_chat_member(const Json& upd, const BotIdentity& bot, std::vector<InboundEvent>& out) {
    if (!upd.is_object()) return std::nullopt;
    constexpr std::string_view kPath = "chat_member";
    InboundEvent e;
    ChatInfo chat;
    if (auto err = read_chat_field(upd, kPath, chat)) return err;
    MemberChange change;
    if (auto err = read_member_change(upd, kPath, change)) return err;
    const std::string member_path = path_of(kPath, "new_chat_member");
    if (auto err = read_user_field(*object_field(upd, "new_chat_member"), member_path, "user", e.user)) return err;
    e.chat = chat.ref;
    e.occurred_at = unix_seconds(int_field(upd, "date"));
    if (!chat.mapped || is_bot_itself(e.user, bot)) return std::nullopt;

    if (!change.was_member && change.is_member) {
        e.kind = InboundKind::kMemberJoined;
    } else if (change.was_member && !change.is_member) {
        e.kind = InboundKind::kMemberLeft;
    } else {
        return std::nullopt;
    }
    out.push_back(std::move(e));
    return std::nullopt;
}

// update_id: a JSON integer, or leniently a string of digits.
std::optional<std::int64_t> read_update_id(const Json& update) {
    const Json* v = field(update, "update_id");
    if (!v) return std::nullopt;
    return as_int64(*v, /*allow_negative_string=*/false);
}

bool looks_like_field_name(std::string_view key) {
    if (key.empty() || key.size() > 64) return false;
    return std::ranges::all_of(key,
                               [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

// The kind of an update we do not map: its payload field's name ("poll", "message_reaction", ...).
std::string other_kind(const Json& update) {
    for (const auto& [key, value] : update.items()) {
        if (key != "update_id" && (value.is_object() || value.is_array()) && looks_like_field_name(key)) return key;
    }
    return "unknown";
}

}  // namespace

std::variant<ParsedUpdate, ParseError> parse_update(std::string_view body, std::string_view channel_id,
                                                    std::string_view bot_username, std::string_view bot_user_id) {
    if (nests_deeper_than(body, kMaxJsonDepth)) {
        return ParseError{"body: JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
    }
    const Json update = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
    if (update.is_discarded()) return ParseError{"body: not valid JSON"};
    if (!update.is_object()) return ParseError{"body: required JSON object"};

    const auto update_id = read_update_id(update);
    if (!update_id) return required("update_id", "integer");

    BotIdentity bot;
    if (!bot_username.empty() && bot_username.front() == '@') bot_username.remove_prefix(1);
    bot.username = ascii_lower(bot_username);
    bot.user_id = parse_decimal(trim(bot_user_id), /*allow_negative=*/false);

    ParsedUpdate parsed;
    parsed.delivery.channel_id = std::string(channel_id);
    parsed.delivery.dedupe_key = std::to_string(*update_id);
    auto& events = parsed.delivery.events;

    const Json* payload = nullptr;
    for (const auto name : kKnownKinds) {
        payload = object_field(update, name);
        if (payload) {
            parsed.kind = std::string(name);
            break;
        }
    }
    if (!payload) {
        parsed.kind = other_kind(update);
        return parsed;
    }

    std::optional<ParseError> err;
    if (parsed.kind == "message") {
        err = map_message(*payload, parsed.kind, false, bot, events);
    } else if (parsed.kind == "edited_message") {
        err = map_message(*payload, parsed.kind, true, bot, events);
    } else if (parsed.kind == "callback_query") {
        err = map_callback_query(*payload, events);
    } else if (parsed.kind == "my_chat_member") {
        err = map_my_chat_member(*payload, events);
    } else if (parsed.kind == "chat_member") {
        err = map_chat_member(*payload, bot, events);
    }
    // channel_post / edited_channel_post: recorded, not mapped.
    if (err) return std::move(*err);
    return parsed;
}

}  // namespace leadhatch::adapters::telegram
