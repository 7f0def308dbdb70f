#include "core/scoring/scoring.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/util/config_reader.hpp"

namespace leadhatch::core {
namespace {

using nlohmann::json;

constexpr double kMsPerDay = 86'400'000.0;
constexpr std::int64_t kMaxPoints = 100'000;

// ---- config reading helpers ---------------------------------------------------------------------

using Problems = ConfigProblems;

template <class Keys>
bool contains_key(const Keys& keys, std::string_view key) {
    return std::find(std::begin(keys), std::end(keys), key) != std::end(keys);
}

bool valid_id(std::string_view id) {
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.';
    });
}

// Reads "id", checks its form and uniqueness. `seen` maps ids to the index that defined them.
std::optional<std::string> read_id(const json& obj, const std::string& path, const std::string& list, std::size_t i,
                                   std::string_view what, std::map<std::string, std::size_t>& seen, Problems& p) {
    auto id = read_string(obj, path, "id", true, false, p);
    if (!id) return std::nullopt;
    if (!valid_id(*id)) {
        p.add(path_join(path, "id"), "use letters, digits, '_', '-' and '.'");
        return std::nullopt;
    }
    if (auto [it, fresh] = seen.emplace(*id, i); !fresh) {
        p.add(path_join(path, "id"),
              "duplicate " + std::string(what) + " id '" + *id + "' (first at " + path_index(list, it->second) + ")");
        return std::nullopt;
    }
    return id;
}

constexpr std::array<std::string_view, 7> kFieldNames = {"phone",  "email",    "company",     "title",
                                                         "region", "industry", "company_size"};

bool valid_field(std::string_view name) {
    if (contains_key(kFieldNames, name)) return true;
    return name.size() > 7 && name.starts_with("custom.");
}

std::string field_problem(std::string_view name) {
    return "unknown field '" + std::string(name) + "' (expected " + list_keys(kFieldNames) + " or custom.<name>)";
}

// ---- matching helpers ---------------------------------------------------------------------------

// ASCII lower-case; other bytes (UTF-8 sequences) are left alone, so Chinese matches byte-wise.
std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

std::string_view trim(std::string_view s) {
    constexpr std::string_view kSpace = " \t\r\n";
    const auto b = s.find_first_not_of(kSpace);
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(kSpace);
    return s.substr(b, e - b + 1);
}

std::optional<double> to_number(std::string_view text) {
    text = trim(text);
    if (text.empty()) return std::nullopt;
    double v = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc{} || ptr != end || !std::isfinite(v)) return std::nullopt;
    return v;
}

// Shortest fixed notation: 500 -> "500", 1e6 -> "1000000", 0.5 -> "0.5".
std::string number_text(double v) {
    std::array<char, 64> buf{};
    auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed);
    if (ec != std::errc{}) return std::to_string(v);
    return {buf.data(), ptr};
}

// The first of `candidates` (in list order) that equals the value, case-insensitively.
const std::string* find_in(std::string_view value, const std::vector<std::string>& candidates) {
    const std::string v = lower(trim(value));
    for (const auto& c : candidates) {
        if (lower(c) == v) return &c;
    }
    return nullptr;
}

// The first of `candidates` (in list order) contained in the value, case-insensitively.
const std::string* find_contained(std::string_view value, const std::vector<std::string>& candidates) {
    const std::string v = lower(value);
    for (const auto& c : candidates) {
        if (v.find(lower(c)) != std::string::npos) return &c;
    }
    return nullptr;
}

std::string quoted_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ", ";
        out += items[i];
    }
    return out + "]";
}

std::string normalize_command(std::string_view command) {
    if (command.starts_with('/')) command.remove_prefix(1);
    if (auto at = command.find('@'); at != std::string_view::npos) command = command.substr(0, at);
    return lower(command);
}

// ---- scoring rules ------------------------------------------------------------------------------

constexpr std::array<std::string_view, 9> kKinds = {
    "keyword", "button", "command", "quiz_answer", "group_message", "message", "link_click", "group_join", "field"};
constexpr std::array<std::string_view, 6> kCommonKeys = {"id", "kind", "description", "points", "cap", "period"};

