#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/types.hpp"

// Plain rows exchanged between the domain and the storage backends. No SQL here: each backend
// decides how to read and write them.
namespace leadhatch::core {

struct IdentityKey {
    std::string channel_id;
    std::string external_user_id;
    bool operator==(const IdentityKey&) const = default;
};

struct InboundKey {
    std::string channel_id;
    std::string inbound_id;
    bool operator==(const InboundKey&) const = default;
};

struct LeadRow {
    LeadId id;
    std::string display_name;
    std::string username;
    std::string language;
    std::string phone;
    std::string source_kind;  // inbound | outbound | referral | campaign
    std::string source_channel;
    std::string source_campaign;
    std::string source_detail;
    std::string referral_code;  // this lead's own code for inviting others
    LeadId referred_by;
    Timestamp created_at{};
};

// An identity as read back, with the bits of its lead the inbound pipeline needs.
struct IdentityRecord {
    IdentityKey key;
    LeadId lead_id;
    std::string display_name;
    std::string username;
    std::string language;
    bool unreachable = false;
    bool lead_opted_out = false;
};

struct IdentityRow {
    IdentityKey key;
    LeadId lead_id;
    std::string display_name;
    std::string username;
    std::string language;
    Timestamp at{};
};

// Changes to an existing identity; unset fields stay as they are.
struct IdentityUpdate {
    IdentityKey key;
    std::optional<std::string> display_name;
    std::optional<std::string> username;
    std::optional<std::string> language;
    std::optional<bool> unreachable;
    Timestamp at{};
};

// Changes to an existing lead; unset fields stay as they are.
struct LeadUpdate {
    LeadId id;
    std::optional<std::string> display_name;
    std::optional<std::string> username;
    std::optional<std::string> language;
    std::optional<std::string> phone;
    std::optional<bool> opted_out;
    std::optional<bool> unreachable;
    std::optional<Timestamp> last_seen_at;
    int referral_count_delta = 0;
    Timestamp at{};

    // Whether the record itself changes (updated_at moves); activity alone (last_seen_at) does not.
    bool changes_record() const {
        return display_name || username || language || phone || opted_out || unreachable || referral_count_delta != 0;
    }
};

struct EventRow {
    LeadId lead_id;
    std::string channel_id;
    std::string kind;   // "message", "command", "stage_changed", ...
    std::string actor;  // who/what caused it: "user", "system", "api:ops", "rule:..."
    Timestamp occurred_at{};
    std::string data;   // JSON object text
};

struct TouchRow {
    LeadId lead_id;
    std::string channel_id;
    std::string source_kind;  // inbound | referral | campaign | outbound
    std::string campaign;
    std::string referral_code;
    LeadId referrer;
    std::string detail;
    Timestamp at{};
};

struct MembershipRow {
    std::string channel_id;
    std::string chat_id;
    LeadId lead_id;
    bool member = true;  // joined (true) or left (false)
    Timestamp at{};
};

struct ChatRow {
    std::string channel_id;
    std::string chat_id;
    std::string type;
    std::string title;
    std::optional<bool> bot_member;
    Timestamp at{};
};

struct OutboxRow {
    std::string channel_id;
    std::string idem_key;
    LeadId lead_id;
    std::string chat_id;
    std::string kind;
    std::string body;  // JSON of the OutboundMessage
    bool marketing = false;
    bool is_group = false;
    Timestamp due_at{};
    Timestamp created_at{};
};

// Everything one unit of work writes. Backends apply it inside the open transaction, in this
// order, with as few statements as they can (multi-row INSERTs on MySQL).
struct WriteSet {
    Timestamp now{};  // when the writes happen (processed_at, recorded_at)
    std::vector<InboundKey> processed;
    std::vector<LeadRow> new_leads;
    std::vector<IdentityRow> new_identities;
    std::vector<IdentityUpdate> identity_updates;
    std::vector<LeadUpdate> lead_updates;
    std::vector<TouchRow> touches;
    std::vector<ChatRow> chats;
    std::vector<MembershipRow> memberships;
    std::vector<EventRow> events;
    std::vector<OutboxRow> outbox;

    bool empty() const {
        return processed.empty() && new_leads.empty() && new_identities.empty() && identity_updates.empty() &&
               lead_updates.empty() && touches.empty() && chats.empty() && memberships.empty() &&
               events.empty() && outbox.empty();
    }
};

}  // namespace leadhatch::core
