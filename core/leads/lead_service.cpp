#include "core/leads/lead_service.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "core/util/json_writer.hpp"

namespace leadhatch::core {
namespace {

constexpr std::array<std::string_view, 6> kStatuses{"new", "engaged", "mql", "sql", "customer", "advocate"};

Error invalid(std::string field, std::string message) { return Error{"invalid", std::move(message), std::move(field)}; }
Error conflict(std::string message, std::string field = {}) {
    return Error{"conflict", std::move(message), std::move(field)};
}

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

std::optional<Error> check_text(const std::string& field, const std::string& v, std::size_t max, bool multiline = false) {
    if (v.size() > max) return invalid(field, "at most " + std::to_string(max) + " bytes");
    if (!multiline && has_control(v)) return invalid(field, "must be one line without control characters");
    if (multiline && std::any_of(v.begin(), v.end(), [](char c) { return c == '\0'; })) {
        return invalid(field, "must not contain NUL");
    }
    return std::nullopt;
}

bool valid_email(const std::string& e) {
    const auto at = e.find('@');
    return at != std::string::npos && at > 0 && at + 1 < e.size() && e.find('@', at + 1) == std::string::npos &&
           e.find(' ') == std::string::npos && e.find('.', at) != std::string::npos && e.size() <= 255;
}

bool valid_phone(const std::string& p) {
    if (p.empty() || p.size() > 32) return false;
    int digits = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const char c = p[i];
        if (c >= '0' && c <= '9') {
            ++digits;
        } else if (!(c == '+' && i == 0) && c != ' ' && c != '-' && c != '(' && c != ')') {
            return false;
        }
    }
    return digits >= 5;
}

bool valid_tag(const std::string& t) { return !t.empty() && t.size() <= 64 && !has_control(t); }

std::string json_list(const std::vector<std::string>& v) {
    std::string out = "[";
    for (const auto& s : v) {
        if (out.size() > 1) out += ',';
        JsonWriter::append_escaped(out, s);
    }
    out += ']';
    return out;
}

}  // namespace

int status_rank(std::string_view status) {
    for (std::size_t i = 0; i < kStatuses.size(); ++i) {
        if (kStatuses[i] == status) return static_cast<int>(i);
    }
    return -1;
}

bool valid_status(std::string_view status) { return status_rank(status) >= 0; }

std::string lifecycle_for(std::string_view stage, std::string_view status) {
    if (stage == "lost") return "lost";
    const int rank = status_rank(status);
    if (rank >= status_rank("customer") || stage == "won") return "retention";
    if (rank >= status_rank("mql") || (stage != "opportunity" && !stage.empty())) return "development";
    return "acquisition";
}

LeadService::LeadService(const Funnel& funnel, const ScoringEngine& scoring, const SegmentsConfig& segments)
    : funnel_(funnel), scoring_(scoring), segments_(segments) {}

LeadFields LeadService::fields_of(const LeadRecord& l) {
    LeadFields f;
    f.phone = l.phone;
    f.email = l.email;
    f.company = l.company;
    f.title = l.title;
    f.region = l.region;
    f.industry = l.industry;
    f.company_size = l.company_size;
    auto custom = nlohmann::json::parse(l.custom_fields, nullptr, false);
    if (custom.is_object()) {
        for (const auto& [k, v] : custom.items()) {
            if (v.is_string()) f.custom[k] = v.get<std::string>();
            else if (v.is_number() || v.is_boolean()) f.custom[k] = v.dump();
        }
    }
    return f;
}

ScoreUpdate LeadService::rescore(const LeadRecord& lead, const std::vector<ScoreAward>& awards, Timestamp now) const {
    std::int64_t demographic = 0;
    for (const auto& a : scoring_.demographic(fields_of(lead), now)) demographic += a.points;
    return rescore_with(demographic, lead.behavioral_score, lead.score_at, awards, now);
}

ScoreUpdate LeadService::rescore_with(std::int64_t demographic, double behavioral, Timestamp score_at,
                                      const std::vector<ScoreAward>& awards, Timestamp now) const {
    ScoreUpdate s;
    s.at = now;
    s.demographic = demographic;
    s.behavioral = score_at == Timestamp{} ? behavioral : scoring_.decay_total(behavioral, score_at, now);
    for (const auto& a : awards) {
        if (a.behavioral) s.behavioral += a.points;
    }
    s.score = static_cast<std::int64_t>(std::llround(static_cast<double>(s.demographic) + s.behavioral));
    s.grade = scoring_.grade(static_cast<double>(s.score));
    s.grade_expires_at = scoring_.grade_expiry(static_cast<double>(s.demographic), s.behavioral, now);
    return s;
}