// Keys a rule of `kind` may have besides the common ones.
std::vector<std::string_view> kind_keys(std::string_view kind) {
    if (kind == "keyword") return {"keywords"};
    if (kind == "button") return {"data"};
    if (kind == "command") return {"command"};
    if (kind == "quiz_answer") return {"quiz", "question", "answers"};
    if (kind == "link_click") return {"url_prefix"};
    if (kind == "field") return {"field", "range", "in", "contains_any", "present"};
    return {};
}

bool known_rule_key(std::string_view key) {
    if (contains_key(kCommonKeys, key)) return true;
    return std::any_of(kKinds.begin(), kKinds.end(),
                       [&](std::string_view k) { return contains_key(kind_keys(k), key); });
}

void check_rule_keys(const json& r, const std::string& path, const std::optional<std::string>& kind, Problems& p) {
    for (const auto& [key, value] : r.items()) {
        const std::string here = path_join(path, key);
        if (!known_rule_key(key)) {
            p.add(here, "unknown key (expected " + list_keys(kCommonKeys) +
                            (kind ? (kind_keys(*kind).empty() ? "" : ", " + list_keys(kind_keys(*kind))) : "") + ")");
            continue;
        }
        if (!kind) continue;
        if (*kind == "quiz_answer" && key == "points") {
            p.add(here, "not used by kind 'quiz_answer': points come from answers");
        } else if (*kind == "field" && key == "period") {
            p.add(here, "not used by kind 'field': demographic points are awarded once");
        } else if (!contains_key(kCommonKeys, key) && !contains_key(kind_keys(*kind), key)) {
            p.add(here, "not used by kind '" + *kind + "'");
        }
    }
}

void read_field_condition(const json& r, const std::string& path, ScoringRule& rule, bool& ok, Problems& p) {
    if (auto field = read_string(r, path, "field", true, false, p)) {
        if (!valid_field(*field)) {
            p.add(path_join(path, "field"), field_problem(*field));
            ok = false;
        }
        rule.field = *field;
    } else {
        ok = false;
    }
    std::vector<std::string_view> conditions;
    for (std::string_view c : {"range", "in", "contains_any", "present"}) {
        if (r.contains(c)) conditions.push_back(c);
    }
    if (conditions.empty()) {
        p.add(path, "needs one condition: range, in, contains_any or present");
        ok = false;
        return;
    }
    if (conditions.size() > 1) {
        p.add(path_join(path, conditions[1]), "one condition per rule (already has " + std::string(conditions[0]) + ")");
        ok = false;
        return;
    }
    const std::string_view c = conditions[0];
    const std::string here = path_join(path, c);
    const json& v = r.at(c);
    if (c == "range") {
        if (!v.is_array() || v.size() != 2) {
            p.add(here, "must be [min, max] (numbers or null; min inclusive, max exclusive)");
            ok = false;
            return;
        }
        std::array<std::optional<double>, 2> bounds;
        for (std::size_t i = 0; i < 2; ++i) {
            if (v[i].is_null()) continue;
            if (!v[i].is_number()) {
                p.add(path_index(here, i), std::string("must be a number or null, not ") + v[i].type_name());
                ok = false;
                continue;
            }
            bounds[i] = v[i].get<double>();
        }
        if (!ok) return;
        if (!bounds[0] && !bounds[1]) {
            p.add(here, "needs a min or a max");
            ok = false;
        } else if (bounds[0] && bounds[1] && *bounds[0] >= *bounds[1]) {
            p.add(here, "min must be below max");
            ok = false;
        }
        rule.range_min = bounds[0];
        rule.range_max = bounds[1];
    } else if (c == "in") {
        if (auto values = read_strings(r, path, "in", true, p)) {
            rule.in = std::move(*values);
        } else {
            ok = false;
        }
    } else if (c == "contains_any") {
        if (auto values = read_strings(r, path, "contains_any", true, p)) {
            rule.contains_any = std::move(*values);
        } else {
            ok = false;
        }
    } else {
        if (!v.is_boolean() || !v.get<bool>()) {
            p.add(here, "must be true (a rule scores a field that is present)");
            ok = false;
        }
        rule.present = true;
    }
}

