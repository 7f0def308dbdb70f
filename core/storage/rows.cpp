#include "core/storage/rows.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_map>

namespace leadhatch::core {

void fold_new_lead_updates(WriteSet& w) {
    if (w.new_leads.empty() || w.lead_updates.empty()) return;
    std::unordered_map<std::int64_t, LeadRow*> fresh;  // null once an update of the lead stays one
    fresh.reserve(w.new_leads.size());
    for (auto& row : w.new_leads) fresh.emplace(row.id.value, &row);

    // Folds u into its lead's row; false leaves it an update, and then every later update of that
    // lead too (they must apply after it).
    const auto fold = [&](const LeadUpdate& u) {
        auto it = fresh.find(u.id.value);
        if (it == fresh.end() || !it->second) return false;
        LeadUpdate rest = u;
        rest.owner.reset();
        rest.status.reset();
        rest.lifecycle.reset();
        rest.score.reset();
        rest.grade.reset();
        rest.demographic_score.reset();
        rest.behavioral_score.reset();
        rest.score_at.reset();
        rest.grade_expires_at.reset();
        if (rest.changes_record()) {  // something the row does not carry
            it->second = nullptr;
            return false;
        }
        LeadRow& row = *it->second;
        if (u.owner) row.owner = *u.owner;
        if (u.status) {
            row.status = *u.status;
            row.status_changed_at = u.at;
        }
        if (u.lifecycle) row.lifecycle = *u.lifecycle;
        if (u.score) row.score = *u.score;
        if (u.grade) row.grade = *u.grade;
        if (u.demographic_score) row.demographic_score = *u.demographic_score;
        if (u.behavioral_score) row.behavioral_score = *u.behavioral_score;
        if (u.score_at) row.score_at = *u.score_at;
        if (u.grade_expires_at) row.grade_expires_at = *u.grade_expires_at;
        if (u.last_seen_at) row.last_seen_at = std::max(row.last_seen_at.value_or(row.created_at), *u.last_seen_at);
        if (u.changes_record()) row.updated_at = u.at;
        return true;
    };

    std::vector<LeadUpdate> kept;
    kept.reserve(w.lead_updates.size());
    for (auto& u : w.lead_updates) {
        if (!fold(u)) kept.push_back(std::move(u));
    }
    w.lead_updates = std::move(kept);
}

std::vector<std::pair<LeadId, std::string>> asked_pairs(std::span<const IdentityKey> identities,
                                                        std::span<const IdentityRecord> found,
                                                        std::span<const RuleAsk> asks) {
    std::vector<std::pair<LeadId, std::string>> pairs;
    if (asks.empty() || found.empty()) return pairs;
    // The lead of each asked identity, by its position (a batch has a few dozen: sorted vectors,
    // no node per entry).
    using Key = std::pair<std::string_view, std::string_view>;
    std::vector<std::pair<Key, std::size_t>> position;
    position.reserve(identities.size());
    for (std::size_t i = 0; i < identities.size(); ++i) {
        position.emplace_back(Key{identities[i].channel_id, identities[i].external_user_id}, i);
    }
    std::sort(position.begin(), position.end());
    std::vector<LeadId> lead_of(identities.size());
    for (const auto& r : found) {
        const Key k{r.key.channel_id, r.key.external_user_id};
        const auto it = std::lower_bound(position.begin(), position.end(), std::pair{k, std::size_t{0}});
        if (it != position.end() && it->first == k) lead_of[it->second] = r.lead_id;
    }
    std::vector<std::pair<std::int64_t, std::string_view>> known;
    known.reserve(asks.size());
    for (const auto& a : asks) {
        if (a.identity >= lead_of.size() || !lead_of[a.identity]) continue;  // a new sender: no totals yet
        known.emplace_back(lead_of[a.identity].value, a.rule_id);
    }
    std::sort(known.begin(), known.end());
    known.erase(std::unique(known.begin(), known.end()), known.end());
    pairs.reserve(known.size());
    for (const auto& [lead, rule] : known) pairs.emplace_back(LeadId{lead}, std::string(rule));
    return pairs;
}

}  // namespace leadhatch::core
