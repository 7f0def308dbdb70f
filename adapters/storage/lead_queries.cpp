#include "adapters/storage/lead_queries.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <set>
#include <span>
#include <type_traits>
#include <unordered_map>

namespace leadhatch::adapters::storage::queries {
namespace {

constexpr const char* kLeadColumns =
    "l.id, l.display_name, l.username, l.language, l.phone, l.email, l.company, l.title, l.region, l.industry, "
    "l.company_size, l.custom_fields, l.notes, l.stage, l.max_stage_index, l.status, l.lifecycle, l.segment, "
    "l.score, l.grade, l.demographic_score, l.behavioral_score, l.score_at, l.grade_expires_at, l.owner, "
    "l.deal_value, l.currency, l.lost_reason, l.source_kind, l.source_channel, l.source_campaign, l.source_detail, "
    "l.referral_code, l.referred_by, l.referral_count, l.opted_out, l.unreachable, l.phone_verified, "
    "l.email_verified, l.merged_into, l.erased_at, l.stage_changed_at, l.status_changed_at, l.created_at, "
    "l.updated_at, l.last_seen_at";

core::LeadRecord read_lead(const SqlRow& r) {
    core::LeadRecord l;
    int c = 0;
    l.id = core::LeadId{r.i64(c++)};
    l.display_name = r.text(c++);
    l.username = r.text(c++);
    l.language = r.text(c++);
    l.phone = r.text(c++);
    l.email = r.text(c++);
    l.company = r.text(c++);
    l.title = r.text(c++);
    l.region = r.text(c++);
    l.industry = r.text(c++);
    l.company_size = r.opt_i64(c++);
    l.custom_fields = r.text(c++);
    l.notes = r.text(c++);
    l.stage = r.text(c++);
    l.max_stage_index = r.i64(c++);
    l.status = r.text(c++);
    l.lifecycle = r.text(c++);
    l.segment = r.text(c++);
    l.score = r.i64(c++);
    l.grade = r.text(c++);
    l.demographic_score = r.i64(c++);
    l.behavioral_score = r.f64(c++);
    l.score_at = r.time(c++);
    l.grade_expires_at = r.opt_time(c++);
    l.owner = r.text(c++);
    l.deal_value = r.opt_i64(c++);
    l.currency = r.text(c++);
    l.lost_reason = r.text(c++);
    l.source_kind = r.text(c++);
    l.source_channel = r.text(c++);
    l.source_campaign = r.text(c++);
    l.source_detail = r.text(c++);
    l.referral_code = r.text(c++);
    l.referred_by = core::LeadId{r.opt_i64(c++).value_or(0)};
    l.referral_count = r.i64(c++);
    l.opted_out = r.i64(c++) != 0;
    l.unreachable = r.i64(c++) != 0;
    l.phone_verified = r.i64(c++) != 0;
    l.email_verified = r.i64(c++) != 0;
    l.merged_into = core::LeadId{r.opt_i64(c++).value_or(0)};
    l.erased_at = r.opt_time(c++);
    l.stage_changed_at = r.time(c++);
    l.status_changed_at = r.opt_time(c++);
    l.created_at = r.time(c++);
    l.updated_at = r.time(c++);
    l.last_seen_at = r.opt_time(c++);
    return l;
}

// Fills identities and tags for a set of leads with two queries.
void attach_identities_and_tags(SqlExec& ex, std::vector<core::LeadRecord>& leads) {
    if (leads.empty()) return;
    std::map<std::int64_t, core::LeadRecord*> by_id;
    SqlQuery ids("SELECT lead_id, channel_id, external_user_id FROM lead_identities WHERE lead_id IN (");
    SqlQuery tags("SELECT lead_id, tag FROM lead_tags WHERE lead_id IN (");
    bool first = true;
    for (auto& l : leads) {
        by_id[l.id.value] = &l;
        ids.sql(first ? "" : ",").param(l.id.value);
        tags.sql(first ? "" : ",").param(l.id.value);
        first = false;
    }
    ids.sql(") ORDER BY lead_id, created_at, channel_id");
    tags.sql(") ORDER BY lead_id, tag");
    ex.query(ids, [&](const SqlRow& r) {
        if (auto it = by_id.find(r.i64(0)); it != by_id.end()) {
            it->second->identities.push_back(core::IdentityKey{r.text(1), r.text(2)});
        }
    });
    ex.query(tags, [&](const SqlRow& r) {
        if (auto it = by_id.find(r.i64(0)); it != by_id.end()) it->second->tags.push_back(r.text(1));
    });
}

// LIKE '%text%' with '!' as the escape character (the same in both dialects, unlike '\\').
std::string like_pattern(std::string_view text) {
    std::string p = "%";
    for (char c : text) {
        if (c == '%' || c == '_' || c == '!') p += '!';
        p += c;
    }
    p += '%';
    return p;
}

void add_filters(SqlQuery& q, const core::LeadFilter& f) {
    if (f.stage) q.sql(" AND l.stage = ").param(*f.stage);
    if (f.status) q.sql(" AND l.status = ").param(*f.status);
    if (f.grade) q.sql(" AND l.grade = ").param(*f.grade);
    if (f.segment) q.sql(" AND l.segment = ").param(*f.segment);
    if (f.source) q.sql(" AND l.source_kind = ").param(*f.source);
    if (f.campaign) q.sql(" AND l.source_campaign = ").param(*f.campaign);
    if (f.owner) {
        if (f.owner_or_pool) {
            q.sql(" AND (l.owner = ").param(*f.owner).sql(" OR l.owner = '')");
        } else {
            q.sql(" AND l.owner = ").param(*f.owner);
        }
    }

    if (f.channel) {
        q.sql(" AND EXISTS (SELECT 1 FROM lead_identities i WHERE i.lead_id = l.id AND i.channel_id = ")
            .param(*f.channel)
            .sql(")");
    }
    if (f.text) {
        const auto p = like_pattern(*f.text);
        q.sql(" AND (l.display_name LIKE ").param(p).sql(" ESCAPE '!' OR l.username LIKE ").param(p);
        q.sql(" ESCAPE '!' OR l.company LIKE ").param(p).sql(" ESCAPE '!')");
    }
    if (f.created_from) q.sql(" AND l.created_at >= ").param(*f.created_from);
    if (f.created_to) q.sql(" AND l.created_at < ").param(*f.created_to);
    if (f.updated_from) q.sql(" AND l.updated_at >= ").param(*f.updated_from);
    if (f.updated_to) q.sql(" AND l.updated_at < ").param(*f.updated_to);
}

void add_funnel_filters(SqlQuery& q, const core::FunnelQuery& f, const char* alias) {
    const std::string a = alias;
    q.sql(" WHERE " + a + ".merged_into IS NULL");
    if (f.source) q.sql(" AND " + a + ".source_kind = ").param(*f.source);
    if (f.channel) q.sql(" AND " + a + ".source_channel = ").param(*f.channel);
    if (f.from) q.sql(" AND " + a + ".created_at >= ").param(*f.from);
    if (f.to) q.sql(" AND " + a + ".created_at < ").param(*f.to);
}

bool funnel_filtered(const core::FunnelQuery& f) { return f.source || f.channel || f.from || f.to; }

// The plain columns a lead update may set, with the value it carries (nullopt: left as it is).
// stage and status also stamp their *_changed_at with the update's time.
using ColumnValue = std::optional<SqlParam> (*)(const core::LeadUpdate&);
struct LeadColumn {
    const char* assign;  // "col = "
    ColumnValue value;
};

template <class T>
std::optional<SqlParam> opt_param(const std::optional<T>& v) {
    if (!v) return std::nullopt;
    if constexpr (std::is_same_v<T, std::string>) {
        return SqlParam(*v);
    } else if constexpr (std::is_same_v<T, bool>) {
        return SqlParam(std::int64_t{*v ? 1 : 0});
    } else if constexpr (std::is_same_v<T, double>) {
        return SqlParam(*v);
    } else if constexpr (std::is_same_v<T, core::Timestamp>) {
        return SqlParam(core::to_epoch_ms(*v));
    } else if constexpr (std::is_same_v<T, core::LeadId>) {
        return SqlParam(v->value);
    } else if constexpr (std::is_same_v<T, std::optional<std::int64_t>>) {
        return *v ? SqlParam(**v) : SqlParam(nullptr);
    } else if constexpr (std::is_same_v<T, std::optional<core::Timestamp>>) {
        return *v ? SqlParam(core::to_epoch_ms(**v)) : SqlParam(nullptr);
    } else {
        return SqlParam(static_cast<std::int64_t>(*v));
    }
}

std::optional<SqlParam> changed_at(bool set, const core::LeadUpdate& u) {
    return set ? std::optional<SqlParam>(core::to_epoch_ms(u.at)) : std::nullopt;
}

#define LEAD_COLUMN(col) \
    LeadColumn { ", " #col " = ", [](const core::LeadUpdate& u) { return opt_param(u.col); } }
const LeadColumn kLeadColumnsSet[] = {
    LEAD_COLUMN(display_name),
    LEAD_COLUMN(username),
    LEAD_COLUMN(language),
    LEAD_COLUMN(phone),
    LEAD_COLUMN(email),
    LEAD_COLUMN(company),
    LEAD_COLUMN(title),
    LEAD_COLUMN(region),
    LEAD_COLUMN(industry),
    LEAD_COLUMN(company_size),
    LEAD_COLUMN(custom_fields),
    LEAD_COLUMN(notes),
    LEAD_COLUMN(owner),
    LEAD_COLUMN(stage),
    {", stage_changed_at = ", [](const core::LeadUpdate& u) { return changed_at(u.stage.has_value(), u); }},
    LEAD_COLUMN(max_stage_index),
    LEAD_COLUMN(status),
    {", status_changed_at = ", [](const core::LeadUpdate& u) { return changed_at(u.status.has_value(), u); }},
    LEAD_COLUMN(lifecycle),
    LEAD_COLUMN(segment),
    LEAD_COLUMN(deal_value),
    LEAD_COLUMN(currency),
    LEAD_COLUMN(lost_reason),
    LEAD_COLUMN(phone_verified),
    LEAD_COLUMN(email_verified),
    LEAD_COLUMN(demographic_score),
    LEAD_COLUMN(behavioral_score),
    LEAD_COLUMN(score_at),
    LEAD_COLUMN(score),
    LEAD_COLUMN(grade),
    LEAD_COLUMN(grade_expires_at),
    LEAD_COLUMN(merged_into),
};
#undef LEAD_COLUMN
constexpr std::size_t kLeadColumnCount = std::size(kLeadColumnsSet);

// Updates with the same shape set the same columns the same way and can share one statement.
std::uint64_t update_shape(const core::LeadUpdate& u) {
    std::uint64_t shape = 0;
    for (std::size_t c = 0; c < kLeadColumnCount; ++c) {
        if (kLeadColumnsSet[c].value(u)) shape |= std::uint64_t{1} << c;
    }
    std::size_t bit = kLeadColumnCount;
    if (u.opted_out) shape |= std::uint64_t{*u.opted_out ? 1u : 2u} << bit;
    bit += 2;
    if (u.unreachable) shape |= std::uint64_t{1} << bit;
    if (u.last_seen_at) shape |= std::uint64_t{1} << (bit + 1);
    if (u.referral_count_delta != 0) shape |= std::uint64_t{1} << (bit + 2);
    return shape;
}

// The value of one column across `rows`: a single parameter when every row carries the same,
// else CASE id WHEN ... END.
template <class Fn>
void value_expr(SqlQuery& q, std::span<const core::LeadUpdate* const> rows, Fn&& value) {
    const SqlParam first = value(*rows.front());
    const bool same = std::all_of(rows.begin() + 1, rows.end(), [&](const core::LeadUpdate* u) { return value(*u) == first; });
    if (same) {
        q.value(first);
        return;
    }
    q.sql("CASE id");
    for (const auto* u : rows) {
        q.sql(" WHEN ").param(u->id.value).sql(" THEN ");
        q.value(value(*u));
    }
    q.sql(" END");
}

// One UPDATE for lead updates of one shape on distinct leads (one row: plain values).
void update_leads(SqlExec& ex, std::span<const core::LeadUpdate* const> rows) {
    const core::LeadUpdate& u = *rows.front();
    const auto at = [](const core::LeadUpdate& r) { return SqlParam(core::to_epoch_ms(r.at)); };
    SqlQuery q("UPDATE leads SET updated_at = ");
    value_expr(q, rows, at);
    for (const auto& col : kLeadColumnsSet) {
        if (!col.value(u)) continue;
        q.sql(col.assign);
        value_expr(q, rows, [&](const core::LeadUpdate& r) { return *col.value(r); });
    }
    if (u.opted_out) {
        // opted_out_at first: it reads the old opted_out (MySQL assigns left to right).
        if (*u.opted_out) {
            q.sql(", opted_out_at = CASE WHEN opted_out = 0 THEN ");
            value_expr(q, rows, at);
            q.sql(" ELSE opted_out_at END, opted_out = 1");
        } else {
            q.sql(", opted_out_at = NULL, opted_out = 0");
        }
    }
    if (u.unreachable) {
        q.sql(", unreachable = ");
        value_expr(q, rows, [](const core::LeadUpdate& r) { return SqlParam(std::int64_t{*r.unreachable ? 1 : 0}); });
    }
    if (u.last_seen_at) {
        const auto seen = [](const core::LeadUpdate& r) { return SqlParam(core::to_epoch_ms(*r.last_seen_at)); };
        q.sql(", last_seen_at = CASE WHEN last_seen_at IS NULL OR last_seen_at < ");
        value_expr(q, rows, seen);
        q.sql(" THEN ");
        value_expr(q, rows, seen);
        q.sql(" ELSE last_seen_at END");
    }
    if (u.referral_count_delta != 0) {
        q.sql(", referral_count = referral_count + ");
        value_expr(q, rows, [](const core::LeadUpdate& r) { return SqlParam(std::int64_t{r.referral_count_delta}); });
    }
    if (rows.size() == 1) {
        q.sql(" WHERE id = ").param(u.id.value);
    } else {
        q.sql(" WHERE id IN (");
        for (std::size_t i = 0; i < rows.size(); ++i) q.sql(i ? "," : "").param(rows[i]->id.value);
        q.sql(")");
    }
    ex.run(q);
}

// At most this many leads per batched UPDATE: CASE id WHEN ... is a linear search per row.
constexpr std::size_t kLeadsPerUpdate = 32;

// Writes the record-changing lead updates. SQLite runs one cached prepared statement per lead.
// A server database pays a statement's fixed cost (parse, open, lock) per statement: measured on
// MariaDB, 3,000 scored leads took ~90 µs of server CPU each as single-row UPDATEs and ~27 µs in
// UPDATEs of 15, so updates of one shape on distinct leads share a statement there. A lead's
// updates stay in their order: each goes to a later statement than the lead's previous one.
void apply_lead_updates(SqlExec& ex, const std::vector<core::LeadUpdate>& updates) {
    if (ex.dialect() == Dialect::kSqlite) {
        for (const auto& u : updates) {
            if (!u.extended()) continue;
            const core::LeadUpdate* one[] = {&u};
            update_leads(ex, one);
        }
        return;
    }
    struct Group {
        std::uint64_t shape;
        std::vector<const core::LeadUpdate*> rows;
    };
    std::vector<Group> groups;
    std::unordered_map<std::int64_t, std::size_t> next_group;  // lead -> first group it may join
    for (const auto& u : updates) {
        if (!u.extended()) continue;
        const std::uint64_t shape = update_shape(u);
        const auto it = next_group.try_emplace(u.id.value, 0).first;
        std::size_t g = groups.size();
        for (std::size_t i = groups.size(); i > it->second; --i) {
            if (groups[i - 1].shape == shape && groups[i - 1].rows.size() < kLeadsPerUpdate) {
                g = i - 1;
                break;
            }
        }
        if (g == groups.size()) groups.push_back(Group{shape, {}});
        groups[g].rows.push_back(&u);
        it->second = g + 1;
    }
    for (const auto& g : groups) update_leads(ex, g.rows);
}

// Moves rows keyed by (lead_id, ...) from source to target; rows the target already has stay the
// target's, the source's duplicates go.
void move_keyed(SqlExec& ex, const char* table, std::int64_t source, std::int64_t target) {
    const bool sqlite = ex.dialect() == Dialect::kSqlite;
    ex.run(SqlQuery(std::string(sqlite ? "UPDATE OR IGNORE " : "UPDATE IGNORE ") + table + " SET lead_id = ")
               .param(target)
               .sql(" WHERE lead_id = ")
               .param(source));
    ex.run(SqlQuery(std::string("DELETE FROM ") + table + " WHERE lead_id = ").param(source));
}

// The lead columns a finished stage stay carries: "lead_created_at = ..., source_kind = ...,
// source_channel = ..." read from lead `id`.
void stay_lead_columns(SqlQuery& q, std::int64_t id) {
    q.sql("lead_created_at = (SELECT l.created_at FROM leads l WHERE l.id = ").param(id);
    q.sql("), source_kind = (SELECT l.source_kind FROM leads l WHERE l.id = ").param(id);
    q.sql("), source_channel = (SELECT l.source_channel FROM leads l WHERE l.id = ").param(id).sql(")");
}

void apply_merge(SqlExec& ex, const core::MergeRow& m) {
    const auto s = m.source.value;
    const auto t = m.target.value;
    for (const char* table : {"lead_identities", "events", "lead_touches", "score_entries", "stage_history"}) {
        ex.run(SqlQuery(std::string("UPDATE ") + table + " SET lead_id = ").param(t).sql(" WHERE lead_id = ").param(s));
    }
    SqlQuery stays("UPDATE stage_history SET ");
    stay_lead_columns(stays, t);
    stays.sql(" WHERE lead_id = ").param(t).sql(" AND duration_ms IS NOT NULL");
    ex.run(stays);
    move_keyed(ex, "lead_tags", s, t);
    ex.run(SqlQuery("UPDATE lead_tags SET created_at = (SELECT created_at FROM leads WHERE id = ")
               .param(t)
               .sql(") WHERE lead_id = ")
               .param(t));
    move_keyed(ex, "lead_rule_totals", s, t);
    ex.run(SqlQuery(ex.dialect() == Dialect::kSqlite ? "UPDATE OR IGNORE group_members SET lead_id = "
                                                     : "UPDATE IGNORE group_members SET lead_id = ")
               .param(t)
               .sql(" WHERE lead_id = ")
               .param(s));
    ex.run(SqlQuery("DELETE FROM group_members WHERE lead_id = ").param(s));
    ex.run(SqlQuery("UPDATE outbox SET lead_id = ").param(t).sql(" WHERE lead_id = ").param(s));
    ex.run(SqlQuery("UPDATE leads SET referred_by = ").param(t).sql(" WHERE referred_by = ").param(s));
    ex.run(SqlQuery("UPDATE leads SET merged_into = ")
               .param(t)
               .sql(", updated_at = ")
               .param(m.at)
               .sql(" WHERE id = ")
               .param(s));
    ex.run(SqlQuery("UPDATE leads SET merged_into = ").param(t).sql(" WHERE merged_into = ").param(s));
    ex.run(SqlQuery("INSERT INTO lead_merges (source_id, target_id, actor, reason, snapshot, at) VALUES (")
               .param(s)
               .sql(", ")
               .param(t)
               .sql(", ")
               .param(m.actor)
               .sql(", ")
               .param(m.reason)
               .sql(", ")
               .param(m.snapshot)
               .sql(", ")
               .param(m.at)
               .sql(")"));
}

void apply_erase(SqlExec& ex, const core::EraseRow& e) {
    const auto id = e.lead_id.value;
    ex.run(SqlQuery("UPDATE leads SET display_name = '', username = '', language = '', phone = '', email = '', "
                    "company = '', title = '', region = '', industry = '', company_size = NULL, "
                    "custom_fields = '{}', notes = '', source_detail = '', lost_reason = '', opted_out = 1, "
                    "unreachable = 1, phone_verified = 0, email_verified = 0, erased_at = ")
               .param(e.at)
               .sql(", updated_at = ")
               .param(e.at)
               .sql(" WHERE id = ")
               .param(id));
    // The timeline keeps its shape (kinds and times count in analytics); what was said goes.
    ex.run(SqlQuery("UPDATE events SET data = '{}' WHERE lead_id = ").param(id));
    ex.run(SqlQuery("DELETE FROM lead_identities WHERE lead_id = ").param(id));
    ex.run(SqlQuery("UPDATE outbox SET body = '{}', chat_id = '', last_error = '', "
                    "status = CASE WHEN status = 'pending' THEN 'suppressed' ELSE status END WHERE lead_id = ")
               .param(id));
    ex.run(SqlQuery("UPDATE lead_touches SET detail = '', referral_code = '' WHERE lead_id = ").param(id));
    ex.run(SqlQuery("UPDATE score_entries SET reason = '' WHERE lead_id = ").param(id));
    ex.run(SqlQuery("UPDATE stage_history SET reason = '' WHERE lead_id = ").param(id));
    ex.run(SqlQuery("UPDATE lead_merges SET snapshot = '{}' WHERE source_id = ").param(id).sql(" OR target_id = ").param(id));
}

}  // namespace

std::optional<core::LeadRecord> get_lead(SqlExec& ex, core::LeadId id, bool for_update) {
    SqlQuery q(std::string("SELECT ") + kLeadColumns + " FROM leads l WHERE l.id = ");
    q.param(id.value);
    if (for_update && ex.dialect() == Dialect::kMysql) q.sql(" FOR UPDATE");
    std::vector<core::LeadRecord> out;
    ex.query(q, [&](const SqlRow& r) { out.push_back(read_lead(r)); });
    if (out.empty()) return std::nullopt;
    attach_identities_and_tags(ex, out);
    return std::move(out.front());
}

core::LeadPage list_leads(SqlExec& ex, const core::LeadFilter& filter, const std::optional<core::LeadCursor>& after,
                          int limit) {
    // A tag filter walks the tag's own (tag, created_at, lead_id) index: rare tags cost a page, not
    // a scan of every lead.
    const char* order = filter.tag ? "t" : "l";
    SqlQuery q(std::string("SELECT ") + kLeadColumns);
    if (filter.tag) {
        q.sql(" FROM lead_tags t JOIN leads l ON l.id = t.lead_id WHERE t.tag = ").param(*filter.tag);
        q.sql(" AND l.merged_into IS NULL");
    } else {
        q.sql(" FROM leads l WHERE l.merged_into IS NULL");
    }
    add_filters(q, filter);
    const std::string id_col = filter.tag ? "t.lead_id" : "l.id";
    const std::string created_col = std::string(order) + ".created_at";
    if (after) {
        // Written so both planners see a range on (created_at, id): the first term bounds the index scan.
        q.sql(" AND " + created_col + " <= ").param(after->created_at).sql(" AND (" + created_col + " < ");
        q.param(after->created_at).sql(" OR " + id_col + " < ").param(after->id.value).sql(")");
    }
    q.sql(" ORDER BY " + created_col + " DESC, " + id_col + " DESC LIMIT ").param(limit + 1);
    core::LeadPage page;
    ex.query(q, [&](const SqlRow& r) { page.items.push_back(read_lead(r)); });
    if (static_cast<int>(page.items.size()) > limit) {
        page.items.pop_back();
        page.next = core::LeadCursor{page.items.back().created_at, page.items.back().id};
    }
    attach_identities_and_tags(ex, page.items);
    return page;
}

std::vector<core::StageHistoryRecord> stage_history(SqlExec& ex, core::LeadId id) {
    std::vector<core::StageHistoryRecord> out;
    ex.query(SqlQuery("SELECT stage, entered_at, left_at, actor, reason FROM stage_history WHERE lead_id = ")
                 .param(id.value)
                 .sql(" ORDER BY id"),
             [&](const SqlRow& r) {
                 out.push_back(core::StageHistoryRecord{r.text(0), r.time(1), r.opt_time(2), r.text(3), r.text(4)});
             });
    return out;
}

std::vector<core::ScoreEntryRecord> score_entries(SqlExec& ex, core::LeadId id) {
    std::vector<core::ScoreEntryRecord> out;
    ex.query(SqlQuery("SELECT rule_id, points, reason, behavioral, at FROM score_entries WHERE lead_id = ")
                 .param(id.value)
                 .sql(" ORDER BY id"),
             [&](const SqlRow& r) {
                 out.push_back(core::ScoreEntryRecord{r.text(0), static_cast<int>(r.i64(1)), r.text(2), r.i64(3) != 0,
                                                      r.time(4)});
             });
    return out;
}

std::vector<core::MergeRecord> list_merges(SqlExec& ex, std::optional<std::int64_t> before_id, int limit) {
    SqlQuery q("SELECT id, source_id, target_id, actor, reason, at FROM lead_merges");
    if (before_id) q.sql(" WHERE id < ").param(*before_id);
    q.sql(" ORDER BY id DESC LIMIT ").param(limit);
    std::vector<core::MergeRecord> out;
    ex.query(q, [&](const SqlRow& r) {
        out.push_back(core::MergeRecord{r.i64(0), core::LeadId{r.i64(1)}, core::LeadId{r.i64(2)}, r.text(3), r.text(4),
                                        r.time(5)});
    });
    return out;
}

core::FunnelStats funnel_counts(SqlExec& ex, const core::FunnelQuery& f) {
    core::FunnelStats s;
    const auto& stages = f.stage_probabilities;
    // One grouped pass (over the covering index leads_funnel when unfiltered) gives counts per
    // stage and status, how far leads got, and the open pipeline.
    std::map<std::string, std::int64_t> stage_counts;
    std::map<std::string, std::int64_t> status_counts;
    std::vector<std::int64_t> at_index(stages.size() + 1, 0);
    std::map<std::string, std::pair<std::int64_t, double>> pipeline;  // currency -> (value, weighted)
    std::map<std::string, int> probability;
    std::set<std::string> closed;
    for (const auto& [stage, p] : stages) probability[stage] = p;
    closed.insert(f.closed_stages.begin(), f.closed_stages.end());
    {
        SqlQuery q("SELECT l.stage, l.status, l.max_stage_index, l.currency, COUNT(*), SUM(l.deal_value) FROM leads l");
        add_funnel_filters(q, f, "l");
        q.sql(" GROUP BY l.stage, l.status, l.max_stage_index, l.currency");
        ex.query(q, [&](const SqlRow& r) {
            const auto stage = r.text(0);
            const auto n = r.i64(4);
            s.total += n;
            stage_counts[stage] += n;
            status_counts[r.text(1)] += n;
            const auto i = std::clamp<std::int64_t>(r.i64(2), 0, static_cast<std::int64_t>(stages.size()));
            at_index[static_cast<std::size_t>(i)] += n;
            if (!r.is_null(5) && !closed.count(stage)) {
                const auto value = r.i64(5);
                auto& slot = pipeline[r.text(3)];
                slot.first += value;
                slot.second += static_cast<double>(value) * probability[stage] / 100.0;
            }
        });
    }
    for (const auto& [stage, p] : stages) s.by_stage.emplace_back(stage, stage_counts[stage]);
    for (const auto& [status, n] : status_counts) s.by_status.emplace_back(status, n);
    s.reached.assign(stages.size(), 0);
    {
        std::int64_t running = 0;
        for (std::size_t i = stages.size(); i-- > 0;) {
            running += at_index[i];
            s.reached[i] = running;
        }
    }
    for (const auto& [currency, v] : pipeline) {
        s.pipeline_value.emplace_back(currency, v.first);
        s.weighted_pipeline.emplace_back(currency, v.second);
    }
    return s;
}

std::vector<std::optional<std::int64_t>> funnel_medians(SqlExec& ex, const core::FunnelQuery& f) {
    const auto& stages = f.stage_probabilities;
    std::vector<std::optional<std::int64_t>> medians;
    if (!funnel_filtered(f)) {
        // All leads: the middle row of each stage's durations, walked in the (stage, duration_ms) index.
        for (const auto& [stage, p] : stages) {
            SqlQuery count("SELECT COUNT(*) FROM stage_history h WHERE h.stage = ");
            count.param(stage).sql(" AND h.duration_ms IS NOT NULL");
            const auto n = ex.scalar_i64(count).value_or(0);
            if (n == 0) {
                medians.emplace_back(std::nullopt);
                continue;
            }
            SqlQuery mid("SELECT h.duration_ms FROM stage_history h WHERE h.stage = ");
            mid.param(stage).sql(" AND h.duration_ms IS NOT NULL ORDER BY h.duration_ms LIMIT 1 OFFSET ");
            mid.param((n - 1) / 2);
            medians.emplace_back(ex.scalar_i64(mid));
        }
    } else {
        // Filtered: one pass over the matching leads' stays, counted in buckets (a minute under a
        // day, an hour beyond); the median is the bucket holding the middle stay.
        constexpr std::int64_t kMinute = 60'000;
        constexpr std::int64_t kHour = 3'600'000;
        constexpr std::int64_t kDay = 86'400'000;
        std::map<std::string, std::map<std::int64_t, std::int64_t>> buckets;
        // Finished stays carry their lead's source, channel and creation time (merged leads'
        // stays belong to the surviving lead), so this reads one covering index of stage_history.
        SqlQuery q("SELECT h.stage, CASE WHEN h.duration_ms < ");
        q.param(kDay).sql(" THEN h.duration_ms / ").param(kMinute).sql(" ELSE ").param(kDay / kMinute);
        q.sql(" + h.duration_ms / ").param(kHour).sql(" END AS b, COUNT(*) FROM stage_history h WHERE h.duration_ms IS NOT NULL");
        if (f.source) q.sql(" AND h.source_kind = ").param(*f.source);
        if (f.channel) q.sql(" AND h.source_channel = ").param(*f.channel);
        if (f.from) q.sql(" AND h.lead_created_at >= ").param(*f.from);
        if (f.to) q.sql(" AND h.lead_created_at < ").param(*f.to);
        q.sql(" GROUP BY h.stage, b");
        ex.query(q, [&](const SqlRow& r) { buckets[r.text(0)][r.i64(1)] += r.i64(2); });
        for (const auto& [stage, p] : stages) {
            auto it = buckets.find(stage);
            if (it == buckets.end()) {
                medians.emplace_back(std::nullopt);
                continue;
            }
            std::int64_t n = 0;
            for (const auto& [b, c] : it->second) n += c;
            std::int64_t seen = 0;
            std::optional<std::int64_t> median;
            for (const auto& [b, c] : it->second) {
                seen += c;
                if (seen * 2 >= n) {
                    median = b < kDay / kMinute ? b * kMinute : (b - kDay / kMinute) * kHour;
                    break;
                }
            }
            medians.emplace_back(median);
        }
    }
    return medians;
}

std::vector<core::LeadRecord> leads_with_grade_due(SqlExec& ex, core::Timestamp now, int limit) {
    SqlQuery q(std::string("SELECT ") + kLeadColumns + " FROM leads l WHERE l.grade_expires_at <= ");
    q.param(now).sql(" AND l.merged_into IS NULL ORDER BY l.grade_expires_at LIMIT ").param(limit);
    std::vector<core::LeadRecord> out;
    ex.query(q, [&](const SqlRow& r) { out.push_back(read_lead(r)); });
    return out;
}

std::vector<core::RuleTotal> rule_totals(SqlExec& ex, core::LeadId id, std::span<const std::string> rule_ids) {
    std::vector<core::RuleTotal> out;
    if (rule_ids.empty()) return out;
    SqlQuery q("SELECT rule_id, total, period_start, period_points FROM lead_rule_totals WHERE lead_id = ");
    q.param(id.value).sql(" AND rule_id IN (");
    for (std::size_t i = 0; i < rule_ids.size(); ++i) q.sql(i ? "," : "").param(rule_ids[i]);
    q.sql(")");
    ex.query(q, [&](const SqlRow& r) { out.push_back(core::RuleTotal{r.text(0), r.i64(1), r.time(2), r.i64(3)}); });
    return out;
}

std::vector<std::pair<core::LeadId, core::RuleTotal>> rule_totals_for(
    SqlExec& ex, std::span<const std::pair<core::LeadId, std::string>> keys) {
    // "lead_id IN (...) AND rule_id IN (...)" walks the primary key (lead_id, rule_id) on both
    // dialects (a row-value IN list does not); pairs nobody asked for are dropped here.
    std::vector<std::pair<core::LeadId, core::RuleTotal>> out;
    std::set<std::pair<std::int64_t, std::string_view>> wanted;
    for (const auto& [id, rule] : keys) wanted.emplace(id.value, rule);
    std::vector<std::int64_t> leads;
    std::set<std::string_view> rules;
    for (const auto& [id, rule] : wanted) {
        if (leads.empty() || leads.back() != id) leads.push_back(id);
        rules.insert(rule);
    }
    for (std::size_t start = 0; start < leads.size(); start += 400) {
        SqlQuery q("SELECT lead_id, rule_id, total, period_start, period_points FROM lead_rule_totals WHERE lead_id IN (");
        const auto end = std::min(leads.size(), start + 400);
        for (std::size_t i = start; i < end; ++i) q.sql(i == start ? "" : ",").param(leads[i]);
        q.sql(") AND rule_id IN (");
        bool first = true;
        for (const auto rule : rules) {
            q.sql(first ? "" : ",").param(rule);
            first = false;
        }
        q.sql(")");
        ex.query(q, [&](const SqlRow& r) {
            const auto id = r.i64(0);
            auto rule = r.text(1);
            if (!wanted.contains({id, rule})) return;
            out.emplace_back(core::LeadId{id}, core::RuleTotal{std::move(rule), r.i64(2), r.time(3), r.i64(4)});
        });
    }
    return out;
}

std::vector<core::LeadId> leads_with_verified(SqlExec& ex, std::string_view phone, std::string_view email,
                                              core::LeadId except) {
    std::vector<core::LeadId> out;
    if (phone.empty() && email.empty()) return out;
    SqlQuery q("SELECT id FROM leads WHERE merged_into IS NULL AND erased_at IS NULL AND id <> ");
    q.param(except.value).sql(" AND (");
    bool any = false;
    if (!phone.empty()) {
        q.sql("(phone = ").param(phone).sql(" AND phone_verified = 1)");
        any = true;
    }
    if (!email.empty()) q.sql(any ? " OR " : "").sql("(email = ").param(email).sql(" AND email_verified = 1)");
    q.sql(") ORDER BY created_at, id");
    ex.query(q, [&](const SqlRow& r) { out.push_back(core::LeadId{r.i64(0)}); });
    return out;
}

std::optional<core::Storage::StoredToken> read_token(SqlExec& ex, std::string_view channel_id) {
    std::optional<core::Storage::StoredToken> out;
    ex.query(SqlQuery("SELECT token, expires_at FROM access_tokens WHERE channel_id = ").param(channel_id),
             [&](const SqlRow& r) {
                 if (!r.text(0).empty()) out = core::Storage::StoredToken{r.text(0), r.time(1)};
             });
    return out;
}

bool lease_token_refresh(SqlExec& ex, std::string_view channel_id, core::Timestamp now, core::Timestamp lease_until) {
    ex.run(SqlQuery(ex.dialect() == Dialect::kSqlite ? "INSERT OR IGNORE INTO access_tokens (channel_id) VALUES ("
                                                     : "INSERT IGNORE INTO access_tokens (channel_id) VALUES (")
               .param(channel_id)
               .sql(")"));
    ex.run(SqlQuery("UPDATE access_tokens SET lease_until = ")
               .param(lease_until)
               .sql(" WHERE channel_id = ")
               .param(channel_id)
               .sql(" AND lease_until <= ")
               .param(now));
    return ex.changes() == 1;
}

void store_token(SqlExec& ex, std::string_view channel_id, const std::string& token, core::Timestamp expires_at,
                 core::Timestamp now) {
    SqlQuery q("UPDATE access_tokens SET lease_until = 0, updated_at = ");
    q.param(now);
    if (!token.empty()) q.sql(", token = ").param(token).sql(", expires_at = ").param(expires_at);
    q.sql(" WHERE channel_id = ").param(channel_id);
    ex.run(q);
}

namespace {

// "head (..), (..) tail" for rows in chunks (see rows_per_insert); values(q, row) adds one row's.
template <class Rows, class Values>
void insert_rows(SqlExec& ex, std::string_view head, std::string_view tail, const Rows& rows, Values&& values) {
    for_each_insert_chunk(rows.size(), [&](std::size_t first, std::size_t n) {
        SqlQuery q(head);
        for (std::size_t r = 0; r < n; ++r) {
            q.sql(r ? ", (" : "(");
            values(q, rows[first + r]);
            q.sql(")");
        }
        q.sql(tail);
        ex.run(q);
    }, rows_per_insert(ex.dialect()));
}

}  // namespace

void apply_extended(SqlExec& ex, const core::WriteSet& w) {
    const bool sqlite = ex.dialect() == Dialect::kSqlite;
    apply_lead_updates(ex, w.lead_updates);
    for (const auto& t : w.tags) {
        if (t.add) {
            ex.run(SqlQuery(sqlite ? "INSERT OR IGNORE INTO lead_tags (lead_id, tag, created_at) SELECT id, "
                                   : "INSERT IGNORE INTO lead_tags (lead_id, tag, created_at) SELECT id, ")
                       .param(t.tag)
                       .sql(", created_at FROM leads WHERE id = ")
                       .param(t.lead_id.value));
        } else {
            ex.run(SqlQuery("DELETE FROM lead_tags WHERE lead_id = ").param(t.lead_id.value).sql(" AND tag = ").param(t.tag));
        }
    }
    for (const auto& c : w.stage_changes) {
        // The finished stay carries its lead's source, channel and creation time for the
        // filtered funnel (see stay_lead_columns).
        SqlQuery finish("UPDATE stage_history SET left_at = ");
        finish.param(c.at).sql(", duration_ms = ").param(c.at).sql(" - entered_at, ");
        stay_lead_columns(finish, c.lead_id.value);
        finish.sql(" WHERE lead_id = ").param(c.lead_id.value).sql(" AND left_at IS NULL");
        ex.run(finish);
        ex.run(SqlQuery("INSERT INTO stage_history (lead_id, stage, entered_at, actor, reason) VALUES (")
                   .param(c.lead_id.value)
                   .sql(", ")
                   .param(c.to)
                   .sql(", ")
                   .param(c.at)
                   .sql(", ")
                   .param(c.actor)
                   .sql(", ")
                   .param(c.reason)
                   .sql(")"));
    }
    insert_rows(ex, "INSERT INTO score_entries (lead_id, rule_id, points, reason, behavioral, at) VALUES ", "",
                w.score_entries, [](SqlQuery& q, const core::ScoreEntryRow& e) {
                    q.param(e.lead_id.value).sql(", ").param(e.rule_id).sql(", ").param(e.points).sql(", ");
                    q.param(e.reason).sql(", ").param(e.behavioral).sql(", ").param(e.at);
                });
    insert_rows(ex, "INSERT INTO lead_rule_totals (lead_id, rule_id, total, period_start, period_points) VALUES ",
                sqlite ? " ON CONFLICT (lead_id, rule_id) DO UPDATE SET total = excluded.total, "
                         "period_start = excluded.period_start, period_points = excluded.period_points"
                       : " ON DUPLICATE KEY UPDATE total = VALUES(total), period_start = VALUES(period_start), "
                         "period_points = VALUES(period_points)",
                w.rule_totals, [](SqlQuery& q, const core::RuleTotalRow& t) {
                    q.param(t.lead_id.value).sql(", ").param(t.rule_id).sql(", ").param(t.total).sql(", ");
                    q.param(t.period_start).sql(", ").param(t.period_points);
                });
    for (const auto& m : w.merges) apply_merge(ex, m);
    for (const auto& e : w.erasures) apply_erase(ex, e);
}

}  // namespace leadhatch::adapters::storage::queries
