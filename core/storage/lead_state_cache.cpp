#include "core/storage/lead_state_cache.hpp"

#include <algorithm>
#include <functional>

namespace leadhatch::core {

std::size_t LeadStateCache::KeyHash::operator()(const IdentityKey& k) const noexcept {
    const std::size_t h = std::hash<std::string_view>{}(k.channel_id);
    return h ^ (std::hash<std::string_view>{}(k.external_user_id) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}

std::optional<IdentityRecord> LeadStateCache::identity(const IdentityKey& key) const {
    const auto id = identities_.find(key);
    if (id == identities_.end()) return std::nullopt;
    const auto lead = leads_.find(id->second.lead_id.value);
    if (lead == leads_.end() || !lead->second.has_state) return std::nullopt;
    const IdentityPart& i = id->second;
    const LeadPart& l = lead->second;
    IdentityRecord r;
    r.key = key;
    r.lead_id = i.lead_id;
    r.display_name = i.display_name;
    r.username = i.username;
    r.language = i.language;
    r.unreachable = i.unreachable;
    r.menu = i.menu;
    r.lead_opted_out = l.opted_out;
    r.stage = l.stage;
    r.status = l.status;
    r.lifecycle = l.lifecycle;
    r.score = l.score;
    r.grade = l.grade;
    r.demographic_score = l.demographic_score;
    r.behavioral_score = l.behavioral_score;
    r.score_at = l.score_at;
    r.grade_expires_at = l.grade_expires_at;
    return r;
}

void LeadStateCache::make_room() {
    // Past the bound everything goes: simpler than recency, and a sender pool larger than the
    // bound gains little from a cache anyway.
    if (identities_.size() >= max_identities_) clear();
}

void LeadStateCache::remember(const IdentityRecord& r) {
    make_room();
    identities_.insert_or_assign(r.key,
                                 IdentityPart{r.lead_id, r.display_name, r.username, r.language, r.unreachable, r.menu});
    LeadPart& l = leads_[r.lead_id.value];
    l.opted_out = r.lead_opted_out;
    l.stage = r.stage;
    l.status = r.status;
    l.lifecycle = r.lifecycle;
    l.score = r.score;
    l.grade = r.grade;
    l.demographic_score = r.demographic_score;
    l.behavioral_score = r.behavioral_score;
    l.score_at = r.score_at;
    l.grade_expires_at = r.grade_expires_at;
    l.has_state = true;
}

std::optional<std::optional<RuleTotal>> LeadStateCache::total(LeadId lead, std::string_view rule_id) const {
    const auto l = leads_.find(lead.value);
    if (l == leads_.end()) return std::nullopt;
    for (const auto& [rule, t] : l->second.totals) {
        if (rule == rule_id) return t;
    }
    return std::nullopt;
}

void LeadStateCache::remember_total(LeadId lead, std::string_view rule_id, std::optional<RuleTotal> total) {
    auto& totals = leads_[lead.value].totals;
    for (auto& [rule, t] : totals) {
        if (rule == rule_id) {
            t = std::move(total);
            return;
        }
    }
    totals.emplace_back(std::string(rule_id), std::move(total));
}

void LeadStateCache::apply(const WriteSet& w) {
    if (!w.merges.empty() || !w.erasures.empty()) {
        clear();
        return;
    }
    // New rows as the schema's defaults and the row's own values make them.
    for (const auto& l : w.new_leads) {
        LeadPart& p = leads_[l.id.value];
        p = LeadPart{};
        p.stage = l.stage;
        p.status = l.status;
        p.lifecycle = l.lifecycle;
        p.score = l.score;
        p.grade = l.grade;
        p.demographic_score = l.demographic_score;
        p.behavioral_score = l.behavioral_score;
        p.score_at = l.score_at;
        p.grade_expires_at = l.grade_expires_at;
        p.has_state = true;
    }
    for (const auto& i : w.new_identities) {
        make_room();
        identities_.insert_or_assign(i.key, IdentityPart{i.lead_id, i.display_name, i.username, i.language, false, {}});
    }
    for (const auto& u : w.identity_updates) {
        const auto it = identities_.find(u.key);
        if (it == identities_.end()) continue;
        IdentityPart& i = it->second;
        if (u.display_name) i.display_name = *u.display_name;
        if (u.username) i.username = *u.username;
        if (u.language) i.language = *u.language;
        if (u.unreachable) i.unreachable = *u.unreachable;
        if (u.menu) i.menu = *u.menu;
    }
    // The storage writes the plain updates first and the extended ones after them.
    for (const bool extended : {false, true}) {
        for (const auto& u : w.lead_updates) {
            if (u.extended() != extended) continue;
            if (u.merged_into) {
                clear();
                return;
            }
            const auto it = leads_.find(u.id.value);
            if (it == leads_.end()) continue;
            LeadPart& l = it->second;
            if (u.opted_out) l.opted_out = *u.opted_out;
            if (u.stage) l.stage = *u.stage;
            if (u.status) l.status = *u.status;
            if (u.lifecycle) l.lifecycle = *u.lifecycle;
            if (u.score) l.score = *u.score;
            if (u.grade) l.grade = *u.grade;
            if (u.demographic_score) l.demographic_score = *u.demographic_score;
            if (u.behavioral_score) l.behavioral_score = *u.behavioral_score;
            if (u.score_at) l.score_at = *u.score_at;
            if (u.grade_expires_at) l.grade_expires_at = *u.grade_expires_at;
        }
    }
    for (const auto& t : w.rule_totals) {
        const auto it = leads_.find(t.lead_id.value);
        if (it == leads_.end()) continue;
        RuleTotal total{t.rule_id, t.total, t.period_start, t.period_points};
        auto& totals = it->second.totals;
        const auto r = std::find_if(totals.begin(), totals.end(), [&](const auto& e) { return e.first == t.rule_id; });
        if (r != totals.end()) {
            r->second = std::move(total);
        } else {
            totals.emplace_back(t.rule_id, std::move(total));
        }
    }
}

void LeadStateCache::clear() {
    identities_.clear();
    leads_.clear();
}

}  // namespace leadhatch::core