std::optional<ScoringRule> read_rule(const json& r, const std::string& path, std::size_t i,
                                     std::map<std::string, std::size_t>& seen, Problems& p) {
    if (!r.is_object()) {
        p.add(path, std::string("must be an object with id, kind and points, not ") + r.type_name());
        return std::nullopt;
    }
    ScoringRule rule;
    bool ok = true;

    std::optional<std::string> kind;
    if (auto k = read_string(r, path, "kind", true, false, p)) {
        if (contains_key(kKinds, *k)) {
            kind = *k;
        } else {
            p.add(path_join(path, "kind"), "unknown kind '" + *k + "' (expected " + list_keys(kKinds) + ")");
        }
    }
    check_rule_keys(r, path, kind, p);
    if (!kind) ok = false;
    rule.kind = kind.value_or("");

    if (auto id = read_id(r, path, "rules", i, "rule", seen, p)) {
        rule.id = *id;
    } else {
        ok = false;
    }
    if (auto d = read_string(r, path, "description", false, true, p)) rule.description = *d;

    if (kind && *kind != "quiz_answer") {
        const bool demographic = *kind == "field";
        if (auto pts = read_int(r, path, "points", true, demographic ? -kMaxPoints : 1, kMaxPoints, p)) {
            if (*pts == 0) {
                p.add(path_join(path, "points"), "must not be 0");
                ok = false;
            }
            rule.points = static_cast<int>(*pts);
        } else {
            ok = false;
        }
    }
    if (auto cap = read_int(r, path, "cap", false, 1, 1'000'000, p)) {
        if (rule.points < 0) {
            p.add(path_join(path, "cap"), "caps apply to positive points only");
            ok = false;
        }
        rule.cap = static_cast<int>(*cap);
    } else if (r.contains("cap")) {
        ok = false;
    }
    if (auto period = r.find("period"); period != r.end() && (!kind || *kind != "field")) {
        const std::string ppath = path_join(path, "period");
        if (!period->is_object()) {
            p.add(ppath, R"(must be an object {"days": N, "max": M})");
            ok = false;
        } else {
            if (!check_keys(*period, ppath, {"days", "max"}, p)) ok = false;
            auto days = read_int(*period, ppath, "days", true, 1, 3650, p);
            auto max = read_int(*period, ppath, "max", true, 1, 1'000'000, p);
            if (days && max) {
                rule.period_days = static_cast<int>(*days);
                rule.period_max = static_cast<int>(*max);
            } else {
                ok = false;
            }
        }
    }

    if (kind == "keyword") {
        if (auto kw = read_strings(r, path, "keywords", true, p)) {
            rule.keywords = std::move(*kw);
        } else {
            ok = false;
        }
    } else if (kind == "button") {
        if (auto data = read_string(r, path, "data", true, false, p)) {
            const auto star = data->find('*');
            if (star != std::string::npos && star + 1 != data->size()) {
                p.add(path_join(path, "data"), "'*' is allowed only at the end (a prefix match)");
                ok = false;
            } else if (data->size() > 64) {
                p.add(path_join(path, "data"), "at most 64 bytes (Telegram's callback_data limit)");
                ok = false;
            }
            rule.data = *data;
        } else {
            ok = false;
        }
    } else if (kind == "command") {
        if (auto cmd = read_string(r, path, "command", true, false, p)) {
            if (cmd->starts_with('/')) {
                p.add(path_join(path, "command"), "write the command without '/' (\"start\")");
                ok = false;
            } else if (cmd->find_first_of(" \t\r\n@") != std::string::npos) {
                p.add(path_join(path, "command"), "must be one word without '@'");
                ok = false;
            }
            rule.command = *cmd;
        } else {
            ok = false;
        }
    } else if (kind == "quiz_answer") {
        auto quiz = read_string(r, path, "quiz", true, false, p);
        auto question = read_string(r, path, "question", true, false, p);
        if (quiz && question) {
            rule.quiz = *quiz;
            rule.question = *question;
        } else {
            ok = false;
        }
        const std::string apath = path_join(path, "answers");
        auto answers = r.find("answers");
        if (answers == r.end()) {
            p.add(apath, "required, an object of answer ids to points");
            ok = false;
        } else if (!answers->is_object() || answers->empty()) {
            p.add(apath, "must be a non-empty object of answer ids to points");
            ok = false;
        } else {
            for (const auto& [answer, points] : answers->items()) {
                if (auto pts = read_int(*answers, apath, answer, true, 0, kMaxPoints, p)) {
                    rule.answers.emplace_back(answer, static_cast<int>(*pts));
                } else {
                    ok = false;
                }
            }
        }
    } else if (kind == "link_click") {
        if (auto prefix = read_string(r, path, "url_prefix", false, true, p)) {
            rule.url_prefix = *prefix;
        } else if (r.contains("url_prefix")) {
            ok = false;
        }
    } else if (kind == "field") {
        read_field_condition(r, path, rule, ok, p);
    }
    if (!ok) return std::nullopt;
    return rule;
}

