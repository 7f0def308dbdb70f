#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/scoring/scoring.hpp"
#include "core/storage/rows.hpp"
#include "core/types.hpp"

namespace leadhatch::core {

// A block of ids [first, first + count) reserved durably for this process.
struct IdRange {
    std::int64_t first = 0;
    std::int64_t count = 0;
};

struct LeadRecord {
    LeadId id;
    std::string display_name;
    std::string username;
    std::string language;
    std::string phone;
    std::string email;
    std::string company;
    std::string title;
    std::string region;
    std::string industry;
    std::optional<std::int64_t> company_size;
    std::string custom_fields = "{}";  // JSON object text
    std::string notes;
    std::string stage;
    std::int64_t max_stage_index = 0;
    std::string status;
    std::string lifecycle;
    std::string segment;
    std::int64_t score = 0;
    std::string grade;
    std::int64_t demographic_score = 0;
    double behavioral_score = 0;
    Timestamp score_at{};
    std::optional<Timestamp> grade_expires_at;
    std::string owner;
    std::optional<std::int64_t> deal_value;
    std::string currency;
    std::string lost_reason;
    std::string source_kind;
    std::string source_channel;
    std::string source_campaign;
    std::string source_detail;
    std::string referral_code;
    LeadId referred_by;
    std::int64_t referral_count = 0;
    bool opted_out = false;
    bool unreachable = false;
    bool phone_verified = false;
    bool email_verified = false;
    LeadId merged_into;
    std::optional<Timestamp> erased_at;
    Timestamp stage_changed_at{};
    std::optional<Timestamp> status_changed_at;
    Timestamp created_at{};
    Timestamp updated_at{};
    std::optional<Timestamp> last_seen_at;
    std::vector<IdentityKey> identities;
    std::vector<std::string> tags;
};

// Filters for listing leads; unset filters do not restrict. Merged leads are never listed.
struct LeadFilter {
    std::optional<std::string> stage;
    std::optional<std::string> status;
    std::optional<std::string> grade;
    std::optional<std::string> tag;
    std::optional<std::string> channel;  // has an identity on this channel
    std::optional<std::string> owner;
    bool owner_or_pool = false;  // with owner: that owner's leads or nobody's (sales)
    std::optional<std::string> segment;
    std::optional<std::string> source;  // source_kind
    std::optional<std::string> campaign;
    std::optional<std::string> text;  // in name, username or company
    std::optional<Timestamp> created_from, created_to;  // [from, to)
    std::optional<Timestamp> updated_from, updated_to;
};

// Keyset position: newest first by (created_at, id). Rows inserted meanwhile do not shift pages.
struct LeadCursor {
    Timestamp created_at{};
    LeadId id;
    std::string encode() const;
    static std::optional<LeadCursor> decode(std::string_view text);
};

struct LeadPage {
    std::vector<LeadRecord> items;
    std::optional<LeadCursor> next;
};

struct StageHistoryRecord {
    std::string stage;
    Timestamp entered_at{};
    std::optional<Timestamp> left_at;
    std::string actor;
    std::string reason;
};

struct ScoreEntryRecord {
    std::string rule_id;
    int points = 0;
    std::string reason;
    bool behavioral = true;
    Timestamp at{};
};

struct MergeRecord {
    std::int64_t id = 0;
    LeadId source;
    LeadId target;
    std::string actor;
    std::string reason;
    Timestamp at{};
};

struct FunnelQuery {
    std::optional<std::string> source;   // source_kind
    std::optional<std::string> channel;  // source_channel (first touch)
    std::optional<Timestamp> from, to;   // leads created in [from, to)
    std::vector<std::pair<std::string, int>> stage_probabilities;  // funnel order
    std::vector<std::string> closed_stages;  // terminal stages: not in the open pipeline
};

struct FunnelStats {
    std::int64_t total = 0;
    std::vector<std::pair<std::string, std::int64_t>> by_stage;   // current stage, funnel order
    std::vector<std::pair<std::string, std::int64_t>> by_status;
    std::vector<std::int64_t> reached;  // per stage index: leads that got at least that far
    std::vector<std::optional<std::int64_t>> median_ms_in_stage;  // per stage, over finished stays
    std::vector<std::pair<std::string, double>> weighted_pipeline;  // per currency, open leads
    std::vector<std::pair<std::string, std::int64_t>> pipeline_value;  // per currency, open leads
};

struct EventRecord {
    EventId id;
    LeadId lead_id;
    std::string channel_id;
    std::string kind;
    std::string actor;
    Timestamp occurred_at{};
    std::string data;
};

struct MembershipRecord {
    std::string channel_id;
    std::string chat_id;
    LeadId lead_id;
    bool member = false;
    std::optional<Timestamp> joined_at;
    std::optional<Timestamp> left_at;
};

struct TouchRecord {
    LeadId lead_id;
    std::string channel_id;
    std::string source_kind;
    std::string campaign;
    std::string referral_code;
    LeadId referrer;
    Timestamp at{};
};

enum class OutboxStatus { kPending, kSent, kDead, kSuppressed };
std::string_view to_string(OutboxStatus s);

struct OutboxRecord {
    OutboxId id;
    std::string channel_id;
    std::string idem_key;
    LeadId lead_id;
    std::string chat_id;
    std::string kind;
    std::string body;
    bool marketing = false;
    bool is_group = false;
    int attempts = 0;
    OutboxStatus status = OutboxStatus::kPending;
    Timestamp due_at{};
    std::string last_error;
    bool recipient_opted_out = false;    // the lead opted out (marketing rows are suppressed)
    bool recipient_unreachable = false;  // the identity behind chat_id blocked us / is gone
};

// The result of trying to send one claimed outbox row.
struct OutboxResult {
    OutboxId id;
    OutboxStatus status = OutboxStatus::kSent;  // kSent, kDead, kSuppressed, or kPending to retry
    Timestamp retry_at{};                       // when status is kPending
    int attempts = 0;                           // sends tried so far, this one included
    std::string error;
};

struct OutboxCounts {
    std::int64_t pending = 0;
    std::int64_t sent = 0;
    std::int64_t dead = 0;
    std::int64_t suppressed = 0;
};

struct PoolStats {
    int size = 0;    // connections open
    int in_use = 0;  // checked out right now
    int max = 0;
    std::int64_t waits = 0;  // checkouts that had to wait
};

// One open write transaction. Destroying it without commit() rolls back.
// Not thread-safe: one thread drives a transaction from begin to end.
class WriteTx {
public:
    virtual ~WriteTx() = default;

