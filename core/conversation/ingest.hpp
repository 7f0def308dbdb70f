#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/leads/lead_service.hpp"
#include "core/messaging/inbound.hpp"
#include "core/messaging/outbound.hpp"
#include "core/messaging/templates.hpp"
#include "core/storage/storage.hpp"

namespace leadhatch::core {

// Ids reserved in blocks from storage; the ingest writer refills it before each batch.
// Not thread-safe: owned by one writer.
class IdPool {
public:
    void add(IdRange r) { ranges_.push_back(r); }
    std::int64_t available() const;
    LeadId take();  // throws std::logic_error when empty (the writer refills first)

private:
    std::vector<IdRange> ranges_;
};

struct ChannelInfo {
    std::string id;
    Platform platform = Platform::kTelegram;
    std::string default_locale = "en";
    // The first text reply of a delivery to a private chat goes back in the webhook's HTTP answer
    // (WeChat passive reply); its outbox row is written as sent.
    bool passive_replies = false;
    // No inline keyboards: buttons are rendered as numbered options, the menu is remembered on
    // the identity, and a reply that is just "1".."N" presses that option.
    bool numbered_menus = false;
};

enum class IngestStatus {
    kAccepted,     // committed
    kDuplicate,    // committed earlier: acknowledged, not processed again
    kUnavailable,  // the database is unavailable: nothing was written, the platform should retry
    kFailed,       // this delivery cannot be stored (a bug or data the database refuses)
};

struct IngestResult {
    IngestStatus status = IngestStatus::kAccepted;
    std::vector<OutboundMessage> replies;  // what the batch queued to send in answer
};

// The platform-neutral inbound pipeline: deduplicates deliveries, upserts leads through their
// identities, records timeline events, touches, group membership and opt-outs, and queues
// replies in the outbox, all as one WriteSet applied inside the caller's transaction.
//
// A batch is planned with two reads (processed ids, identities) and one write, whatever its size,
// so concurrent requests grouped into one transaction cost little more than one.
class IngestProcessor {
public:
    using ChannelLookup = std::function<const ChannelInfo*(std::string_view channel_id)>;

    // `leads` (optional) adds scoring, status (new → engaged → mql/sql) and contact merges.
    IngestProcessor(const TemplateCatalog& templates, ChannelLookup channels, const Clock& clock,
                    const LeadService* leads = nullptr);

    // Plans and applies the batch inside tx (the caller commits). Results are in batch order.
    std::vector<IngestResult> process(WriteTx& tx, std::span<const InboundDelivery* const> batch, IdPool& ids) const;

    // The whole group commit: tops `ids` up from storage (by at least id_block) when the batch
    // may need more, then processes the batch in one write transaction and commits it. Throws
    // what storage throws; nothing is written then.
    std::vector<IngestResult> commit(Storage& storage, std::span<const InboundDelivery* const> batch, IdPool& ids,
                                     std::int64_t id_block) const;

private:
    // Upper bound of new lead ids a batch may need.
    static std::int64_t max_new_leads(std::span<const InboundDelivery* const> batch);

    const TemplateCatalog& templates_;
    ChannelLookup channels_;
    const Clock& clock_;
    const LeadService* leads_;
};

// "/stop", "stop", "unsubscribe", "退订" ... : words that opt a lead out of marketing.
bool is_opt_out_text(std::string_view text);

// A rep command from staff: "claim 123", "/claim #123", "认领 123" -> 123.
std::optional<std::int64_t> parse_claim_command(std::string_view text);

// The outbox row that queues `m` now (status "sent" when m is a passive reply).
OutboxRow outbox_row_for(const OutboundMessage& m, Timestamp now);

// A passive reply that could not go back in time (the platform stopped waiting): the same
// message as an ordinary outbox row, with its own idempotency key, for the dispatcher to send.
// Returns the rows to write and clears `passive` on the replies.
std::vector<OutboxRow> requeue_late_passive(std::vector<OutboundMessage>& replies, Timestamp now);

}  // namespace leadhatch::core