// Applies cap and period limits to `points` for a signal at `at`, updating `total` (a new period
// window starts at `at` once the current one has ended). Returns the points awarded (0 when a limit
// is reached).
int apply_caps(const ScoringRule& rule, int points, Timestamp at, RuleTotal& total) {
    std::int64_t allowed = points;
    if (rule.cap) allowed = std::min<std::int64_t>(allowed, *rule.cap - total.total);
    const bool periodic = rule.period_days && rule.period_max;
    if (periodic) {
        const auto window = std::chrono::days{*rule.period_days};
        if (at >= total.period_start + window) {
            total.period_start = at;
            total.period_points = 0;
        }
        allowed = std::min<std::int64_t>(allowed, *rule.period_max - total.period_points);
    }
    if (allowed <= 0) return 0;
    total.total += allowed;
    if (periodic) total.period_points += allowed;
    return static_cast<int>(allowed);
}

// The points a rule awards out of `points` given the lead's totals (the rule's entry is added to
// `totals` if missing). Limits are applied to a copy: totals change only for rules that award
// something, so the caller persists exactly the totals of the returned awards.
int take_points(const ScoringRule& rule, int points, Timestamp at, std::vector<RuleTotal>& totals) {
    auto it = std::find_if(totals.begin(), totals.end(), [&](const RuleTotal& t) { return t.rule_id == rule.id; });
    RuleTotal next = it != totals.end() ? *it : RuleTotal{rule.id, 0, Timestamp{}, 0};
    const int awarded = apply_caps(rule, points, at, next);
    if (awarded <= 0) return 0;
    if (it != totals.end()) {
        *it = std::move(next);
    } else {
        totals.push_back(std::move(next));
    }
    return awarded;
}

// A keyword rule against a message: `folded` is the message lower-cased (done once per signal,
// left empty until a keyword rule needs it), `keywords` the rule's keywords lower-cased.
std::optional<std::pair<int, std::string>> match_keyword(const ScoringRule& rule,
                                                         const std::vector<std::string>& keywords,
                                                         const ScoreSignal& s, std::string& folded) {
    if (s.kind != ScoreSignal::Kind::kMessage || s.text.empty()) return std::nullopt;
    if (folded.empty()) folded = lower(s.text);
    for (std::size_t i = 0; i < keywords.size(); ++i) {
        if (folded.find(keywords[i]) != std::string::npos) {
            return std::pair{rule.points,
                             "keyword '" + rule.keywords[i] + "' in a " + (s.in_group ? "group message" : "message")};
        }
    }
    return std::nullopt;
}

// The points and reason a behavioural rule earns for a signal, before caps; nullopt if no match
// (keyword rules: match_keyword).
std::optional<std::pair<int, std::string>> match(const ScoringRule& rule, const ScoreSignal& s) {
    using Kind = ScoreSignal::Kind;
    const std::string& kind = rule.kind;
    if (kind == "button") {
        if (s.kind != Kind::kButtonPress) return std::nullopt;
        const bool prefix = !rule.data.empty() && rule.data.back() == '*';
        const bool hit = prefix ? std::string_view(s.button_data)
                                      .starts_with(std::string_view(rule.data).substr(0, rule.data.size() - 1))
                                : s.button_data == rule.data;
        if (!hit) return std::nullopt;
        return std::pair{rule.points, "pressed button '" + s.button_data + "'"};
    }
    if (kind == "command") {
        if (s.kind != Kind::kCommand || normalize_command(s.command) != lower(rule.command)) return std::nullopt;
        return std::pair{rule.points, "command /" + rule.command};
    }
    if (kind == "quiz_answer") {
        if (s.kind != Kind::kQuizAnswer || s.quiz != rule.quiz || s.question != rule.question) return std::nullopt;
        for (const auto& [answer, points] : rule.answers) {
            if (answer == s.answer) {
                return std::pair{points, "answered '" + answer + "' to " + rule.quiz + "." + rule.question};
            }
        }
        return std::nullopt;
    }
    if (kind == "group_message") {
        if (s.kind != Kind::kMessage || !s.in_group) return std::nullopt;
        return std::pair{rule.points, std::string("message in a group")};
    }
    if (kind == "message") {
        if (s.kind != Kind::kMessage || s.in_group) return std::nullopt;
        return std::pair{rule.points, std::string("private message")};
    }
    if (kind == "link_click") {
        if (s.kind != Kind::kLinkClick || !s.url.starts_with(rule.url_prefix)) return std::nullopt;
        return std::pair{rule.points, "clicked link " + s.url};
    }
    if (kind == "group_join") {
        if (s.kind != Kind::kMemberJoined) return std::nullopt;
        return std::pair{rule.points, std::string("joined a group")};
    }
    return std::nullopt;
}