void LeadService::advance_status(LeadRecord& lead, const std::string& to, const std::string& reason,
                                 const Actor& actor, const std::string& channel, Timestamp now, WriteSet& w,
                                 LeadUpdate& u) const {
    if (status_rank(to) <= status_rank(lead.status)) return;
    w.events.push_back(EventRow{lead.id, channel, "status_changed", actor.name, now,
                                JsonWriter().field("from", lead.status).field("to", to).field("reason", reason).finish()});
    lead.status = to;
    u.status = to;
    const auto lc = lifecycle_for(lead.stage, lead.status);
    if (lc != lead.lifecycle) {
        lead.lifecycle = lc;
        u.lifecycle = lc;
    }
}

void LeadService::record_score(LeadRecord& lead, const ScoreUpdate& s, const std::vector<ScoreAward>& awards,
                               const Actor& actor, const std::string& channel, WriteSet& w, LeadUpdate& u) const {
    for (const auto& a : awards) {
        if (!a.behavioral) continue;
        w.score_entries.push_back(ScoreEntryRow{lead.id, a.rule_id, a.points, a.reason, true, a.at});
    }
    const bool moved = s.score != lead.score || s.grade != lead.grade;
    u.demographic_score = s.demographic;
    u.behavioral_score = s.behavioral;
    u.score_at = s.at;
    u.score = s.score;
    // Indexed columns are written only when they change: assigning one, even to its old value,
    // costs an index delete and insert.
    if (s.grade != lead.grade) u.grade = s.grade;
    if (s.grade_expires_at != lead.grade_expires_at) u.grade_expires_at = s.grade_expires_at;
    if (moved) {
        std::vector<std::string> reasons;
        for (const auto& a : awards) reasons.push_back(a.rule_id + " " + (a.points >= 0 ? "+" : "") +
                                                        std::to_string(a.points) + ": " + a.reason);
        w.events.push_back(EventRow{lead.id, channel, "score_changed",
                                    awards.empty() ? actor.name : "rule:" + awards.front().rule_id, s.at,
                                    JsonWriter()
                                        .field("from", lead.score)
                                        .field("to", s.score)
                                        .field("grade_from", lead.grade)
                                        .field("grade_to", s.grade)
                                        .raw_field("reasons", json_list(reasons))
                                        .finish()});
    }
    lead.demographic_score = s.demographic;
    lead.behavioral_score = s.behavioral;
    lead.score_at = s.at;
    lead.score = s.score;
    lead.grade = s.grade;
    lead.grade_expires_at = s.grade_expires_at;
    const auto q = scoring_.qualification(static_cast<double>(s.score));
    if (!q.empty()) {
        const int threshold = q == "sql" ? scoring_.config().sql : scoring_.config().mql;
        advance_status(lead, q, "score " + std::to_string(s.score) + " >= " + q + " " + std::to_string(threshold), actor,
                       channel, s.at, w, u);
    }
}

