#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/storage/storage.hpp"

namespace leadhatch::fakes {

// An in-memory core::WriteTx: what a storage backend would hold, kept in maps. Reads answer from
// that memory; apply() records every WriteSet (tests assert on them) and applies its effects the
// way the backends do, so a later batch on the same fake sees what an earlier one wrote.
// commit() only counts. Not thread-safe (neither is a real WriteTx).
class FakeWriteTx final : public core::WriteTx {
   public:
    struct Identity {
        core::IdentityKey key;
        core::LeadId lead_id;
        std::string display_name;
        std::string username;
        std::string language;
        bool unreachable = false;
        std::string menu;
    };

    // ---- state -------------------------------------------------------------------------------
    std::set<std::pair<std::string, std::string>> processed;             // (channel, inbound id)
    std::map<std::pair<std::string, std::string>, Identity> identities;  // (channel, external id)
    std::map<std::int64_t, core::LeadRecord> leads;
    std::map<std::pair<std::int64_t, std::string>, core::RuleTotal> totals;  // (lead, rule)
    std::vector<core::WriteSet> applied;
    int commits = 0;
    int lead_for_update_calls = 0;
    int rule_totals_for_calls = 0;

    // ---- seeding ----------------------------------------------------------------------------
    // A lead as the database would hold it; defaults match a freshly created lead.
    static core::LeadRecord make_lead(std::int64_t id, core::Timestamp created_at) {
        core::LeadRecord r;
        r.id = core::LeadId{id};
        r.stage = "opportunity";
        r.status = "new";
        r.lifecycle = "acquisition";
        r.segment = "unknown";
        r.grade = "cold";
        r.created_at = created_at;
        r.updated_at = created_at;
        r.stage_changed_at = created_at;
        return r;
    }
    core::LeadRecord& add_lead(core::LeadRecord r) {
        const auto id = r.id.value;
        leads[id] = std::move(r);
        return leads[id];
    }
    Identity& add_identity(const std::string& channel, const std::string& external_id, core::LeadId lead_id,
                           std::string display_name = {}, std::string language = {}) {
        Identity i;
        i.key = core::IdentityKey{channel, external_id};
        i.lead_id = lead_id;
        i.display_name = std::move(display_name);
        i.language = std::move(language);
        if (auto it = leads.find(lead_id.value); it != leads.end()) it->second.identities.push_back(i.key);
        return identities[{channel, external_id}] = std::move(i);
    }

    // ---- WriteTx ----------------------------------------------------------------------------
    std::vector<core::InboundKey> find_processed(std::span<const core::InboundKey> keys) override {
        std::vector<core::InboundKey> out;
        for (const auto& k : keys) {
            if (processed.contains({k.channel_id, k.inbound_id})) out.push_back(k);
        }
        return out;
    }

    std::vector<core::IdentityRecord> find_identities(std::span<const core::IdentityKey> keys) override {
        std::vector<core::IdentityRecord> out;
        for (const auto& k : keys) {
            auto it = identities.find({k.channel_id, k.external_user_id});
            if (it == identities.end()) continue;
            const Identity& i = it->second;
            core::IdentityRecord r;
            r.key = i.key;
            r.lead_id = i.lead_id;
            r.display_name = i.display_name;
            r.username = i.username;
            r.language = i.language;
            r.unreachable = i.unreachable;
            r.menu = i.menu;
            if (auto l = leads.find(i.lead_id.value); l != leads.end()) {
                const core::LeadRecord& rec = l->second;
                r.lead_opted_out = rec.opted_out;
                r.stage = rec.stage;
                r.status = rec.status;
                r.lifecycle = rec.lifecycle;
                r.score = rec.score;
                r.grade = rec.grade;
                r.demographic_score = rec.demographic_score;
                r.behavioral_score = rec.behavioral_score;
                r.score_at = rec.score_at;
                r.grade_expires_at = rec.grade_expires_at;
            }
            out.push_back(std::move(r));
        }
        return out;
    }

    bool lead_exists(core::LeadId id) override { return leads.contains(id.value); }