// Why a demographic rule holds for the fields; nullopt when it does not.
std::optional<std::string> match_field(const ScoringRule& rule, const LeadFields& fields) {
    const auto value = fields.get(rule.field);
    if (!value) return std::nullopt;
    if (rule.present) return rule.field + " present";
    if (rule.range_min || rule.range_max) {
        const auto n = to_number(*value);
        if (!n) return std::nullopt;
        if (rule.range_min && *n < *rule.range_min) return std::nullopt;
        if (rule.range_max && *n >= *rule.range_max) return std::nullopt;
        return rule.field + " " + number_text(*n) + " in [" + (rule.range_min ? number_text(*rule.range_min) : "-") +
               ", " + (rule.range_max ? number_text(*rule.range_max) : "-") + ")";
    }
    if (!rule.in.empty()) {
        if (!find_in(*value, rule.in)) return std::nullopt;
        return rule.field + " '" + std::string(trim(*value)) + "' in " + quoted_list(rule.in);
    }
    if (!rule.contains_any.empty()) {
        const std::string* hit = find_contained(*value, rule.contains_any);
        if (!hit) return std::nullopt;
        return rule.field + " '" + *value + "' contains '" + *hit + "'";
    }
    return std::nullopt;
}

// ---- segments -----------------------------------------------------------------------------------

std::optional<SegmentCondition> read_condition(const json& c, const std::string& path, const std::string& field,
                                               Problems& p) {
    if (!valid_field(field)) {
        p.add(path, field_problem(field));
        return std::nullopt;
    }
    if (!c.is_object() || c.empty()) {
        p.add(path, "must be a non-empty object of conditions (gte, gt, lte, lt, in, contains_any, present)");
        return std::nullopt;
    }
    SegmentCondition cond;
    cond.field = field;
    const std::size_t before = p.count();
    check_keys(c, path, {"gte", "gt", "lte", "lt", "in", "contains_any", "present"}, p);
    constexpr double kBig = 1e15;
    cond.gte = read_number(c, path, "gte", -kBig, kBig, p);
    cond.gt = read_number(c, path, "gt", -kBig, kBig, p);
    cond.lte = read_number(c, path, "lte", -kBig, kBig, p);
    cond.lt = read_number(c, path, "lt", -kBig, kBig, p);
    if (auto v = read_strings(c, path, "in", false, p)) cond.in = std::move(*v);
    if (auto v = read_strings(c, path, "contains_any", false, p)) cond.contains_any = std::move(*v);
    cond.present = read_bool(c, path, "present", p);
    if (p.count() != before) return std::nullopt;

    if (cond.gte && cond.gt) p.add(path_join(path, "gt"), "use either gte or gt");
    if (cond.lte && cond.lt) p.add(path_join(path, "lt"), "use either lte or lt");
    const auto lo = cond.gte ? cond.gte : cond.gt;
    const auto hi = cond.lte ? cond.lte : cond.lt;
    if (lo && hi && (*lo > *hi || (*lo == *hi && (cond.gt || cond.lt)))) {
        p.add(path, "empty range: no value can match");
    }
    if (cond.present == false && c.size() > 1) {
        p.add(path_join(path, "present"), "present: false cannot be combined with other conditions");
    }
    if (p.count() != before) return std::nullopt;
    return cond;
}

