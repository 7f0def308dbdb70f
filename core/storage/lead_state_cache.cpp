#include "core/storage/lead_state_cache.hpp"

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
    IdentityRecord r;
    static_cast<IdentityFields&>(r) = id->second;
    static_cast<LeadStateFields&>(r) = lead->second.state;
    r.key = key;
    return r;
}

void LeadStateCache::make_room() {
    // Past the bound everything goes: simpler than recency, and a sender pool larger than the
    // bound gains little from a cache anyway.
    if (identities_.size() >= max_identities_) clear();
}

void LeadStateCache::remember(const IdentityRecord& r) {
    make_room();
    identities_.insert_or_assign(r.key, static_cast<const IdentityFields&>(r));
    LeadPart& l = leads_[r.lead_id.value];
    l.state = r;
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
    set_total(leads_[lead.value].totals, rule_id, std::move(total));
}

void LeadStateCache::set_total(Totals& totals, std::string_view rule_id, std::optional<RuleTotal> total) {
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
        p.state.stage = l.stage;
        p.state.status = l.status;
        p.state.lifecycle = l.lifecycle;
        p.state.score = l.score;
        p.state.grade = l.grade;
        p.state.demographic_score = l.demographic_score;
        p.state.behavioral_score = l.behavioral_score;
        p.state.score_at = l.score_at;
        p.state.grade_expires_at = l.grade_expires_at;
        p.has_state = true;
    }
    for (const auto& i : w.new_identities) {
        make_room();
        identities_.insert_or_assign(i.key, IdentityFields{i.lead_id, i.display_name, i.username, i.language, false, {}});
    }
    for (const auto& u : w.identity_updates) {
        const auto it = identities_.find(u.key);
        if (it == identities_.end()) continue;
        IdentityFields& i = it->second;
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
            LeadStateFields& l = it->second.state;
            if (u.opted_out) l.lead_opted_out = *u.opted_out;
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
        set_total(it->second.totals, t.rule_id, RuleTotal{t.rule_id, t.total, t.period_start, t.period_points});
    }
}

void LeadStateCache::clear() {
    identities_.clear();
    leads_.clear();
}

}  // namespace leadhatch::core
