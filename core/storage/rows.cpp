#include "core/storage/rows.hpp"

#include <algorithm>
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

}  // namespace leadhatch::core