bool holds(const SegmentCondition& c, const LeadFields& fields) {
    const auto value = fields.get(c.field);
    if (c.present == false) return !value;
    if (!value) return false;
    if (c.gte || c.gt || c.lte || c.lt) {
        const auto n = to_number(*value);
        if (!n) return false;
        if (c.gte && !(*n >= *c.gte)) return false;
        if (c.gt && !(*n > *c.gt)) return false;
        if (c.lte && !(*n <= *c.lte)) return false;
        if (c.lt && !(*n < *c.lt)) return false;
    }
    if (!c.in.empty() && !find_in(*value, c.in)) return false;
    if (!c.contains_any.empty() && !find_contained(*value, c.contains_any)) return false;
    return true;
}

SegmentCondition size_condition(std::optional<double> gte, std::optional<double> lt) {
    SegmentCondition c;
    c.field = "company_size";
    c.gte = gte;
    c.lt = lt;
    return c;
}

}  // namespace

// ---- parse_scoring --------------------------------------------------------------------------------

Expected<ScoringConfig> parse_scoring(std::string_view json_text, const std::string& source,
                                      std::vector<TemplateProblem>& problems) {
    Problems p(source, problems);
    json doc;
    if (!parse_document(json_text, doc, p, "with \"rules\"")) return p.error();
    check_keys(doc, "", {"decay", "grades", "thresholds", "rules"}, p);

    ScoringConfig config;
    constexpr std::int64_t kMaxScore = 1'000'000;
    if (auto decay = doc.find("decay"); decay != doc.end()) {
        if (!decay->is_object()) {
            p.add("decay", R"(must be an object {"behavioral_half_life_days": N})");
        } else {
            check_keys(*decay, "decay", {"behavioral_half_life_days"}, p);
            if (auto h = read_number(*decay, "decay", "behavioral_half_life_days", 0, 3650, p)) {
                config.behavioral_half_life_days = *h;
            }
        }
    }
    if (auto grades = doc.find("grades"); grades != doc.end()) {
        if (!grades->is_object()) {
            p.add("grades", R"(must be an object {"hot": N, "warm": M})");
        } else {
            check_keys(*grades, "grades", {"hot", "warm"}, p);
            auto hot = read_int(*grades, "grades", "hot", false, 0, kMaxScore, p);
            auto warm = read_int(*grades, "grades", "warm", false, 0, kMaxScore, p);
            if (hot) config.hot = static_cast<int>(*hot);
            if (warm) config.warm = static_cast<int>(*warm);
            if ((hot || !grades->contains("hot")) && (warm || !grades->contains("warm")) && config.warm > config.hot) {
                p.add("grades.warm", "must not be above hot (" + std::to_string(config.hot) + ")");
            }
        }
    }
    if (auto thresholds = doc.find("thresholds"); thresholds != doc.end()) {
        if (!thresholds->is_object()) {
            p.add("thresholds", R"(must be an object {"mql": N, "sql": M})");
        } else {
            check_keys(*thresholds, "thresholds", {"mql", "sql"}, p);
            auto mql = read_int(*thresholds, "thresholds", "mql", false, 0, kMaxScore, p);
            auto sql = read_int(*thresholds, "thresholds", "sql", false, 0, kMaxScore, p);
            if (mql) config.mql = static_cast<int>(*mql);
            if (sql) config.sql = static_cast<int>(*sql);
            if ((mql || !thresholds->contains("mql")) && (sql || !thresholds->contains("sql")) &&
                config.mql > config.sql) {
                p.add("thresholds.mql", "must not be above sql (" + std::to_string(config.sql) + ")");
            }
        }
    }
    auto rules = doc.find("rules");
    if (rules == doc.end()) {
        p.add("rules", "required, an array of rules");
    } else if (!rules->is_array()) {
        p.add("rules", std::string("must be an array of rules, not ") + rules->type_name());
    } else {
        std::map<std::string, std::size_t> seen;
        for (std::size_t i = 0; i < rules->size(); ++i) {
            if (auto rule = read_rule((*rules)[i], path_index("rules", i), i, seen, p)) {
                config.rules.push_back(std::move(*rule));
            }
        }
    }
    if (p.count() > 0) return p.error();
    return config;
}

