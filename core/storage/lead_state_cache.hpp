#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/scoring/scoring.hpp"
#include "core/storage/rows.hpp"

namespace leadhatch::core {

// What the inbound pipeline reads at the start of every batch (an identity with its lead's funnel
// and score state, and per-rule scoring totals), kept by the one writer that also writes it, so a
// sender's next update does not read back what the writer itself wrote a moment ago.
//
// The cache mirrors a WriteSet the way the storage applies it (unset fields stay, a merge or an
// erasure forgets everything), and holds only what was read or written through it. It is right
// only while nobody else writes: its owner clears it whenever the database changed by any other
// path (SqliteStorage compares the file's data version) and when a transaction it mirrored rolls
// back. Not thread-safe: the owner's write lock guards it.
class LeadStateCache {
public:
    explicit LeadStateCache(std::size_t max_identities = 32'768) : max_identities_(max_identities) {}

    // The identity and its lead's state as the database has them, if both are known.
    std::optional<IdentityRecord> identity(const IdentityKey& key) const;
    // A record just read from the database.
    void remember(const IdentityRecord& record);

    // The total of (lead, rule): nullopt when not known; a known absence is a RuleTotal-less
    // entry (the inner optional empty).
    std::optional<std::optional<RuleTotal>> total(LeadId lead, std::string_view rule_id) const;
    void remember_total(LeadId lead, std::string_view rule_id, std::optional<RuleTotal> total);

    // Mirrors writes applied to the database in the same transaction.
    void apply(const WriteSet& writes);

    void clear();
    std::size_t identities() const { return identities_.size(); }

private:
    struct KeyHash {
        std::size_t operator()(const IdentityKey& k) const noexcept;
    };
    // (rule id, total or known absence), a few per lead.
    using Totals = std::vector<std::pair<std::string, std::optional<RuleTotal>>>;
    struct LeadPart {
        LeadStateFields state;
        bool has_state = false;  // `state` came from the database (or a row written to it)
        Totals totals;
    };

    static void set_total(Totals& totals, std::string_view rule_id, std::optional<RuleTotal> total);
    void make_room();

    std::size_t max_identities_;
    std::unordered_map<IdentityKey, IdentityFields, KeyHash> identities_;
    std::unordered_map<std::int64_t, LeadPart> leads_;
};

}  // namespace leadhatch::core