    std::optional<core::LeadRecord> lead_for_update(core::LeadId id) override {
        ++lead_for_update_calls;
        auto it = leads.find(id.value);
        if (it == leads.end()) return std::nullopt;
        return it->second;
    }

    std::vector<core::RuleTotal> rule_totals(core::LeadId id, std::span<const std::string> rule_ids) override {
        std::vector<core::RuleTotal> out;
        for (const auto& rule : rule_ids) {
            if (auto it = totals.find({id.value, rule}); it != totals.end()) out.push_back(it->second);
        }
        return out;
    }

    std::vector<std::pair<core::LeadId, core::RuleTotal>> rule_totals_for(
        std::span<const std::pair<core::LeadId, std::string>> keys) override {
        ++rule_totals_for_calls;
        std::vector<std::pair<core::LeadId, core::RuleTotal>> out;
        for (const auto& [id, rule] : keys) {
            if (auto it = totals.find({id.value, rule}); it != totals.end()) out.emplace_back(id, it->second);
        }
        return out;
    }

    std::vector<core::LeadId> leads_with_verified(std::string_view phone, std::string_view email,
                                                  core::LeadId except) override {
        std::vector<core::LeadId> out;
        for (const auto& [id, l] : leads) {
            if (l.id == except || l.merged_into) continue;
            const bool by_phone = !phone.empty() && l.phone_verified && l.phone == phone;
            const bool by_email = !email.empty() && l.email_verified && l.email == email;
            if (by_phone || by_email) out.push_back(l.id);
        }
        return out;
    }

    void apply(const core::WriteSet& w) override {
        applied.push_back(w);
        for (const auto& k : w.processed) processed.insert({k.channel_id, k.inbound_id});
        for (const auto& row : w.new_leads) {
            core::LeadRecord r = make_lead(row.id.value, row.created_at);
            r.stage = row.stage;
            r.display_name = row.display_name;
            r.username = row.username;
            r.language = row.language;
            r.phone = row.phone;
            r.source_kind = row.source_kind;
            r.source_channel = row.source_channel;
            r.source_campaign = row.source_campaign;
            r.source_detail = row.source_detail;
            r.referral_code = row.referral_code;
            r.referred_by = row.referred_by;
            r.owner = row.owner;
            r.status = row.status;
            r.status_changed_at = row.status_changed_at;
            r.lifecycle = row.lifecycle;
            r.score = row.score;
            r.grade = row.grade;
            r.demographic_score = row.demographic_score;
            r.behavioral_score = row.behavioral_score;
            r.score_at = row.score_at;
            r.grade_expires_at = row.grade_expires_at;
            r.updated_at = row.updated_at.value_or(row.created_at);
            r.last_seen_at = row.last_seen_at;
            leads[row.id.value] = std::move(r);
        }
        for (const auto& row : w.new_identities) {
            add_identity(row.key.channel_id, row.key.external_user_id, row.lead_id, row.display_name, row.language)
                .username = row.username;
        }
        for (const auto& u : w.identity_updates) {
            auto it = identities.find({u.key.channel_id, u.key.external_user_id});
            if (it == identities.end()) continue;
            Identity& i = it->second;
            if (u.display_name) i.display_name = *u.display_name;
            if (u.username) i.username = *u.username;
            if (u.language) i.language = *u.language;
            if (u.menu) i.menu = *u.menu;
            if (u.unreachable) {
                i.unreachable = *u.unreachable;
                recompute_unreachable(i.lead_id);
            }
        }
        for (const auto& u : w.lead_updates) apply_lead_update(u);
        for (const auto& t : w.tags) {
            auto it = leads.find(t.lead_id.value);
            if (it == leads.end()) continue;
            auto& tags = it->second.tags;
            const auto pos = std::find(tags.begin(), tags.end(), t.tag);
            if (t.add && pos == tags.end()) tags.push_back(t.tag);
            if (!t.add && pos != tags.end()) tags.erase(pos);
        }
        for (const auto& t : w.rule_totals) {
            totals[{t.lead_id.value, t.rule_id}] = core::RuleTotal{t.rule_id, t.total, t.period_start, t.period_points};
        }
        for (const auto& m : w.merges) {
            auto it = leads.find(m.source.value);
            if (it != leads.end()) it->second.merged_into = m.target;
            for (auto& [key, i] : identities) {
                if (i.lead_id == m.source) i.lead_id = m.target;
            }
        }
        for (const auto& e : w.erasures) {
            auto it = leads.find(e.lead_id.value);
            if (it == leads.end()) continue;
            core::LeadRecord& l = it->second;
            l.display_name.clear();
            l.username.clear();
            l.phone.clear();
            l.email.clear();
            l.erased_at = e.at;
        }
    }