// ---- ScoringEngine --------------------------------------------------------------------------------

namespace {

std::optional<ScoreSignal::Kind> signal_kind_of(const std::string& rule_kind) {
    using Kind = ScoreSignal::Kind;
    if (rule_kind == "keyword" || rule_kind == "message" || rule_kind == "group_message") return Kind::kMessage;
    if (rule_kind == "button") return Kind::kButtonPress;
    if (rule_kind == "command") return Kind::kCommand;
    if (rule_kind == "quiz_answer") return Kind::kQuizAnswer;
    if (rule_kind == "link_click") return Kind::kLinkClick;
    if (rule_kind == "group_join") return Kind::kMemberJoined;
    return std::nullopt;
}

}  // namespace

ScoringEngine::ScoringEngine(ScoringConfig config) : config_(std::move(config)) {
    for (const auto& rule : config_.rules) {
        auto& folded = folded_keywords_.emplace_back();
        for (const auto& k : rule.keywords) folded.push_back(lower(k));
        signal_kinds_.push_back(rule.behavioral() ? signal_kind_of(rule.kind) : std::nullopt);
    }
}

std::vector<ScoreAward> ScoringEngine::evaluate(const ScoreSignal& signal, std::vector<RuleTotal>& totals) const {
    std::vector<ScoreAward> awards;
    std::string folded;
    for (std::size_t r = 0; r < config_.rules.size(); ++r) {
        if (signal_kinds_[r] != signal.kind) continue;
        const auto& rule = config_.rules[r];
        auto hit = rule.kind == "keyword" ? match_keyword(rule, folded_keywords_[r], signal, folded) : match(rule, signal);
        if (!hit || hit->first <= 0) continue;
        const int points = take_points(rule, hit->first, signal.at, totals);
        if (points <= 0) continue;
        awards.push_back(ScoreAward{rule.id, points, std::move(hit->second), signal.at, true});
    }
    return awards;
}

std::vector<ScoreAward> ScoringEngine::limit(const std::vector<ScoreAward>& matched,
                                             std::vector<RuleTotal>& totals) const {
    std::vector<ScoreAward> awards;
    for (const auto& a : matched) {
        const auto rule = std::find_if(config_.rules.begin(), config_.rules.end(),
                                       [&](const ScoringRule& r) { return r.id == a.rule_id; });
        if (rule == config_.rules.end()) continue;
        const int points = take_points(*rule, a.points, a.at, totals);
        if (points <= 0) continue;
        awards.push_back(ScoreAward{a.rule_id, points, a.reason, a.at, true});
    }
    return awards;
}

std::vector<ScoreAward> ScoringEngine::demographic(const LeadFields& fields, Timestamp at) const {
    std::vector<ScoreAward> awards;
    for (const auto& rule : config_.rules) {
        if (rule.behavioral()) continue;
        auto why = match_field(rule, fields);
        if (!why) continue;
        const int points = rule.cap ? std::min(rule.points, *rule.cap) : rule.points;
        if (points == 0) continue;
        awards.push_back(ScoreAward{rule.id, points, std::move(*why), at, false});
    }
    return awards;
}

double ScoringEngine::decayed(double points, Timestamp awarded, Timestamp now) const {
    const double half_life = config_.behavioral_half_life_days;
    if (half_life <= 0) return points;
    const auto age_ms = std::max<std::int64_t>(0, (now - awarded).count());
    const double age_days = static_cast<double>(age_ms) / kMsPerDay;
    return points * std::exp2(-age_days / half_life);
}

double ScoringEngine::decay_total(double behavioral, Timestamp then, Timestamp now) const {
    return decayed(behavioral, then, now);
}

std::string ScoringEngine::grade(double score) const {
    if (score >= config_.hot) return "hot";
    if (score >= config_.warm) return "warm";
    return "cold";
}

std::string ScoringEngine::qualification(double score) const {
    if (score >= config_.sql) return "sql";
    if (score >= config_.mql) return "mql";
    return "";
}