    // Which of these inbound ids were already processed (committed earlier).
    virtual std::vector<InboundKey> find_processed(std::span<const InboundKey> keys) = 0;
    // The identities that exist among these keys, with their lead's opt-out flag.
    virtual std::vector<IdentityRecord> find_identities(std::span<const IdentityKey> keys) = 0;
    // The lookups a batch starts with: processed ids, identities, and the scoring totals `asks`
    // names (those that have a row, and only those). A server database answers them in one round
    // trip. `asked` is the asks resolved to the found identities' leads (asked_pairs), with a row
    // or without: the caller knows from it which totals start from zero.
    struct Known {
        std::vector<InboundKey> processed;
        std::vector<IdentityRecord> identities;
        std::vector<std::pair<LeadId, RuleTotal>> rule_totals;
        std::vector<std::pair<LeadId, std::string>> asked;
    };
    virtual Known find_known(std::span<const InboundKey> inbound, std::span<const IdentityKey> identities,
                             std::span<const RuleAsk> asks) {
        Known k;
        if (!inbound.empty()) k.processed = find_processed(inbound);
        if (!identities.empty()) k.identities = find_identities(identities);
        k.asked = asked_pairs(identities, k.identities, asks);
        if (!k.asked.empty()) k.rule_totals = rule_totals_for(k.asked);
        return k;
    }
    virtual bool lead_exists(LeadId id) = 0;
    // The lead, locked for the rest of the transaction (admin changes: read, decide, write).
    virtual std::optional<LeadRecord> lead_for_update(LeadId id) = 0;
    // This lead's per-rule scoring totals for the given rules.
    virtual std::vector<RuleTotal> rule_totals(LeadId id, std::span<const std::string> rule_ids) = 0;
    // The same for many (lead, rule) pairs in one query (the inbound pipeline's batch prefetch).
    virtual std::vector<std::pair<LeadId, RuleTotal>> rule_totals_for(
        std::span<const std::pair<LeadId, std::string>> keys) = 0;
    // Other leads (not merged) with this verified phone or email.
    virtual std::vector<LeadId> leads_with_verified(std::string_view phone, std::string_view email, LeadId except) = 0;

