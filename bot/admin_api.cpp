#include "bot/admin_api.hpp"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <charconv>
#include <memory>
#include <variant>

#include "core/error.hpp"

namespace leadhatch::bot {

const char* openapi_document();  // embedded from bot/openapi.json at build time

namespace {

using nlohmann::json;

enum class Action { kRead, kWrite, kMerge, kErase, kExport, kFunnel, kOps };

bool allowed(Role role, Action a) {
    switch (role) {
        case Role::kAdmin: return true;
        case Role::kMarketer: return a != Action::kErase && a != Action::kOps;
        case Role::kSales: return a == Action::kRead || a == Action::kWrite;
        case Role::kSupport: return a == Action::kRead;
    }
    return false;
}

HttpResponse json_ok(const json& j, int status = 200) {
    return json_response(status, j.dump(-1, ' ', false, json::error_handler_t::replace));
}

HttpResponse bad_request(std::string_view message, std::string_view field) {
    return json_error(400, "invalid", message, field);
}

json time_json(core::Timestamp t) { return core::format_iso8601(t); }
json opt_time_json(const std::optional<core::Timestamp>& t) { return t ? json(core::format_iso8601(*t)) : json(nullptr); }

json data_json(const std::string& text) {
    auto j = json::parse(text, nullptr, false);
    return j.is_discarded() ? json::object() : j;
}

json lead_json(const core::LeadRecord& l) {
    json ids = json::array();
    for (const auto& i : l.identities) ids.push_back({{"channel", i.channel_id}, {"external_user_id", i.external_user_id}});
    json source{{"kind", l.source_kind},
                {"channel", l.source_channel},
                {"campaign", l.source_campaign},
                {"detail", l.source_detail},
                {"referred_by", l.referred_by ? json(l.referred_by.value) : json(nullptr)}};
    return json{{"id", l.id.value},
                {"display_name", l.display_name},
                {"username", l.username},
                {"language", l.language},
                {"phone", l.phone},
                {"phone_verified", l.phone_verified},
                {"email", l.email},
                {"email_verified", l.email_verified},
                {"company", l.company},
                {"title", l.title},
                {"region", l.region},
                {"industry", l.industry},
                {"company_size", l.company_size ? json(*l.company_size) : json(nullptr)},
                {"custom_fields", data_json(l.custom_fields)},
                {"notes", l.notes},
                {"tags", l.tags},
                {"owner", l.owner},
                {"stage", l.stage},
                {"stage_changed_at", time_json(l.stage_changed_at)},
                {"lost_reason", l.lost_reason},
                {"deal_value", l.deal_value ? json(*l.deal_value) : json(nullptr)},
                {"currency", l.currency},
                {"status", l.status},
                {"lifecycle", l.lifecycle},
                {"segment", l.segment},
                {"score", l.score},
                {"grade", l.grade},
                {"source", l.source_kind},
                {"first_touch", source},
                {"referral_code", l.referral_code},
                {"referral_count", l.referral_count},
                {"opted_out", l.opted_out},
                {"unreachable", l.unreachable},
                {"merged_into", l.merged_into ? json(l.merged_into.value) : json(nullptr)},
                {"erased_at", opt_time_json(l.erased_at)},
                {"created_at", time_json(l.created_at)},
                {"updated_at", time_json(l.updated_at)},
                {"last_seen_at", opt_time_json(l.last_seen_at)},
                {"identities", ids}};
}

std::optional<std::int64_t> parse_i64(std::string_view s) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// RFC 4180 cell, with spreadsheet formula injection neutralised.
void csv_cell(std::string& out, std::string_view v) {
    const bool formula = !v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t');
    const bool quote = formula || v.find_first_of(",\"\r\n") != std::string_view::npos;
    if (!quote) {
        out.append(v);
        return;
    }
    out += '"';
    if (formula) out += '\'';
    for (char c : v) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
}

constexpr const char* kCsvHeader =
    "id,display_name,username,phone,email,company,title,region,industry,company_size,stage,status,lifecycle,"
    "segment,score,grade,owner,deal_value,currency,source,campaign,source_channel,tags,opted_out,identities,"
    "created_at,updated_at\r\n";

void csv_row(std::string& out, const core::LeadRecord& l) {
    auto cell = [&](std::string_view v) {
        csv_cell(out, v);
        out += ',';
    };
    cell(std::to_string(l.id.value));
    cell(l.display_name);
    cell(l.username);
    cell(l.phone);
    cell(l.email);
    cell(l.company);
    cell(l.title);
    cell(l.region);
    cell(l.industry);
    cell(l.company_size ? std::to_string(*l.company_size) : "");
    cell(l.stage);
    cell(l.status);
    cell(l.lifecycle);
    cell(l.segment);
    cell(std::to_string(l.score));
    cell(l.grade);
    cell(l.owner);
    cell(l.deal_value ? std::to_string(*l.deal_value) : "");
    cell(l.currency);
    cell(l.source_kind);
    cell(l.source_campaign);
    cell(l.source_channel);
    std::string tags;
    for (const auto& t : l.tags) tags += (tags.empty() ? "" : ";") + t;
    cell(tags);
    cell(l.opted_out ? "true" : "false");
    std::string ids;
    for (const auto& i : l.identities) ids += (ids.empty() ? "" : ";") + i.channel_id + ":" + i.external_user_id;
    cell(ids);
    cell(core::format_iso8601(l.created_at));
    csv_cell(out, core::format_iso8601(l.updated_at));
    out += "\r\n";
}

// Reads the lead-list filters from the query string; the first bad one is reported.
std::variant<core::LeadFilter, HttpResponse> read_filter(const HttpRequest& req) {
    core::LeadFilter f;
    auto str = [&](const char* name, std::optional<std::string>& out) -> bool {
        if (auto v = req.query_param(name)) {
            if (v->empty() || v->size() > 255) return false;
            out = *v;
        }
        return true;
    };
    for (auto [name, target] : std::initializer_list<std::pair<const char*, std::optional<std::string>*>>{
             {"stage", &f.stage},
             {"status", &f.status},
             {"grade", &f.grade},
             {"tag", &f.tag},
             {"channel", &f.channel},
             {"owner", &f.owner},
             {"segment", &f.segment},
             {"source", &f.source},
             {"campaign", &f.campaign},
             {"q", &f.text}}) {
        if (!str(name, *target)) return bad_request("must be 1-255 characters", name);
    }
    if (f.grade && *f.grade != "hot" && *f.grade != "warm" && *f.grade != "cold") {
        return bad_request("one of hot, warm, cold", "grade");
    }
    if (f.status && !core::valid_status(*f.status)) {
        return bad_request("one of new, engaged, mql, sql, customer, advocate", "status");
    }
    for (auto [name, target] : std::initializer_list<std::pair<const char*, std::optional<core::Timestamp>*>>{
             {"created_from", &f.created_from},
             {"created_to", &f.created_to},
             {"updated_from", &f.updated_from},
             {"updated_to", &f.updated_to}}) {
        if (auto v = req.query_param(name)) {
            auto t = core::parse_iso8601(*v);
            if (!t) return bad_request("an ISO 8601 date or time, e.g. 2026-11-01 or 2026-11-01T08:00:00Z", name);
            *target = *t;
        }
    }
    return f;
}

std::variant<int, HttpResponse> read_limit(const HttpRequest& req, int def, int max) {
    auto v = req.query_param("limit");
    if (!v) return def;
    auto n = parse_i64(*v);
    if (!n || *n < 1 || *n > max) return bad_request("an integer from 1 to " + std::to_string(max), "limit");
    return static_cast<int>(*n);
}

// PATCH body → LeadPatch; unknown keys and wrong types are 400 with the field named.
std::variant<core::LeadPatch, HttpResponse> read_patch(const std::string& body) {
    if (body.size() > 256 * 1024) return bad_request("body too large", "");
    auto j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return bad_request("body must be a JSON object", "");
    core::LeadPatch p;
    for (const auto& [key, v] : j.items()) {
        auto need_string = [&](std::optional<std::string>& out) -> bool {
            if (!v.is_string()) return false;
            out = v.get<std::string>();
            return true;
        };
        auto need_bool = [&](std::optional<bool>& out) -> bool {
            if (!v.is_boolean()) return false;
            out = v.get<bool>();
            return true;
        };
        auto need_int_or_null = [&](std::optional<std::optional<std::int64_t>>& out) -> bool {
            if (v.is_null()) {
                out = std::optional<std::int64_t>{};
                return true;
            }
            if (!v.is_number_integer()) return false;
            out = std::optional<std::int64_t>(v.get<std::int64_t>());
            return true;
        };
        auto need_strings = [&](std::vector<std::string>& out) -> bool {
            if (!v.is_array()) return false;
            for (const auto& e : v) {
                if (!e.is_string()) return false;
                out.push_back(e.get<std::string>());
            }
            return true;
        };
        bool ok = true;
        if (key == "display_name") ok = need_string(p.display_name);
        else if (key == "phone") ok = need_string(p.phone);
        else if (key == "email") ok = need_string(p.email);
        else if (key == "company") ok = need_string(p.company);
        else if (key == "title") ok = need_string(p.title);
        else if (key == "region") ok = need_string(p.region);
        else if (key == "industry") ok = need_string(p.industry);
        else if (key == "notes") ok = need_string(p.notes);
        else if (key == "owner") ok = need_string(p.owner);
        else if (key == "stage") ok = need_string(p.stage);
        else if (key == "status") ok = need_string(p.status);
        else if (key == "currency") ok = need_string(p.currency);
        else if (key == "reason") {
            ok = v.is_string();
            if (ok) p.reason = v.get<std::string>();
        } else if (key == "company_size") ok = need_int_or_null(p.company_size);
        else if (key == "deal_value") ok = need_int_or_null(p.deal_value);
        else if (key == "phone_verified") ok = need_bool(p.phone_verified);
        else if (key == "email_verified") ok = need_bool(p.email_verified);
        else if (key == "custom_fields") {
            ok = v.is_object();
            if (ok) p.custom_fields = v.dump();
        } else if (key == "tags") {
            std::vector<std::string> t;
            ok = need_strings(t);
            if (ok) p.tags = std::move(t);
        } else if (key == "add_tags") ok = need_strings(p.add_tags);
        else if (key == "remove_tags") ok = need_strings(p.remove_tags);
        else return bad_request("unknown field", key);
        if (!ok) return bad_request("wrong type", key);
    }
    return p;
}

HttpResponse from_error(const core::Error& e) {
    if (e.code == "conflict") return json_error(409, "conflict", e.message, e.field);
    if (e.code == "not_found") return json_error(404, "not_found", e.message, e.field);
    return json_error(400, e.code.empty() ? "invalid" : e.code, e.message, e.field);
}

}  // namespace

AdminApi::AdminApi(Deps deps) : deps_(deps) {}

const std::vector<std::pair<std::string, std::string>>& AdminApi::routes() {
    static const std::vector<std::pair<std::string, std::string>> kRoutes{
        {"GET", "/api/v1/openapi.json"},
        {"GET", "/api/v1/leads"},
        {"GET", "/api/v1/leads/export.csv"},
        {"GET", "/api/v1/leads/{id}"},
        {"PATCH", "/api/v1/leads/{id}"},
        {"DELETE", "/api/v1/leads/{id}"},
        {"GET", "/api/v1/leads/{id}/events"},
        {"GET", "/api/v1/leads/{id}/score"},
        {"GET", "/api/v1/leads/{id}/stages"},
        {"POST", "/api/v1/leads/{id}/merge"},
        {"GET", "/api/v1/merges"},
        {"GET", "/api/v1/funnel"},
        {"GET", "/api/v1/outbox"},
        {"POST", "/api/v1/channels/{id}/qrcodes"},  // served by ChannelApi
    };
    return kRoutes;
}

void AdminApi::add_routes(const AddRoute& add) {
    struct Ctx {
        const AdminToken* token = nullptr;
        std::string actor;
    };
    // Authenticates and authorizes; on failure `deny` holds the answer.
    auto auth = [this](const HttpRequest& req, Action action, Ctx& ctx) -> std::optional<HttpResponse> {
        const std::string_view* h = req.header("authorization");
        std::string_view token;
        if (h && h->size() > 7 && adapters::net::iequals(h->substr(0, 7), "bearer ")) token = h->substr(7);
        while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
        const AdminToken* found = nullptr;
        if (!token.empty()) {
            const auto digest = sha256(token);
            // Compare against every configured hash, always all of them.
            for (const auto& t : deps_.config.admin_tokens) {
                if (CRYPTO_memcmp(t.sha256.data(), digest.data(), digest.size()) == 0) found = &t;
            }
        }
        if (!found) {
            auto r = json_error(401, "unauthorized", "a valid bearer token is required");
            r.headers.emplace_back("WWW-Authenticate", "Bearer");
            return r;
        }
        if (!allowed(found->role, action)) {
            return json_error(403, "forbidden",
                              "role " + std::string(to_string(found->role)) + " may not do this");
        }
        ctx.token = found;
        ctx.actor = "api:" + found->name;
        return std::nullopt;
    };
    // Sales tokens see their own leads and the unowned pool.
    auto visible = [](const Ctx& ctx, const core::LeadRecord& l) {
        return ctx.token->role != Role::kSales || l.owner.empty() || l.owner == ctx.token->name;
    };
    auto lead_id = [](const RouteParams& p) -> std::optional<core::LeadId> {
        const std::string* s = find_param(p, "id");
        if (!s) return std::nullopt;
        auto v = parse_i64(*s);
        if (!v || *v <= 0) return std::nullopt;
        return core::LeadId{*v};
    };
    auto& storage = deps_.storage;
    auto& pool = deps_.db_pool;
    // The lead a route's {id} names, if this token may read it; else the answer (401, 403, 404).
    auto readable_lead = [=, &storage, &pool](HttpRequest& req, const RouteParams& p,
                                              Ctx& ctx) -> Task<std::variant<core::LeadRecord, HttpResponse>> {
        if (auto deny = auth(req, Action::kRead, ctx)) co_return *deny;
        auto id = lead_id(p);
        if (!id) co_return json_error(404, "not_found", "no such lead");
        auto lead = co_await offload(pool, [&] { return storage.get_lead(*id); });
        if (!lead || !visible(ctx, *lead)) co_return json_error(404, "not_found", "no such lead");
        co_return std::move(*lead);
    };

    add("GET", "/api/v1/openapi.json", [](HttpRequest&, const RouteParams&) -> Task<HttpResponse> {
        co_return json_response(200, openapi_document());
    });

    add("GET", "/api/v1/leads", [=, this, &storage, &pool](HttpRequest& req, const RouteParams&) -> Task<HttpResponse> {
        Ctx ctx;
        if (auto deny = auth(req, Action::kRead, ctx)) co_return *deny;
        const auto channel = req.query_param("channel");
        const auto external = req.query_param("external_user_id");
        if (external) {
            if (!channel || channel->empty()) co_return bad_request("required with external_user_id", "channel");
            auto lead = co_await offload(pool, [&] () -> std::optional<core::LeadRecord> {
                auto id = storage.find_lead_by_identity({*channel, *external});
                if (!id) return std::nullopt;
                auto l = storage.get_lead(*id);
                // A merged lead's identities point at the survivor already; follow it anyway.
                while (l && l->merged_into) l = storage.get_lead(l->merged_into);
                return l;
            });
            if (!lead || !visible(ctx, *lead)) co_return json_error(404, "not_found", "no lead for this identity");
            co_return json_ok(lead_json(*lead));
        }
        auto filter = read_filter(req);
        if (auto* r = std::get_if<HttpResponse>(&filter)) co_return *r;
        auto limit = read_limit(req, 50, 200);
        if (auto* r = std::get_if<HttpResponse>(&limit)) co_return *r;
        std::optional<core::LeadCursor> cursor;
        if (auto c = req.query_param("cursor")) {
            cursor = core::LeadCursor::decode(*c);
            if (!cursor) co_return bad_request("not a cursor this API returned", "cursor");
        }
        auto f = std::get<core::LeadFilter>(filter);
        if (ctx.token->role == Role::kSales) {
            if (f.owner && *f.owner != ctx.token->name) co_return json_error(403, "forbidden", "sales see their own leads");
            f.owner = ctx.token->name;
            f.owner_or_pool = true;
        }
        const int n = std::get<int>(limit);
        auto page = co_await offload(pool, [&] { return storage.list_leads(f, cursor, n); });
        json items = json::array();
        for (const auto& l : page.items) items.push_back(lead_json(l));
        co_return json_ok(json{{"items", items}, {"next_cursor", page.next ? json(page.next->encode()) : json(nullptr)}});
    });

    add("GET", "/api/v1/leads/export.csv",
        [=, this, &storage, &pool](HttpRequest& req, const RouteParams&) -> Task<HttpResponse> {
            Ctx ctx;
            if (auto deny = auth(req, Action::kExport, ctx)) co_return *deny;
            auto filter = read_filter(req);
            if (auto* r = std::get_if<HttpResponse>(&filter)) co_return *r;
            struct State {
                core::LeadFilter filter;
                std::optional<core::LeadCursor> cursor;
                bool header = true;
                bool done = false;
            };
            auto st = std::make_shared<State>();
            st->filter = std::get<core::LeadFilter>(filter);
            HttpResponse r;
            r.content_type = "text/csv; charset=utf-8";
            r.headers.emplace_back("Content-Disposition", "attachment; filename=\"leads.csv\"");
            spdlog::info("req={} export by {}", req.request_id, ctx.actor);
            // One page of 1,000 leads per chunk: memory stays flat for a million rows.
            r.stream = [st, &storage, &pool]() -> Task<std::optional<std::string>> {
                if (st->done) co_return std::nullopt;
                auto page = co_await offload(pool, [&] { return storage.list_leads(st->filter, st->cursor, 1000); });
                std::string out;
                out.reserve(page.items.size() * 200 + 512);
                if (st->header) {
                    out += "\xEF\xBB\xBF";  // BOM: spreadsheet programs then read the UTF-8 (Chinese names)
                    out += kCsvHeader;
                    st->header = false;
                }
                for (const auto& l : page.items) csv_row(out, l);
                st->cursor = page.next;
                if (!page.next) st->done = true;
                co_return out;
            };
            co_return r;
        });

    add("GET", "/api/v1/leads/{id}", [=, this](HttpRequest& req, const RouteParams& p) -> Task<HttpResponse> {
        Ctx ctx;
        auto found = co_await readable_lead(req, p, ctx);
        if (auto* r = std::get_if<HttpResponse>(&found)) co_return *r;
        const auto& lead = std::get<core::LeadRecord>(found);
        co_return json_ok(lead_json(lead));
    });

    add("PATCH", "/api/v1/leads/{id}",
        [=, this, &storage, &pool](HttpRequest& req, const RouteParams& p) -> Task<HttpResponse> {
            Ctx ctx;
            if (auto deny = auth(req, Action::kWrite, ctx)) co_return *deny;
            auto id = lead_id(p);
            if (!id) co_return json_error(404, "not_found", "no such lead");
            auto parsed = read_patch(req.body);
            if (auto* r = std::get_if<HttpResponse>(&parsed)) co_return *r;
            auto patch = std::get<core::LeadPatch>(parsed);
            if (ctx.token->role == Role::kSales) {
                // Sales move their deals: stage, value, notes, tags, and claiming from the pool.
                const bool other = patch.display_name || patch.phone || patch.email || patch.company || patch.title ||
                                   patch.region || patch.industry || patch.company_size || patch.custom_fields ||
                                   patch.phone_verified || patch.email_verified || patch.status;
                if (other) co_return json_error(403, "forbidden", "sales may change stage, deal, notes, tags and owner");
                if (patch.owner && !patch.owner->empty() && *patch.owner != ctx.token->name) {
                    co_return json_error(403, "forbidden", "sales may assign leads only to themselves", "owner");
                }
            }
            const core::Actor actor{ctx.actor};
            const auto now = deps_.clock.now();
            using Outcome = std::variant<core::LeadRecord, core::Error>;
            auto outcome = co_await offload(pool, [&]() -> Outcome {
                auto tx = storage.begin_write();
                auto current = tx->lead_for_update(*id);
                if (!current || !visible(ctx, *current)) return core::Error{"not_found", "no such lead", ""};
                auto change = deps_.leads.plan_patch(*current, patch, actor, now);
                if (!change) return change.error();
                tx->apply(change->writes);
                auto after = std::move(change->after);
                // A verified phone or email that another lead has too: they are one person. The
                // older lead survives and keeps every history.
                if ((patch.phone_verified.value_or(false) && after.phone_verified) ||
                    (patch.email_verified.value_or(false) && after.email_verified)) {
                    for (auto other_id : tx->leads_with_verified(after.phone_verified ? after.phone : "",
                                                                 after.email_verified ? after.email : "", after.id)) {
                        auto other = tx->lead_for_update(other_id);
                        if (!other) continue;
                        const bool other_older = other->created_at < after.created_at ||
                                                 (other->created_at == after.created_at && other->id < after.id);
                        auto& source = other_older ? after : *other;
                        auto& target = other_older ? *other : after;
                        auto merge = deps_.leads.plan_merge(source, target, actor, "same verified contact", now);
                        if (!merge) continue;
                        tx->apply(merge->writes);
                        after = std::move(merge->after);
                    }
                }
                tx->commit();
                return after;
            });
            if (auto* e = std::get_if<core::Error>(&outcome)) co_return from_error(*e);
            auto& lead = std::get<core::LeadRecord>(outcome);
            auto fresh = co_await offload(pool, [&] { return storage.get_lead(lead.id); });
            co_return json_ok(lead_json(fresh ? *fresh : lead));
        });

    add("DELETE", "/api/v1/leads/{id}",
        [=, this, &storage, &pool](HttpRequest& req, const RouteParams& p) -> Task<HttpResponse> {
            Ctx ctx;
            if (auto deny = auth(req, Action::kErase, ctx)) co_return *deny;
            auto id = lead_id(p);
            if (!id) co_return json_error(404, "not_found", "no such lead");
            const auto now = deps_.clock.now();
            auto found = co_await offload(pool, [&] {
                auto tx = storage.begin_write();
                auto current = tx->lead_for_update(*id);
                if (!current) return false;
                if (!current->erased_at) {
                    auto change = deps_.leads.plan_erase(*current, core::Actor{ctx.actor}, now);
                    tx->apply(change.writes);
                    tx->commit();
                }
                return true;
            });
            if (!found) co_return json_error(404, "not_found", "no such lead");
            spdlog::info("req={} lead {} erased by {}", req.request_id, id->value, ctx.actor);
            co_return json_ok(json{{"id", id->value}, {"erased", true}});
        });

    add("GET", "/api/v1/leads/{id}/events",
        [=, this, &storage, &pool](HttpRequest& req, const RouteParams& p) -> Task<HttpResponse> {
            Ctx ctx;
            if (auto deny = auth(req, Action::kRead, ctx)) co_return *deny;
            auto id = lead_id(p);
            if (!id) co_return json_error(404, "not_found", "no such lead");
            auto limit = read_limit(req, 50, 500);
            if (auto* r = std::get_if<HttpResponse>(&limit)) co_return *r;
            std::optional<core::EventId> before;
            if (auto c = req.query_param("cursor")) {
                auto v = parse_i64(*c);
                if (!v || *v <= 0) co_return bad_request("not a cursor this API returned", "cursor");
                before = core::EventId{*v};
            }
            const int n = std::get<int>(limit);
            auto lead = co_await offload(pool, [&] { return storage.get_lead(*id); });
            if (!lead || !visible(ctx, *lead)) co_return json_error(404, "not_found", "no such lead");
            auto events = co_await offload(pool, [&] { return storage.list_events(*id, before, n + 1); });
            json items = json::array();
            std::optional<std::int64_t> next;
            if (static_cast<int>(events.size()) > n) {
                events.pop_back();
                next = events.back().id.value;
            }
            for (const auto& e : events) {
                items.push_back({{"id", e.id.value},
                                 {"kind", e.kind},
                                 {"actor", e.actor},
                                 {"channel", e.channel_id},
                                 {"occurred_at", time_json(e.occurred_at)},
                                 {"data", data_json(e.data)}});
            }
            co_return json_ok(json{{"items", items}, {"next_cursor", next ? json(std::to_string(*next)) : json(nullptr)}});
        });

    add("GET", "/api/v1/leads/{id}/score",
        [=, this, &storage, &pool](HttpRequest& req, const RouteParams& p) -> Task<HttpResponse> {
            Ctx ctx;
            auto found = co_await readable_lead(req, p, ctx);
            if (auto* r = std::get_if<HttpResponse>(&found)) co_return *r;
            const auto& lead = std::get<core::LeadRecord>(found);
            auto entries = co_await offload(pool, [&] { return storage.score_entries(lead.id); });
            const auto now = deps_.clock.now();
            const auto& engine = deps_.leads.scoring();
            json behavioral = json::array();
            double behavioral_now = 0;
            for (const auto& e : entries) {
                const double worth = engine.decayed(e.points, e.at, now);
                behavioral_now += worth;
                behavioral.push_back({{"rule", e.rule_id},
                                      {"points", e.points},
                                      {"points_now", std::round(worth * 100) / 100},
                                      {"reason", e.reason},
                                      {"at", time_json(e.at)}});
            }
            json demographic = json::array();
            double demographic_now = 0;
            for (const auto& a : engine.demographic(core::LeadService::fields_of(lead), now)) {
                demographic_now += a.points;
                demographic.push_back({{"rule", a.rule_id}, {"points", a.points}, {"reason", a.reason}});
            }
            // Merged-in leads' entries carry their own decay; the stored state is authoritative.
            const auto state = deps_.leads.rescore(lead, {}, now);
            const auto& cfg = engine.config();
            co_return json_ok(json{{"lead_id", lead.id.value},
                                   {"score", state.score},
                                   {"grade", state.grade},
                                   {"demographic", state.demographic},
                                   {"behavioral", std::round(state.behavioral * 100) / 100},
                                   {"at", time_json(now)},
                                   {"status", lead.status},
                                   {"thresholds",
                                    {{"hot", cfg.hot}, {"warm", cfg.warm}, {"mql", cfg.mql}, {"sql", cfg.sql}}},
                                   {"behavioral_half_life_days", cfg.behavioral_half_life_days},
                                   {"grade_expires_at", opt_time_json(state.grade_expires_at)},
                                   {"explained",
                                    {{"demographic", demographic},
                                     {"behavioral", behavioral},
                                     {"behavioral_from_entries", std::round(behavioral_now * 100) / 100},
                                     {"demographic_from_rules", demographic_now}}}});
        });

    add("GET", "/api/v1/leads/{id}/stages",
        [=, this, &storage, &pool](HttpRequest& req, const RouteParams& p) -> Task<HttpResponse> {
            Ctx ctx;
            auto found = co_await readable_lead(req, p, ctx);
            if (auto* r = std::get_if<HttpResponse>(&found)) co_return *r;
            const auto& lead = std::get<core::LeadRecord>(found);
            auto history = co_await offload(pool, [&] { return storage.stage_history(lead.id); });
            const auto now = deps_.clock.now();
            json items = json::array();
            for (const auto& h : history) {
                const auto end = h.left_at.value_or(now);
                items.push_back({{"stage", h.stage},
                                 {"entered_at", time_json(h.entered_at)},
                                 {"left_at", opt_time_json(h.left_at)},
                                 {"seconds", std::chrono::duration_cast<std::chrono::seconds>(end - h.entered_at).count()},
                                 {"actor", h.actor},
                                 {"reason", h.reason}});
            }
            co_return json_ok(json{{"items", items}});
        });

    add("POST", "/api/v1/leads/{id}/merge",
        [=, this, &storage, &pool](HttpRequest& req, const RouteParams& p) -> Task<HttpResponse> {
            Ctx ctx;
            if (auto deny = auth(req, Action::kMerge, ctx)) co_return *deny;
            auto id = lead_id(p);
            if (!id) co_return json_error(404, "not_found", "no such lead");
            auto body = json::parse(req.body, nullptr, false);
            if (body.is_discarded() || !body.is_object()) co_return bad_request("body must be a JSON object", "");
            for (const auto& [k, v] : body.items()) {
                if (k != "into" && k != "reason") co_return bad_request("unknown field", k);
            }
            if (!body.contains("into") || !body["into"].is_number_integer() || body["into"].get<std::int64_t>() <= 0) {
                co_return bad_request("the id of the lead to merge into", "into");
            }
            std::string reason = "merged by " + ctx.actor;
            if (body.contains("reason")) {
                if (!body["reason"].is_string() || body["reason"].get<std::string>().size() > 255) {
                    co_return bad_request("a string of at most 255 bytes", "reason");
                }
                reason = body["reason"].get<std::string>();
            }
            const core::LeadId target_id{body["into"].get<std::int64_t>()};
            const auto now = deps_.clock.now();
            using Outcome = std::variant<core::LeadRecord, core::Error>;
            auto outcome = co_await offload(pool, [&]() -> Outcome {
                auto tx = storage.begin_write();
                // Lock in id order so two opposite merges cannot deadlock.
                auto first = tx->lead_for_update(std::min(*id, target_id));
                auto second = tx->lead_for_update(std::max(*id, target_id));
                auto& source = *id < target_id ? first : second;
                auto& target = *id < target_id ? second : first;
                if (!source) return core::Error{"not_found", "no such lead", "id"};
                if (!target) return core::Error{"not_found", "no lead to merge into", "into"};
                auto change = deps_.leads.plan_merge(*source, *target, core::Actor{ctx.actor}, reason, now);
                if (!change) return change.error();
                tx->apply(change->writes);
                tx->commit();
                return change->after;
            });
            if (auto* e = std::get_if<core::Error>(&outcome)) co_return from_error(*e);
            auto lead = co_await offload(pool, [&] { return storage.get_lead(target_id); });
            co_return json_ok(lead_json(lead ? *lead : std::get<core::LeadRecord>(outcome)));
        });

    add("GET", "/api/v1/merges", [=, &storage, &pool](HttpRequest& req, const RouteParams&) -> Task<HttpResponse> {
        Ctx ctx;
        if (auto deny = auth(req, Action::kMerge, ctx)) co_return *deny;
        auto limit = read_limit(req, 50, 500);
        if (auto* r = std::get_if<HttpResponse>(&limit)) co_return *r;
        std::optional<std::int64_t> before;
        if (auto c = req.query_param("cursor")) {
            before = parse_i64(*c);
            if (!before || *before <= 0) co_return bad_request("not a cursor this API returned", "cursor");
        }
        const int n = std::get<int>(limit);
        auto merges = co_await offload(pool, [&] { return storage.list_merges(before, n + 1); });
        std::optional<std::int64_t> next;
        if (static_cast<int>(merges.size()) > n) {
            merges.pop_back();
            next = merges.back().id;
        }
        json items = json::array();
        for (const auto& m : merges) {
            items.push_back({{"id", m.id},
                             {"source", m.source.value},
                             {"target", m.target.value},
                             {"actor", m.actor},
                             {"reason", m.reason},
                             {"at", time_json(m.at)}});
        }
        co_return json_ok(json{{"items", items}, {"next_cursor", next ? json(std::to_string(*next)) : json(nullptr)}});
    });

    add("GET", "/api/v1/funnel", [=, this, &storage, &pool](HttpRequest& req, const RouteParams&) -> Task<HttpResponse> {
        Ctx ctx;
        if (auto deny = auth(req, Action::kFunnel, ctx)) co_return *deny;
        core::FunnelQuery q;
        if (auto v = req.query_param("source")) q.source = *v;
        if (auto v = req.query_param("channel")) q.channel = *v;
        for (auto [name, target] : std::initializer_list<std::pair<const char*, std::optional<core::Timestamp>*>>{
                 {"from", &q.from}, {"to", &q.to}}) {
            if (auto v = req.query_param(name)) {
                auto t = core::parse_iso8601(*v);
                if (!t) co_return bad_request("an ISO 8601 date or time", name);
                *target = *t;
            }
        }
        const auto& stages = deps_.leads.funnel().config().stages;
        for (const auto& s : stages) {
            q.stage_probabilities.emplace_back(s.id, s.probability);
            if (s.terminal) q.closed_stages.push_back(s.id);
        }
        auto stats = co_await offload(pool, [&] { return storage.funnel(q); });
        json out_stages = json::array();
        std::optional<std::int64_t> previous_reached;
        for (std::size_t i = 0; i < stages.size(); ++i) {
            const auto& s = stages[i];
            json item{{"id", s.id},
                      {"label", s.label},
                      {"probability", s.probability},
                      {"count", stats.by_stage[i].second}};
            if (s.requires_reason) {
                item["reached"] = stats.by_stage[i].second;  // lost: a way out, not a step forward
            } else {
                item["reached"] = stats.reached[i];
                if (previous_reached) {
                    item["conversion_from_previous"] =
                        *previous_reached > 0
                            ? json(std::round(static_cast<double>(stats.reached[i]) * 10000.0 /
                                              static_cast<double>(*previous_reached)) /
                                   10000.0)
                            : json(nullptr);
                }
                previous_reached = stats.reached[i];
            }
            item["median_seconds_in_stage"] =
                stats.median_ms_in_stage[i] ? json(*stats.median_ms_in_stage[i] / 1000) : json(nullptr);
            out_stages.push_back(std::move(item));
        }
        json statuses = json::object();
        for (const auto& [status, n] : stats.by_status) statuses[status] = n;
        json pipeline = json::array();
        for (std::size_t i = 0; i < stats.pipeline_value.size(); ++i) {
            pipeline.push_back({{"currency", stats.pipeline_value[i].first},
                                {"open_value", stats.pipeline_value[i].second},
                                {"weighted_value", std::round(stats.weighted_pipeline[i].second)}});
        }
        co_return json_ok(json{{"total", stats.total},
                               {"stages", out_stages},
                               {"statuses", statuses},
                               {"pipeline", pipeline},
                               {"filters",
                                {{"source", q.source ? json(*q.source) : json(nullptr)},
                                 {"channel", q.channel ? json(*q.channel) : json(nullptr)},
                                 {"from", opt_time_json(q.from)},
                                 {"to", opt_time_json(q.to)}}}});
    });

    add("GET", "/api/v1/outbox", [=, &storage, &pool](HttpRequest& req, const RouteParams&) -> Task<HttpResponse> {
        Ctx ctx;
        if (auto deny = auth(req, Action::kOps, ctx)) co_return *deny;
        std::optional<core::OutboxStatus> status;
        if (auto v = req.query_param("status")) {
            if (*v == "pending") status = core::OutboxStatus::kPending;
            else if (*v == "sent") status = core::OutboxStatus::kSent;
            else if (*v == "dead") status = core::OutboxStatus::kDead;
            else if (*v == "suppressed") status = core::OutboxStatus::kSuppressed;
            else co_return bad_request("one of pending, sent, dead, suppressed", "status");
        }
        auto limit = read_limit(req, 50, 500);
        if (auto* r = std::get_if<HttpResponse>(&limit)) co_return *r;
        const int n = std::get<int>(limit);
        auto rows = co_await offload(pool, [&] { return storage.list_outbox(status, n); });
        auto counts = co_await offload(pool, [&] { return storage.outbox_counts(); });
        json items = json::array();
        for (const auto& r : rows) {
            items.push_back({{"id", r.id.value},
                             {"channel", r.channel_id},
                             {"lead_id", r.lead_id ? json(r.lead_id.value) : json(nullptr)},
                             {"kind", r.kind},
                             {"status", core::to_string(r.status)},
                             {"attempts", r.attempts},
                             {"due_at", time_json(r.due_at)},
                             {"last_error", r.last_error}});
        }
        co_return json_ok(json{{"items", items},
                               {"next_cursor", nullptr},
                               {"counts",
                                {{"pending", counts.pending},
                                 {"sent", counts.sent},
                                 {"dead", counts.dead},
                                 {"suppressed", counts.suppressed}}}});
    });
}

}  // namespace leadhatch::bot