std::optional<Timestamp> ScoringEngine::grade_expiry(double demographic, double behavioral, Timestamp now) const {
    const double half_life = config_.behavioral_half_life_days;
    if (half_life <= 0 || behavioral <= 0) return std::nullopt;
    const std::string current = grade(demographic + behavioral);
    if (current == "cold") return std::nullopt;
    const double threshold = current == "hot" ? config_.hot : config_.warm;
    if (threshold <= demographic) return std::nullopt;  // the demographic points alone hold the grade
    // D + B * 2^(-x/H) < threshold  <=>  x > H * log2(B / (threshold - D))
    const double days = half_life * std::log2(behavioral / (threshold - demographic));
    const double ms = std::max(0.0, days * kMsPerDay);
    if (ms > 1e15) return std::nullopt;  // beyond any meaningful horizon
    // The first whole millisecond strictly after the crossing; stepped on if rounding left the
    // grade unchanged there, so the grade at the returned instant is always the lower one.
    Timestamp t = now + std::chrono::milliseconds{static_cast<std::int64_t>(std::floor(ms)) + 1};
    for (int i = 0; i < 16 && grade(demographic + decay_total(behavioral, now, t)) == current; ++i) {
        t += std::chrono::milliseconds{1};
    }
    return t;
}

// ---- segments ---------------------------------------------------------------------------------------

Expected<SegmentsConfig> parse_segments(std::string_view json_text, const std::string& source,
                                        std::vector<TemplateProblem>& problems) {
    Problems p(source, problems);
    json doc;
    if (!parse_document(json_text, doc, p, "with \"segments\"")) return p.error();
    check_keys(doc, "", {"segments", "default"}, p);

    SegmentsConfig config;
    if (auto fallback = read_string(doc, "", "default", false, false, p)) config.fallback = *fallback;
    auto segments = doc.find("segments");
    if (segments == doc.end()) {
        p.add("segments", "required, an array of segments (first match wins)");
    } else if (!segments->is_array()) {
        p.add("segments", std::string("must be an array of segments, not ") + segments->type_name());
    } else {
        std::map<std::string, std::size_t> seen;
        std::optional<std::size_t> catch_all;
        for (std::size_t i = 0; i < segments->size(); ++i) {
            const json& s = (*segments)[i];
            const std::string path = path_index("segments", i);
            if (!s.is_object()) {
                p.add(path, std::string("must be an object with id and when, not ") + s.type_name());
                continue;
            }
            if (catch_all) {
                p.add(path, "never matches: " + path_index("segments", *catch_all) + " before it matches every lead");
            }
            check_keys(s, path, {"id", "label", "when"}, p);
            SegmentDef def;
            bool ok = true;
            if (auto id = read_id(s, path, "segments", i, "segment", seen, p)) {
                def.id = *id;
            } else {
                ok = false;
            }
            if (auto label = read_string(s, path, "label", false, false, p)) def.label = *label;
            if (def.label.empty()) def.label = def.id;
            const std::string wpath = path_join(path, "when");
            auto when = s.find("when");
            if (when == s.end()) {
                p.add(wpath, "required, an object of field conditions ({} matches every lead)");
                ok = false;
            } else if (!when->is_object()) {
                p.add(wpath, std::string("must be an object of field conditions, not ") + when->type_name());
                ok = false;
            } else {
                if (when->empty() && !catch_all) catch_all = i;
                for (const auto& [field, cond] : when->items()) {
                    if (auto c = read_condition(cond, path_join(wpath, field), field, p)) {
                        def.when.push_back(std::move(*c));
                    } else {
                        ok = false;
                    }
                }
            }
            if (ok) config.segments.push_back(std::move(def));
        }
    }
    if (p.count() > 0) return p.error();
    return config;
}

SegmentsConfig default_segments() {
    SegmentsConfig config;
    config.segments = {
        SegmentDef{"household", "Household", {size_condition(std::nullopt, 10)}},
        SegmentDef{"small_business", "Small business", {size_condition(10, 500)}},
        SegmentDef{"enterprise", "Enterprise", {size_condition(500, std::nullopt)}},
    };
    config.fallback = "unknown";
    return config;
}

std::string segment_for(const SegmentsConfig& config, const LeadFields& fields) {
    for (const auto& segment : config.segments) {
        if (std::all_of(segment.when.begin(), segment.when.end(),
                        [&](const SegmentCondition& c) { return holds(c, fields); })) {
            return segment.id;
        }
    }
    return config.fallback;
}

}  // namespace leadhatch::core
