#include "adapters/chat/telegram/telegram_update.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/types.hpp"
#include "core/util/json_view.hpp"

namespace leadhatch::adapters::telegram {
namespace {

using core::ChatType;
using core::InboundEvent;
using core::InboundKind;
using core::JsonDoc;
using core::JsonRef;

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
// inside strings do not count. For valid JSON this is exact. The parser enforces the same limit while
// it reads; this scan only decides which error an invalid body gets (see parse_json).
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

// A JSON integer fitting int64 or, leniently, a numeric string. Fractions, exponents ("1.0", "1e3")
// and integers that overflow int64 never count.
std::optional<std::int64_t> as_int64(JsonRef v, bool allow_negative_string = true) {
    if (v.is_number()) return v.as_int64();
    if (v.is_string()) return parse_decimal(v.string(), allow_negative_string);
    return std::nullopt;
}

// obj[key]; invalid when obj is not an object or has no such member. Like nlohmann::json (whose
// objects are std::maps), the last of repeated keys wins.
JsonRef field(JsonRef obj, std::string_view key) { return obj.find(key); }

JsonRef object_field(JsonRef obj, std::string_view key) {
    const JsonRef v = field(obj, key);
    return v.is_object() ? v : JsonRef();
}

std::optional<std::int64_t> int_field(JsonRef obj, std::string_view key) { return as_int64(field(obj, key)); }

// Optional string: absent or wrong-typed reads as empty.
std::string string_field(JsonRef obj, std::string_view key) { return std::string(field(obj, key).string()); }

// A string member, or nullopt when absent or wrong-typed (an empty string is a value).
std::optional<std::string_view> string_ptr(JsonRef obj, std::string_view key) { return field(obj, key).as_string(); }

bool bool_field(JsonRef obj, std::string_view key) { return field(obj, key).boolean(); }

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
std::optional<ParseError> read_user(JsonRef user, std::string_view path, core::UserRef& out) {
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
std::optional<ParseError> read_user_field(JsonRef parent, std::string_view parent_path, std::string_view key,
                                          core::UserRef& out) {
    const std::string path = path_of(parent_path, key);
    const JsonRef user = object_field(parent, key);
    if (!user.valid()) return required(path, "object");
    return read_user(user, path, out);
}

struct ChatInfo {
    core::ChatRef ref;
    bool mapped = false;  // false for chat types we do not map (a future type)
};

// Chat: id and type are required. "private" -> kPrivate, "group"/"supergroup" -> kGroup,
// "channel" -> kChannel; anything else leaves `mapped` false.
std::optional<ParseError> read_chat_field(JsonRef parent, std::string_view parent_path, ChatInfo& out) {
    const std::string path = path_of(parent_path, "chat");
    const JsonRef chat = object_field(parent, "chat");
    if (!chat.valid()) return required(path, "object");
    const auto id = int_field(chat, "id");
    if (!id) return required(path_of(path, "id"), "integer");
    const auto type = string_ptr(chat, "type");
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
    if (out.ref.type != ChatType::kPrivate) out.ref.title = string_field(chat, "title");
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
std::string_view media_kind_of(JsonRef msg) {
    for (const auto name : kMediaFields) {
        const JsonRef v = field(msg, name);
        if (v.is_object() || v.is_array()) return name;
    }
    return {};
}

// message / edited_message. Channel chats and unknown chat types produce no events.
std::optional<ParseError> map_message(JsonRef msg, std::string_view path, bool edited, const BotIdentity& bot,
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

    if (const JsonRef members = field(msg, "new_chat_members"); members.is_array()) {
        const std::string list_path = path_of(path, "new_chat_members");
        std::size_t i = 0;
        for (const JsonRef m : members.elements()) {
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

    if (const JsonRef left = object_field(msg, "left_chat_member"); left.valid()) {
        InboundEvent e = std::move(base);  // the last use: this branch returns
        if (auto err = read_user(left, path_of(path, "left_chat_member"), e.user)) return err;
        if (is_bot_itself(e.user, bot)) {
            e.kind = InboundKind::kBotRemoved;
            if (auto err = from(e.user)) return err;
        } else {
            e.kind = InboundKind::kMemberLeft;
        }
        out.push_back(std::move(e));
        return std::nullopt;
    }

    if (const JsonRef contact = object_field(msg, "contact"); contact.valid()) {
        InboundEvent e = std::move(base);  // the last use: this branch returns
        e.kind = InboundKind::kContactShared;
        if (auto err = from(e.user)) return err;
        const auto phone = string_ptr(contact, "phone_number");
        if (!phone) return required(path_of(path_of(path, "contact"), "phone_number"), "string");
        e.contact.phone = *phone;
        e.contact.first_name = string_field(contact, "first_name");
        e.contact.last_name = string_field(contact, "last_name");
        if (const auto uid = int_field(contact, "user_id")) e.contact.user_id = std::to_string(*uid);
        out.push_back(std::move(e));
        return std::nullopt;
    }

    if (const auto text = string_ptr(msg, "text")) {
        InboundEvent e = std::move(base);  // the last use: this branch returns
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
        InboundEvent e = std::move(base);  // the last use: this branch returns
        e.kind = InboundKind::kMessage;
        if (auto err = from(e.user)) return err;
        e.media_kind = std::string(media);
        e.text = string_field(msg, "caption");
        out.push_back(std::move(e));
        return std::nullopt;
    }

    return std::nullopt;  // a service message (title changed, pinned, ...): nothing to report
}

std::optional<ParseError> map_callback_query(JsonRef cq, std::vector<InboundEvent>& out) {
    if (!cq.is_object()) return std::nullopt;
    constexpr std::string_view kPath = "callback_query";
    InboundEvent e;
    e.kind = InboundKind::kButtonPress;
    const JsonRef id = field(cq, "id");
    if (!id.string().empty()) {
        e.reply_token = id.string();
    } else if (const auto n = as_int64(id)) {
        e.reply_token = std::to_string(*n);  // lenient: a numeric id
    } else {
        return required(path_of(kPath, "id"), "string");
    }
    if (auto err = read_user_field(cq, kPath, "from", e.user)) return err;
    e.button_data = string_field(cq, "data");

    // The message with the button, when it is known (absent for inline-mode messages). Its date is
    // when that message was sent, not when the button was pressed, so occurred_at stays 0.
    if (const JsonRef msg = object_field(cq, "message"); msg.valid()) {
        ChatInfo chat;
        if (auto err = read_chat_field(msg, path_of(kPath, "message"), chat)) return err;
        if (!chat.mapped) return std::nullopt;
        e.chat = chat.ref;
        if (const auto mid = int_field(msg, "message_id")) e.message_id = std::to_string(*mid);
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
bool counts_as_member(JsonRef chat_member, std::string_view status) {
    if (status == "creator" || status == "administrator" || status == "member") return true;
    if (status == "restricted") return bool_field(chat_member, "is_member");
    return false;
}

std::optional<ParseError> read_member_change(JsonRef upd, std::string_view path, MemberChange& out) {
    for (const bool is_new : {false, true}) {
        const std::string_view key = is_new ? "new_chat_member" : "old_chat_member";
        const std::string member_path = path_of(path, key);
        const JsonRef member = object_field(upd, key);
        if (!member.valid()) return required(member_path, "object");
        const auto status = string_ptr(member, "status");
        if (!status) return required(path_of(member_path, "status"), "string");
        (is_new ? out.new_status : out.old_status) = *status;
        (is_new ? out.is_member : out.was_member) = counts_as_member(member, *status);
    }
    return std::nullopt;
}

// my_chat_member: the bot's own membership changed. Private chats: blocked / unblocked by the user.
// Groups: the bot was added / removed; the subject is whoever did it.
std::optional<ParseError> map_my_chat_member(JsonRef upd, std::vector<InboundEvent>& out) {
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
std::optional<ParseError> map_chat_member(JsonRef upd, const BotIdentity& bot, std::vector<InboundEvent>& out) {
    if (!upd.is_object()) return std::nullopt;
    constexpr std::string_view kPath = "chat_member";
    InboundEvent e;
    ChatInfo chat;
    if (auto err = read_chat_field(upd, kPath, chat)) return err;
    MemberChange change;
    if (auto err = read_member_change(upd, kPath, change)) return err;
    const std::string member_path = path_of(kPath, "new_chat_member");
    if (auto err = read_user_field(object_field(upd, "new_chat_member"), member_path, "user", e.user)) return err;
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
std::optional<std::int64_t> read_update_id(JsonRef update) {
    return as_int64(field(update, "update_id"), /*allow_negative_string=*/false);
}

bool looks_like_field_name(std::string_view key) {
    if (key.empty() || key.size() > 64) return false;
    return std::ranges::all_of(key,
                               [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

// The kind of an update we do not map: its payload field's name ("poll", "message_reaction", ...).
// When several fields qualify, the alphabetically first one whose (last) value is an object or array
// wins: the order in which the nlohmann::json DOM (a std::map) used to list them.
std::string other_kind(JsonRef update) {
    struct Candidate {
        std::string_view key;
        std::size_t position;
        bool payload;
    };
    std::vector<Candidate> candidates;
    std::size_t position = 0;
    for (const auto& [key, value] : update.members()) {
        if (key != "update_id" && looks_like_field_name(key)) {
            if (candidates.empty()) candidates.reserve(update.size());
            candidates.push_back({key, position, value.is_object() || value.is_array()});
        }
        ++position;
    }
    // Sorted by key, repeats in document order: the last of each run of equal keys is the one that counts.
    std::ranges::sort(candidates, [](const Candidate& a, const Candidate& b) {
        return a.key != b.key ? a.key < b.key : a.position < b.position;
    });
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        const bool last_of_key = i + 1 == candidates.size() || candidates[i + 1].key != candidates[i].key;
        if (last_of_key && candidates[i].payload) return std::string(candidates[i].key);
    }
    return "unknown";
}

ParseError nested_too_deep() {
    return ParseError{"body: JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
}

// The body as a document, or the error the nlohmann-based parser used to give: nesting past
// kMaxJsonDepth (anywhere in the body, even after a syntax error) wins over "not valid JSON".
// Like nlohmann::json, a leading UTF-8 byte order mark is skipped and a NUL byte after the value ends
// the input.
std::variant<JsonDoc, ParseError> parse_json(std::string_view body) {
    constexpr std::string_view kBom = "\xEF\xBB\xBF";
    std::string_view text = body;
    if (text.starts_with(kBom)) text.remove_prefix(kBom.size());
    auto doc = JsonDoc::parse(text, static_cast<int>(kMaxJsonDepth));
    if (auto* ok = std::get_if<JsonDoc>(&doc)) return std::move(*ok);  // valid, so within the limit
    const auto& err = std::get<core::JsonParseError>(doc);
    // Too deep while everything before was valid: the raw scan would say the same.
    if (err.code == core::JsonErrc::kTooDeep) return nested_too_deep();
    if (nests_deeper_than(body, kMaxJsonDepth)) return nested_too_deep();
    if (err.code == core::JsonErrc::kTrailingData && text[err.offset] == '\0') {
        auto prefix = JsonDoc::parse(text.substr(0, err.offset), static_cast<int>(kMaxJsonDepth));
        if (auto* ok = std::get_if<JsonDoc>(&prefix)) return std::move(*ok);
    }
    return ParseError{"body: not valid JSON"};
}

}  // namespace

std::variant<ParsedUpdate, ParseError> parse_update(std::string_view body, std::string_view channel_id,
                                                    std::string_view bot_username, std::string_view bot_user_id) {
    auto parsed_doc = parse_json(body);
    if (const auto* err = std::get_if<ParseError>(&parsed_doc)) return *err;
    const JsonRef update = std::get<JsonDoc>(parsed_doc).root();
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

    JsonRef payload;
    for (const auto name : kKnownKinds) {
        payload = object_field(update, name);
        if (payload.valid()) {
            parsed.kind = std::string(name);
            break;
        }
    }
    if (!payload.valid()) {
        parsed.kind = other_kind(update);
        return parsed;
    }

    std::optional<ParseError> err;
    if (parsed.kind == "message") {
        err = map_message(payload, parsed.kind, false, bot, events);
    } else if (parsed.kind == "edited_message") {
        err = map_message(payload, parsed.kind, true, bot, events);
    } else if (parsed.kind == "callback_query") {
        err = map_callback_query(payload, events);
    } else if (parsed.kind == "my_chat_member") {
        err = map_my_chat_member(payload, events);
    } else if (parsed.kind == "chat_member") {
        err = map_chat_member(payload, bot, events);
    }
    // channel_post / edited_channel_post: recorded, not mapped.
    if (err) return std::move(*err);
    return parsed;
}

}  // namespace leadhatch::adapters::telegram