    // Applies the rows in order. An identity update that changes `unreachable` also recomputes its
    // lead's flag: a lead is unreachable when none of its identities can be reached.
    virtual void apply(const WriteSet& writes) = 0;
    virtual void commit() = 0;
};

// The one storage port. Two backends implement it: SQLite (embedded default) and MySQL/MariaDB.
// Every method blocks: callers run it off the network threads. All methods are thread-safe.
// Failures throw StorageError.
class Storage {
public:
    virtual ~Storage() = default;

    virtual std::string_view backend() const = 0;  // "sqlite" | "mysql"

    // Brings the schema to the newest version; safe to run again and from several processes.
    virtual void migrate() = 0;
    virtual int schema_version() = 0;
    virtual bool ping() = 0;  // never throws
    virtual PoolStats pool_stats() const = 0;

    // Reserves `count` ids of a sequence ("lead") in its own committed transaction.
    virtual IdRange reserve_ids(std::string_view sequence, std::int64_t count) = 0;

    virtual std::unique_ptr<WriteTx> begin_write() = 0;

    // Reads.
    virtual std::optional<LeadRecord> get_lead(LeadId id) = 0;
    virtual std::optional<LeadId> find_lead_by_identity(const IdentityKey& key) = 0;
    // Newest first; events with id < before_id when before_id is set.
    virtual std::vector<EventRecord> list_events(LeadId lead, std::optional<EventId> before_id, int limit) = 0;
    virtual std::vector<MembershipRecord> list_memberships(LeadId lead) = 0;
    virtual std::vector<TouchRecord> list_touches(LeadId lead) = 0;
    virtual LeadPage list_leads(const LeadFilter& filter, const std::optional<LeadCursor>& after, int limit) = 0;
    virtual std::vector<StageHistoryRecord> stage_history(LeadId lead) = 0;
    virtual std::vector<ScoreEntryRecord> score_entries(LeadId lead) = 0;
    virtual std::vector<MergeRecord> list_merges(std::optional<std::int64_t> before_id, int limit) = 0;
    virtual FunnelStats funnel(const FunnelQuery& query) = 0;
    // Leads whose grade may have dropped by decay by `now` (grade_expires_at <= now): the
    // scheduler's work list, O(work due).
    virtual std::vector<LeadRecord> leads_with_grade_due(Timestamp now, int limit) = 0;
    // Forgets inbound ids processed before `before` (platforms stop retrying long before), at most
    // `limit` rows; returns how many went.
    virtual std::int64_t prune_processed(Timestamp before, int limit) = 0;

    // Platform access tokens (WeChat, WeCom), shared by every process on this database.
    struct StoredToken {
        std::string token;
        Timestamp expires_at{};
    };
    virtual std::optional<StoredToken> read_token(std::string_view channel_id) = 0;
    // Takes the right to refresh a channel's token until `lease_until` unless another process
    // holds it; true when taken.
    virtual bool lease_token_refresh(std::string_view channel_id, Timestamp now, Timestamp lease_until) = 0;
    // Stores a fresh token and releases the lease. An empty token only releases the lease.
    virtual void store_token(std::string_view channel_id, const std::string& token, Timestamp expires_at,
                             Timestamp now) = 0;

    // Outbox: claim due rows with a lease (rows whose lease ran out are claimable again: a crashed
    // dispatcher's rows are resumed), then record what happened to each. Claiming does not count as
    // an attempt; complete_outbox stores the attempt count the dispatcher reports.
    virtual std::vector<OutboxRecord> claim_outbox(Timestamp now, Timestamp lease_until, int limit) = 0;
    // Records the results and applies `writes` (timeline events, identities marked unreachable)
    // in the same transaction.
    virtual void complete_outbox(std::span<const OutboxResult> results, const WriteSet& writes, Timestamp now) = 0;
    virtual std::optional<Timestamp> next_outbox_due() = 0;
    virtual OutboxCounts outbox_counts() = 0;
    virtual std::vector<OutboxRecord> list_outbox(std::optional<OutboxStatus> status, int limit) = 0;
};

}  // namespace leadhatch::core