Expected<LeadChange> LeadService::plan_patch(const LeadRecord& current, const LeadPatch& p, const Actor& actor,
                                             Timestamp now) const {
    if (current.merged_into) return conflict("lead was merged into " + std::to_string(current.merged_into.value));
    if (current.erased_at) return conflict("lead was erased");
    LeadChange ch;
    ch.after = current;
    auto& after = ch.after;
    auto& w = ch.writes;
    w.now = now;
    LeadUpdate u;
    u.id = current.id;
    u.at = now;
    std::vector<std::string> changed_fields;
    bool demographic_changed = false;

    auto text_field = [&](const char* name, const std::optional<std::string>& v, std::string& target,
                          std::optional<std::string>& out, std::size_t max, bool demographic) -> std::optional<Error> {
        if (!v) return std::nullopt;
        if (auto e = check_text(name, *v, max)) return e;
        if (*v == target) return std::nullopt;
        target = *v;
        out = *v;
        changed_fields.emplace_back(name);
        demographic_changed = demographic_changed || demographic;
        return std::nullopt;
    };
    if (p.email && !p.email->empty() && !valid_email(*p.email)) return invalid("email", "not an email address");
    if (p.phone && !p.phone->empty() && !valid_phone(*p.phone)) {
        return invalid("phone", "use digits with an optional leading '+', spaces, '-' or parentheses");
    }
    if (auto e = text_field("display_name", p.display_name, after.display_name, u.display_name, 255, false)) return *e;
    if (auto e = text_field("phone", p.phone, after.phone, u.phone, 64, true)) return *e;
    if (auto e = text_field("email", p.email, after.email, u.email, 255, true)) return *e;
    if (auto e = text_field("company", p.company, after.company, u.company, 255, true)) return *e;
    if (auto e = text_field("title", p.title, after.title, u.title, 255, true)) return *e;
    if (auto e = text_field("region", p.region, after.region, u.region, 128, true)) return *e;
    if (auto e = text_field("industry", p.industry, after.industry, u.industry, 128, true)) return *e;
    if (p.notes) {
        if (auto e = check_text("notes", *p.notes, 10000, true)) return *e;
        if (*p.notes != after.notes) {
            after.notes = *p.notes;
            u.notes = *p.notes;
            changed_fields.emplace_back("notes");
        }
    }
    if (p.company_size) {
        if (*p.company_size && **p.company_size < 0) return invalid("company_size", "must not be negative");
        if (*p.company_size != after.company_size) {
            after.company_size = *p.company_size;
            u.company_size = *p.company_size;
            changed_fields.emplace_back("company_size");
            demographic_changed = true;
        }
    }
    if (p.custom_fields) {
        if (p.custom_fields->size() > 65536) return invalid("custom_fields", "at most 64 KiB");
        auto j = nlohmann::json::parse(*p.custom_fields, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return invalid("custom_fields", "must be a JSON object");
        const auto text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        if (text != after.custom_fields) {
            after.custom_fields = text;
            u.custom_fields = text;
            changed_fields.emplace_back("custom_fields");
            demographic_changed = true;
        }
    }
    if (p.phone_verified && *p.phone_verified != after.phone_verified) {
        if (*p.phone_verified && after.phone.empty()) return invalid("phone_verified", "the lead has no phone");
        after.phone_verified = *p.phone_verified;
        u.phone_verified = *p.phone_verified;
        changed_fields.emplace_back("phone_verified");
    }
    if (p.email_verified && *p.email_verified != after.email_verified) {
        if (*p.email_verified && after.email.empty()) return invalid("email_verified", "the lead has no email");
        after.email_verified = *p.email_verified;
        u.email_verified = *p.email_verified;
        changed_fields.emplace_back("email_verified");
    }
    if (u.phone && !p.phone_verified && after.phone_verified) {  // a new number is not verified
        after.phone_verified = false;
        u.phone_verified = false;
    }
    if (u.email && !p.email_verified && after.email_verified) {
        after.email_verified = false;
        u.email_verified = false;
    }
    if (p.deal_value) {
        if (*p.deal_value && **p.deal_value < 0) return invalid("deal_value", "must not be negative");
        if (*p.deal_value != after.deal_value) {
            after.deal_value = *p.deal_value;
            u.deal_value = *p.deal_value;
            changed_fields.emplace_back("deal_value");
        }
    }
    if (p.currency) {
        const auto& c = *p.currency;
        if (c.size() != 3 || !std::all_of(c.begin(), c.end(), [](char x) { return x >= 'A' && x <= 'Z'; })) {
            return invalid("currency", "an ISO 4217 code such as CNY or USD");
        }
        if (c != after.currency) {
            after.currency = c;
            u.currency = c;
            changed_fields.emplace_back("currency");
        }
    }
    if (p.owner) {
        if (auto e = check_text("owner", *p.owner, 128)) return *e;
        if (*p.owner != after.owner) {
            w.events.push_back(EventRow{current.id, {}, "owner_changed", actor.name, now,
                                        JsonWriter().field("from", after.owner).field("to", *p.owner).finish()});
            after.owner = *p.owner;
            u.owner = *p.owner;
        }
    }
    // Tags.
    {
        std::set<std::string> before(current.tags.begin(), current.tags.end());
        std::set<std::string> next = before;
        if (p.tags) {
            next.clear();
            for (const auto& t : *p.tags) {
                if (!valid_tag(t)) return invalid("tags", "tags are 1-64 characters without control characters");
                next.insert(t);
            }
        }
        for (const auto& t : p.add_tags) {
            if (!valid_tag(t)) return invalid("add_tags", "tags are 1-64 characters without control characters");
            next.insert(t);
        }
        for (const auto& t : p.remove_tags) next.erase(t);
        if (next.size() > 100) return invalid("tags", "at most 100 tags");
        std::vector<std::string> added;
        std::vector<std::string> removed;
        for (const auto& t : next) {
            if (!before.count(t)) added.push_back(t);
        }
        for (const auto& t : before) {
            if (!next.count(t)) removed.push_back(t);
        }
        for (const auto& t : added) w.tags.push_back(TagChange{current.id, t, true});
        for (const auto& t : removed) w.tags.push_back(TagChange{current.id, t, false});
        if (!added.empty() || !removed.empty()) {
            w.events.push_back(EventRow{current.id, {}, "tags_changed", actor.name, now,
                                        JsonWriter()
                                            .raw_field("added", json_list(added))
                                            .raw_field("removed", json_list(removed))
                                            .finish()});
            after.tags.assign(next.begin(), next.end());
        }
    }
    // Stage.
    if (p.stage && *p.stage != after.stage) {
        if (auto e = check_text("reason", p.reason, 255)) return *e;
        const auto check = funnel_.can_move(after.stage, *p.stage, p.reason);
        if (!check.ok) {
            if (!funnel_.stage(*p.stage)) return invalid("stage", check.why);
            return conflict(check.why, "stage");
        }
        const auto* def = funnel_.stage(*p.stage);
        w.stage_changes.push_back(StageChangeRow{current.id, *p.stage, now, actor.name, p.reason});
        w.events.push_back(EventRow{current.id, {}, "stage_changed", actor.name, now,
                                    JsonWriter()
                                        .field("from", after.stage)
                                        .field("to", *p.stage)
                                        .field("probability", static_cast<std::int64_t>(def->probability))
                                        .field_if("reason", p.reason)
                                        .finish()});
        after.stage = *p.stage;
        after.stage_changed_at = now;
        u.stage = *p.stage;
        if (def->requires_reason) {
            after.lost_reason = p.reason;
            u.lost_reason = p.reason;
        } else if (!after.lost_reason.empty()) {
            after.lost_reason.clear();
            u.lost_reason = std::string{};
        }
        const int idx = funnel_.index(*p.stage);
        if (!def->requires_reason && idx > after.max_stage_index) {
            after.max_stage_index = idx;
            u.max_stage_index = idx;
        }
        if (*p.stage == "won") advance_status(after, "customer", "deal won", actor, {}, now, w, u);
    } else if (p.stage && !p.reason.empty()) {
        return conflict("already in stage " + *p.stage, "stage");
    }
    if (p.status && *p.status != after.status) {
        if (!valid_status(*p.status)) {
            return invalid("status", "one of new, engaged, mql, sql, customer, advocate");
        }
        if (status_rank(*p.status) < status_rank(after.status)) {
            return conflict("status moves forward only (" + after.status + " -> " + *p.status + ")", "status");
        }
        advance_status(after, *p.status, p.reason.empty() ? "set by " + actor.name : p.reason, actor, {}, now, w, u);
    }
    if (demographic_changed) {
        const auto seg = segment_for(segments_, fields_of(after));
        if (seg != after.segment) {
            w.events.push_back(EventRow{current.id, {}, "segment_changed", actor.name, now,
                                        JsonWriter().field("from", after.segment).field("to", seg).finish()});
            after.segment = seg;
            u.segment = seg;
        }
        const auto s = rescore(after, {}, now);
        record_score(after, s, {}, actor, {}, w, u);
    }
    const auto lc = lifecycle_for(after.stage, after.status);
    if (lc != after.lifecycle) {
        after.lifecycle = lc;
        u.lifecycle = lc;
    }
    if (!changed_fields.empty()) {
        w.events.push_back(EventRow{current.id, {}, "updated", actor.name, now,
                                    JsonWriter().raw_field("fields", json_list(changed_fields)).finish()});
    }
    ch.changed = u.changes_record() || !w.tags.empty() || !w.events.empty();
    if (ch.changed) {
        after.updated_at = now;
        w.lead_updates.push_back(std::move(u));
    }
    return ch;
}

Expected<LeadChange> LeadService::plan_merge(const LeadRecord& source, const LeadRecord& target, const Actor& actor,
                                             const std::string& reason, Timestamp now) const {
    if (source.id == target.id) return conflict("a lead cannot be merged into itself");
    if (source.merged_into) return conflict("lead " + std::to_string(source.id.value) + " was already merged");
    if (target.merged_into) return conflict("lead " + std::to_string(target.id.value) + " was merged; merge into " +
                                            std::to_string(target.merged_into.value));
    if (source.erased_at || target.erased_at) return conflict("an erased lead cannot be merged");
    LeadChange ch;
    ch.after = target;
    auto& after = ch.after;
    auto& w = ch.writes;
    w.now = now;
    LeadUpdate u;
    u.id = target.id;
    u.at = now;
    auto fill = [&](const std::string& from, std::string& to, std::optional<std::string>& out) {
        if (to.empty() && !from.empty()) {
            to = from;
            out = from;
        }
    };
    fill(source.display_name, after.display_name, u.display_name);
    fill(source.username, after.username, u.username);
    fill(source.language, after.language, u.language);
    fill(source.phone, after.phone, u.phone);
    fill(source.email, after.email, u.email);
    fill(source.company, after.company, u.company);
    fill(source.title, after.title, u.title);
    fill(source.region, after.region, u.region);
    fill(source.industry, after.industry, u.industry);
    fill(source.owner, after.owner, u.owner);
    if (!after.company_size && source.company_size) {
        after.company_size = source.company_size;
        u.company_size = source.company_size;
    }
    if (!after.deal_value && source.deal_value) {
        after.deal_value = source.deal_value;
        u.deal_value = source.deal_value;
        if (after.currency.empty()) {
            after.currency = source.currency;
            u.currency = source.currency;
        }
    }
    if (source.phone_verified && after.phone == source.phone && !after.phone_verified) {
        after.phone_verified = true;
        u.phone_verified = true;
    }
    if (source.email_verified && after.email == source.email && !after.email_verified) {
        after.email_verified = true;
        u.email_verified = true;
    }
    if (source.opted_out && !after.opted_out) {  // consent: the stricter wins
        after.opted_out = true;
        u.opted_out = true;
    }
    if (source.referral_count) u.referral_count_delta = static_cast<int>(source.referral_count);
    after.referral_count += source.referral_count;
    std::set<std::string> tags(after.tags.begin(), after.tags.end());
    tags.insert(source.tags.begin(), source.tags.end());
    after.tags.assign(tags.begin(), tags.end());
    for (const auto& id : source.identities) after.identities.push_back(id);

    const auto snapshot = JsonWriter()
                              .field("id", source.id.value)
                              .field("display_name", source.display_name)
                              .field("stage", source.stage)
                              .field("status", source.status)
                              .field("score", source.score)
                              .field("source_kind", source.source_kind)
                              .field("created_at", to_epoch_ms(source.created_at))
                              .finish();
    w.merges.push_back(MergeRow{source.id, target.id, actor.name, reason, snapshot, now});
    w.events.push_back(EventRow{target.id, {}, "merged", actor.name, now,
                                JsonWriter().field("source", source.id.value).field("reason", reason).finish()});

    // Scores add up (both decayed to now); the status is the further of the two.
    LeadRecord combined = after;
    combined.behavioral_score = scoring_.decay_total(source.behavioral_score, source.score_at, now) +
                                scoring_.decay_total(target.behavioral_score, target.score_at, now);
    combined.score_at = now;
    const auto seg = segment_for(segments_, fields_of(after));
    if (seg != after.segment) {
        after.segment = seg;
        u.segment = seg;
    }
    const auto s = rescore(combined, {}, now);
    record_score(after, s, {}, actor, {}, w, u);
    if (status_rank(source.status) > status_rank(after.status)) {
        advance_status(after, source.status, "merged from " + std::to_string(source.id.value), actor, {}, now, w, u);
    }
    const auto lc = lifecycle_for(after.stage, after.status);
    if (lc != after.lifecycle) {
        after.lifecycle = lc;
        u.lifecycle = lc;
    }
    after.updated_at = now;
    w.lead_updates.push_back(std::move(u));
    ch.changed = true;
    return ch;
}

LeadChange LeadService::plan_erase(const LeadRecord& lead, const Actor& actor, Timestamp now) const {
    LeadChange ch;
    ch.writes.now = now;
    ch.writes.erasures.push_back(EraseRow{lead.id, now});
    ch.writes.events.push_back(EventRow{lead.id, {}, "erased", actor.name, now, "{}"});
    // The record as storage leaves it: no personal data, counts and funnel position kept.
    auto& a = ch.after;
    a = lead;
    for (auto* f : {&a.display_name, &a.username, &a.language, &a.phone, &a.email, &a.company, &a.title, &a.region,
                    &a.industry, &a.notes, &a.source_detail, &a.lost_reason}) {
        f->clear();
    }
    a.company_size.reset();
    a.custom_fields = "{}";
    a.identities.clear();
    a.phone_verified = false;
    a.email_verified = false;
    a.opted_out = true;
    a.unreachable = true;
    a.erased_at = now;
    a.updated_at = now;
    ch.changed = true;
    return ch;
}

}  // namespace leadhatch::core
