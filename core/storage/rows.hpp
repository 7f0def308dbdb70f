#pragma once

#include <optional>
#include <span>
#include <string>
#include <utility>
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
    std::string stage = "opportunity";  // the funnel's first stage; its history row is written too
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
    // State the batch that creates the lead also gives it (see fold_new_lead_updates); the
    // defaults are the schema's.
    std::string owner;
    std::string status = "new";
    std::optional<Timestamp> status_changed_at;
    std::string lifecycle = "acquisition";
    std::int64_t score = 0;
    std::string grade = "cold";
    std::int64_t demographic_score = 0;
    double behavioral_score = 0;
    Timestamp score_at{};
    std::optional<Timestamp> grade_expires_at;
    std::optional<Timestamp> last_seen_at;  // unset: created_at
    std::optional<Timestamp> updated_at;    // unset: created_at
};

// An identity's own fields, as the inbound pipeline reads them.
struct IdentityFields {
    LeadId lead_id;
    std::string display_name;
    std::string username;
    std::string language;
    bool unreachable = false;
    // The numbered menu last sent to this identity (encode_menu text; "" = none).
    std::string menu;
};

// What an identity's lead adds: its opt-out, and its funnel and score state for the inbound
// pipeline's scoring.
struct LeadStateFields {
    bool lead_opted_out = false;
    std::string stage;
    std::string status;
    std::string lifecycle;
    std::int64_t score = 0;
    std::string grade;
    std::int64_t demographic_score = 0;
    double behavioral_score = 0;
    Timestamp score_at{};
    std::optional<Timestamp> grade_expires_at;
};

// An identity as read back, with the bits of its lead the inbound pipeline needs.
struct IdentityRecord : IdentityFields, LeadStateFields {
    IdentityKey key;
};

// A scoring total a batch asks for: the rule `rule_id`, matched by an event of the sender
// identities[identity] (WriteTx::find_known).
struct RuleAsk {
    std::size_t identity;
    std::string rule_id;
};

// The (lead, rule) pairs `asks` name for the identities that were found, each pair once, ordered
// by lead and rule.
std::vector<std::pair<LeadId, std::string>> asked_pairs(std::span<const IdentityKey> identities,
                                                        std::span<const IdentityRecord> found,
                                                        std::span<const RuleAsk> asks);

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
    std::optional<std::string> menu;  // numbered menu to remember ("" forgets it)
    Timestamp at{};
};

// Changes to an existing lead; unset fields stay as they are. For nullable columns an inner
// nullopt writes NULL.
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
    // Admin fields, funnel and scoring.
    std::optional<std::string> email;
    std::optional<std::string> company;
    std::optional<std::string> title;
    std::optional<std::string> region;
    std::optional<std::string> industry;
    std::optional<std::optional<std::int64_t>> company_size;
    std::optional<std::string> custom_fields;  // JSON object text
    std::optional<std::string> notes;
    std::optional<std::string> owner;
    std::optional<std::string> stage;  // with stage_changed_at = at
    std::optional<int> max_stage_index;
    std::optional<std::string> status;  // with status_changed_at = at
    std::optional<std::string> lifecycle;
    std::optional<std::string> segment;
    std::optional<std::optional<std::int64_t>> deal_value;  // in minor units (cents, fen)
    std::optional<std::string> currency;
    std::optional<std::string> lost_reason;
    std::optional<bool> phone_verified;
    std::optional<bool> email_verified;
    // Score as of score_at: demographic (no decay) + behavioural (decays from score_at).
    std::optional<std::int64_t> demographic_score;
    std::optional<double> behavioral_score;
    std::optional<Timestamp> score_at;
    std::optional<std::int64_t> score;
    std::optional<std::string> grade;
    std::optional<std::optional<Timestamp>> grade_expires_at;
    std::optional<LeadId> merged_into;

    // Whether the record itself changes (updated_at moves); activity alone (last_seen_at) does not.
    bool changes_record() const {
        return display_name || username || language || phone || opted_out || unreachable || referral_count_delta != 0 ||
               extended();
    }
    // Whether anything beyond the inbound pipeline's own columns changes.
    bool extended() const {
        return email || company || title || region || industry || company_size || custom_fields || notes || owner ||
               stage || max_stage_index || status || lifecycle || segment || deal_value || currency || lost_reason ||
               phone_verified || email_verified || demographic_score || behavioral_score || score_at || score ||
               grade || grade_expires_at || merged_into;
    }
};

struct TagChange {
    LeadId lead_id;
    std::string tag;
    bool add = true;
};

// Closes the lead's open stage-history row (left_at, duration) and opens one for `to`.
struct StageChangeRow {
    LeadId lead_id;
    std::string to;
    Timestamp at{};
    std::string actor;
    std::string reason;
};

struct ScoreEntryRow {
    LeadId lead_id;
    std::string rule_id;
    int points = 0;
    std::string reason;
    bool behavioral = true;
    Timestamp at{};
};

struct RuleTotalRow {
    LeadId lead_id;
    std::string rule_id;
    std::int64_t total = 0;
    Timestamp period_start{};
    std::int64_t period_points = 0;
};

// Merges `source` into `target`: identities, events, touches, memberships, tags, score entries,
// rule totals and outbox rows move to the target; the source points at it (merged_into).
struct MergeRow {
    LeadId source;
    LeadId target;
    std::string actor;
    std::string reason;
    std::string snapshot;  // JSON of the source as it was (kept for the merge log)
    Timestamp at{};
};

// Removes a lead's personal data everywhere; counts (events, stages, sources) stay.
struct EraseRow {
    LeadId lead_id;
    Timestamp at{};
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
    // "pending" for the dispatcher; "sent" for a message already delivered another way (a WeChat
    // passive reply in the webhook's answer): kept as the record, never sent again.
    std::string status = "pending";
};

// Everything one unit of work writes. Backends apply it inside the open transaction, in this
// order (leads and identities; lead updates, tags, stages, scores, merges, erasures; then events
// and the outbox), with as few statements as they can (multi-row INSERTs on MySQL).
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
    std::vector<TagChange> tags;
    std::vector<StageChangeRow> stage_changes;
    std::vector<ScoreEntryRow> score_entries;
    std::vector<RuleTotalRow> rule_totals;
    std::vector<MergeRow> merges;
    std::vector<EraseRow> erasures;
    std::vector<EventRow> events;
    std::vector<OutboxRow> outbox;

    bool empty() const {
        return processed.empty() && new_leads.empty() && new_identities.empty() && identity_updates.empty() &&
               lead_updates.empty() && touches.empty() && chats.empty() && memberships.empty() && tags.empty() &&
               stage_changes.empty() && score_entries.empty() && rule_totals.empty() && merges.empty() &&
               erasures.empty() && events.empty() && outbox.empty();
    }
};

// Moves the updates of leads this WriteSet creates into their new rows where a row can carry
// them (owner, status, lifecycle, score state, last seen), so each such lead is written once.
// A second write of the fresh row cost one more statement and, for status, a move in every
// index that covers it. Updates with anything else stay as they are.
void fold_new_lead_updates(WriteSet& w);

}  // namespace leadhatch::core