    void commit() override { ++commits; }

    // ---- inspection -------------------------------------------------------------------------
    // Every row of one kind over all applied WriteSets, in order: collect(&core::WriteSet::events).
    template <class T>
    std::vector<T> collect(std::vector<T> core::WriteSet::*member) const {
        std::vector<T> out;
        for (const auto& w : applied) out.insert(out.end(), (w.*member).begin(), (w.*member).end());
        return out;
    }

    const core::LeadRecord& lead(std::int64_t id) const { return leads.at(id); }

   private:
    void recompute_unreachable(core::LeadId lead_id) {
        auto it = leads.find(lead_id.value);
        if (it == leads.end()) return;
        bool any = false;
        bool all = true;
        for (const auto& [key, i] : identities) {
            if (i.lead_id != lead_id) continue;
            any = true;
            all = all && i.unreachable;
        }
        it->second.unreachable = any && all;
    }

    void apply_lead_update(const core::LeadUpdate& u) {
        auto it = leads.find(u.id.value);
        if (it == leads.end()) return;
        core::LeadRecord& l = it->second;
        if (u.display_name) l.display_name = *u.display_name;
        if (u.username) l.username = *u.username;
        if (u.language) l.language = *u.language;
        if (u.phone) l.phone = *u.phone;
        if (u.opted_out) l.opted_out = *u.opted_out;
        if (u.unreachable) l.unreachable = *u.unreachable;
        if (u.last_seen_at) l.last_seen_at = *u.last_seen_at;
        l.referral_count += u.referral_count_delta;
        if (u.email) l.email = *u.email;
        if (u.company) l.company = *u.company;
        if (u.title) l.title = *u.title;
        if (u.region) l.region = *u.region;
        if (u.industry) l.industry = *u.industry;
        if (u.company_size) l.company_size = *u.company_size;
        if (u.custom_fields) l.custom_fields = *u.custom_fields;
        if (u.notes) l.notes = *u.notes;
        if (u.owner) l.owner = *u.owner;
        if (u.stage) {
            l.stage = *u.stage;
            l.stage_changed_at = u.at;
        }
        if (u.max_stage_index) l.max_stage_index = *u.max_stage_index;
        if (u.status) {
            l.status = *u.status;
            l.status_changed_at = u.at;
        }
        if (u.lifecycle) l.lifecycle = *u.lifecycle;
        if (u.segment) l.segment = *u.segment;
        if (u.deal_value) l.deal_value = *u.deal_value;
        if (u.currency) l.currency = *u.currency;
        if (u.lost_reason) l.lost_reason = *u.lost_reason;
        if (u.phone_verified) l.phone_verified = *u.phone_verified;
        if (u.email_verified) l.email_verified = *u.email_verified;
        if (u.demographic_score) l.demographic_score = *u.demographic_score;
        if (u.behavioral_score) l.behavioral_score = *u.behavioral_score;
        if (u.score_at) l.score_at = *u.score_at;
        if (u.score) l.score = *u.score;
        if (u.grade) l.grade = *u.grade;
        if (u.grade_expires_at) l.grade_expires_at = *u.grade_expires_at;
        if (u.merged_into) l.merged_into = *u.merged_into;
        if (u.changes_record()) l.updated_at = u.at;
    }
};

}  // namespace leadhatch::fakes
