#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/leads/lead_fields.hpp"
#include "core/messaging/templates.hpp"
#include "core/types.hpp"

namespace leadhatch::core {

// What a lead did, as scoring sees it (mapped from an InboundEvent or a quiz answer).
struct ScoreSignal {
    enum class Kind { kMessage, kCommand, kButtonPress, kQuizAnswer, kLinkClick, kMemberJoined };
    Kind kind = Kind::kMessage;
    bool in_group = false;
    std::string text;         // message text (kMessage)
    std::string command;      // "start" (kCommand)
    std::string button_data;  // (kButtonPress)
    std::string quiz;         // (kQuizAnswer) quiz id
    std::string question;     // question id
    std::string answer;       // answer id
    std::string url;          // (kLinkClick)
    Timestamp at{};
};

// One rule of templates/scoring.json.
//  behavioural kinds: "keyword" (keywords: [..], matched case-insensitively as substrings of a
//  message; Chinese works), "button" (data: exact callback data, or prefix ending in '*'),
//  "command" (command), "quiz_answer" (quiz, question, answers: {answer_id: points} — points
//  come from the answer), "group_message" (any message in a group), "message" (any private
//  message), "link_click" (url_prefix optional), "group_join".
//  demographic kind: "field" with field (phone, email, company, title, region, industry,
//  company_size, custom.<name>) and one condition: "range": [min, max] (either may be null,
//  min inclusive, max exclusive; numbers), "in": [values] (case-insensitive equality),
//  "contains_any": [substrings] (case-insensitive), or "present": true.
struct ScoringRule {
    std::string id;
    std::string kind;
    std::string description;
    int points = 0;
    std::optional<int> cap;          // at most this many points from this rule, ever
    std::optional<int> period_days;  // with period_max: at most period_max points per period
    std::optional<int> period_max;
    // matching data (by kind)
    std::vector<std::string> keywords;
    std::string data;
    std::string command;
    std::string quiz;
    std::string question;
    std::vector<std::pair<std::string, int>> answers;
    std::string url_prefix;
    std::string field;
    std::optional<double> range_min;
    std::optional<double> range_max;
    std::vector<std::string> in;
    std::vector<std::string> contains_any;
    bool present = false;

    bool behavioral() const { return kind != "field"; }
};

struct ScoringConfig {
    std::vector<ScoringRule> rules;
    double behavioral_half_life_days = 30;  // behavioural points halve every this many days (0: never)
    int hot = 60;                          // grade hot at or above
    int warm = 30;                         // grade warm at or above, else cold
    int mql = 40;                          // marketing-qualified at or above
    int sql = 80;                          // sales-qualified at or above
};

// Parses templates/scoring.json:
//   { "decay": { "behavioral_half_life_days": 30 },
//     "grades": { "hot": 60, "warm": 30 }, "thresholds": { "mql": 40, "sql": 80 },
//     "rules": [ { "id": "pricing", "kind": "keyword", "keywords": ["price", "价格"], "points": 10,
//                  "cap": 30, "period": { "days": 7, "max": 10 } }, ... ] }
// Problems are appended as "<source>: rules[2].keywords" + message (unknown keys, duplicate ids,
// warm > hot, mql > sql, missing fields, wrong types ...).
Expected<ScoringConfig> parse_scoring(std::string_view json_text, const std::string& source,
                                      std::vector<TemplateProblem>& problems);

// What a lead has earned from one rule so far: for caps.
struct RuleTotal {
    std::string rule_id;
    std::int64_t total = 0;           // all points ever awarded by this rule (undecayed)
    Timestamp period_start{};         // start of the current period window
    std::int64_t period_points = 0;   // points awarded within the window
};

struct ScoreAward {
    std::string rule_id;
    int points = 0;      // after caps; never 0 in returned awards
    std::string reason;  // "keyword 'pricing' in a message", "company_size 500 in [500, -)" ...
    Timestamp at{};
    bool behavioral = true;
};

// A lead's score at one moment, explained.
struct ScoreBreakdown {
    double demographic = 0;
    double behavioral = 0;  // decayed to `at`
    Timestamp at{};
    double total() const { return demographic + behavioral; }
};

// Pure scoring: no storage, no clock (time comes in as arguments).
class ScoringEngine {
public:
    explicit ScoringEngine(ScoringConfig config);
    const ScoringConfig& config() const { return config_; }

    // The behavioural awards a signal earns, caps applied. `totals` holds this lead's totals for
    // the rules involved (missing ones count as zero) and is updated in place (entries added).
    std::vector<ScoreAward> evaluate(const ScoreSignal& signal, std::vector<RuleTotal>& totals) const;

    // The same for a signal already matched: `matched` is what evaluate returned for it with no
    // totals (each rule's points before this lead's caps). Caps only lower points, so limiting
    // those by `totals` gives what evaluate gives with them, without matching the rules again.
    std::vector<ScoreAward> limit(const std::vector<ScoreAward>& matched, std::vector<RuleTotal>& totals) const;

    // The demographic rules the fields match now (caps apply to each rule's points).
    std::vector<ScoreAward> demographic(const LeadFields& fields, Timestamp at) const;

    // points awarded at `awarded` are worth this much at `now` (half-life decay; demographic
    // points do not decay).
    double decayed(double points, Timestamp awarded, Timestamp now) const;
    // A behavioural total known at `then` is worth this much at `now`.
    double decay_total(double behavioral, Timestamp then, Timestamp now) const;

    std::string grade(double score) const;   // "hot" | "warm" | "cold"
    // The marketing status a score qualifies for: "mql", "sql" or "" (below mql).
    std::string qualification(double score) const;

    // When a lead's grade next drops through decay alone, given its demographic and behavioural
    // points at `now`; nullopt when it never will (cold already, or no decay).
    std::optional<Timestamp> grade_expiry(double demographic, double behavioral, Timestamp now) const;

private:
    ScoringConfig config_;
    std::vector<std::vector<std::string>> folded_keywords_;  // per rule: its keywords lower-cased
    // Per rule: the one signal kind a behavioural rule can match (nullopt: a demographic rule, or
    // none), so evaluate() passes over the others without comparing kind names.
    std::vector<std::optional<ScoreSignal::Kind>> signal_kinds_;
};

// Segments (templates/segments.json): who a lead is, first match wins.
//   { "segments": [ { "id": "enterprise", "label": "Enterprise",
//                     "when": { "company_size": { "gte": 500 } } },
//                   { "id": "finance", "when": { "industry": { "in": ["finance", "banking"] } } },
//                   { "id": "smb", "when": { "company_size": { "gte": 10, "lt": 500 } } },
//                   { "id": "household", "when": { "company_size": { "lt": 10 } } } ],
//     "default": "unknown" }
// A segment's "when" holds field conditions that must all hold: gte/gt/lte/lt (numbers), in
// (case-insensitive), contains_any, present (bool).
struct SegmentCondition {
    std::string field;
    std::optional<double> gte, gt, lte, lt;
    std::vector<std::string> in;
    std::vector<std::string> contains_any;
    std::optional<bool> present;
};
struct SegmentDef {
    std::string id;
    std::string label;
    std::vector<SegmentCondition> when;
};
struct SegmentsConfig {
    std::vector<SegmentDef> segments;
    std::string fallback = "unknown";
};
Expected<SegmentsConfig> parse_segments(std::string_view json_text, const std::string& source,
                                        std::vector<TemplateProblem>& problems);
SegmentsConfig default_segments();  // household / small_business / enterprise by company_size
std::string segment_for(const SegmentsConfig& config, const LeadFields& fields);

}  // namespace leadhatch::core
